/* cli_run_util.h - run a shell command for the CLI tests, capturing its
 * exit status, stdout and stderr (test helper, header-only). */
#ifndef CLI_RUN_UTIL_H
#define CLI_RUN_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    int status; /* exit code, or 128+signal */
    char *out, *err;
} run_result;

static inline char *slurp_(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return strdup("");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = calloc(1, (size_t)n + 1);
    if (b && n > 0 && fread(b, 1, (size_t)n, f) != (size_t)n) b[0] = '\0';
    fclose(f);
    return b;
}

/* Run `cmd` through sh with stdout/stderr captured to temp files. */
static inline run_result run_(const char *cmd)
{
    run_result r = {0};
    char out[] = "/tmp/sk_cli_out_XXXXXX", err[] = "/tmp/sk_cli_err_XXXXXX";
    int fo = mkstemp(out), fe = mkstemp(err);
    close(fo);
    close(fe);
    size_t n = strlen(cmd) + 128;
    char *full = malloc(n);
    snprintf(full, n, "%s >%s 2>%s </dev/null", cmd, out, err);
    int st = system(full);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    r.out = slurp_(out);
    r.err = slurp_(err);
    unlink(out);
    unlink(err);
    free(full);
    return r;
}

static inline void run_free_(run_result *r)
{
    free(r->out);
    free(r->err);
}

static inline int count_lines_(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

static inline int count_sub_(const char *s, const char *sub)
{
    int n = 0;
    for (const char *p = strstr(s, sub); p; p = strstr(p + 1, sub)) n++;
    return n;
}

#endif
