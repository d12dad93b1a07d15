/* fuzz_ckpt_state.c - libFuzzer harness: a checkpoint's state.json
 * (trainer/sk_ckpt.c, sk_ckpt_state_read) on arbitrary bytes; what it
 * accepts must be in range. */
#include "sk_ckpt.h"
#include "sk_fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    char path[512];
    static sk_ckpt_state st;
    if (sk_fuzz_file_("state", ".json", data, n, path, sizeof path) < 0) return 0;
    if (sk_ckpt_state_read(path, &st) == SK_OK) {
        if (st.step < 0 || st.world < 1 || st.loader_epoch < 0 || st.loader_step < 0 || st.rng_len > sizeof st.rng ||
            !memchr(st.config, '\0', sizeof st.config))
            abort();
    } else if (!strstr(sk_error_last(), path)) {
        abort(); /* every refusal names the file */
    }
    unlink(path);
    return 0;
}
