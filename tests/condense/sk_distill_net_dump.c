/* sk_distill_net_dump.c OUT SEED IT C H W CLASSES WIDTH DEPTH - write the
 * network the distillation methods build at iteration IT for run.seed SEED
 * (sk_distill_key(SEED, IT, -1); model.arch=convnet, instance norm, average
 * pooling, images [C, H, W]) with sk_model_save, so test_distill.py's torch
 * reference runs the same weights. Prints the features count. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_distill.h"
#include "sk_error.h"

int main(int argc, char **argv)
{
    int rc = SK_OK;
    sk_model *m = NULL;
    sk_model_config cfg;
    if (argc != 10) {
        fprintf(stderr, "usage: sk_distill_net_dump OUT SEED IT C H W CLASSES WIDTH DEPTH\n");
        return 2;
    }
    const sk_cfg_section *secs[] = {&sk_model_section};
    void *bases[] = {&cfg};
    SK_TRY(sk_cfg_defaults(secs, 1, bases));
    snprintf(cfg.arch, sizeof cfg.arch, "convnet");
    cfg.width = atoll(argv[8]);
    cfg.depth = atoll(argv[9]);
    int64_t ch = atoll(argv[4]);
    sk_model_data d = {.kind = SK_SAMPLE_IMAGE, .ndim = ch == 1 ? 2 : 3, .classes = atoll(argv[7])};
    int64_t s3[3] = {ch, atoll(argv[5]), atoll(argv[6])};
    memcpy(d.shape, ch == 1 ? s3 + 1 : s3, (size_t)d.ndim * sizeof *d.shape);
    SK_TRY(sk_model_create(&m, &cfg, &d, sk_distill_key(strtoull(argv[2], NULL, 10), atoll(argv[3]), -1)));
    SK_TRY(sk_model_save(m, argv[1], NULL));
    sk_model_info mi;
    sk_model_info_get(m, &mi);
    printf("%lld\n", (long long)mi.features);
done:
    if (rc < 0) fprintf(stderr, "sk_distill_net_dump: %s\n", sk_error_last());
    sk_model_free(m);
    return rc < 0 ? 1 : 0;
}
