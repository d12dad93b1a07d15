/* sk_dist_ddp.h - data parallelism over MPI for models held as shim tensors.
 *
 * defines: sk_dist_ddp (gradient buckets), sk_dist_ddp_create / _free,
 *          sk_dist_ddp_broadcast (parameters from rank 0),
 *          sk_dist_ddp_broadcast_buffers (non-trained tensors from rank 0),
 *          sk_dist_ddp_allreduce_grads (average gradients over ranks),
 *          sk_dist_ddp_arm, sk_dist_ddp_stats / _stats_get.
 *
 * Gradients. Parameters are assigned to buckets of about `bucket_bytes` in
 * reverse parameter order (the order backward produces them, as PyTorch DDP
 * does). sk_dist_ddp_allreduce_grads packs bucket 0 into a host buffer,
 * starts a non-blocking MPI_Iallreduce on it, packs bucket 1 while bucket 0
 * is in flight (driving MPI progress with MPI_Testall), and so on; then it
 * waits and unpacks each bucket divided by the world size. Every rank
 * launches the buckets in the same order.
 *
 * Overlap with backward. On CPU with more than one rank, create() puts a
 * gradient-ready hook on every parameter (sk_shim_add_grad_hook). After
 * sk_dist_ddp_arm(), the backward pass packs each gradient into its bucket
 * as soon as libtorch has it, and a bucket's MPI_Iallreduce starts inside
 * backward once it and every earlier bucket are complete (strict bucket
 * order keeps ranks' collective sequences identical). allreduce_grads then
 * launches what is left, waits and unpacks. Arm only before the backward
 * of the last micro-batch of a step (the hook packs .grad + the incoming
 * gradient, i.e. the accumulated value).
 *
 * All functions are collective (every rank calls them, in the same order)
 * over the communicator that was current at sk_dist_ddp_create (the world,
 * or a part of it made current with sk_mpi_comm_use; broadcast_buffers:
 * the current one), and are no-ops in a communicator of one. Rank facts, metric reductions, error
 * agreement and seeds are in sk_mpi.h, below this layer. Float32 parameters only.
 * Ownership: the bucket object borrows the parameter tensors (they must
 * outlive it) and owns its host buffers.
 */
#ifndef SK_DIST_DDP_H
#define SK_DIST_DDP_H

#include <stddef.h>
#include <stdint.h>

#include "sk_shim.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sk_dist_ddp sk_dist_ddp;

typedef struct {
    int buckets;              /* number of buckets */
    double pack_s;            /* seconds packing grads into host buffers (last call) */
    double wait_s;            /* seconds blocked in MPI_Waitall (last call) */
    double unpack_s;          /* seconds copying averaged grads back */
    double total_s;           /* whole allreduce call */
    int launched_in_backward; /* buckets whose allreduce started inside backward (overlap) */
} sk_dist_ddp_stats;

/* names: parameter names for messages (borrowed, may be NULL). */
int sk_dist_ddp_create(sk_dist_ddp **out, sk_tensor *const *params, const char *const *names, int n,
                       size_t bucket_bytes);
void sk_dist_ddp_free(sk_dist_ddp *d);
/* Overwrite every rank's parameters with rank 0's. */
int sk_dist_ddp_broadcast(sk_dist_ddp *d);
/* Overwrite ts[0..n) (any dtype; buffers such as batch norm's running
 * statistics, no gradient) on every rank with rank 0's values: one host
 * buffer, one broadcast. PyTorch's DistributedDataParallel does this
 * before forwards (broadcast_buffers=True), so every rank evaluates and
 * saves rank 0's statistics. */
int sk_dist_ddp_broadcast_buffers(sk_tensor *const *ts, int n);
/* Let the next backward pass start gradient allreduces as buckets fill.
 * Collective use: every rank arms before the same backward. No-op in a
 * world of one. */
int sk_dist_ddp_arm(sk_dist_ddp *d);
/* Replace each parameter's gradient by its mean over ranks. A parameter
 * without a gradient is an error naming it (ranks would disagree on the
 * bucket layout otherwise). */
int sk_dist_ddp_allreduce_grads(sk_dist_ddp *d);
void sk_dist_ddp_stats_get(const sk_dist_ddp *d, sk_dist_ddp_stats *out);

#ifdef __cplusplus
}
#endif
#endif /* SK_DIST_DDP_H */
