/* fuzz_config.c - libFuzzer harness: the config engine (common/sk_config.c)
 * over the run, log, data and prepare sections. The first byte picks the
 * entry point: even, the rest is a YAML config file; odd, the rest is a list
 * of `--set` assignments, one per line. Whatever is accepted must survive
 * `shrink config`'s round trip: sk_cfg_write, read back, written again,
 * gives the same text. */
#include <stdio.h>

#include "sk_config.h"
#include "sk_data_config.h"
#include <stdlib.h>
#include <string.h>
#include "sk_prepare.h"
#include "sk_run_config.h"

static const sk_cfg_section *const secs_[] = {&sk_run_section, &sk_log_section, &sk_data_section, &sk_prepare_section};
#define NSEC_ 4

typedef struct {
    sk_run_config run;
    sk_log_config log;
    sk_data_config data;
    sk_prepare_config prep;
} cfgs_;

static void bases_(cfgs_ *c, void **b)
{
    b[0] = &c->run;
    b[1] = &c->log;
    b[2] = &c->data;
    b[3] = &c->prep;
}

static char *dump_(cfgs_ *c, size_t *len)
{
    void *b[NSEC_];
    char *s = NULL;
    bases_(c, b);
    FILE *f = open_memstream(&s, len);
    if (!f) abort();
    if (sk_cfg_write(f, secs_, NSEC_, (void *const *)b) != SK_OK) abort();
    fclose(f);
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    static cfgs_ a, r;
    void *ba[NSEC_], *br[NSEC_];
    bases_(&a, ba);
    bases_(&r, br);
    if (n < 1 || sk_cfg_defaults(secs_, NSEC_, (void *const *)ba) != SK_OK) return 0;
    int rc = SK_OK;
    if (data[0] % 2 == 0) {
        rc = sk_cfg_load_string("<fuzz>", (const char *)data + 1, n - 1, secs_, NSEC_, (void *const *)ba);
    } else {
        char *s = malloc(n), *save = NULL;
        if (!s) return 0;
        memcpy(s, data + 1, n - 1);
        s[n - 1] = '\0';
        for (char *line = strtok_r(s, "\n", &save); line && rc == SK_OK; line = strtok_r(NULL, "\n", &save))
            rc = sk_cfg_apply_set(line, secs_, NSEC_, (void *const *)ba);
        free(s);
    }
    if (rc != SK_OK) return 0;
    size_t l1 = 0, l2 = 0;
    char *t1 = dump_(&a, &l1);
    if (sk_cfg_defaults(secs_, NSEC_, (void *const *)br) != SK_OK ||
        sk_cfg_load_string("<written>", t1, l1, secs_, NSEC_, (void *const *)br) != SK_OK) {
        fprintf(stderr, "written config does not read back: %s\n%s", sk_error_last(), t1);
        abort();
    }
    char *t2 = dump_(&r, &l2);
    if (l1 != l2 || memcmp(t1, t2, l1)) {
        fprintf(stderr, "config round trip differs:\n%s\n----\n%s", t1, t2);
        abort();
    }
    free(t1);
    free(t2);
    return 0;
}
