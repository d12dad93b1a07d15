/* fuzz_safetensors.c - libFuzzer harness: common/sk_safetensors.c's reader
 * (checkpoints, proxies, model files) on arbitrary bytes: open, then read
 * every tensor it accepts. */
#include "sk_error.h"
#include "sk_fuzz_util.h"
#include "sk_safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    char path[512];
    sk_safetensors *st = NULL;
    if (sk_fuzz_file_("st", ".safetensors", data, n, path, sizeof path) < 0) return 0;
    if (sk_safetensors_open(&st, path) == SK_OK) {
        for (int i = 0; i < sk_safetensors_count(st); i++) {
            const sk_safetensors_entry *e = sk_safetensors_at(st, i);
            size_t bytes = (size_t)(e->end - e->begin);
            void *buf = malloc(bytes ? bytes : 1);
            if (buf && sk_safetensors_read(st, e, buf, bytes) != SK_OK) abort(); /* accepted, so readable */
            free(buf);
            (void)sk_safetensors_meta(st, "format");
        }
        sk_safetensors_free(st);
    }
    unlink(path);
    return 0;
}
