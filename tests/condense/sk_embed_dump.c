/* sk_embed_dump.c PROXY CORPUS BATCH OUT - write the proxy's embedding of
 * every sample of CORPUS (sk_condense_embed, BATCH rows per forward) to OUT
 * as raw float32 [n, F], for test_geometric.py's numpy references. Prints
 * "n F". */
#include <stdio.h>
#include <stdlib.h>

#include "sk_condense_embed.h"
#include "sk_error.h"

int main(int argc, char **argv)
{
    int rc = SK_OK;
    sk_model *m = NULL;
    sk_corpus *c = NULL;
    float *x = NULL;
    int64_t F = 0, n = 0;
    FILE *f = NULL;
    if (argc != 5) {
        fprintf(stderr, "usage: sk_embed_dump PROXY CORPUS BATCH OUT\n");
        return 2;
    }
    SK_TRY(sk_model_create_from_file(&m, argv[1]));
    SK_TRY(sk_corpus_open(&c, argv[2]));
    n = sk_corpus_info_get(c)->num_samples;
    SK_TRY(sk_condense_embed(m, c, 0, n, atoll(argv[3]), &x, &F));
    f = fopen(argv[4], "wb");
    SK_FAIL_IF(!f || fwrite(x, sizeof *x, (size_t)(n * F), f) != (size_t)(n * F) || fclose(f) != 0, SK_EIO,
               "%s: cannot write", argv[4]);
    f = NULL;
    printf("%lld %lld\n", (long long)n, (long long)F);
done:
    if (f) fclose(f);
    if (rc < 0) fprintf(stderr, "sk_embed_dump: %s\n", sk_error_last());
    free(x);
    sk_corpus_free(c);
    sk_model_free(m);
    return rc < 0 ? 1 : 0;
}
