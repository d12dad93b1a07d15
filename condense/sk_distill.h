/* sk_distill.h - what the dataset-distillation methods (dm, dc) share: the
 * real images of the classes a rank distils, the seeded draws of real
 * batches, the synthetic images as leaf tensors, their SGD step, a freshly
 * initialised network per iteration, and the gathering of the result.
 *
 * defines: sk_distill (one run's state), sk_distill_begin / sk_distill_end,
 *          sk_distill_owns, sk_distill_real_batch, sk_distill_syn_pixels,
 *          sk_distill_step, sk_distill_net, sk_distill_after,
 *          sk_distill_finish, sk_distill_key.
 *
 * MPI: classes over ranks. Class c is distilled by rank c % world alone,
 * from every real image of that class (each rank reads the labels of the
 * whole corpus and keeps the pixels of its own classes). Everything a
 * class's synthetic images depend on is a function of (run.seed, iteration,
 * class): the network of an iteration is built from sk_distill_key(seed,
 * it, -1) on every rank alike, a real batch is drawn from
 * sk_distill_key(seed, it, c), the init from sk_distill_key(seed, -1, c).
 * The losses of DM and DC are sums of per-class terms, and a class's
 * synthetic images enter only their own term, so the update of class c is
 * the same computation at any rank count: the output is bit-identical for
 * 1, 2 or 3 ranks (run.threads fixed). We chose this over sharding the real
 * batches and allreducing the synthetic gradients because that changes the
 * order of float sums with the rank count and so cannot be exact; the cost
 * is that more ranks than classes leave ranks idle. DC's inner loop trains
 * the network on the whole synthetic set: sk_distill_share broadcasts every
 * class's images from its owner first, and each batch is cut into as many
 * pieces as classes, piece k's gradient made on rank k % world and summed by
 * every rank in piece order (sk_condense_dc.c), so that training is the
 * same on every rank while the ranks split it.
 *
 * Pixel scale. The synthetic images are leaf tensors u in the model's input
 * scale (the ConvNet reads uint8 pixels p as u = p * 2/255 - 1), so
 * condense.lr_img acts on the scale the network sees, as in the reference
 * (VICO-UoE/DatasetCondensation), whose images are mean/std normalised. The
 * network is fed pixels (u + 1) * 127.5, differentiably, through the model's
 * own embed/forward; the output corpus stores those pixels, float32 in
 * [0, 255] units (docs/FORMAT.md), so `shrink train` reads a synthetic corpus
 * exactly as it reads a uint8 one.
 *
 * The same lr_img is not the same pixel step: an SGD step of lr on u moves
 * pixels by lr * scale^2 * dL/dp, the scale being 0.5 here and 0.3530 there
 * (Fashion-MNIST), while instance norm keeps dL/dp close under both maps
 * (bench/distill_lr_scale.py: norms 5-13 % apart), so ours is about 1.9
 * times the reference's step at equal lr_img. We keep the reference's values
 * in our units on purpose: at our reduced iteration counts the reference's
 * pixel step (dm's lr_img 0.5) scores lower than 1.0, and 2-4 a little
 * higher, 8 lower again (docs/RESULTS.md, dm at 10 ipc).
 */
#ifndef SK_DISTILL_H
#define SK_DISTILL_H

#include <stdint.h>

#include "sk_condense.h"
#include "sk_dsa.h"
#include "sk_model.h"
#include "sk_shim.h"

typedef struct {
    const sk_condense_job *job;
    int64_t C, ipc, D; /* classes, images per class, pixels per image */
    int64_t shape[4];  /* one image */
    int ndim;
    sk_model_data data; /* for sk_distill_net */
    int64_t *count;     /* [C] rows of each class (global) */
    int64_t **rows;     /* [C] owned classes: the global indices of the class's rows, ascending */
    uint8_t **pix;      /* [C] owned classes: their pixels, source element type, count[c] x D */
    size_t es;          /* bytes per source element (u8 or f32) */
    int64_t *perm;      /* scratch for draws */
    sk_tensor **u;      /* [C] owned classes: leaf [ipc, <shape>] f32 in model-input scale (caller-owned) */
    sk_sgd **opt;       /* [C] owned classes: the images' SGD (created at the first step) */
    float *syn;         /* out->syn */
    int64_t *init_rows; /* [C * ipc] init=real: the source row each synthetic image started from */
    sk_dsa_params dsa;  /* condense.dsa: the reference's ParamDiffAug with condense.dsa_strategy */
    int64_t it0;        /* iterations already made: condense.resume_from's, else 0; a method starts there */
} sk_distill;

/* The key of (seed, iteration, class) every draw is seeded with;
 * it = -1 is the init, c = -1 the network of an iteration. */
uint64_t sk_distill_key(uint64_t seed, int64_t it, int64_t c);

/* Check the corpus and the model for distillation (image samples of uint8
 * or float32, labels, condense.ipc <= every class's size, a model arch with
 * image input and embed), read the owned classes' pixels, initialise the
 * synthetic images (condense.init); with job->resume_u, then load that
 * state (the leaves and their SGD momentum) and set it0. The messages name
 * the key or the file. Collective (the verdict is agreed). */
int sk_distill_begin(sk_distill *d, const sk_condense_job *job, sk_condense_out *out);
void sk_distill_end(sk_distill *d);

static inline int sk_distill_owns(const sk_distill *d, int64_t c) { return c % d->job->world == d->job->rank; }

/* A real batch of class c (owned) at iteration it: min(n, count[c]) rows
 * drawn without replacement by a partial Fisher-Yates shuffle over the
 * class's rows in ascending index order (j-th draw: position j + r %
 * (count - j), r the j-th output of the splitmix64 stream from
 * sk_distill_key(seed, it, c)); a tensor [b, <shape>] of the source's
 * element type in the current scope. idx (may be NULL) gets the b global
 * indices. */
sk_tensor *sk_distill_real_batch(sk_distill *d, int64_t c, int64_t it, int64_t n, int64_t *idx);

/* Pixels (u_c + 1) * 127.5 of class c's synthetic images, differentiable
 * with respect to u_c, [ipc, <shape>] f32 in the current scope. */
sk_tensor *sk_distill_syn_pixels(sk_distill *d, int64_t c);

/* The pair a class's matching loss compares at step s: *real_pix the real
 * batch `real` (source pixels) and *syn_pix class c's synthetic pixels,
 * both as the model reads them. With condense.dsa, one draw of sk_dsa
 * (n = 1, from a generator seeded by sk_distill_key(seed, s, c)) augments
 * both alike, in the model's input scale [-1, 1] (the reference augments
 * its normalised images), differentiably for the synthetic ones;
 * without, they are `real` and sk_distill_syn_pixels. Tensors in the
 * current scope. */
int sk_distill_pair(sk_distill *d, int64_t c, int64_t s, const sk_tensor *real, sk_tensor **real_pix,
                    sk_tensor **syn_pix);

/* condense.dsa: x (pixels [B, <shape>]) with a transform drawn per sample
 * from a generator seeded by key (dc's inner training); else x. */
sk_tensor *sk_distill_augment(sk_distill *d, const sk_tensor *x, uint64_t key);

/* One step of u_c's SGD (sk_sgd: torch.optim.SGD(momentum=m, dampening=0,
 * weight_decay=0), as the references' optimizer_img) from its accumulated
 * gradient, then clears the gradient. */
int sk_distill_step(sk_distill *d, int64_t c, double lr, double momentum);

/* A freshly initialised network of [model] for iteration it (seeded by
 * sk_distill_key(seed, it, -1), the same on every rank); caller frees. */
int sk_distill_net(sk_distill *d, int64_t it, sk_model **net);

/* Every class's current pixels broadcast from its owner into d->syn, so
 * every rank holds all C * ipc images. Collective. */
int sk_distill_share(sk_distill *d);

/* sk_distill_share, then out->syn holds the result (class-major), and
 * rank 0's out->syn_state, when the driver allocated it, the state a
 * resume needs. Collective. */
int sk_distill_finish(sk_distill *d, sk_condense_out *out);

/* A method calls this after each iteration, `done` iterations made in
 * all: when condense.snapshot_every divides done (and done < iterations),
 * sk_distill_finish and the driver's snapshot. Collective. */
int sk_distill_after(sk_distill *d, sk_condense_out *out, int64_t done);

#endif /* SK_DISTILL_H */
