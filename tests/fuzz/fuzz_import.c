/* fuzz_import.c - libFuzzer harness for one importer (SK_FUZZ_FORMAT:
 * idx, text, jsonl, megatron, llmc) on a temp file, as world 1 and as every
 * rank of worlds 2 and 3 (importers make no MPI calls: each rank's share is
 * parsed alone, as under mpirun). Megatron's input is "<u16 LE n><n bytes
 * .idx><rest .bin>". A refusal must name a file. */
#include "sk_fuzz_util.h"
#include "sk_prepare.h"
#include "sk_data_config.h"
#include "sk_config.h"

#ifndef SK_FUZZ_FORMAT
#error "SK_FUZZ_FORMAT: the importer's name"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    static sk_prepare_config cfg;
    static const sk_cfg_section *const secs[] = {&sk_prepare_section};
    void *b[1] = {&cfg};
    const sk_importer *imp = sk_importer_find(SK_FUZZ_FORMAT);
    char path[512], bin[512];
    if (!imp || sk_cfg_defaults(secs, 1, (void *const *)b) != SK_OK) abort();
    int mg = !strcmp(SK_FUZZ_FORMAT, "megatron");
    if (mg) {
        if (n < 2) return 0;
        size_t k = (size_t)data[0] | (size_t)data[1] << 8;
        if (k > n - 2) k = n - 2;
        if (sk_fuzz_file_("mg", ".idx", data + 2, k, path, sizeof path) < 0 ||
            sk_fuzz_file_("mg", ".bin", data + 2 + k, n - 2 - k, bin, sizeof bin) < 0)
            return 0;
    } else {
        const char *ext = !strcmp(SK_FUZZ_FORMAT, "idx")     ? ".idx3-ubyte"
                          : !strcmp(SK_FUZZ_FORMAT, "llmc")  ? ".bin"
                          : !strcmp(SK_FUZZ_FORMAT, "jsonl") ? ".jsonl"
                                                             : ".txt";
        if (sk_fuzz_file_("in", ext, data, n, path, sizeof path) < 0) return 0;
    }
    snprintf(cfg.input, sizeof cfg.input, "%s", path);
    for (int world = 1; world <= 3; world++)
        for (int rank = 0; rank < world; rank++) {
            sk_import_share sh = {rank, world};
            sk_corpus_data d;
            int rc = imp->import(&cfg, &sh, &d);
            if (rc == SK_OK) {
                sk_import_release(&d);
            } else if (!strstr(sk_error_last(), "skfuzz-")) {
                fprintf(stderr, "error names no file: %s\n", sk_error_last());
                abort();
            }
        }
    unlink(path);
    if (mg) unlink(bin);
    return 0;
}
