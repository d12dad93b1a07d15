/* sk_model.h - one interface for every model, found by model.arch.
 *
 * defines: SK_MODEL_VERSION, the SK_MODEL_* flags, sk_model_data (what a
 *          model is told about the corpus's samples), sk_model_out,
 *          sk_model_info, sk_model_vtable, the registry (sk_model_find,
 *          sk_model_count, sk_model_at), and the instance sk_model
 *          (sk_model_create, sk_model_create_from_file, sk_model_free,
 *          sk_model_params, sk_model_buffers, sk_model_forward, sk_model_embed,
 *          sk_model_select_model, sk_model_info_get, sk_model_save), sk_model_nll.
 *
 * Like SQLite's VFS and llama.cpp's samplers: a versioned vtable of
 * required and optional slots, one per architecture (each in its own file:
 * sk_vit.c, sk_gpt.c, sk_convnet.c), listed in a `static const` table in
 * sk_model.c. Callers hold an opaque sk_model and never ask which arch it
 * is: flags say what kind of model an entry is.
 *
 * Keys each arch reads (sk_model_config.h):
 *   vit:     width depth heads mlp_ratio patch pool classes
 *   gpt:     width depth heads mlp_ratio vocab   (context: the sample's length - 1)
 *   convnet: width depth norm pooling classes
 *
 * Inputs. x is the batch as a tensor [B, <sample shape>] in the corpus's
 * element type (uint8 pixels, int32/int64 tokens; uint16 tokens widened to
 * int32 by the caller); each model reshapes/casts it (a ViT makes [B, C, H,
 * W] of [B, H, W]). y: int64 labels [B] for classifiers, NULL for LMs (the
 * targets are the windows shifted by one).
 *
 * Ownership: sk_model_create's *out is the caller's (sk_model_free);
 * params and buffers are owned by the model; forward/embed results live in the caller's
 * current shim scope.
 */
#ifndef SK_MODEL_H
#define SK_MODEL_H

#include <stdint.h>

#include "sk_block.h"
#include "sk_model_config.h"

/* 1: the first table; 2: the optional buffers slot (entries without
 * buffers leave it NULL, so only the number changes for them). */
#define SK_MODEL_VERSION 2

/* What an entry is (sk_model_vtable.flags). */
enum {
    SK_MODEL_LM = 1u << 0,         /* causal LM on token windows: loss per token (bits/byte), unigram baseline */
    SK_MODEL_CLASSIFIER = 1u << 1, /* labelled samples: accuracy */
    SK_MODEL_IMAGES = 1u << 2,     /* takes image samples ([H, W] or [C, H, W]) */
    SK_MODEL_TOKENS = 1u << 3      /* takes token windows ([seq_len + 1]) */
};

typedef enum { SK_SAMPLE_IMAGE = 0, SK_SAMPLE_TOKENS = 1 } sk_sample_kind;

/* The corpus's samples, as the caller's loader sees them (models/ does not
 * link dataset/). */
typedef struct {
    sk_sample_kind kind;
    int ndim;         /* dims of one sample: images 2 or 3, tokens 1 */
    int64_t shape[4]; /* images [H, W] or [C, H, W]; tokens [seq_len + 1] */
    int64_t vocab;    /* token corpora: vocabulary size (0: unknown) */
    int64_t classes;  /* labelled corpora: label count (0: no labels) */
} sk_model_data;

/* One forward (tensors in the caller's scope). */
typedef struct {
    sk_tensor *loss;        /* scalar mean loss in nats */
    sk_tensor *sample_loss; /* [B] each sample's loss in nats (LM: mean over its scored targets), so
                               loss = mean(sample_loss) up to rounding; for per-sample weights and
                               scores (InfoBatch, trainer/sk_infobatch.h) */
    sk_tensor *logits;      /* classifier [B, classes]; LM [B, N, vocab] */
    int64_t correct;        /* classifier: argmax == label count (LM: 0) */
    int64_t count;          /* what the loss averages over: samples, or scored next-token targets */
    int64_t tokens_in;      /* B * N entering block 0 (0 for models without token blocks) */
    int64_t tokens_blocks;  /* sum over blocks of B * N_l */
    int depth;              /* blocks counted in tokens_blocks (0: none) */
} sk_model_out;

/* Facts about an instance. */
typedef struct {
    const char *arch; /* registry name (static) */
    unsigned flags;   /* SK_MODEL_* */
    int64_t outputs;  /* classes (classifier) or vocabulary (LM) */
    int64_t features; /* F of sk_model_embed's [B, F] */
} sk_model_info;

typedef struct sk_model_vtable {
    int version;      /* SK_MODEL_VERSION */
    const char *name; /* model.arch */
    unsigned flags;   /* SK_MODEL_* */
    const char *help; /* one line for --help and docs */
    const char *keys; /* the model.* keys it reads, space separated (docs) */

    /* required: model.* values only this arch reads are usable (before any
     * data is opened; width, depth, vocab and classes are checked for every
     * arch by sk_model_config_check first); message names the key. */
    int (*check)(const sk_model_config *cfg);
    /* required: build with parameters drawn from seed; *self is the arch's
     * own state. Errors name the key or the sample shape that does not fit. */
    int (*create)(void **self, const sk_model_config *cfg, const sk_model_data *d, uint64_t seed);
    /* required: free self (accepts NULL). */
    void (*destroy)(void *self);
    /* required: named parameters in canonical order (owned by self). */
    sk_params *(*params)(void *self);
    /* required: fill outputs and features of sk_model_info. */
    void (*info)(const void *self, sk_model_info *out);
    /* required: loss and logits of one batch; sel may be NULL; training:
     * dropout-free models use it only to tell the selector. */
    int (*forward)(void *self, const sk_tensor *x, const sk_tensor *y, sk_selector *sel, int64_t step, int training,
                   sk_model_out *out);
    /* required: penultimate features [B, F], no selector (coreset geometry,
     * distribution matching). Autograd follows the caller's grad mode. */
    int (*embed)(void *self, const sk_tensor *x, sk_tensor **feat);

    /* optional: the token-selector hook. NULL: the model has no token
     * sequence, and a [select] section is refused naming the model. */
    int (*select_model)(const void *self, sk_select_model *out);
    /* optional: analytic forward FLOPs per sample (NULL: not known). */
    double (*forward_flops)(const void *self);
    /* optional: extra safetensors metadata pairs (key, value) beside the
     * generic ones sk_model_save writes; fills up to cap pairs into kv,
     * value strings in buf (24 bytes each); returns the count. */
    int (*extra_meta)(const void *self, char (*buf)[24], const char **kv, int cap);
    /* optional: named state that is not trained but belongs to the model
     * (batch norm's running statistics; PyTorch's buffers, under its
     * state_dict names), owned by self; NULL, or an empty list: none. It
     * travels with the parameters in sk_model_save's file and in
     * checkpoints, and DDP broadcasts rank 0's copy (trainer/sk_train.c);
     * no optimizer, gradient or weight decay touches it. */
    sk_params *(*buffers)(void *self);
} sk_model_vtable;

/* ---- the registry -------------------------------------------------------- */

/* The entry for model.arch `name`, or NULL. */
const sk_model_vtable *sk_model_find(const char *name);
/* Registered entries, in table order (for --help and docs). */
int sk_model_count(void);
const sk_model_vtable *sk_model_at(int i);
/* The i-th registered name, NULL past the last (model.arch's choices). */
const char *sk_model_name_at(int i);

/* ---- an instance --------------------------------------------------------- */

typedef struct sk_model sk_model;

/* Check cfg (sk_model_config_check) and build the arch it names for
 * samples described by d. */
int sk_model_create(sk_model **out, const sk_model_config *cfg, const sk_model_data *d, uint64_t seed);
/* Rebuild a model written by sk_model_save from its metadata alone
 * (shrink.model.<key>, shrink.data.*) and load its weights and buffers
 * (tensors in the file that the model does not own are ignored; a missing
 * one is SK_ENOTFOUND naming it). Errors name the file and the key or
 * tensor. */
int sk_model_create_from_file(sk_model **out, const char *path);
void sk_model_free(sk_model *m);

sk_params *sk_model_params(sk_model *m);
/* The model's buffers (the entry's buffers slot), NULL when it has none. */
sk_params *sk_model_buffers(sk_model *m);
const sk_model_vtable *sk_model_vt(const sk_model *m);
void sk_model_info_get(const sk_model *m, sk_model_info *out);
/* The config and sample description the model was built from (borrowed). */
const sk_model_config *sk_model_cfg(const sk_model *m);
const sk_model_data *sk_model_sample(const sk_model *m);

int sk_model_forward(sk_model *m, const sk_tensor *x, const sk_tensor *y, sk_selector *sel, int64_t step, int training,
                     sk_model_out *out);
int sk_model_embed(sk_model *m, const sk_tensor *x, sk_tensor **feat);
/* The selector hook's facts; SK_EUNSUPPORTED naming the model when its
 * entry has no select_model slot. */
int sk_model_select_model(const sk_model *m, sk_select_model *out);

/* Per-target cross-entropy: logits [..., C], int64 targets [...] ->
 * -log softmax(logits)[target], shape [...] (in the caller's scope; NULL
 * with the shim's error set on failure). Every entry's forward fills
 * sk_model_out.sample_loss with it. */
sk_tensor *sk_model_nll(const sk_tensor *logits, const sk_tensor *targets);

/* Write tensors (NULL: the model's parameters) followed by the model's
 * buffers (sk_model_buffers) with the architecture as metadata ("format" =
 * "pt", "shrink.arch", "shrink.model.<key>" = each [model] key's config
 * text, "shrink.data.kind/shape/vocab/classes", plus the entry's
 * extra_meta), atomically to path. */
int sk_model_save(const sk_model *m, const char *path, const sk_params *tensors);

#endif /* SK_MODEL_H */
