/* sk_condense_config.c - the [condense] config section: one table drives
 * defaults, files, --set, --help and docs/CONFIG.md (common/sk_config.h). */
#include <stddef.h>

#include "sk_condense.h"

#define CK_(n_, t_, field, d_, lo, hi, f_, h_)                                                                  \
    {                                                                                                           \
        .name = n_, .type = t_, .offset = offsetof(sk_condense_config, field), .def = d_, .min = lo, .max = hi, \
        .flags = f_, .help = h_                                                                                 \
    }
#define CS_(n_, t_, field, d_, h_)                                                                   \
    {                                                                                                \
        .name = n_, .type = t_, .offset = offsetof(sk_condense_config, field), .def = d_, .help = h_ \
    }
/* clang-format off */
static const sk_cfg_key condense_keys_[] = {
    {.name = "method", .type = SK_CFG_STRING, .offset = offsetof(sk_condense_config, method), .def = "random",
     .choice_at = sk_condense_name_at, .help = "condensation method (condense/sk_condense_<name>.c)"},
    CS_("input", SK_CFG_STRING, input, "", "source corpus (a shrink corpus file)"),
    CS_("output", SK_CFG_STRING, output, "", "the condensed corpus written (never the input)"),
    CK_("keep", SK_CFG_FLOAT, keep, "0.5", 0, 1, SK_CFG_EXCL_MIN, "fraction of samples or documents kept"),
    CS_("class_balance", SK_CFG_BOOL, class_balance, "true",
        "with labels: keep that fraction of every class (round half up, at least one per class)"),
    {.name = "rule", .type = SK_CFG_ENUM, .offset = offsetof(sk_condense_config, rule), .def = "top",
     .choices = "top|bottom|stratified|ccs",
     .help = "score-based methods: keep the highest scores, the lowest, evenly across score strata, or CCS "
             "(drop the hardest ccs_beta, then stratified)"},
    CK_("ccs_beta", SK_CFG_FLOAT, ccs_beta, "0.1", 0, 1, SK_CFG_EXCL_MAX,
        "rule=ccs: fraction of the highest-scored (hardest) samples dropped before stratified sampling"),
    CK_("strata", SK_CFG_INT, strata, "50", 1, 1e6, 0, "rule=stratified|ccs: number of equal-width score strata"),
    CS_("proxy", SK_CFG_STRING, proxy, "",
        "proxy model for scores and embeddings: a model.safetensors that `shrink train` wrote"),
    CS_("proxies", SK_CFG_STRING, proxies, "",
        "score methods: more proxy model files, comma separated; a row's score is the mean over condense.proxy "
        "and these (EL2N/GraNd average over independently trained networks)"),
    CS_("scores_from", SK_CFG_STRING, scores_from, "",
        "reuse the /provenance/scores of a corpus condensed from the same input instead of scoring again"),
    CS_("forgetting_from", SK_CFG_STRING, forgetting_from, "",
        "method=forgetting: forgetting.safetensors files that `shrink train` wrote with train.record_forgetting on "
        "the input corpus, comma separated; a row's score is the sum of its counts (over runs, as Toneva et al.)"),
    {.name = "ppl_band", .type = SK_CFG_ENUM, .offset = offsetof(sk_condense_config, ppl_band), .def = "none",
     .choices = "none|quantile|absolute",
     .help = "method=perplexity: none keeps condense.keep by condense.rule (bottom = the lowest perplexity, CCNet's "
             "head); quantile keeps the documents ranked in [ppl_low, ppl_high) of the perplexities; absolute keeps "
             "perplexities in [ppl_low, ppl_high]"},
    CK_("ppl_low", SK_CFG_FLOAT, ppl_low, "0", 0, 1e30, 0, "method=perplexity, ppl_band: the band's lower end"),
    CK_("ppl_high", SK_CFG_FLOAT, ppl_high, "1", 0, 1e30, 0,
        "method=perplexity, ppl_band: the band's upper end (quantile: at most 1)"),
    CK_("batch", SK_CFG_INT, batch, "256", 1, 1e7, 0, "rows (token corpora: windows) per proxy forward pass; batches follow global row (document) index, so scores and embeddings do not depend on the rank count"),
    CK_("sim_cache_mb", SK_CFG_INT, sim_cache_mb, "1024", 0, 1e7, 0,
        "facility-location: MiB per rank for a class's similarities (8 bytes x the class's rows x its shard rows); "
        "a class that fits is re-evaluated from them, a larger one from broadcast embeddings. The picks do not "
        "depend on it"),
    CS_("overwrite", SK_CFG_BOOL, overwrite, "false", "replace an existing condense.output"),
    CK_("minhash_ngram", SK_CFG_INT, minhash_ngram, "5", 1, 1024, 0,
        "minhash: units (words or bytes) per shingle; datatrove's default is word 5-grams"),
    {.name = "minhash_unit", .type = SK_CFG_ENUM, .offset = offsetof(sk_condense_config, minhash_unit), .def = "word",
     .choices = "word|byte",
     .help = "minhash: shingles of words (lowercased, punctuation dropped, digits as 0; needs a byte-level text "
             "corpus, vocab <= 256) or of tokens (bytes of a byte-level corpus)"},
    CK_("minhash_bands", SK_CFG_INT, minhash_bands, "14", 1, 64, 0,
        "minhash: LSH bands; documents sharing one band's rows are duplicates"),
    CK_("minhash_rows", SK_CFG_INT, minhash_rows, "8", 1, 64, 0,
        "minhash: permutations per band (bands * rows permutations, at most 1024)"),
    CK_("minhash_seed", SK_CFG_INT, minhash_seed, "-1", -1, 9007199254740992.0, 0,
        "minhash: seed of the permutations; -1 uses run.seed"),
    CK_("ipc", SK_CFG_INT, ipc, "10", 1, 1e6, 0, "dm, dc: synthetic images per class"),
    CK_("iterations", SK_CFG_INT, iterations, "1000", 0, 1e9, 0,
        "dm, dc: updates of the synthetic images (dc: outer iterations, each a fresh network; the references "
        "run 20000 for dm and 1000 for dc)"),
    CK_("lr_img", SK_CFG_FLOAT, lr_img, "0", 0, 1e9, 0,
        "dm, dc: SGD learning rate of the synthetic images, in the model's input scale [-1, 1]; 0: the "
        "reference's (dm 1.0, dc 0.1)"),
    CK_("momentum_img", SK_CFG_FLOAT, momentum_img, "0.5", 0, 1, SK_CFG_EXCL_MAX,
        "dm, dc: SGD momentum of the synthetic images (the references' 0.5)"),
    {.name = "init", .type = SK_CFG_ENUM, .offset = offsetof(sk_condense_config, init), .def = "real",
     .choices = "real|noise",
     .help = "dm, dc: synthetic images start as real images of their class (drawn by run.seed) or as standard "
             "normal noise in the model's input scale"},
    CK_("batch_real", SK_CFG_INT, batch_real, "256", 1, 1e7, 0,
        "dm, dc: real images drawn per class and update (all of a smaller class)"),
    {.name = "synthetic_dtype", .type = SK_CFG_ENUM, .offset = offsetof(sk_condense_config, synthetic_dtype),
     .def = "float32", .choices = "float32|source",
     .help = "dm, dc: store float32 pixels in [0, 255] units, or the source's element type (rounded, clamped "
             "to [0, 255] for uint8)"},
    CK_("outer_loop", SK_CFG_INT, outer_loop, "-1", -1, 1e6, 0,
        "dc: image updates per network; -1: the reference's get_loops(ipc) (ipc 1: 1, 10: 10, 50: 50)"),
    CK_("inner_loop", SK_CFG_INT, inner_loop, "-1", -1, 1e6, 0,
        "dc: epochs of network training on the synthetic set between image updates; -1: get_loops(ipc) "
        "(ipc 1: 1, 10: 50, 50: 10)"),
    CK_("lr_net", SK_CFG_FLOAT, lr_net, "0.01", 0, 1e3, SK_CFG_EXCL_MIN,
        "dc: SGD learning rate of the network's inner training (no momentum, as the reference)"),
    CK_("batch_train", SK_CFG_INT, batch_train, "256", 1, 1e7, 0, "dc: synthetic images per inner training batch"),
    CS_("dsa", SK_CFG_BOOL, dsa, "false",
        "dm, dc: differentiable Siamese augmentation (Zhao & Bilen, ICML 2021): one random transform per class "
        "and step applied to its real and synthetic batch alike (dc: per-sample transforms in the inner training)"),
    CS_("dsa_strategy", SK_CFG_STRING, dsa_strategy, "color_crop_cutout_flip_scale_rotate",
        "dm, dc with dsa: the augmentation families, '_' separated (one drawn per transform, the reference's mode S)"),
    CK_("snapshot_every", SK_CFG_INT, snapshot_every, "0", 0, 1e9, 0,
        "dm, dc: after every this many iterations write the corpus a run of that many would write, to "
        "condense.output with .h5 replaced by .it<N>.h5, and beside it and the output a .state.safetensors file "
        "that condense.resume_from continues from; 0: none"),
    CS_("resume_from", SK_CFG_STRING, resume_from, "",
        "dm, dc: a snapshot or output written with condense.snapshot_every: continue that run (its state file beside "
        "it) up to condense.iterations; every other key the method reads, [model], run.seed and the input must be "
        "the run's"),
};
/* clang-format on */
#undef CK_
#undef CS_

const sk_cfg_section sk_condense_section = {"condense", "corpus condensation (condense)", condense_keys_,
                                            (int)(sizeof condense_keys_ / sizeof *condense_keys_),
                                            sizeof(sk_condense_config)};
