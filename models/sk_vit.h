/* sk_vit.h - Vision Transformer (Dosovitskiy et al. 2021) over the shim.
 *
 * defines: sk_vit, sk_vit_opts, sk_vit_out, sk_vit_create, sk_vit_free,
 *          sk_vit_params, sk_vit_forward, sk_vit_embed; its registry entry
 *          (sk_model_vit, sk_model.h) maps the [model] keys onto sk_vit_opts.
 *
 * Patch embedding (a linear over non-overlapping patch x patch pixels),
 * learned position embedding, optional class token, pre-LN blocks with the
 * selector hook between them (sk_block.h), final layer norm, class-token or
 * (size-weighted) mean pooling, linear head, cross-entropy loss.
 * Parameter names follow timm ("patch_embed.proj.weight", "cls_token",
 * "pos_embed", "blocks.<i>.*", "norm.*", "head.*").
 */
#ifndef SK_VIT_H
#define SK_VIT_H

#include "sk_block.h"

typedef struct sk_vit sk_vit;

typedef struct {
    int64_t image_h, image_w, channels; /* input images, uint8 [B, H, W] or [B, C, H, W] */
    int64_t patch;                      /* patch side; must divide H and W */
    int64_t width, depth, heads, mlp_hidden;
    int64_t classes;
    int cls_token; /* 1: class-token pooling; 0: mean pooling */
} sk_vit_opts;

typedef struct {
    sk_tensor *loss;    /* scalar mean cross-entropy (scope-owned) */
    sk_tensor *logits;  /* [B, classes] (scope-owned) */
    int64_t correct;    /* argmax == label count */
    sk_blocks_stats st; /* tokens per block */
} sk_vit_out;

/* Validate opts (message names the option) and create the model with
 * parameters drawn from `seed`. */
int sk_vit_create(sk_vit **out, const sk_vit_opts *o, uint64_t seed);
void sk_vit_free(sk_vit *m);
/* Parameters in canonical order (owned by the model). */
sk_params *sk_vit_params(sk_vit *m);
/* Facts for the selector (tokens, grid, protected class token). */
sk_select_model sk_vit_select_model(const sk_vit *m);
/* Forward + loss on images (uint8 tensor) and labels (int64 [B]). */
int sk_vit_forward(sk_vit *m, const sk_tensor *images, const sk_tensor *labels, sk_selector *sel, int64_t step,
                   int training, sk_vit_out *out);
/* The pooled final-norm features before the head, [B, width], no selector
 * (scope-owned). */
int sk_vit_embed(sk_vit *m, const sk_tensor *images, sk_tensor **feat);

#endif /* SK_VIT_H */
