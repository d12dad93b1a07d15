/* sk_st_writer.c - writes a safetensors file of known values with the
 * trainer's writer and prints the same values as JSON on stdout, so a
 * Python test can read the file by hand and compare (test_safetensors.py). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>

#include "sk_weights.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: sk_st_writer OUT.safetensors\n");
        return 2;
    }
    float w[12], b[4];
    int64_t idx[5];
    for (int i = 0; i < 12; i++) w[i] = (float)sin((double)i);
    for (int i = 0; i < 4; i++) b[i] = (float)i / 3.0f;
    for (int i = 0; i < 5; i++) idx[i] = (int64_t)i << 40;
    int64_t sw[2] = {3, 4}, sb[1] = {4}, si[1] = {5};
    sk_tensor *ts[3] = {sk_shim_from_host(w, sw, 2, SK_F32, SK_CPU), sk_shim_from_host(b, sb, 1, SK_F32, SK_CPU),
                        sk_shim_from_host(idx, si, 1, SK_I64, SK_CPU)};
    const char *names[3] = {"layer.weight", "layer.bias", "idx"};
    const char *meta[2] = {"format", "pt"};
    if (sk_weights_write(argv[1], names, ts, 3, meta, 1) < 0) {
        fprintf(stderr, "sk_st_writer: %s\n", sk_error_last());
        return 1;
    }
    printf("{\"layer.weight\": [");
    for (int i = 0; i < 12; i++) printf("%s%.9g", i ? ", " : "", w[i]);
    printf("], \"layer.bias\": [");
    for (int i = 0; i < 4; i++) printf("%s%.9g", i ? ", " : "", b[i]);
    printf("], \"idx\": [");
    for (int i = 0; i < 5; i++) printf("%s%" PRId64, i ? ", " : "", idx[i]);
    printf("]}\n");
    for (int i = 0; i < 3; i++) sk_tensor_free(ts[i]);
    return 0;
}
