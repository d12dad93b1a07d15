/* sk_model_config.c - the [model] key table (the one place its defaults
 * are written) and its JSON form (checkpoint config, safetensors
 * metadata), see sk_model_config.h. */
#include "sk_model_config.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "sk_error.h"
#include "sk_model.h"

#define MK_(name_, type_, field, def_, lo, hi, choices_, help_)                                                      \
    {                                                                                                                \
        .name = name_, .type = type_, .offset = offsetof(sk_model_config, field), .def = def_, .min = lo, .max = hi, \
        .choices = choices_, .help = help_                                                                           \
    }
/* clang-format off */
static const sk_cfg_key model_keys_[] = {
    {.name = "arch", .type = SK_CFG_STRING, .offset = offsetof(sk_model_config, arch), .def = "vit",
     .choice_at = sk_model_name_at, .help = "model architecture (the model registry, models/sk_model.c)"},
    MK_("width", SK_CFG_INT, width, "128", 1, 65536, NULL, "hidden size D (convnet: channels)"),
    MK_("depth", SK_CFG_INT, depth, "4", 1, 64, NULL, "transformer blocks (convnet: conv blocks)"),
    MK_("heads", SK_CFG_INT, heads, "4", 1, 1024, NULL, "attention heads (must divide width)"),
    MK_("mlp_ratio", SK_CFG_INT, mlp_ratio, "4", 1, 64, NULL, "MLP hidden size = mlp_ratio * width"),
    MK_("patch", SK_CFG_INT, patch, "7", 1, 4096, NULL, "vit: patch side in pixels (must divide the image)"),
    MK_("pool", SK_CFG_ENUM, pool, "cls", 1, 0, "cls|mean", "vit: class-token or mean pooling"),
    MK_("vocab", SK_CFG_INT, vocab, "0", 0, 1 << 24, NULL, "gpt: vocabulary size (0: the corpus's)"),
    MK_("classes", SK_CFG_INT, classes, "0", 0, 1 << 24, NULL, "classifiers: label classes (0: the corpus's)"),
    MK_("norm", SK_CFG_ENUM, norm, "instance", 1, 0, "instance|batch|none", "convnet: normalisation after each conv"),
    MK_("pooling", SK_CFG_ENUM, pooling, "avg", 1, 0, "avg|max|none", "convnet: 2x2 pooling after each block"),
};
/* clang-format on */
#undef MK_

const sk_cfg_section sk_model_section = {"model", "model architecture (models)", model_keys_,
                                         (int)(sizeof model_keys_ / sizeof *model_keys_), sizeof(sk_model_config)};

int sk_model_config_check(const sk_model_config *c)
{
    const sk_model_vtable *vt = sk_model_find(c->arch);
    if (!vt) return sk_cfg_choice_error(SK_EINVAL, "model.arch", c->arch, sk_model_name_at);
    /* the keys every arch reads, checked once here; the entry checks its own */
    if (c->width <= 0) return sk_error_set(SK_EINVAL, "model.width = %lld: must be > 0", (long long)c->width);
    if (c->depth <= 0 || c->depth > 64)
        return sk_error_set(SK_EINVAL, "model.depth = %lld: must be in [1, 64]", (long long)c->depth);
    if (c->vocab < 0 || c->classes < 0) return sk_error_set(SK_EINVAL, "model.vocab / model.classes must be >= 0");
    return vt->check(c);
}

json_t *sk_model_config_to_json(const sk_model_config *c)
{
    json_t *j = json_object();
    for (int i = 0; j && i < sk_model_section.nkeys; i++) {
        const sk_cfg_key *k = &model_keys_[i];
        const char *f = (const char *)c + k->offset;
        char name[SK_CFG_STR_MAX];
        json_t *v = k->type == SK_CFG_INT    ? json_integer((json_int_t) * (const int64_t *)f)
                    : k->type == SK_CFG_ENUM ? json_string(sk_cfg_enum_name(k, *(const int *)f, name, sizeof name))
                                             : json_string(f);
        if (json_object_set_new(j, k->name, v) < 0) {
            json_decref(j);
            return NULL;
        }
    }
    return j;
}
