/* sk_dsa.c - Differentiable Siamese Augmentation (see sk_dsa.h; Zhao &
 * Bilen, ICML 2021, after the reference's utils.py rand_* functions). */
#include "sk_dsa.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const family_names_[SK_DSA_NFAMILIES] = {"color", "crop", "cutout", "flip", "scale", "rotate"};

void sk_dsa_params_default(sk_dsa_params *p)
{
    memset(p, 0, sizeof *p);
    strcpy(p->strategy, "color_crop_cutout_flip_scale_rotate");
    p->prob_flip = 0.5;
    p->ratio_scale = 1.2;
    p->ratio_rotate = 15.0;
    p->ratio_crop_pad = 0.125;
    p->ratio_cutout = 0.5;
    p->brightness = 1.0;
    p->saturation = 2.0;
    p->contrast = 0.5;
}

int sk_dsa_parse(const char *strategy, sk_dsa_family *fam, int *n)
{
    *n = 0;
    if (!strategy || !strategy[0] || !strcmp(strategy, "none")) return SK_OK;
    const char *s = strategy;
    while (*s) {
        size_t len = strcspn(s, "_");
        int f = -1;
        for (int i = 0; i < SK_DSA_NFAMILIES; i++)
            if (strlen(family_names_[i]) == len && !strncmp(s, family_names_[i], len)) f = i;
        if (f < 0)
            return sk_error_set(SK_EINVAL,
                                "dsa strategy \"%s\": \"%.*s\" is not one of color, "
                                "crop, cutout, flip, scale, rotate",
                                strategy, (int)len, s);
        for (int i = 0; i < *n; i++)
            if (fam[i] == (sk_dsa_family)f)
                return sk_error_set(SK_EINVAL, "dsa strategy \"%s\": \"%s\" named twice", strategy, family_names_[f]);
        fam[(*n)++] = (sk_dsa_family)f;
        s += len;
        if (*s == '_') {
            s++;
            if (!*s) return sk_error_set(SK_EINVAL, "dsa strategy \"%s\": ends with '_'", strategy);
        }
    }
    return SK_OK;
}

void sk_dsa_draw_free(sk_dsa_draw *d)
{
    if (!d) return;
    free(d->randb); /* one block holds every array */
    free(d);
}

/* n uniforms in [0, 1) from g (f64). */
static int uniform_(sk_generator *g, int64_t n, double *out)
{
    sk_tensor *u = sk_shim_rand((const int64_t[]){n}, 1, SK_F64, SK_CPU, g);
    int rc = u ? sk_shim_to_host(u, out, (size_t)n * sizeof *out) : sk_error_last_code();
    sk_tensor_free(u);
    return rc;
}

/* n integers in [lo, hi) (hi > lo). */
static int randint_(sk_generator *g, int64_t n, int64_t lo, int64_t hi, int64_t *out, double *tmp)
{
    int rc = uniform_(g, n, tmp);
    if (rc < 0) return rc;
    for (int64_t i = 0; i < n; i++) {
        int64_t v = lo + (int64_t)floor(tmp[i] * (double)(hi - lo));
        out[i] = v < hi ? v : hi - 1;
    }
    return SK_OK;
}

/* round(size * ratio) as the reference's int(size * ratio + 0.5). */
static int64_t part_(int64_t size, double ratio) { return (int64_t)((double)size * ratio + 0.5); }

static int draw_family_(sk_dsa_draw *d, sk_dsa_family f, sk_generator *g, double *tmp)
{
    int rc = SK_OK;
    const sk_dsa_params *p = &d->params;
    const int64_t n = d->n;
    switch (f) {
    case SK_DSA_COLOR:
        SK_TRY(uniform_(g, n, d->randb));
        SK_TRY(uniform_(g, n, d->rands));
        SK_TRY(uniform_(g, n, d->randc));
        break;
    case SK_DSA_CROP: {
        int64_t sx = part_(d->h, p->ratio_crop_pad), sy = part_(d->w, p->ratio_crop_pad);
        SK_TRY(randint_(g, n, -sx, sx + 1, d->translation_x, tmp));
        SK_TRY(randint_(g, n, -sy, sy + 1, d->translation_y, tmp));
        break;
    }
    case SK_DSA_CUTOUT: {
        int64_t cx = part_(d->h, p->ratio_cutout), cy = part_(d->w, p->ratio_cutout);
        SK_TRY(randint_(g, n, 0, d->h + (1 - cx % 2), d->offset_x, tmp));
        SK_TRY(randint_(g, n, 0, d->w + (1 - cy % 2), d->offset_y, tmp));
        break;
    }
    case SK_DSA_FLIP: SK_TRY(uniform_(g, n, d->randf)); break;
    case SK_DSA_SCALE: {
        const double r = p->ratio_scale;
        SK_TRY(uniform_(g, n, d->sx));
        SK_TRY(uniform_(g, n, d->sy));
        for (int64_t i = 0; i < n; i++) {
            d->sx[i] = d->sx[i] * (r - 1.0 / r) + 1.0 / r;
            d->sy[i] = d->sy[i] * (r - 1.0 / r) + 1.0 / r;
        }
        break;
    }
    case SK_DSA_ROTATE:
        SK_TRY(uniform_(g, n, d->angle));
        for (int64_t i = 0; i < n; i++)
            d->angle[i] = (d->angle[i] - 0.5) * 2.0 * p->ratio_rotate / 180.0 * 3.14159265358979323846;
        break;
    default: break;
    }
done:
    return rc;
}

int sk_dsa_draw_create(sk_dsa_draw **out, const sk_dsa_params *p, int64_t n, int64_t h, int64_t w, sk_generator *g)
{
    int rc = SK_OK;
    sk_dsa_family fam[SK_DSA_NFAMILIES];
    int nf = 0;
    double *tmp = NULL, *blk = NULL;
    sk_dsa_draw *d = NULL;
    *out = NULL;
    SK_FAIL_IF(!p || !g || n < 1 || h < 1 || w < 1, SK_EINVAL,
               "dsa: draw for %lld images of %lld x %lld: bad arguments", (long long)n, (long long)h, (long long)w);
    SK_FAIL_IF(!(p->ratio_scale >= 1) || !(p->ratio_crop_pad >= 0) || !(p->ratio_cutout >= 0 && p->ratio_cutout <= 1),
               SK_EINVAL,
               "dsa: ratio_scale %g must be >= 1, ratio_crop_pad %g >= 0, "
               "ratio_cutout %g in [0, 1]",
               p->ratio_scale, p->ratio_crop_pad, p->ratio_cutout);
    SK_TRY(sk_dsa_parse(p->strategy, fam, &nf));
    d = calloc(1, sizeof *d);
    blk = calloc((size_t)n * 11, sizeof(double)); /* 7 f64 arrays, 4 i64 arrays, one block */
    tmp = malloc((size_t)n * sizeof *tmp);
    SK_FAIL_IF(!d || !blk || !tmp, SK_ENOMEM, "dsa: out of memory (%lld images)", (long long)n);
    d->params = *p;
    d->n = n, d->h = h, d->w = w;
    d->randb = blk, d->rands = blk + n, d->randc = blk + 2 * n, d->randf = blk + 3 * n;
    d->sx = blk + 4 * n, d->sy = blk + 5 * n, d->angle = blk + 6 * n;
    blk = NULL; /* d owns it */
    int64_t *ib = (int64_t *)(d->randb + 7 * n);
    d->translation_x = ib, d->translation_y = ib + n, d->offset_x = ib + 2 * n, d->offset_y = ib + 3 * n;
    if (nf > 0 && !p->multiple) {
        int64_t k = 0;
        SK_TRY(randint_(g, 1, 0, nf, &k, tmp));
        d->fam[0] = fam[k];
        d->nfam = 1;
    } else {
        memcpy(d->fam, fam, (size_t)nf * sizeof *fam);
        d->nfam = nf;
    }
    for (int i = 0; i < d->nfam; i++) SK_TRY(draw_family_(d, d->fam[i], g, tmp));
    *out = d;
    d = NULL;
done:
    free(tmp);
    free(blk);
    sk_dsa_draw_free(d);
    return rc;
}

/* ---- the transforms
 * ------------------------------------------------------------------ */

/* Host values v[0..n) as a [n, 1, 1, 1] tensor of x's dtype and device. */
static sk_tensor *col_(const sk_tensor *x, const double *v, int64_t n)
{
    sk_tensor *t = sk_shim_from_host(v, (const int64_t[]){n, 1, 1, 1}, 4, SK_F64, SK_CPU);
    return sk_shim_to(t, sk_shim_device(x), sk_shim_dtype(x));
}

/* (x - mean) * f + mean, the mean over dims[0..nd) (kept). */
static sk_tensor *about_mean_(const sk_tensor *x, const int64_t *dims, int nd, const sk_tensor *f)
{
    sk_tensor *m = sk_shim_mean(x, dims, nd, 1);
    return sk_shim_add(sk_shim_mul(sk_shim_sub(x, m), f), m);
}

static sk_tensor *color_(const sk_dsa_draw *d, const sk_tensor *x)
{
    const sk_dsa_params *p = &d->params;
    const int64_t n = d->n;
    double *v = malloc((size_t)n * sizeof *v);
    if (!v) {
        sk_error_set(SK_ENOMEM, "dsa: out of memory");
        return NULL;
    }
    for (int64_t i = 0; i < n; i++) v[i] = (d->randb[i] - 0.5) * p->brightness;
    sk_tensor *y = sk_shim_add(x, col_(x, v, n));
    for (int64_t i = 0; i < n; i++) v[i] = d->rands[i] * p->saturation;
    y = about_mean_(y, (const int64_t[]){1}, 1, col_(x, v, n));
    for (int64_t i = 0; i < n; i++) v[i] = d->randc[i] + p->contrast;
    y = about_mean_(y, (const int64_t[]){1, 2, 3}, 3, col_(x, v, n));
    free(v);
    return y;
}

static sk_tensor *flip_(const sk_dsa_draw *d, const sk_tensor *x)
{
    sk_tensor *u = col_(x, d->randf, d->n);
    return sk_shim_where(sk_shim_lt_scalar(u, d->params.prob_flip), sk_shim_flip(x, 3), x);
}

/* Affine resampling by theta_i = [[a, b, 0], [c, e, 0]] per parameter set. */
static sk_tensor *affine_(const sk_dsa_draw *d, const sk_tensor *x, const double *a, const double *b, const double *c,
                          const double *e)
{
    const int64_t n = d->n, B = sk_shim_size(x, 0);
    double *th = calloc((size_t)n * 6, sizeof *th);
    if (!th) {
        sk_error_set(SK_ENOMEM, "dsa: out of memory");
        return NULL;
    }
    for (int64_t i = 0; i < n; i++) th[6 * i] = a[i], th[6 * i + 1] = b[i], th[6 * i + 3] = c[i], th[6 * i + 4] = e[i];
    sk_tensor *t = sk_shim_to(sk_shim_from_host(th, (const int64_t[]){n, 2, 3}, 3, SK_F64, SK_CPU), sk_shim_device(x),
                              sk_shim_dtype(x));
    free(th);
    if (n == 1) t = sk_shim_expand(t, (const int64_t[]){B, 2, 3}, 3);
    sk_tensor *grid = sk_shim_affine_grid(t, B, sk_shim_size(x, 1), sk_shim_size(x, 2), sk_shim_size(x, 3), 0);
    return sk_shim_grid_sample(x, grid, 0);
}

static sk_tensor *scale_(const sk_dsa_draw *d, const sk_tensor *x)
{
    double *z = calloc((size_t)d->n, sizeof *z);
    sk_tensor *y = z ? affine_(d, x, d->sx, z, z, d->sy) : NULL;
    if (!z) sk_error_set(SK_ENOMEM, "dsa: out of memory");
    free(z);
    return y;
}

static sk_tensor *rotate_(const sk_dsa_draw *d, const sk_tensor *x)
{
    const int64_t n = d->n;
    double *cs = malloc((size_t)n * 3 * sizeof *cs);
    if (!cs) {
        sk_error_set(SK_ENOMEM, "dsa: out of memory");
        return NULL;
    }
    double *sn = cs + n, *msn = cs + 2 * n;
    for (int64_t i = 0; i < n; i++) cs[i] = cos(d->angle[i]), sn[i] = sin(d->angle[i]), msn[i] = sin(-d->angle[i]);
    sk_tensor *y = affine_(d, x, cs, msn, sn, cs);
    free(cs);
    return y;
}

/* out[b, c, i, j] = x[b, c, i + tx_b, j + ty_b], zero where that falls
 * outside (the reference pads by one zero and clamps into the padding),
 * as a gather of x's pixels with a mask. */
static sk_tensor *crop_(const sk_dsa_draw *d, const sk_tensor *x)
{
    const int64_t n = d->n, H = d->h, W = d->w, B = sk_shim_size(x, 0), C = sk_shim_size(x, 1);
    int64_t *idx = malloc((size_t)(n * H * W) * sizeof *idx);
    double *mask = malloc((size_t)(n * H * W) * sizeof *mask);
    sk_tensor *y = NULL;
    if (!idx || !mask) {
        sk_error_set(SK_ENOMEM, "dsa: out of memory");
        goto done;
    }
    for (int64_t s = 0; s < n; s++)
        for (int64_t i = 0; i < H; i++)
            for (int64_t j = 0; j < W; j++) {
                int64_t r = i + d->translation_x[s], c = j + d->translation_y[s], k = (s * H + i) * W + j;
                int in = r >= 0 && r < H && c >= 0 && c < W;
                idx[k] = in ? r * W + c : 0;
                mask[k] = in;
            }
    sk_tensor *it = sk_shim_to(sk_shim_from_host(idx, (const int64_t[]){n, 1, H * W}, 3, SK_I64, SK_CPU),
                               sk_shim_device(x), SK_I64);
    it = sk_shim_contiguous(sk_shim_expand(it, (const int64_t[]){B, C, H * W}, 3));
    sk_tensor *xf = sk_shim_reshape(x, (const int64_t[]){B, C, H * W}, 3);
    sk_tensor *m = sk_shim_to(sk_shim_from_host(mask, (const int64_t[]){n, 1, H, W}, 4, SK_F64, SK_CPU),
                              sk_shim_device(x), sk_shim_dtype(x));
    y = sk_shim_mul(sk_shim_reshape(sk_shim_gather(xf, 2, it), (const int64_t[]){B, C, H, W}, 4), m);
done:
    free(idx);
    free(mask);
    return y;
}

/* x times a mask that is zero on the cutout square (rows offset_x -
 * size / 2 .. + size - 1, clamped into the image; columns likewise). */
static sk_tensor *cutout_(const sk_dsa_draw *d, const sk_tensor *x)
{
    const int64_t n = d->n, H = d->h, W = d->w;
    const int64_t cx = part_(H, d->params.ratio_cutout), cy = part_(W, d->params.ratio_cutout);
    double *mask = malloc((size_t)(n * H * W) * sizeof *mask);
    if (!mask) {
        sk_error_set(SK_ENOMEM, "dsa: out of memory");
        return NULL;
    }
    for (int64_t s = 0; s < n; s++) {
        int64_t r0 = d->offset_x[s] - cx / 2, c0 = d->offset_y[s] - cy / 2;
        for (int64_t i = 0; i < H; i++)
            for (int64_t j = 0; j < W; j++) {
                /* the reference clamps each index of the square into [0, size - 1] */
                int inr = cx > 0 && i >= (r0 < 0 ? 0 : r0) && i <= (r0 + cx - 1 > H - 1 ? H - 1 : r0 + cx - 1);
                int inc = cy > 0 && j >= (c0 < 0 ? 0 : c0) && j <= (c0 + cy - 1 > W - 1 ? W - 1 : c0 + cy - 1);
                /* a square entirely outside still clamps onto the border row / column
         */
                if (cx > 0 && r0 > H - 1) inr = i == H - 1;
                if (cx > 0 && r0 + cx - 1 < 0) inr = i == 0;
                if (cy > 0 && c0 > W - 1) inc = j == W - 1;
                if (cy > 0 && c0 + cy - 1 < 0) inc = j == 0;
                mask[(s * H + i) * W + j] = !(inr && inc);
            }
    }
    sk_tensor *m = sk_shim_to(sk_shim_from_host(mask, (const int64_t[]){n, 1, H, W}, 4, SK_F64, SK_CPU),
                              sk_shim_device(x), sk_shim_dtype(x));
    free(mask);
    return sk_shim_mul(x, m);
}

int sk_dsa_apply_draw(const sk_dsa_draw *d, const sk_tensor *x, sk_tensor **out)
{
    int rc = SK_OK;
    int64_t sh[SK_SHIM_MAX_DIMS];
    *out = NULL;
    SK_FAIL_IF(!d || !x, SK_EINVAL, "dsa: apply: NULL argument");
    int nd = sk_shim_shape(x, sh);
    SK_FAIL_IF(nd != 4 || sh[2] != d->h || sh[3] != d->w || (d->n != 1 && sh[0] != d->n), SK_EINVAL,
               "dsa: images of shape %s do not fit a draw for %lld x [C, %lld, %lld]",
               sk_shim_describe(x, (char[96]){0}, 96), (long long)d->n, (long long)d->h, (long long)d->w);
    sk_dtype dt = sk_shim_dtype(x);
    SK_FAIL_IF(dt != SK_F32 && dt != SK_F64 && dt != SK_BF16 && dt != SK_F16, SK_EINVAL,
               "dsa: images must be floating point, not %s", sk_shim_dtype_name(dt));
    sk_tensor *y = (sk_tensor *)x;
    for (int i = 0; i < d->nfam && y; i++) {
        switch (d->fam[i]) {
        case SK_DSA_COLOR: y = color_(d, y); break;
        case SK_DSA_CROP: y = crop_(d, y); break;
        case SK_DSA_CUTOUT: y = cutout_(d, y); break;
        case SK_DSA_FLIP: y = flip_(d, y); break;
        case SK_DSA_SCALE: y = scale_(d, y); break;
        case SK_DSA_ROTATE: y = rotate_(d, y); break;
        default: break;
        }
    }
    if (y == x) y = sk_shim_reshape(x, sh, 4); /* a view the caller's scope owns */
    if (!y) {
        rc = sk_error_prefix("dsa: ");
        goto done;
    }
    *out = y;
done:
    return rc;
}

int sk_dsa_apply_draw_pixels(const sk_dsa_draw *d, const sk_tensor *x, sk_tensor **out)
{
    int rc = SK_OK;
    sk_tensor *u = sk_shim_add_scalar(sk_shim_mul_scalar(sk_shim_to(x, sk_shim_device(x), SK_F32), 1.0 / 127.5), -1.0);
    *out = NULL;
    if (!u) return sk_error_prefix("dsa: ");
    SK_TRY(sk_dsa_apply_draw(d, u, &u));
    *out = sk_shim_mul_scalar(sk_shim_add_scalar(u, 1.0), 127.5);
    if (!*out) rc = sk_error_prefix("dsa: ");
done:
    return rc;
}

int sk_dsa_apply(const sk_dsa_params *p, const sk_tensor *x, sk_generator *g, sk_tensor **out)
{
    int rc = SK_OK;
    sk_dsa_draw *d = NULL;
    *out = NULL;
    SK_FAIL_IF(!x || sk_shim_ndim(x) != 4, SK_EINVAL, "dsa: images must be [B, C, H, W]");
    SK_TRY(sk_dsa_draw_create(&d, p, sk_shim_size(x, 0), sk_shim_size(x, 2), sk_shim_size(x, 3), g));
    SK_TRY(sk_dsa_apply_draw(d, x, out));
done:
    sk_dsa_draw_free(d);
    return rc;
}
