/* fuzz_corpus.c - libFuzzer harness: the HDF5 corpus reader
 * (dataset/sk_corpus.c) and `shrink inspect --verify` (sk_inspect.c) on a
 * mutated corpus file: open, read the first rows of each array, verify
 * every chunk, print the metadata. Crashes inside libhdf5 itself on
 * malformed files are HDF5's (docs/RELIABILITY.md). */
#include "sk_corpus.h"
#include "sk_fuzz_util.h"
#include "sk_prepare.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    char path[512];
    sk_corpus *c = NULL;
    if (sk_fuzz_file_("corpus", ".h5", data, n, path, sizeof path) < 0) return 0;
    if (sk_corpus_open(&c, path) == SK_OK) {
        const sk_corpus_info *in = sk_corpus_info_get(c);
        int64_t off[4];
        static unsigned char buf[1 << 16];
        if (in->kind == SK_CORPUS_TOKENS) {
            if (in->num_docs >= 1) (void)sk_corpus_read_offsets(c, 0, 2, off);
            int64_t k = in->num_tokens < 64 ? in->num_tokens : 64;
            if (k > 0) (void)sk_corpus_read_tokens(c, 0, k, buf);
        }
        (void)sk_corpus_verify(c);
        sk_corpus_free(c);
    }
    FILE *null = fopen("/dev/null", "w");
    if (null) {
        (void)sk_inspect_print(null, path, 1);
        fclose(null);
    }
    unlink(path);
    return 0;
}
