/* sk_shim.h - the C API over libtorch. The only door to C++ in shrink.
 *
 * defines: sk_tensor (opaque tensor handle), sk_scope (per-step arena),
 *          sk_generator (seeded RNG), sk_adamw and sk_sgd (optimizers), and the
 *          sk_shim_* ops a transformer training loop and the token selectors
 *          need.
 *
 * Errors. Every op that can fail returns NULL (pointer results) or a negative
 * SK_E* code (int results) and sets the per-thread message (sk_error_last())
 * to the failing op, its argument shapes and libtorch's own message. No C++
 * exception ever crosses this header. Ops are NULL-propagating: an op given a
 * NULL tensor argument returns NULL and leaves the first message untouched,
 * so an expression can be chained and checked once at the end:
 *
 *     sk_tensor *h = sk_shim_gelu(sk_shim_linear(x, w, b));
 *     if (!h) return SK_ETORCH;   // sk_error_last() names the first failure
 *
 * Ownership. A tensor returned by an op is owned by the innermost open scope
 * of the calling thread (sk_shim_scope_begin) and freed when that scope ends;
 * with no scope open the caller owns it and frees it with sk_tensor_free.
 * sk_shim_keep(t) detaches a tensor from its scope so it survives (model
 * parameters, optimizer state, tensors handed to the next step); the caller
 * then owns it. Tensor arguments are always borrowed.
 *
 * Handles are cheap (a refcounted torch::Tensor): ops such as reshape,
 * slice and grad return views sharing storage, like PyTorch.
 *
 * Dimensions are int64_t; negative dims count from the end as in PyTorch.
 */
#ifndef SK_SHIM_H
#define SK_SHIM_H

#include <stddef.h>
#include <stdint.h>

#include "sk_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sk_tensor sk_tensor;
typedef struct sk_scope sk_scope;
typedef struct sk_generator sk_generator;
typedef struct sk_adamw sk_adamw;
typedef struct sk_sgd sk_sgd;

typedef enum {
    SK_F32 = 0,
    SK_BF16 = 1,
    SK_F16 = 2,
    SK_F64 = 3,
    SK_I64 = 4,
    SK_I32 = 5,
    SK_I16 = 6,
    SK_U8 = 7,
    SK_BOOL = 8
} sk_dtype;

typedef enum { SK_CPU = 0, SK_CUDA = 1 } sk_device;

#define SK_SHIM_MAX_DIMS 8

/* ---- library ----------------------------------------------------------- */

/* libtorch version as "major.minor.patch" (borrowed static string). */
const char *sk_shim_torch_version(void);
/* 1 when fused scaled-dot-product attention is available (libtorch >= 2.0). */
int sk_shim_has_fused_sdpa(void);
/* 1 when a CUDA device is usable. */
int sk_shim_cuda_available(void);
/* Intra-op thread count (0 or negative: leave libtorch's default). When
 * libtorch's BLAS is OpenBLAS (as Debian's is), also sets OpenBLAS's own
 * pool, which at::set_num_threads does not reach, to 1 thread: libtorch's
 * n threads are then all the threads (measured faster than n BLAS threads
 * beside them, see sk_shim.cpp), and MPI ranks sharing a host do not
 * oversubscribe it. */
void sk_shim_set_num_threads(int n);
int sk_shim_get_num_threads(void);
/* Keep freed host buffers of up to `bytes` (at most 32 MiB) in the heap
 * instead of returning them to the OS (glibc mallopt M_MMAP_THRESHOLD /
 * M_TRIM_THRESHOLD). A training step frees and re-allocates the same large
 * activations every step; with glibc's defaults each one is a fresh mmap
 * whose pages fault in again, which made the benchmark step ~1.5x slower.
 * Process-wide: call once from main (the CLI and benchmarks do). 0 on
 * success, SK_EUNSUPPORTED where the C library has no such knob. */
int sk_shim_tune_host_allocator(size_t bytes);
/* Bytes per element of a dtype; name such as "f32". */
size_t sk_shim_dtype_size(sk_dtype dt);
const char *sk_shim_dtype_name(sk_dtype dt);
/* Parse "cpu"/"cuda" and "f32"/"bf16"; 0 or SK_EINVAL. */
int sk_shim_parse_device(const char *s, sk_device *out);
int sk_shim_parse_dtype(const char *s, sk_dtype *out);
/* Block until queued device work finishes (no-op on CPU); for timing. */
int sk_shim_synchronize(sk_device dev);
/* CUDA device index that SK_CUDA means on this thread (default 0); a rank
 * sets its local rank here. */
void sk_shim_set_cuda_index(int index);
/* Peak device memory: libtorch's CUDA caching allocator's peak of
 * allocated bytes on the device sk_shim_set_cuda_index chose, since the
 * last reset (reset: sets the peak to what is allocated now). For memory
 * measurements of one step (trainer/sk_cost.h). SK_EUNSUPPORTED on a
 * build without CUDA or a machine without a usable device. */
int sk_shim_cuda_peak_reset(void);
int sk_shim_cuda_peak_bytes(int64_t *bytes);

/* ---- scopes (per-step arenas) ------------------------------------------ */

/* Open a scope on this thread. Tensors created until the matching
 * sk_shim_scope_end are owned by it. Scopes nest. Returns NULL on OOM. */
sk_scope *sk_shim_scope_begin(void);
/* Free every tensor the scope still owns and close it. `s` must be the
 * innermost open scope; a NULL `s` is ignored. */
void sk_shim_scope_end(sk_scope *s);
/* Number of tensors the scope owns now (for leak tests). */
size_t sk_shim_scope_size(const sk_scope *s);
/* Tensors alive in the process through this API (for leak tests). */
int64_t sk_shim_live_tensors(void);
/* Detach t from its scope: the caller now owns it (sk_tensor_free).
 * Returns t (NULL passes through). */
sk_tensor *sk_shim_keep(sk_tensor *t);
/* Free a caller-owned tensor. NULL is fine. Freeing a scope-owned tensor
 * releases it early and removes it from its scope. */
void sk_tensor_free(sk_tensor *t);

/* ---- RNG ---------------------------------------------------------------- */

/* A generator seeded explicitly; results depend on nothing else. */
int sk_generator_create(sk_generator **out, uint64_t seed, sk_device dev);
void sk_generator_free(sk_generator *g);
/* Serialized state (for checkpoints). *len receives the byte count; with
 * buf == NULL only the length is returned. */
int sk_generator_get_state(sk_generator *g, void *buf, size_t cap, size_t *len);
int sk_generator_set_state(sk_generator *g, const void *buf, size_t len);

/* ---- creation ------------------------------------------------------------ */

sk_tensor *sk_shim_zeros(const int64_t *shape, int ndim, sk_dtype dt, sk_device dev);
sk_tensor *sk_shim_ones(const int64_t *shape, int ndim, sk_dtype dt, sk_device dev);
sk_tensor *sk_shim_full(const int64_t *shape, int ndim, double value, sk_dtype dt, sk_device dev);
/* Standard normal / uniform [0,1) from generator g (g must not be NULL). */
sk_tensor *sk_shim_randn(const int64_t *shape, int ndim, sk_dtype dt, sk_device dev, sk_generator *g);
sk_tensor *sk_shim_rand(const int64_t *shape, int ndim, sk_dtype dt, sk_device dev, sk_generator *g);
/* Random permutation of 0..n-1 (int64). */
sk_tensor *sk_shim_randperm(int64_t n, sk_device dev, sk_generator *g);
/* 0, 1, ..., n-1 (int64). */
sk_tensor *sk_shim_arange(int64_t n, sk_device dev);
/* Copy `data` (host memory, C order, dtype dt) into a new tensor on dev. */
sk_tensor *sk_shim_from_host(const void *data, const int64_t *shape, int ndim, sk_dtype dt, sk_device dev);
/* Copy t into host memory `buf` of `cap` bytes (C order, t's dtype).
 * Fails with SK_EINVAL when cap < numel * dtype size. */
int sk_shim_to_host(const sk_tensor *t, void *buf, size_t cap);
/* Overwrite t's data in place from host memory (no autograd record); used
 * to load checkpoints and to receive broadcast parameters. */
int sk_shim_copy_from_host(sk_tensor *t, const void *data, size_t bytes);
/* In place: dst <- src (no autograd record). Shapes must match. */
int sk_shim_copy_(sk_tensor *dst, const sk_tensor *src);

/* ---- shape queries --------------------------------------------------------- */

int sk_shim_ndim(const sk_tensor *t);
/* Size of dim d (negative counts from the end); -1 on error. */
int64_t sk_shim_size(const sk_tensor *t, int d);
int64_t sk_shim_numel(const sk_tensor *t);
/* Writes up to SK_SHIM_MAX_DIMS sizes, returns ndim (or negative error). */
int sk_shim_shape(const sk_tensor *t, int64_t *shape);
sk_dtype sk_shim_dtype(const sk_tensor *t);
sk_device sk_shim_device(const sk_tensor *t);
/* Shape as text, e.g. "[4, 196, 128] f32", into buf; returns buf. */
const char *sk_shim_describe(const sk_tensor *t, char *buf, size_t cap);
/* Pointer to the first element of a contiguous CPU tensor (borrowed; valid
 * while t lives). NULL with an error for non-contiguous or device tensors. */
void *sk_shim_data_ptr(sk_tensor *t);

/* ---- conversion and layout ------------------------------------------------ */

sk_tensor *sk_shim_to(const sk_tensor *t, sk_device dev, sk_dtype dt);
sk_tensor *sk_shim_clone(const sk_tensor *t);
sk_tensor *sk_shim_detach(const sk_tensor *t);
sk_tensor *sk_shim_contiguous(const sk_tensor *t);
sk_tensor *sk_shim_reshape(const sk_tensor *t, const int64_t *shape, int ndim);
sk_tensor *sk_shim_permute(const sk_tensor *t, const int64_t *dims, int ndim);
sk_tensor *sk_shim_transpose(const sk_tensor *t, int64_t d0, int64_t d1);
sk_tensor *sk_shim_unsqueeze(const sk_tensor *t, int64_t d);
sk_tensor *sk_shim_squeeze(const sk_tensor *t, int64_t d);
sk_tensor *sk_shim_expand(const sk_tensor *t, const int64_t *shape, int ndim);
/* Elements start..end-1 (step 1) along d; end is clamped to the size. */
sk_tensor *sk_shim_slice(const sk_tensor *t, int64_t d, int64_t start, int64_t end);
sk_tensor *sk_shim_cat(sk_tensor *const *ts, int n, int64_t d);
sk_tensor *sk_shim_stack(sk_tensor *const *ts, int n, int64_t d);

/* ---- elementwise ---------------------------------------------------------- */

sk_tensor *sk_shim_add(const sk_tensor *a, const sk_tensor *b);
sk_tensor *sk_shim_sub(const sk_tensor *a, const sk_tensor *b);
sk_tensor *sk_shim_mul(const sk_tensor *a, const sk_tensor *b);
sk_tensor *sk_shim_div(const sk_tensor *a, const sk_tensor *b);
sk_tensor *sk_shim_add_scalar(const sk_tensor *a, double s);
sk_tensor *sk_shim_mul_scalar(const sk_tensor *a, double s);
sk_tensor *sk_shim_pow_scalar(const sk_tensor *a, double p);
sk_tensor *sk_shim_neg(const sk_tensor *a);
sk_tensor *sk_shim_exp(const sk_tensor *a);
sk_tensor *sk_shim_log(const sk_tensor *a);
sk_tensor *sk_shim_sqrt(const sk_tensor *a);
sk_tensor *sk_shim_abs(const sk_tensor *a);
sk_tensor *sk_shim_tanh(const sk_tensor *a);
sk_tensor *sk_shim_sigmoid(const sk_tensor *a);
sk_tensor *sk_shim_relu(const sk_tensor *a);
/* GELU, exact (erf) form as torch.nn.functional.gelu's default. */
sk_tensor *sk_shim_gelu(const sk_tensor *a);
sk_tensor *sk_shim_clamp(const sk_tensor *a, double lo, double hi);
/* Comparisons give SK_BOOL tensors. */
sk_tensor *sk_shim_gt_scalar(const sk_tensor *a, double s);
sk_tensor *sk_shim_ge_scalar(const sk_tensor *a, double s);
sk_tensor *sk_shim_lt_scalar(const sk_tensor *a, double s);
sk_tensor *sk_shim_eq(const sk_tensor *a, const sk_tensor *b);
/* mask ? a : b (broadcasting). */
sk_tensor *sk_shim_where(const sk_tensor *mask, const sk_tensor *a, const sk_tensor *b);
sk_tensor *sk_shim_masked_fill(const sk_tensor *a, const sk_tensor *mask, double value);
sk_tensor *sk_shim_logical_not(const sk_tensor *a);

/* ---- reductions -------------------------------------------------------------- */

/* Sum / mean over the listed dims (ndims == 0: over all elements). */
sk_tensor *sk_shim_sum(const sk_tensor *a, const int64_t *dims, int ndims, int keepdim);
sk_tensor *sk_shim_mean(const sk_tensor *a, const int64_t *dims, int ndims, int keepdim);
/* Max along d: values and (optional, may be NULL) int64 indices. */
int sk_shim_max(const sk_tensor *a, int64_t d, int keepdim, sk_tensor **values, sk_tensor **indices);
sk_tensor *sk_shim_argmax(const sk_tensor *a, int64_t d, int keepdim);
/* L2 norm along d. */
sk_tensor *sk_shim_norm(const sk_tensor *a, int64_t d, int keepdim);
sk_tensor *sk_shim_cumsum(const sk_tensor *a, int64_t d);
/* Scalar read-out of a one-element tensor (any dtype). */
int sk_shim_item(const sk_tensor *a, double *out);
/* *out = 1 if every element is finite. */
int sk_shim_all_finite(const sk_tensor *a, int *out);

/* ---- linear algebra and NN ------------------------------------------------------- */

sk_tensor *sk_shim_matmul(const sk_tensor *a, const sk_tensor *b);
/* x @ w^T + b, w is [out, in]; b may be NULL. */
sk_tensor *sk_shim_linear(const sk_tensor *x, const sk_tensor *w, const sk_tensor *b);
/* Layer norm over the last dim; w, b ([D]) may be NULL. */
sk_tensor *sk_shim_layer_norm(const sk_tensor *x, const sk_tensor *w, const sk_tensor *b, double eps);
sk_tensor *sk_shim_softmax(const sk_tensor *x, int64_t d);
sk_tensor *sk_shim_log_softmax(const sk_tensor *x, int64_t d);
/* Rows of weight [V, D] picked by integer idx (any shape) -> idx.shape + [D]. */
sk_tensor *sk_shim_embedding(const sk_tensor *weight, const sk_tensor *idx);
/* Mean cross-entropy of logits [N, C] against int64 targets [N]; targets
 * equal to ignore_index do not count. */
sk_tensor *sk_shim_cross_entropy(const sk_tensor *logits, const sk_tensor *targets, int64_t ignore_index);
/* Inverted dropout with probability p drawn from g (identity when p == 0). */
sk_tensor *sk_shim_dropout(const sk_tensor *x, double p, sk_generator *g);

/* Scaled dot-product attention. q, k, v: [B, H, N, Dh]. attn_bias: NULL or
 * an additive float bias broadcastable to [B, H, N, N] (use -inf to mask;
 * log(size) for size-weighted "proportional" attention). causal: apply a
 * causal mask. Uses libtorch's fused kernel when available (2.x), else the
 * explicit form. Returns [B, H, N, Dh]. */
sk_tensor *sk_shim_sdpa(const sk_tensor *q, const sk_tensor *k, const sk_tensor *v, const sk_tensor *attn_bias,
                        int causal);
/* The explicit form that also returns the attention probabilities
 * [B, H, N, N] in *probs (owned like any op result). */
sk_tensor *sk_shim_attention_probs(const sk_tensor *q, const sk_tensor *k, const sk_tensor *v,
                                   const sk_tensor *attn_bias, int causal, sk_tensor **probs);

/* ---- indexing ------------------------------------------------------------------------ */

sk_tensor *sk_shim_gather(const sk_tensor *x, int64_t d, const sk_tensor *idx);
/* Out-of-place scatter: copy of x with src written at idx along d. */
sk_tensor *sk_shim_scatter(const sk_tensor *x, int64_t d, const sk_tensor *idx, const sk_tensor *src);
/* Out-of-place scatter-add. */
sk_tensor *sk_shim_scatter_add(const sk_tensor *x, int64_t d, const sk_tensor *idx, const sk_tensor *src);
sk_tensor *sk_shim_index_select(const sk_tensor *x, int64_t d, const sk_tensor *idx);
/* Out-of-place index-add: copy of x with the slices of src added at the 1-D
 * int64 positions idx along d (repeats accumulate). Much faster on CPU than
 * scatter_add with an expanded index for whole rows. */
sk_tensor *sk_shim_index_add(const sk_tensor *x, int64_t d, const sk_tensor *idx, const sk_tensor *src);
/* Straight-through gate: a copy of rows [B, p + K, D] (values unchanged)
 * whose backward also sends the gated rows' gradient to logits [B, K] (int
 * p >= 0 rows first pass ungated), as rows[:, p:] * (1 + sigmoid(l) -
 * sg(sigmoid(l))) would: d l = sum_d(grad * rows) * sigmoid'(l). One node. */
sk_tensor *sk_shim_st_gate(const sk_tensor *rows, const sk_tensor *logits, int64_t p);
/* Out-of-place index-copy: copy of x with the slices of src written at the
 * 1-D int64 positions idx along d (positions must be distinct). */
sk_tensor *sk_shim_index_copy(const sk_tensor *x, int64_t d, const sk_tensor *idx, const sk_tensor *src);
/* k largest (largest=1) or smallest along d; either output may be NULL. */
int sk_shim_topk(const sk_tensor *x, int64_t k, int64_t d, int largest, int sorted, sk_tensor **values,
                 sk_tensor **indices);
/* Stable sort along d; either output may be NULL. */
int sk_shim_sort(const sk_tensor *x, int64_t d, int descending, sk_tensor **values, sk_tensor **indices);
sk_tensor *sk_shim_argsort(const sk_tensor *x, int64_t d, int descending);
/* torch.argsort's default (stable=False): ties come out in the order the
 * backend's sort leaves them, as in Python code that calls x.argsort()
 * (ToMe's edge order, which reference parity has to reproduce). */
sk_tensor *sk_shim_argsort_unstable(const sk_tensor *x, int64_t d, int descending);

/* ---- convolutional nets (the ConvNet of models/sk_convnet.h) ------------------------- */

/* 2-D convolution, stride 1, `padding` zeros on every side (>= 0):
 * x [B, Cin, H, W], w [Cout, Cin, kh, kw], b [Cout] or NULL ->
 * [B, Cout, H + 2 padding - kh + 1, W + 2 padding - kw + 1]
 * (torch.nn.functional.conv2d). */
sk_tensor *sk_shim_conv2d(const sk_tensor *x, const sk_tensor *w, const sk_tensor *b, int64_t padding);
/* Group norm of x [B, C, ...] over `groups` groups of C / groups channels
 * (groups must divide C) and all trailing dims, with per-channel affine w, b
 * ([C], either may be NULL); groups == C is instance norm
 * (torch.nn.functional.group_norm). */
sk_tensor *sk_shim_group_norm(const sk_tensor *x, int64_t groups, const sk_tensor *w, const sk_tensor *b, double eps);
/* Batch norm of x [B, C, ...] per channel, with affine w, b ([C] or NULL)
 * (torch.nn.functional.batch_norm). training != 0: normalise with the batch's
 * statistics (biased variance) and, when running_mean / running_var ([C]
 * f32, no grad) are given, update them in place without an autograd record:
 * r <- (1 - momentum) r + momentum s, with the unbiased batch variance, as
 * torch.nn.BatchNorm2d does (momentum 0.1). training == 0: normalise with
 * running_mean / running_var, which must then be given. */
sk_tensor *sk_shim_batch_norm(const sk_tensor *x, const sk_tensor *w, const sk_tensor *b, sk_tensor *running_mean,
                              sk_tensor *running_var, int training, double momentum, double eps);
/* k x k pooling with stride k over the last two dims of x [B, C, H, W]
 * (floor: a trailing row / column short of k is dropped, as PyTorch's
 * default): the mean (avg_pool2d) or the maximum (max_pool2d). */
sk_tensor *sk_shim_avg_pool2d(const sk_tensor *x, int64_t k);
sk_tensor *sk_shim_max_pool2d(const sk_tensor *x, int64_t k);

/* ---- spatial transforms (DSA, trainer/sk_dsa.h) ------------------------------------ */

/* Sampling grid [N, H, W, 2] of the affine maps theta [N, 2, 3] for an
 * output of size [N, C, H, W] (torch.nn.functional.affine_grid; the grid
 * holds normalised (x, y) in [-1, 1]; align_corners as there).
 * Differentiable w.r.t. theta. */
sk_tensor *sk_shim_affine_grid(const sk_tensor *theta, int64_t n, int64_t c, int64_t h, int64_t w, int align_corners);
/* x [N, C, Hin, Win] sampled at grid [N, Hout, Wout, 2] -> [N, C, Hout,
 * Wout]: bilinear, zeros outside (torch.nn.functional.grid_sample with
 * mode='bilinear', padding_mode='zeros'). Differentiable w.r.t. x and grid. */
sk_tensor *sk_shim_grid_sample(const sk_tensor *x, const sk_tensor *grid, int align_corners);
/* x reversed along dim d (torch.flip). */
sk_tensor *sk_shim_flip(const sk_tensor *x, int64_t d);

/* ---- autograd ------------------------------------------------------------------------ */

int sk_shim_set_requires_grad(sk_tensor *t, int on);
int sk_shim_requires_grad(const sk_tensor *t);
/* Backpropagate from a scalar (one-element) tensor. */
int sk_shim_backward(const sk_tensor *loss);
/* *out = the accumulated gradient of t (a view sharing storage), or NULL
 * when t has none yet. Returns 0 or an error code. */
int sk_shim_grad(const sk_tensor *t, sk_tensor **out);
/* The gradients of scalar `output` w.r.t. inputs[0..n) (torch.autograd.grad),
 * into grads[i] (in the current scope), without touching any .grad.
 * create_graph != 0: the gradients are themselves differentiable (the graph
 * is kept and extended), so a loss built from them backpropagates to the
 * tensors `output` depends on (second order: dataset condensation's
 * gradient matching). create_graph == 0: the graph is freed. An input that
 * output does not depend on gets zeros. */
int sk_shim_autograd_grad(const sk_tensor *output, sk_tensor *const *inputs, int n, int create_graph,
                          sk_tensor **grads);
/* Reset the gradients of params to none. */
int sk_shim_zero_grad(sk_tensor *const *params, int n);
/* t's .grad <- a copy of g (same shape and dtype), for an optimizer step
 * on gradients computed elsewhere (summed over ranks or pieces). */
int sk_shim_set_grad(sk_tensor *t, const sk_tensor *g);
/* Enable/disable gradient recording on this thread; returns the previous
 * setting so callers can restore it (the "no-grad scope"). */
int sk_shim_set_grad_enabled(int on);
/* Gradient-ready hooks (for overlapping communication with backward).
 * cb(user, index, grad) runs inside backward when the gradient of leaf t
 * for this backward pass is complete, *before* it is added to t's .grad:
 * `grad` is the incoming gradient (borrowed, valid during the call; any
 * tensors cb creates go to no scope and must be freed by cb). It runs on the
 * thread libtorch uses for t's device (the calling thread for CPU tensors).
 * *handle receives an id for sk_shim_remove_grad_hook. A hook must not
 * outlive `user`. */
typedef void (*sk_grad_hook_fn)(void *user, int index, sk_tensor *grad);
int sk_shim_add_grad_hook(sk_tensor *t, sk_grad_hook_fn cb, void *user, int index, int *handle);
int sk_shim_remove_grad_hook(sk_tensor *t, int handle);
/* Clip the global L2 norm of the params' gradients to max_norm (if > 0) and
 * return the norm before clipping in *norm (may be NULL). */
int sk_shim_clip_grad_norm(sk_tensor *const *params, int n, double max_norm, double *norm);

/* ---- AdamW ---------------------------------------------------------------------------- */

typedef struct {
    double lr;           /* default learning rate (sk_adamw_step may override) */
    double beta1, beta2; /* 0.9, 0.999 */
    double eps;          /* 1e-8 */
    double weight_decay; /* decoupled, PyTorch AdamW semantics */
} sk_adamw_opts;

/* AdamW over `params` (borrowed; must outlive the optimizer). decay[i] == 0
 * excludes param i from weight decay (biases, norms); decay may be NULL (all
 * decayed). The update matches torch.optim.AdamW(foreach=False). */
int sk_adamw_create(sk_adamw **out, sk_tensor *const *params, const int *decay, int n, const sk_adamw_opts *opts);
void sk_adamw_free(sk_adamw *opt);
/* One update with learning rate lr; params without a grad are skipped. */
int sk_adamw_step(sk_adamw *opt, double lr);
/* State for checkpoints: the step count (sk_adamw_step calls) and per-param
 * moment tensors (borrowed, owned by the optimizer; NULL before the first
 * step). */
int64_t sk_adamw_step_count(const sk_adamw *opt);
int sk_adamw_set_step_count(sk_adamw *opt, int64_t step);
/* The steps param i took (torch's per-parameter state['step']: it advances
 * only in steps where the param has a gradient, and sets its bias
 * correction); 0 for a bad index. Set on resume. */
int64_t sk_adamw_param_step(const sk_adamw *opt, int i);
int sk_adamw_set_param_step(sk_adamw *opt, int i, int64_t step);
/* Moments of param i; created (zeros) on demand so they can be loaded. */
int sk_adamw_state(sk_adamw *opt, int i, sk_tensor **exp_avg, sk_tensor **exp_avg_sq);

/* ---- SGD ------------------------------------------------------------------------------ */

typedef struct {
    double lr;           /* default learning rate (sk_sgd_step may override) */
    double momentum;     /* 0 = plain SGD */
    double dampening;    /* 0 */
    double weight_decay; /* coupled L2 (added to the gradient), torch.optim.SGD semantics */
    int nesterov;        /* 0; needs momentum > 0 and dampening == 0, as torch */
} sk_sgd_opts;

/* SGD with momentum over `params` (borrowed; must outlive the optimizer).
 * decay[i] == 0 excludes param i from weight decay; decay may be NULL (all
 * decayed). SK_EINVAL for a negative lr, momentum, dampening or decay, or
 * nesterov without momentum or with dampening. */
int sk_sgd_create(sk_sgd **out, sk_tensor *const *params, const int *decay, int n, const sk_sgd_opts *opts);
void sk_sgd_free(sk_sgd *opt);
/* One update with learning rate lr; params without a grad are skipped. The
 * update matches torch.optim.SGD(foreach=False): d = g + wd p;
 * b = d on a param's first step with a grad, else b = momentum b +
 * (1 - dampening) d; p -= lr (nesterov ? d + momentum b : b). */
int sk_sgd_step(sk_sgd *opt, double lr);
/* The momentum buffer of param i (borrowed, owned by the optimizer), for
 * checkpoints: created (zeros) on demand so it can be loaded, and from then
 * on it counts as existing (torch's state after load_state_dict), so the
 * next step updates it instead of starting it from d. SK_EINVAL for a bad
 * index or when momentum is 0 (plain SGD keeps no buffers). */
int sk_sgd_momentum_buffer(sk_sgd *opt, int i, sk_tensor **buf);
/* 1 when param i has a momentum buffer (it took a step with a gradient, or
 * its buffer was fetched), else 0 (also for a bad index): a checkpoint
 * saves only those, so a resumed run starts the others as torch would. */
int sk_sgd_has_buffer(const sk_sgd *opt, int i);

#ifdef __cplusplus
}
#endif
#endif /* SK_SHIM_H */
