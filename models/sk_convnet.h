/* sk_convnet.h - the ConvNet of the dataset-distillation literature over the
 * shim.
 *
 * defines: sk_convnet, sk_convnet_opts, sk_convnet_norm, sk_convnet_pool,
 *          sk_convnet_out, sk_convnet_create, sk_convnet_free,
 *          sk_convnet_params, sk_convnet_buffers, sk_convnet_forward,
 *          sk_convnet_embed, sk_convnet_feature_dim, sk_convnet_forward_flops;
 *          its registry entry (sk_model_convnet, sk_model.h: model.arch =
 *          convnet, keys width depth norm pooling classes; no selector hook,
 *          so select.* is refused for it).
 *
 * ConvNet-3 as Zhao et al. define it for dataset condensation (ICLR 2021;
 * VICO-UoE/DatasetCondensation networks.py ConvNet, get_network's defaults
 * width 128, depth 3, ReLU, instance norm, average pooling), layer by layer:
 * depth x [3x3 conv (with bias), norm, ReLU, 2x2 pool with stride 2], the
 * features flattened in (C, H, W) order, one linear classifier. As there:
 * - the first conv pads by 3 when the images have 1 channel (28x28 -> 32x32,
 *   so MNIST-like data meets the same 4x4x128 features as CIFAR), by 1
 *   elsewhere;
 * - instance norm is GroupNorm(width, width, affine) (per sample and
 *   channel), batch norm is BatchNorm2d (batch statistics in training,
 *   running statistics with momentum 0.1 in evaluation), "none" omits it;
 * - pooling "none" omits the pooling layer;
 * - initialisation is PyTorch's default: conv and linear weights
 *   kaiming_uniform(a = sqrt(5)), i.e. U(+-1/sqrt(fan_in)), biases
 *   U(+-1/sqrt(fan_in)), norm weights 1 and biases 0, running mean 0 and
 *   variance 1.
 * Where we differ on purpose: pixels are scaled as the ViT's are (uint8 ->
 * [0, 1] -> (x - 0.5) / 0.5 = [-1, 1]) instead of the reference's per-dataset
 * mean and std (Fashion-MNIST 0.2861 / 0.3530), so every image model reads a
 * corpus the same way; only ReLU is offered (the reference's sigmoid and
 * leaky ReLU and its layer/group norms are ablations we do not run).
 *
 * Parameter names: "features.<i>.conv.weight" / ".bias",
 * "features.<i>.norm.weight" / ".bias" (i = 0..depth-1), "classifier.weight"
 * / ".bias"; batch norm's running statistics are buffers
 * "features.<i>.norm.running_mean" / ".running_var" (no gradient; PyTorch's
 * state_dict names, saved with the parameters).
 *
 * Ownership: parameters and buffers belong to the model; forward results to
 * the caller's current scope.
 */
#ifndef SK_CONVNET_H
#define SK_CONVNET_H

#include "sk_params.h"

typedef struct sk_convnet sk_convnet;

typedef enum { SK_CONVNET_NORM_INSTANCE = 0, SK_CONVNET_NORM_BATCH, SK_CONVNET_NORM_NONE } sk_convnet_norm;
typedef enum { SK_CONVNET_POOL_AVG = 0, SK_CONVNET_POOL_MAX, SK_CONVNET_POOL_NONE } sk_convnet_pool;

typedef struct {
    int64_t image_h, image_w, channels; /* input images, uint8 [B, H, W] or [B, C, H, W] */
    int64_t width, depth;               /* channels per conv layer, conv layers */
    sk_convnet_norm norm;
    sk_convnet_pool pool;
    int64_t classes;
} sk_convnet_opts;

typedef struct {
    sk_tensor *loss;   /* scalar mean cross-entropy (scope-owned) */
    sk_tensor *logits; /* [B, classes] (scope-owned) */
    int64_t correct;   /* argmax == label count */
} sk_convnet_out;

/* Validate opts (the message names the option: model.width, model.depth
 * when the pools shrink the image to nothing, ...) and create the model
 * with parameters drawn from `seed`. */
int sk_convnet_create(sk_convnet **out, const sk_convnet_opts *o, uint64_t seed);
void sk_convnet_free(sk_convnet *m);
/* Trained parameters in canonical order (owned by the model). */
sk_params *sk_convnet_params(sk_convnet *m);
/* Batch norm's running statistics (no gradient; empty list for the other
 * norms); owned by the model. They are not parameters (no optimizer,
 * gradient or weight decay), but the registry entry's buffers slot
 * (sk_model_buffers) hands them on: sk_model_save and the trainer's
 * checkpoints store them beside the parameters, sk_model_create_from_file
 * and a resume restore them, and under DDP the trainer broadcasts rank 0's
 * before each step and evaluation (PyTorch's DDP, broadcast_buffers=True).
 * The default instance norm has no such state. */
sk_params *sk_convnet_buffers(sk_convnet *m);
/* Flattened feature size F = width x H' x W' that the classifier reads. */
int64_t sk_convnet_feature_dim(const sk_convnet *m);
/* Forward + loss on images (a uint8 tensor, or float32 pixels in the same
 * [0, 255] units: distilled corpora) and labels (int64 [B]).
 * training != 0: batch norm uses (and updates the running statistics from)
 * the batch; 0: it uses the running statistics. */
int sk_convnet_forward(sk_convnet *m, const sk_tensor *images, const sk_tensor *labels, int training,
                       sk_convnet_out *out);
/* The penultimate features (the flattened conv output the classifier reads),
 * *feat f32 [B, F] in the caller's scope; training as for forward (the
 * registry entry's embed slot passes 0: a sample's features then do not
 * depend on its batch). */
int sk_convnet_embed(sk_convnet *m, const sk_tensor *images, int training, sk_tensor **feat);
/* Analytic FLOPs of one forward per sample, counted as 2 x multiply-adds of
 * the convolutions and the classifier (norms, ReLU, pooling left out, as
 * sk_gpt_forward_flops leaves out everything but the matmuls). */
double sk_convnet_forward_flops(const sk_convnet *m);

#endif /* SK_CONVNET_H */
