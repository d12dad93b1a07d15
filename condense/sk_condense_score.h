/* sk_condense_score.h - what the score-based condensation methods share:
 * stream the shard through the proxy (or proxies) computing one score per
 * row, and turn scores into a kept set by condense.rule.
 *
 * defines: sk_condense_logit_score (the per-row quantities of the logits),
 *          sk_condense_batch_fn, sk_condense_logit_batch, sk_condense_score_check, sk_condense_score_stream,
 *          sk_condense_score_select (the whole select slot of a score
 *          method), sk_condense_score_fill, sk_condense_label_score_check, sk_condense_apply_rule, sk_condense_next_path,
 *          sk_condense_doc_score (sk_condense_lm.c).
 *
 * Direction: every score is "higher = harder / more uncertain", so
 * rule=top keeps the hardest rows, rule=bottom the easiest, and ccs drops
 * the highest scores first (as CCS drops the hardest, mislabelled-looking
 * examples).
 *
 * Proxies: condense.proxy (opened and checked by the driver) and the files
 * of condense.proxies (comma separated, opened and checked here); a row's
 * score is the mean over all of them (EL2N and GraNd are defined as means
 * over independently trained networks, Paul et al. 2021).
 */
#ifndef SK_CONDENSE_SCORE_H
#define SK_CONDENSE_SCORE_H

#include "sk_condense_methods.h"

/* What is computed from one row's logits. */
typedef enum {
    SK_SCORE_LOSS = 0,  /* cross-entropy -log p_y */
    SK_SCORE_EL2N,      /* || softmax(z) - onehot(y) ||_2 */
    SK_SCORE_ENTROPY,   /* -sum p log p */
    SK_SCORE_MARGIN,    /* 1 - (p_1 - p_2): high = small margin = uncertain */
    SK_SCORE_LEAST_CONF /* 1 - max p */
} sk_condense_logit_kind;

/* Scores of b rows from their logits [b, classes] (row-major floats) and
 * labels (NULL only for the kinds that need none), computed in double. */
void sk_condense_logit_score(sk_condense_logit_kind kind, const float *logits, int64_t b, int64_t classes,
                             const int64_t *labels, float *scores);

/* One batch: x [b, <sample shape>] and y [b] (int64 labels, zeros without
 * labels) in the caller's scope, labels the host copy (NULL without
 * labels); fill scores[0..b). */
typedef int (*sk_condense_batch_fn)(void *user, sk_model *proxy, sk_tensor *x, sk_tensor *y, const int64_t *labels,
                                    int64_t b, float *scores);

/* The sk_condense_batch_fn of the logit scores: user points to an
 * sk_condense_logit_kind; one forward without autograd. */
int sk_condense_logit_batch(void *user, sk_model *proxy, sk_tensor *x, sk_tensor *y, const int64_t *labels, int64_t b,
                            float *scores);

/* Run fn over the shard [job->begin, job->end) in the corpus's global
 * batches of condense.batch rows (those overlapping the shard, each whole,
 * so a row's score does not depend on the world size), each inside its own
 * shim scope, writing scores[i - begin]. Not collective. */
int sk_condense_score_stream(const sk_condense_job *job, sk_model *proxy, sk_condense_batch_fn fn, void *user,
                             float *scores);

/* The select slot of a score method: the shard's scores (from
 * condense.scores_from when given, else fn averaged over every proxy; on
 * a token corpus each document's mean of the logit score user points to
 * (an sk_condense_logit_kind; NULL: the loss), sk_condense_doc_score)
 * into out->scores with out->score_name = name, then the rule. Refuses
 * non-finite scores naming the proxy. Collective. */
int sk_condense_score_select(const sk_condense_job *job, sk_condense_out *out, const char *name,
                             sk_condense_batch_fn fn, void *user);

/* Token corpora: each shard document's mean over its next-token targets
 * of score `kind` (the loss: NLL in nats) under the causal LM `proxy`
 * (file `path`, for messages) into mean[i - begin]; the windowing is
 * sk_condense_lm.c's. Refuses a proxy that is not an LM and tokens
 * outside its vocabulary. Not collective. */
int sk_condense_doc_score(const sk_condense_job *job, sk_model *proxy, const char *path, sk_condense_logit_kind kind,
                          float *mean);

/* The next comma-separated path of *list into buf (trimmed, at most
 * cap - 1 bytes), advancing *list; 0 at the end (condense.proxies,
 * condense.forgetting_from). */
int sk_condense_next_path(const char **list, char *buf, size_t cap);

/* The first half of sk_condense_score_select: the shard's scores into
 * out->scores (given, or fn / the documents' mean NLL averaged over every
 * proxy), out->score_name = name; no rule. Collective (agreed). */
int sk_condense_score_fill(const sk_condense_job *job, sk_condense_out *out, const char *name, sk_condense_batch_fn fn,
                           void *user);

/* The check slot of the score methods: the strata of every group fit
 * (groups x condense.strata at most 65536); names condense.strata. */
int sk_condense_score_check(const sk_condense_config *cfg, const sk_corpus_info *in);

/* The check slot of the scores that need a label (loss, el2n): image
 * corpora must have labels (a token's label is the next token); then
 * sk_condense_score_check. */
int sk_condense_label_score_check(const sk_condense_config *cfg, const sk_corpus_info *in);

/* condense.rule (and class balance) on the shard's scores: sets
 * keep[i]. Collective. */
int sk_condense_apply_rule(const sk_condense_job *job, const float *scores, uint8_t *keep);

#endif /* SK_CONDENSE_SCORE_H */
