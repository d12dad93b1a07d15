/* sk_dsa.h - Differentiable Siamese Augmentation (Zhao & Bilen, "Dataset
 * Condensation with Differentiable Siamese Augmentation", ICML 2021).
 *
 * defines: sk_dsa_family, sk_dsa_params, sk_dsa_params_default,
 *          sk_dsa_parse, sk_dsa_draw, sk_dsa_draw_create, sk_dsa_draw_free,
 *          sk_dsa_apply_draw, sk_dsa_apply_draw_pixels, sk_dsa_apply.
 *
 * Random image transforms written with differentiable shim ops, so that a
 * loss on augmented images backpropagates to the pixels (the synthetic
 * images of dataset distillation). The transforms and their parameters are
 * those of the reference implementation (VICO-UoE/DatasetCondensation,
 * utils.py: ParamDiffAug, DiffAugment, rand_*), which takes them from
 * DiffAugment (mit-han-lab/data-efficient-gans):
 *   color   brightness x + (b - 0.5) * brightness, then saturation
 *           (x - mean_c) * (s * saturation) + mean_c, then contrast
 *           (x - mean_chw) * (c + contrast) + mean_chw; b, s, c ~ U[0, 1)
 *   crop    translation by integers in [-round(H * r), round(H * r)] rows
 *           (same for columns with W), zeros shifted in (r = ratio_crop_pad)
 *   cutout  a zeroed round(H * r) x round(W * r) square at a random centre
 *   flip    left-right with probability prob_flip
 *   scale   affine x / y scale factors ~ U[1 / ratio_scale, ratio_scale)
 *   rotate  by an angle ~ U[-ratio_rotate, ratio_rotate) degrees
 * scale and rotate sample the image through sk_shim_affine_grid and
 * sk_shim_grid_sample (bilinear, zeros outside, align_corners = 0, as
 * F.affine_grid / F.grid_sample's defaults in the reference).
 *
 * A strategy names families joined by '_' ("color_crop_cutout_flip_scale_
 * rotate", the reference's default for DSA). As the reference's aug_mode
 * 'S' (its default), one family, drawn uniformly from the strategy, is
 * applied per draw; params.multiple = 1 applies each family in the
 * strategy's order (aug_mode 'M').
 *
 * Siamese use: a draw holds one set of random parameters (n = 1) or one per
 * sample (n = batch size). A draw with n = 1 applies the same transform to
 * every image of any batch, so the real and the synthetic batch of a class
 * get the same augmentation: draw once, sk_dsa_apply_draw on each. This is
 * the reference's batch mode (DiffAugment with seed != -1, where
 * theta[:] = theta[0]). sk_dsa_apply draws per sample and applies at once:
 * the reference's seed = -1 mode, used when training on augmented images.
 *
 * Differences from the reference:
 *   - Random numbers come from an sk_generator: every uniform is drawn as
 *     f64 and integers as lo + floor(u (hi - lo)), in the order: family
 *     (mode 'S'), then each applied family's values in the fields' order
 *     below. The reference reseeds torch's global generator before each
 *     draw (seed, seed + 1, ...) and uses torch.randint; the streams are
 *     not the same, the distributions are.
 *   - The draw is an explicit object instead of a shared seed: the
 *     Siamese pairing is by passing the same draw, not by reseeding.
 *   - With n = 1 the single parameter set is broadcast (one transform for
 *     the whole batch), where the reference draws B values and overwrites
 *     all with the first: the same transform, fewer random numbers.
 */
#ifndef SK_DSA_H
#define SK_DSA_H

#include <stdint.h>

#include "sk_shim.h"

/* The augmentation families, in the reference's AUGMENT_FNS order. */
typedef enum {
    SK_DSA_COLOR = 0,
    SK_DSA_CROP = 1,
    SK_DSA_CUTOUT = 2,
    SK_DSA_FLIP = 3,
    SK_DSA_SCALE = 4,
    SK_DSA_ROTATE = 5,
    SK_DSA_NFAMILIES = 6
} sk_dsa_family;

#define SK_DSA_STRATEGY_MAX 128

/* ParamDiffAug. */
typedef struct {
    char strategy[SK_DSA_STRATEGY_MAX]; /* "color_crop_cutout_flip_scale_rotate";
                                         "" or "none": identity */
    int multiple;                       /* 0: one family per draw ('S'); 1: all, in order ('M') */
    double prob_flip;                   /* 0.5 */
    double ratio_scale;                 /* 1.2 */
    double ratio_rotate;                /* 15 (degrees) */
    double ratio_crop_pad;              /* 0.125 */
    double ratio_cutout;                /* 0.5 (side of the square / side of the image) */
    double brightness;                  /* 1.0 */
    double saturation;                  /* 2.0 */
    double contrast;                    /* 0.5 */
} sk_dsa_params;

/* The reference's defaults, with the DSA strategy above. */
void sk_dsa_params_default(sk_dsa_params *p);

/* Parse a strategy into families fam[0..*n) (at most SK_DSA_NFAMILIES, in
 * the text's order; "" and "none" give *n = 0). SK_EINVAL naming the word
 * that is not a family, or a family named twice. */
int sk_dsa_parse(const char *strategy, sk_dsa_family *fam, int *n);

/* One draw of random parameters: arrays of n values (n = 1: one transform
 * for any batch; else one per sample of a batch of exactly n), named as the
 * reference's variables. Only the applied families' arrays are drawn; the
 * others hold zeros. Owned by the caller (sk_dsa_draw_free). */
typedef struct {
    sk_dsa_params params;
    int nfam;
    sk_dsa_family fam[SK_DSA_NFAMILIES];    /* applied, in order */
    int64_t n, h, w;                        /* parameter sets; image height and width drawn for */
    double *randb, *rands, *randc;          /* color: U[0, 1) each */
    int64_t *translation_x, *translation_y; /* crop: rows, columns */
    int64_t *offset_x, *offset_y;           /* cutout: centre row, column */
    double *randf;                          /* flip: U[0, 1); flipped when < prob_flip */
    double *sx, *sy;                        /* scale */
    double *angle;                          /* rotate: radians, anticlockwise */
} sk_dsa_draw;

/* Draw parameters for n (>= 1) images of h x w from g (the family first in
 * mode 'S'). SK_EINVAL for a bad strategy or size. */
int sk_dsa_draw_create(sk_dsa_draw **out, const sk_dsa_params *p, int64_t n, int64_t h, int64_t w, sk_generator *g);
void sk_dsa_draw_free(sk_dsa_draw *d);

/* Apply draw d to x [B, C, H, W] (floating; H, W as drawn; B == d->n or
 * d->n == 1): *out is the augmented batch, owned like an op result (the
 * innermost scope), differentiable w.r.t. x. With no family *out is x's
 * view. SK_EINVAL naming the shapes when they do not fit. */
int sk_dsa_apply_draw(const sk_dsa_draw *d, const sk_tensor *x, sk_tensor **out);

/* As sk_dsa_apply_draw for images in pixel units, [0, 255] (uint8 corpora
 * and float32 distilled ones: what the image models read, models/
 * sk_convnet.h): the draw is applied to x / 127.5 - 1, the models' input
 * units, so that brightness adds, and crop, scale, rotate and cutout fill
 * with 0 in the units of normalised images, as the reference augments its
 * mean/std-normalised images; *out is float32 pixel units again (not
 * clamped to [0, 255]). Differentiable w.r.t. x. The models' [-1, 1] map
 * differs from the reference's per-dataset mean and std (Fashion-MNIST
 * 0.2861 / 0.3530): a fill of 0 is pixel 127.5 here, 73 there, and
 * brightness's +-0.5 moves 64 pixel levels here, 45 there. */
int sk_dsa_apply_draw_pixels(const sk_dsa_draw *d, const sk_tensor *x, sk_tensor **out);

/* Draw per sample for x [B, C, H, W] from g and apply (training on
 * augmented images). */
int sk_dsa_apply(const sk_dsa_params *p, const sk_tensor *x, sk_generator *g, sk_tensor **out);

#endif /* SK_DSA_H */
