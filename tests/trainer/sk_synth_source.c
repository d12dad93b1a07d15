/* sk_synth_source.c - synthetic corpus for trainer tests (see header). */
#include "sk_synth_source.h"

#include <stdlib.h>
#include <string.h>

#include "sk_rand.h"

#define NSAMP_ 640
#define IMG_ 16
#define VOCAB_ 16

typedef struct {
    sk_loader_opts o;
    int tokens;
    int64_t lo, n; /* sample range of the split */
    int64_t *perm; /* order of the current epoch */
    int64_t perm_epoch;
    sk_loader_pos pos;
    unsigned char *img;
    int64_t *lab, *tok, *idx;
    sk_batch b;
    /* opts.external_order: the caller's epoch order (split-relative) */
    int64_t *order, order_n, order_epoch;
} synth_;

static void make_perm_(synth_ *s, int64_t epoch)
{
    for (int64_t i = 0; i < s->n; i++) s->perm[i] = s->lo + i;
    if (s->o.shuffle) {
        uint64_t st = sk_splitmix64(s->o.seed ^ sk_splitmix64((uint64_t)epoch));
        for (int64_t i = s->n - 1; i > 0; i--) {
            st = sk_splitmix64(st);
            int64_t j = (int64_t)(st % (uint64_t)(i + 1)), t = s->perm[i];
            s->perm[i] = s->perm[j];
            s->perm[j] = t;
        }
    }
    s->perm_epoch = epoch;
}

static void synth_free_(void *c)
{
    synth_ *s = c;
    if (!s) return;
    free(s->perm);
    free(s->img);
    free(s->lab);
    free(s->tok);
    free(s->idx);
    free(s->order);
    free(s);
}

static int synth_create_(void **ctx, const sk_loader_opts *o)
{
    synth_ *s = calloc(1, sizeof *s);
    if (!s) return sk_error_set(SK_ENOMEM, "synth: out of memory");
    s->o = *o;
    s->tokens = strcmp(o->path, "synth:tokens") == 0;
    if (!s->tokens && strcmp(o->path, "synth:images") != 0) {
        free(s);
        return sk_error_set(SK_ENOTFOUND, "%s: unknown synthetic corpus", o->path);
    }
    int64_t ev = (int64_t)(NSAMP_ * o->eval_fraction);
    s->lo = o->split == SK_SPLIT_EVAL ? NSAMP_ - ev : 0;
    s->n = o->split == SK_SPLIT_ALL ? NSAMP_ : o->split == SK_SPLIT_EVAL ? ev : NSAMP_ - ev;
    if (o->batch_size <= 0 || o->batch_size * o->world > s->n) {
        long long n = (long long)s->n;
        free(s);
        return sk_error_set(SK_EINVAL, "%s: batch %lld x %d ranks does not fit %lld samples", o->path,
                            (long long)o->batch_size, o->world, n);
    }
    s->perm = malloc((size_t)s->n * sizeof *s->perm);
    s->img = malloc((size_t)o->batch_size * IMG_ * IMG_);
    s->lab = malloc((size_t)o->batch_size * sizeof *s->lab);
    s->tok = malloc((size_t)(o->batch_size * (o->seq_len + 1)) * sizeof *s->tok);
    s->idx = malloc((size_t)o->batch_size * sizeof *s->idx);
    s->order = malloc((size_t)s->n * sizeof *s->order);
    s->order_epoch = -1;
    if (!s->perm || !s->img || !s->lab || !s->tok || !s->idx || !s->order) {
        synth_free_(s);
        return sk_error_set(SK_ENOMEM, "synth: out of memory");
    }
    make_perm_(s, 0);
    *ctx = s;
    return SK_OK;
}

static int64_t synth_spe_(void *c)
{
    synth_ *s = c;
    return s->n / (s->o.batch_size * s->o.world);
}

/* Steps of the current epoch: the caller's order's with external_order. */
static int64_t synth_epoch_steps_(const synth_ *s)
{
    return s->o.external_order ? s->order_n / (s->o.batch_size * s->o.world) : s->n / (s->o.batch_size * s->o.world);
}

static int synth_next_(void *c, const sk_batch **out)
{
    synth_ *s = c;
    if (s->pos.step >= synth_epoch_steps_(s)) {
        s->pos.epoch++;
        s->pos.step = 0;
    }
    if (s->o.external_order && s->pos.epoch != s->order_epoch)
        return sk_error_set(SK_EINVAL, "synth: epoch %lld has no order", (long long)s->pos.epoch);
    if (s->o.external_order) {
        for (int64_t i = 0; i < s->order_n; i++) s->perm[i] = s->lo + s->order[i];
        s->perm_epoch = -1;
    } else if (s->perm_epoch != s->pos.epoch) {
        make_perm_(s, s->pos.epoch);
    }
    int64_t B = s->o.batch_size, base = s->pos.step * B * s->o.world + (int64_t)s->o.rank * B;
    for (int64_t i = 0; i < B; i++) {
        int64_t id = s->perm[base + i];
        s->idx[i] = id - s->lo;
        uint64_t h = sk_splitmix64((uint64_t)id * 7919u + 13u);
        if (s->tokens) {
            int64_t stride = 1 + (int64_t)(h % 3), t = (int64_t)((h >> 8) % VOCAB_);
            for (int64_t j = 0; j <= s->o.seq_len; j++) {
                s->tok[i * (s->o.seq_len + 1) + j] = t;
                t = (t + stride) % VOCAB_;
            }
        } else {
            int cls = (int)(h % 4);
            s->lab[i] = cls;
            for (int y = 0; y < IMG_; y++)
                for (int x = 0; x < IMG_; x++) {
                    h = sk_splitmix64(h);
                    int q = (y >= IMG_ / 2) * 2 + (x >= IMG_ / 2);
                    int v = (int)(h % 96) + (q == cls ? 128 : 0);
                    s->img[i * IMG_ * IMG_ + y * IMG_ + x] = (unsigned char)v;
                }
        }
    }
    memset(&s->b, 0, sizeof s->b);
    s->b.n = B;
    if (s->tokens) {
        s->b.ndim = 1;
        s->b.shape[0] = s->o.seq_len + 1;
        s->b.type = SK_ELEM_I64;
        s->b.data = s->tok;
    } else {
        s->b.ndim = 2;
        s->b.shape[0] = IMG_;
        s->b.shape[1] = IMG_;
        s->b.type = SK_ELEM_U8;
        s->b.data = s->img;
        s->b.labels = s->lab;
    }
    s->b.index = s->idx;
    s->b.epoch = s->pos.epoch;
    s->b.step = s->pos.step;
    s->pos.step++;
    *out = &s->b;
    return SK_OK;
}

static sk_loader_pos synth_tell_(void *c)
{
    synth_ *s = c;
    sk_loader_pos p = s->pos;
    if (s->o.external_order && p.step >= synth_epoch_steps_(s)) { /* as the loader: the next batch's epoch */
        p.epoch++;
        p.step = 0;
    }
    return p;
}
static int synth_seek_(void *c, sk_loader_pos p)
{
    ((synth_ *)c)->pos = p;
    return SK_OK;
}
static int64_t synth_vocab_(void *c) { return ((synth_ *)c)->tokens ? VOCAB_ : 0; }
static int64_t synth_classes_(void *c) { return ((synth_ *)c)->tokens ? 0 : 4; }
static int64_t synth_samples_(void *c) { return ((synth_ *)c)->n; }
static int synth_seek_order_(void *c, sk_loader_pos p, const int64_t *order, int64_t n)
{
    synth_ *s = c;
    if (!s->o.external_order || n < s->o.batch_size * s->o.world || n > s->n)
        return sk_error_set(SK_EINVAL, "synth: bad epoch order of %lld samples", (long long)n);
    memcpy(s->order, order, (size_t)n * sizeof *order);
    s->order_n = n;
    s->order_epoch = p.epoch;
    s->pos = p;
    return SK_OK;
}

const sk_train_source sk_synth_source = {synth_create_,  synth_free_,      synth_next_,  synth_tell_,
                                         synth_seek_,    synth_spe_,       synth_vocab_, synth_classes_,
                                         synth_samples_, synth_seek_order_};
