/* sk_loader.c - sharded, deterministic, prefetching loader (sk_loader.h).
 *
 * Order: epoch e's permutation of [0, n) is built from keyed Feistel
 * networks with cycle walking (Black & Rogaway, "Ciphers with arbitrary
 * finite domains", CT-RSA 2002): bijections computed per index in O(1)
 * memory, so seeking is free and the order depends only on (seed, epoch,
 * corpus), never on the world size. See perm_ for the chunk-friendly
 * two-level shuffle.
 *
 * Reading: a batch's sample indices are sorted and consecutive runs are
 * read with one hyperslab (H5Dread decodes each chunk once per run; the
 * dataset's chunk cache keeps hot chunks), then scattered to their slots.
 * A producer thread fills a ring of `prefetch` batches ahead of the caller. */
#include "sk_loader.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sk_corpus.h"

/* ---- keyed permutation ------------------------------------------------- */

static uint64_t mix64_(uint64_t z) { /* splitmix64 finaliser */
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

typedef struct {
    uint64_t n, key[4];
    int half; /* bits per half */
} feistel_;

static void feistel_init_(feistel_ *p, uint64_t n, uint64_t seed, uint64_t tweak) {
    p->n = n;
    int bits = 1;
    while (bits < 64 && ((uint64_t)1 << bits) < n) bits++;
    p->half = (bits + 1) / 2;
    for (int i = 0; i < 4; i++) p->key[i] = mix64_(seed ^ mix64_(tweak * 4 + (uint64_t)i + 0x5bd1e995ull));
}

static uint64_t feistel_apply_(const feistel_ *p, uint64_t x) {
    const uint64_t mask = ((uint64_t)1 << p->half) - 1;
    do {
        uint64_t l = x >> p->half, r = x & mask;
        for (int i = 0; i < 4; i++) {
            uint64_t t = r;
            r = l ^ (mix64_(r ^ p->key[i]) & mask);
            l = t;
        }
        x = l << p->half | r;
    } while (x >= p->n);
    return x;
}

/* Chunk-friendly epoch permutation. Samples form blocks of S consecutive
 * samples (~1 MiB decoded, one default chunk); a keyed permutation orders
 * the nb full blocks, consecutive runs of M of them form a group, and the
 * M*S samples of a group are permuted uniformly. So every batch mixes M
 * random places of the corpus while the chunks a group touches (M MiB)
 * stay in the HDF5 chunk cache and are decoded about once per epoch (the
 * idea of MosaicML Streaming's shuffle blocks). Leftover blocks and the
 * tail (< S samples) form one last group. Small corpora (n <= M*S) get a
 * uniform permutation of everything. Still a bijection of [0, n) that
 * depends only on (seed, epoch, n, S). */
typedef struct {
    uint64_t n, S, M, nb, ng;
    uint64_t seed;
    int64_t epoch;
    feistel_ blocks;
} perm_;

static void perm_init_(perm_ *p, uint64_t n, uint64_t S, uint64_t seed, int64_t epoch) {
    p->n = n;
    p->S = S ? S : 1;
    p->M = 32;
    p->nb = n / p->S;
    p->ng = p->nb / p->M;
    p->seed = seed;
    p->epoch = epoch;
    feistel_init_(&p->blocks, p->nb ? p->nb : 1, seed, (uint64_t)epoch << 32);
}

static uint64_t perm_apply_(const perm_ *p, uint64_t g) {
    const uint64_t G = p->M * p->S, full = p->ng * G;
    feistel_ in;
    uint64_t k, i, size;
    if (g < full) {
        k = g / G;
        i = g % G;
        size = G;
    } else {
        k = p->ng;
        i = g - full;
        size = p->n - full;
    }
    feistel_init_(&in, size, p->seed, ((uint64_t)p->epoch << 32) ^ mix64_(k + 1));
    uint64_t q = feistel_apply_(&in, i);
    uint64_t inblocks = (g < full ? p->M : p->nb - p->ng * p->M) * p->S;
    if (q < inblocks) {
        uint64_t b = feistel_apply_(&p->blocks, k * p->M + q / p->S);
        return b * p->S + q % p->S;
    }
    return p->nb * p->S + (q - inblocks); /* the tail */
}

/* ---- loader ------------------------------------------------------------ */

typedef struct {
    sk_batch b;
    void *data;
    int64_t *labels;
    int ready;
} slot_;

typedef struct {
    int64_t idx; /* sample index within the corpus */
    int64_t pos; /* slot position in the batch */
} pick_;

struct sk_loader {
    sk_loader_opts o;
    sk_corpus *c;
    const sk_corpus_info *in;
    int tokens;            /* token corpus */
    int64_t nsamples;      /* samples in the split */
    int64_t first;         /* first sample of the split */
    int64_t steps;         /* global batches per epoch */
    int64_t row_elems;     /* elements per sample */
    size_t esize;
    uint64_t block;        /* samples per shuffle block (~1 MiB) */
    int have_labels;
    int nslots;
    slot_ *slots;
    /* read scratch (producer only) */
    pick_ *picks;
    void *tmp;
    size_t tmp_cap;
    int64_t *ltmp;
    size_t ltmp_cap;
    /* ring state, guarded by mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
    int running, stop;
    sk_loader_pos cons;    /* next batch the caller gets */
    sk_loader_pos prod;    /* next batch the producer makes */
    int64_t produced, consumed; /* counters into the ring */
    int held;              /* slot the caller holds (-1 none) */
    int err;
    char errmsg[1024];
    double stall;
};

static double now_(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_pick_(const void *a, const void *b) {
    int64_t x = ((const pick_ *)a)->idx, y = ((const pick_ *)b)->idx;
    return x < y ? -1 : x > y;
}

static int grow_(void **p, size_t *cap, size_t need) {
    if (need <= *cap) return SK_OK;
    void *q = realloc(*p, need);
    if (!q) return sk_error_set(SK_ENOMEM, "loader: out of memory (%zu bytes)", need);
    *p = q;
    *cap = need;
    return SK_OK;
}

/* Fill slot s with the batch at pos. Runs on the producer thread (or the
 * caller when prefetch == 0). */
static int make_batch_(sk_loader *l, slot_ *s, sk_loader_pos pos) {
    int rc = SK_OK;
    const int64_t B = l->o.batch_size, G = B * l->o.world;
    perm_ pm = {0};
    if (l->o.shuffle) perm_init_(&pm, (uint64_t)l->nsamples, l->block, l->o.seed, pos.epoch);
    for (int64_t j = 0; j < B; j++) {
        uint64_t g = (uint64_t)(pos.step * G + (int64_t)l->o.rank * B + j);
        l->picks[j].idx = l->first + (int64_t)(l->o.shuffle ? perm_apply_(&pm, g) : g);
        l->picks[j].pos = j;
    }
    qsort(l->picks, (size_t)B, sizeof *l->picks, cmp_pick_);
    const size_t rowb = (size_t)l->row_elems * l->esize;
    for (int64_t a = 0; a < B;) {
        int64_t b = a;
        while (b + 1 < B && l->picks[b + 1].idx == l->picks[b].idx + 1) b++;
        int64_t i0 = l->picks[a].idx, nrun = b - a + 1;
        if (l->tokens) {
            const int64_t L = l->o.seq_len;
            int64_t ntok = nrun * L + 1;
            SK_TRY(grow_(&l->tmp, &l->tmp_cap, (size_t)ntok * l->esize));
            SK_TRY(sk_corpus_read_tokens(l->c, i0 * L, ntok, l->tmp));
            for (int64_t k = a; k <= b; k++)
                memcpy((char *)s->data + (size_t)l->picks[k].pos * rowb, (char *)l->tmp + (size_t)(k - a) * (size_t)L * l->esize, rowb);
        } else {
            SK_TRY(grow_(&l->tmp, &l->tmp_cap, (size_t)nrun * rowb));
            SK_TRY(sk_corpus_read_samples(l->c, i0, nrun, l->tmp));
            for (int64_t k = a; k <= b; k++)
                memcpy((char *)s->data + (size_t)l->picks[k].pos * rowb, (char *)l->tmp + (size_t)(k - a) * rowb, rowb);
            if (l->have_labels) {
                SK_TRY(grow_((void **)&l->ltmp, &l->ltmp_cap, (size_t)nrun * sizeof(int64_t)));
                SK_TRY(sk_corpus_read_labels(l->c, i0, nrun, l->ltmp));
                for (int64_t k = a; k <= b; k++) s->labels[l->picks[k].pos] = l->ltmp[k - a];
            }
        }
        a = b + 1;
    }
    s->b.epoch = pos.epoch;
    s->b.step = pos.step;
done:
    return rc;
}

static sk_loader_pos advance_(const sk_loader *l, sk_loader_pos p) {
    if (++p.step >= l->steps) {
        p.step = 0;
        p.epoch++;
    }
    return p;
}

static void *producer_(void *arg) {
    sk_loader *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        /* free slots: nslots minus queued minus the one the caller holds */
        while (!l->stop && (l->produced - l->consumed) + (l->held >= 0) >= l->nslots) pthread_cond_wait(&l->cv, &l->mu);
        if (l->stop) break;
        slot_ *s = &l->slots[l->produced % l->nslots];
        sk_loader_pos pos = l->prod;
        pthread_mutex_unlock(&l->mu);
        int rc = make_batch_(l, s, pos);
        pthread_mutex_lock(&l->mu);
        if (rc < 0) {
            l->err = rc;
            snprintf(l->errmsg, sizeof l->errmsg, "%s", sk_error_last());
            pthread_cond_broadcast(&l->cv);
            break;
        }
        l->prod = advance_(l, pos);
        l->produced++;
        pthread_cond_broadcast(&l->cv);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static void stop_thread_(sk_loader *l) {
    if (!l->running) return;
    pthread_mutex_lock(&l->mu);
    l->stop = 1;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->th, NULL);
    l->running = 0;
    l->stop = 0;
}

static int start_at_(sk_loader *l, sk_loader_pos pos) {
    stop_thread_(l);
    l->cons = l->prod = pos;
    l->produced = l->consumed = 0;
    l->held = -1;
    l->err = 0;
    if (l->o.prefetch > 0) {
        if (pthread_create(&l->th, NULL, producer_, l) != 0)
            return sk_error_set(SK_ERROR, "%s: loader: cannot start the prefetch thread", l->o.path);
        l->running = 1;
    }
    return SK_OK;
}

int sk_loader_create(sk_loader **out, const sk_loader_opts *opts) {
    int rc = SK_OK;
    *out = NULL;
    if (!opts || !opts->path) return sk_error_set(SK_EINVAL, "loader: no corpus path");
    const char *p = opts->path;
    sk_loader *l = calloc(1, sizeof *l);
    if (!l) return sk_error_set(SK_ENOMEM, "loader: out of memory");
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    l->o = *opts;
    l->o.path = NULL; /* borrowed only for the call */
    l->held = -1;
    SK_FAIL_IF(opts->world < 1 || opts->rank < 0 || opts->rank >= opts->world, SK_EINVAL,
               "%s: loader: rank %d out of range for world %d", p, opts->rank, opts->world);
    SK_FAIL_IF(opts->batch_size < 1, SK_EINVAL, "%s: loader: batch_size %lld must be >= 1", p, (long long)opts->batch_size);
    SK_FAIL_IF(opts->prefetch < 0, SK_EINVAL, "%s: loader: prefetch %d must be >= 0", p, opts->prefetch);
    SK_TRY(sk_corpus_open(&l->c, p));
    l->in = sk_corpus_info_get(l->c);
    l->tokens = l->in->kind == SK_CORPUS_TOKENS;
    l->esize = sk_elem_size(l->in->type);
    int64_t n;
    if (l->tokens) {
        SK_FAIL_IF(opts->seq_len < 1, SK_EINVAL, "%s: loader: seq_len %lld must be >= 1 for a token corpus", p,
                   (long long)opts->seq_len);
        n = (l->in->num_tokens - 1) / opts->seq_len;
        l->row_elems = opts->seq_len + 1;
    } else {
        n = l->in->num_samples;
        l->row_elems = 1;
        for (int i = 0; i < l->in->ndim; i++) l->row_elems *= l->in->shape[i];
        l->have_labels = l->in->has_labels;
    }
    l->first = 0;
    l->nsamples = n;
    if (opts->split != SK_SPLIT_ALL) {
        SK_FAIL_IF(!(opts->eval_fraction > 0 && opts->eval_fraction < 1), SK_EINVAL,
                   "%s: loader: eval_fraction %g must be in (0, 1)", p, opts->eval_fraction);
        int64_t ne = (int64_t)((double)n * opts->eval_fraction);
        SK_FAIL_IF(ne < 1 || ne >= n, SK_EINVAL, "%s: loader: eval_fraction %g of %lld samples leaves an empty split", p,
                   opts->eval_fraction, (long long)n);
        if (opts->split == SK_SPLIT_TRAIN) l->nsamples = n - ne;
        else {
            l->first = n - ne;
            l->nsamples = ne;
        }
    }
    int64_t G = opts->batch_size * opts->world;
    l->steps = l->nsamples / G;
    SK_FAIL_IF(l->steps < 1, SK_EINVAL, "%s: loader: global batch %lld (batch_size %lld x world %d) is larger than the %lld samples of the split%s",
               p, (long long)G, (long long)opts->batch_size, opts->world, (long long)l->nsamples,
               l->tokens ? " (samples = windows of seq_len tokens)" : "");
    l->block = (uint64_t)(((int64_t)1 << 20) / (l->row_elems * (int64_t)l->esize));
    if (l->block < 1) l->block = 1;
    l->nslots = opts->prefetch + 1;
    l->slots = calloc((size_t)l->nslots, sizeof *l->slots);
    l->picks = malloc((size_t)opts->batch_size * sizeof *l->picks);
    SK_FAIL_IF(!l->slots || !l->picks, SK_ENOMEM, "%s: loader: out of memory", p);
    for (int i = 0; i < l->nslots; i++) {
        slot_ *s = &l->slots[i];
        s->data = malloc((size_t)opts->batch_size * (size_t)l->row_elems * l->esize);
        SK_FAIL_IF(!s->data, SK_ENOMEM, "%s: loader: out of memory for a batch", p);
        if (l->have_labels) {
            s->labels = malloc((size_t)opts->batch_size * sizeof *s->labels);
            SK_FAIL_IF(!s->labels, SK_ENOMEM, "%s: loader: out of memory", p);
        }
        s->b.n = opts->batch_size;
        s->b.type = l->in->type;
        s->b.data = s->data;
        s->b.labels = s->labels;
        if (l->tokens) {
            s->b.ndim = 1;
            s->b.shape[0] = opts->seq_len + 1;
        } else {
            s->b.ndim = l->in->ndim;
            for (int k = 0; k < l->in->ndim; k++) s->b.shape[k] = l->in->shape[k];
        }
    }
    SK_TRY(start_at_(l, (sk_loader_pos){0, 0}));
done:
    if (rc < 0) {
        sk_loader_free(l);
        return rc;
    }
    *out = l;
    return SK_OK;
}

void sk_loader_free(sk_loader *l) {
    if (!l) return;
    stop_thread_(l);
    for (int i = 0; l->slots && i < l->nslots; i++) {
        free(l->slots[i].data);
        free(l->slots[i].labels);
    }
    free(l->slots);
    free(l->picks);
    free(l->tmp);
    free(l->ltmp);
    sk_corpus_free(l->c);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l);
}

int sk_loader_next(sk_loader *l, const sk_batch **out) {
    *out = NULL;
    if (l->o.prefetch == 0) {
        int rc = make_batch_(l, &l->slots[0], l->cons);
        if (rc < 0) return rc;
        l->cons = advance_(l, l->cons);
        *out = &l->slots[0].b;
        return SK_OK;
    }
    pthread_mutex_lock(&l->mu);
    if (l->held >= 0) { /* release the previous batch */
        l->held = -1;
        l->consumed++;
        pthread_cond_broadcast(&l->cv);
    }
    double t0 = now_();
    while (l->produced == l->consumed && !l->err) pthread_cond_wait(&l->cv, &l->mu);
    l->stall += now_() - t0;
    if (l->produced == l->consumed) { /* producer failed */
        int code = l->err;
        pthread_mutex_unlock(&l->mu);
        return sk_error_set(code, "%s", l->errmsg);
    }
    l->held = (int)(l->consumed % l->nslots);
    *out = &l->slots[l->held].b;
    l->cons = advance_(l, l->cons);
    pthread_mutex_unlock(&l->mu);
    return SK_OK;
}

sk_loader_pos sk_loader_tell(const sk_loader *l) { return l->cons; }

int sk_loader_seek(sk_loader *l, sk_loader_pos pos) {
    if (pos.epoch < 0 || pos.step < 0 || pos.step >= l->steps)
        return sk_error_set(SK_EINVAL, "loader: cannot seek to epoch %lld step %lld (%lld steps per epoch)",
                            (long long)pos.epoch, (long long)pos.step, (long long)l->steps);
    return start_at_(l, pos);
}

int64_t sk_loader_steps_per_epoch(const sk_loader *l) { return l->steps; }
int64_t sk_loader_num_samples(const sk_loader *l) { return l->nsamples; }
int64_t sk_loader_vocab_size(const sk_loader *l) { return l->tokens ? l->in->vocab_size : 0; }
int64_t sk_loader_num_classes(const sk_loader *l) { return l->in->has_labels ? l->in->num_classes : 0; }
double sk_loader_stall_seconds(const sk_loader *l) { return l->stall; }
