/* sk_loader.c - sharded, deterministic, prefetching loader (sk_loader.h).
 *
 * Order: epoch e's permutation of [0, n) is built from keyed Feistel
 * networks with cycle walking (Black & Rogaway, "Ciphers with arbitrary
 * finite domains", CT-RSA 2002): bijections computed per index in O(1)
 * memory, so seeking is free and the order depends only on (seed, epoch,
 * corpus), never on the world size. See perm_ for the chunk-friendly
 * two-level shuffle.
 *
 * Reading: whole chunks of the main dataset are read (tokens: straight
 * through zstd, sk_corpus_read_tokens' direct path) into a FIFO cache of
 * decoded chunks, and each sample is copied out of it. Reading each window
 * with its own H5Dread cost ~4-5 us per 2 KiB window (HDF5's per-call
 * selection and chunk-lookup work, measured with perf: 131 k calls and only
 * 257 chunk decodes per 256 MiB epoch), which capped shuffled reads near
 * 300-500 MB/s; a copy from the cache costs a memcpy. The default cache
 * holds every chunk one shuffle group (perm_) touches, so a chunk is
 * decoded about once per epoch. A producer thread fills a ring of
 * `prefetch` batches ahead of the caller. */
#include "sk_loader.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sk_corpus.h"
#include "sk_rand.h"

/* ---- keyed permutation ------------------------------------------------- */

typedef struct {
    uint64_t n, key[4];
    int half; /* bits per half */
} feistel_;

static void feistel_init_(feistel_ *p, uint64_t n, uint64_t seed, uint64_t tweak)
{
    p->n = n;
    int bits = 1;
    while (bits < 64 && ((uint64_t)1 << bits) < n) bits++;
    p->half = (bits + 1) / 2;
    for (int i = 0; i < 4; i++)
        p->key[i] = sk_splitmix64(seed ^ sk_splitmix64(tweak * 4 + (uint64_t)i + 0x5bd1e995ull));
}

static uint64_t feistel_apply_(const feistel_ *p, uint64_t x)
{
    const uint64_t mask = ((uint64_t)1 << p->half) - 1;
    do {
        uint64_t l = x >> p->half, r = x & mask;
        for (int i = 0; i < 4; i++) {
            uint64_t t = r;
            r = l ^ (sk_splitmix64(r ^ p->key[i]) & mask);
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
 * stay in the loader's chunk cache and are decoded about once per epoch (the
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

#define GROUP_BLOCKS_ 32 /* M */

static void perm_init_(perm_ *p, uint64_t n, uint64_t S, uint64_t seed, int64_t epoch)
{
    p->n = n;
    p->S = S ? S : 1;
    p->M = GROUP_BLOCKS_;
    p->nb = n / p->S;
    p->ng = p->nb / p->M;
    p->seed = seed;
    p->epoch = epoch;
    feistel_init_(&p->blocks, p->nb ? p->nb : 1, seed, (uint64_t)epoch << 32);
}

static uint64_t perm_apply_(const perm_ *p, uint64_t g)
{
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
    feistel_init_(&in, size, p->seed, ((uint64_t)p->epoch << 32) ^ sk_splitmix64(k + 1));
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
    int64_t *index;
    int ready;
} slot_;

typedef struct {
    int64_t idx; /* sample index within the corpus */
    int64_t pos; /* slot position in the batch */
} pick_;

typedef struct {
    int64_t k;       /* chunk held (-1: none) */
    void *data;      /* its rows, decoded */
    int64_t *labels; /* and their labels (sample corpora with labels) */
} cslot_;

struct sk_loader {
    sk_loader_opts o;
    sk_corpus *c;
    const sk_corpus_info *in;
    int tokens;        /* token corpus */
    int64_t nsamples;  /* samples in the split */
    int64_t first;     /* first sample of the split */
    int split_random;  /* sample indices go through splitmap (opts.split_random) */
    feistel_ splitmap; /* a bijection of [0, n) drawn from the seed: the split's order */
    int64_t steps;     /* global batches per epoch */
    int64_t row_elems; /* elements per sample */
    size_t esize;
    uint64_t block; /* samples per shuffle block (~1 MiB) */
    int have_labels;
    int nslots;
    slot_ *slots;
    /* read state (producer only) */
    pick_ *picks;
    int64_t crow;   /* rows (tokens / samples) per cached chunk */
    int64_t nrows;  /* rows of the main dataset */
    int32_t *where; /* chunk -> cache slot, -1 when not cached */
    cslot_ *cache;
    int ncache, victim; /* slots; next slot to reuse (FIFO) */
    /* ring state, guarded by mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
    int running, stop;
    sk_loader_pos cons;         /* next batch the caller gets */
    sk_loader_pos prod;         /* next batch the producer makes */
    int64_t produced, consumed; /* counters into the ring */
    int held;                   /* slot the caller holds (-1 none) */
    int err;
    char errmsg[1024];
    double stall;
    /* caller-given epoch order (opts.external_order): split-relative sample
     * indices of epoch order_epoch, order_n / global batch steps */
    int64_t *order, order_n, order_cap, order_epoch;
};

static double now_(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_pick_(const void *a, const void *b)
{
    int64_t x = ((const pick_ *)a)->idx, y = ((const pick_ *)b)->idx;
    return x < y ? -1 : x > y;
}

/* The cache slot holding chunk k, reading it (and its labels) on a miss. */
static int chunk_(sk_loader *l, int64_t k, const cslot_ **out)
{
    int rc = SK_OK;
    if (l->where[k] >= 0) {
        *out = &l->cache[l->where[k]];
        return SK_OK;
    }
    int v = l->victim;
    cslot_ *s = &l->cache[v];
    const size_t rowb = (l->tokens ? 1 : (size_t)l->row_elems) * l->esize;
    if (s->k >= 0) l->where[s->k] = -1;
    s->k = -1;
    if (!s->data) s->data = malloc((size_t)l->crow * rowb);
    if (l->have_labels && !s->labels) s->labels = malloc((size_t)l->crow * sizeof *s->labels);
    SK_FAIL_IF(!s->data || (l->have_labels && !s->labels), SK_ENOMEM, "loader: out of memory for the chunk cache");
    int64_t r0 = k * l->crow, n = l->nrows - r0 < l->crow ? l->nrows - r0 : l->crow;
    if (l->tokens) {
        SK_TRY(sk_corpus_read_tokens(l->c, r0, n, s->data));
    } else {
        SK_TRY(sk_corpus_read_samples(l->c, r0, n, s->data));
        if (l->have_labels) SK_TRY(sk_corpus_read_labels(l->c, r0, n, s->labels));
    }
    s->k = k;
    l->where[k] = v;
    l->victim = (v + 1) % l->ncache;
    *out = s;
done:
    return rc;
}

/* Copy rows [r, r + n) of the main dataset to dst through the cache. */
static int copy_rows_(sk_loader *l, int64_t r, int64_t n, char *dst)
{
    int rc = SK_OK;
    const size_t rowb = (l->tokens ? 1 : (size_t)l->row_elems) * l->esize;
    while (n > 0) {
        const cslot_ *s = NULL;
        int64_t k = r / l->crow, o = r - k * l->crow, m = l->crow - o < n ? l->crow - o : n;
        SK_TRY(chunk_(l, k, &s));
        memcpy(dst, (const char *)s->data + (size_t)o * rowb, (size_t)m * rowb);
        dst += (size_t)m * rowb;
        r += m;
        n -= m;
    }
done:
    return rc;
}

/* Fill slot s with the batch at pos. Runs on the producer thread (or the
 * caller when prefetch == 0). */
static int make_batch_(sk_loader *l, slot_ *s, sk_loader_pos pos)
{
    int rc = SK_OK;
    const int64_t B = l->o.batch_size, G = B * l->o.world;
    perm_ pm = {0};
    if (l->o.shuffle && !l->o.external_order) perm_init_(&pm, (uint64_t)l->nsamples, l->block, l->o.seed, pos.epoch);
    for (int64_t j = 0; j < B; j++) {
        uint64_t g = (uint64_t)(pos.step * G + (int64_t)l->o.rank * B + j);
        int64_t i = l->o.external_order ? l->order[g] : (int64_t)(l->o.shuffle ? perm_apply_(&pm, g) : g);
        s->index[j] = i;
        l->picks[j].idx = l->first + i;
        if (l->split_random) l->picks[j].idx = (int64_t)feistel_apply_(&l->splitmap, (uint64_t)l->picks[j].idx);
        l->picks[j].pos = j;
    }
    qsort(l->picks, (size_t)B, sizeof *l->picks, cmp_pick_); /* chunks in ascending order */
    const size_t rowb = (size_t)l->row_elems * l->esize;
    for (int64_t j = 0; j < B; j++) {
        const pick_ *p = &l->picks[j];
        char *dst = (char *)s->data + (size_t)p->pos * rowb;
        if (l->tokens) { /* window idx: tokens [idx * L, idx * L + L + 1) */
            SK_TRY(copy_rows_(l, p->idx * l->o.seq_len, l->row_elems, dst));
        } else {
            SK_TRY(copy_rows_(l, p->idx, 1, dst));
            if (l->have_labels) {
                int64_t k = p->idx / l->crow;
                const cslot_ *c = &l->cache[l->where[k]]; /* just read by copy_rows_ */
                s->labels[p->pos] = c->labels[p->idx - k * l->crow];
            }
        }
    }
    s->b.epoch = pos.epoch;
    s->b.step = pos.step;
done:
    return rc;
}

/* Global batches in epoch e: the caller's order's, or the split's. */
static int64_t epoch_steps_(const sk_loader *l)
{
    return l->o.external_order ? l->order_n / (l->o.batch_size * l->o.world) : l->steps;
}

static sk_loader_pos advance_(const sk_loader *l, sk_loader_pos p)
{
    if (++p.step >= epoch_steps_(l)) {
        p.step = 0;
        p.epoch++;
    }
    return p;
}

static void *producer_(void *arg)
{
    sk_loader *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        /* free slots: nslots minus queued minus the one the caller holds */
        while (!l->stop && ((l->produced - l->consumed) + (l->held >= 0) >= l->nslots ||
                            (l->o.external_order && l->prod.epoch != l->order_epoch)))
            pthread_cond_wait(&l->cv, &l->mu);
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

static void stop_thread_(sk_loader *l)
{
    if (!l->running) return;
    pthread_mutex_lock(&l->mu);
    l->stop = 1;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->th, NULL);
    l->running = 0;
    l->stop = 0;
}

static int start_at_(sk_loader *l, sk_loader_pos pos)
{
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

/* Size the chunk cache. A shuffle group is GROUP_BLOCKS_ blocks of
 * l->block samples, each block spanning at most ceil(block / chunk) + 1
 * chunks: holding that many decodes each chunk about once per epoch. */
static int cache_init_(sk_loader *l, const sk_loader_opts *o)
{
    const int64_t rowb = (l->tokens ? 1 : l->row_elems) * (int64_t)l->esize;
    l->nrows = l->tokens ? l->in->num_tokens : l->in->num_samples;
    l->crow = sk_corpus_chunk_rows(l->c);
    if (l->crow <= 0)
        l->crow = ((int64_t)1 << 20) / rowb > 0 ? ((int64_t)1 << 20) / rowb : 1; /* contiguous: 1 MiB pieces */
    int64_t nchunks = (l->nrows + l->crow - 1) / l->crow, cbytes = l->crow * rowb, n;
    if (o->cache_bytes > 0) {
        n = o->cache_bytes / cbytes;
    } else if (o->shuffle) {
        int64_t block_rows = (int64_t)l->block * (l->tokens ? o->seq_len : 1);
        n = GROUP_BLOCKS_ * ((block_rows + l->crow - 1) / l->crow + 1);
        if (n > ((int64_t)256 << 20) / cbytes) n = ((int64_t)256 << 20) / cbytes;
    } else {
        n = 2;
    }
    if (n > nchunks) n = nchunks;
    if (n < 1) n = 1;
    if (nchunks > INT32_MAX)
        return sk_error_set(SK_EINVAL, "%s: loader: %lld chunks is too many", o->path, (long long)nchunks);
    l->ncache = (int)n;
    l->cache = calloc((size_t)n, sizeof *l->cache);
    l->where = malloc((size_t)nchunks * sizeof *l->where);
    if (!l->cache || !l->where) return sk_error_set(SK_ENOMEM, "%s: loader: out of memory", o->path);
    for (int64_t i = 0; i < n; i++) l->cache[i].k = -1;
    for (int64_t i = 0; i < nchunks; i++) l->where[i] = -1;
    return SK_OK;
}

int sk_loader_create(sk_loader **out, const sk_loader_opts *opts)
{
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
    SK_FAIL_IF(opts->batch_size < 1, SK_EINVAL, "%s: loader: batch_size %lld must be >= 1", p,
               (long long)opts->batch_size);
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
        l->row_elems = sk_corpus_sample_elems(l->in);
        l->have_labels = l->in->has_labels;
    }
    l->first = 0;
    l->nsamples = n;
    if (opts->split != SK_SPLIT_ALL) {
        SK_FAIL_IF(!(opts->eval_fraction > 0 && opts->eval_fraction < 1), SK_EINVAL,
                   "%s: loader: eval_fraction %g must be in (0, 1)", p, opts->eval_fraction);
        int64_t ne = (int64_t)((double)n * opts->eval_fraction);
        SK_FAIL_IF(n < 1 && l->tokens, SK_EINVAL,
                   "%s: its %lld tokens hold no training window of data.seq_len + 1 = %lld tokens; lower data.seq_len",
                   p, (long long)l->in->num_tokens, (long long)(opts->seq_len + 1));
        SK_FAIL_IF(ne < 1 || ne >= n, SK_EINVAL, "%s: loader: eval_fraction %g of %lld samples leaves an empty split",
                   p, opts->eval_fraction, (long long)n);
        l->split_random = opts->split_random != 0;
        if (l->split_random) feistel_init_(&l->splitmap, (uint64_t)n, opts->seed, 0x73706c6974ull /* "split" */);
        if (opts->split == SK_SPLIT_TRAIN)
            l->nsamples = n - ne;
        else {
            l->first = n - ne;
            l->nsamples = ne;
        }
    }
    int64_t G = opts->batch_size * opts->world;
    l->steps = l->nsamples / G;
    SK_FAIL_IF(
        l->steps < 1, SK_EINVAL,
        "%s: loader: global batch %lld (batch_size %lld x world %d) is larger than the %lld samples of the split%s", p,
        (long long)G, (long long)opts->batch_size, opts->world, (long long)l->nsamples,
        l->tokens ? " (samples = windows of seq_len tokens)" : "");
    l->block = (uint64_t)(((int64_t)1 << 20) / (l->row_elems * (int64_t)l->esize));
    if (l->block < 1) l->block = 1;
    SK_TRY(cache_init_(l, opts));
    l->nslots = opts->prefetch + 1;
    l->slots = calloc((size_t)l->nslots, sizeof *l->slots);
    l->picks = malloc((size_t)opts->batch_size * sizeof *l->picks);
    l->order_epoch = -1;
    SK_FAIL_IF(!l->slots || !l->picks, SK_ENOMEM, "%s: loader: out of memory", p);
    for (int i = 0; i < l->nslots; i++) {
        slot_ *s = &l->slots[i];
        s->data = malloc((size_t)opts->batch_size * (size_t)l->row_elems * l->esize);
        s->index = malloc((size_t)opts->batch_size * sizeof *s->index);
        SK_FAIL_IF(!s->data || !s->index, SK_ENOMEM, "%s: loader: out of memory for a batch", p);
        if (l->have_labels) {
            s->labels = malloc((size_t)opts->batch_size * sizeof *s->labels);
            SK_FAIL_IF(!s->labels, SK_ENOMEM, "%s: loader: out of memory", p);
        }
        s->b.n = opts->batch_size;
        s->b.type = l->in->type;
        s->b.data = s->data;
        s->b.labels = s->labels;
        s->b.index = s->index;
        if (l->tokens) {
            s->b.ndim = 1;
            s->b.shape[0] = opts->seq_len + 1;
        } else {
            s->b.ndim = l->in->ndim;
            for (int k = 0; k < l->in->ndim; k++) s->b.shape[k] = l->in->shape[k];
        }
    }
    if (!opts->external_order) SK_TRY(start_at_(l, (sk_loader_pos){0, 0}));
done:
    if (rc < 0) {
        sk_loader_free(l);
        return rc;
    }
    *out = l;
    return SK_OK;
}

void sk_loader_free(sk_loader *l)
{
    if (!l) return;
    stop_thread_(l);
    for (int i = 0; l->slots && i < l->nslots; i++) {
        free(l->slots[i].data);
        free(l->slots[i].labels);
        free(l->slots[i].index);
    }
    free(l->order);
    free(l->slots);
    free(l->picks);
    for (int i = 0; l->cache && i < l->ncache; i++) {
        free(l->cache[i].data);
        free(l->cache[i].labels);
    }
    free(l->cache);
    free(l->where);
    sk_corpus_free(l->c);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l);
}

int sk_loader_next(sk_loader *l, const sk_batch **out)
{
    *out = NULL;
    if (l->o.external_order && l->cons.epoch != l->order_epoch)
        return sk_error_set(SK_EINVAL, "loader: epoch %lld has no order yet (sk_loader_seek_order)",
                            (long long)l->cons.epoch);
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

int sk_loader_seek(sk_loader *l, sk_loader_pos pos)
{
    if (l->o.external_order)
        return sk_error_set(SK_EINVAL, "loader: an externally ordered loader seeks with sk_loader_seek_order");
    if (pos.epoch < 0 || pos.step < 0 || pos.step >= l->steps)
        return sk_error_set(SK_EINVAL, "loader: cannot seek to epoch %lld step %lld (%lld steps per epoch)",
                            (long long)pos.epoch, (long long)pos.step, (long long)l->steps);
    return start_at_(l, pos);
}

int sk_loader_seek_order(sk_loader *l, sk_loader_pos pos, const int64_t *order, int64_t n)
{
    const int64_t G = l->o.batch_size * l->o.world;
    if (!l->o.external_order)
        return sk_error_set(SK_EINVAL, "loader: sk_loader_seek_order needs a loader created with external_order");
    if (n < G || n > l->nsamples)
        return sk_error_set(SK_EINVAL,
                            "loader: an epoch order of %lld samples does not fit global batch %lld and %lld samples",
                            (long long)n, (long long)G, (long long)l->nsamples);
    if (pos.epoch < 0 || pos.step < 0 || pos.step >= n / G)
        return sk_error_set(SK_EINVAL, "loader: cannot seek to epoch %lld step %lld (%lld steps in that epoch)",
                            (long long)pos.epoch, (long long)pos.step, (long long)(n / G));
    for (int64_t i = 0; i < n; i++)
        if (order[i] < 0 || order[i] >= l->nsamples)
            return sk_error_set(SK_EINVAL, "loader: epoch order entry %lld is sample %lld, outside [0, %lld)",
                                (long long)i, (long long)order[i], (long long)l->nsamples);
    stop_thread_(l);
    if (n > l->order_cap) {
        int64_t *o = realloc(l->order, (size_t)n * sizeof *o);
        if (!o) return sk_error_set(SK_ENOMEM, "loader: out of memory for an epoch order");
        l->order = o;
        l->order_cap = n;
    }
    memcpy(l->order, order, (size_t)n * sizeof *order);
    l->order_n = n;
    l->order_epoch = pos.epoch;
    return start_at_(l, pos);
}

int64_t sk_loader_steps_per_epoch(const sk_loader *l) { return l->steps; }
int64_t sk_loader_num_samples(const sk_loader *l) { return l->nsamples; }
int64_t sk_loader_vocab_size(const sk_loader *l) { return l->tokens ? l->in->vocab_size : 0; }
int64_t sk_loader_num_classes(const sk_loader *l) { return l->in->has_labels ? l->in->num_classes : 0; }
double sk_loader_stall_seconds(const sk_loader *l) { return l->stall; }
