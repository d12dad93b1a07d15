/* sk_train_guard.h - the training run's guards against losing work:
 * refusing to overwrite an earlier run's outputs, and stopping cleanly
 * at a step boundary on SIGINT/SIGTERM/SIGUSR1/SIGUSR2.
 *
 * defines: sk_train_guard_out_dir, sk_train_guard_config_diff, sk_train_guard_signals_install,
 *          sk_train_guard_signals_restore, sk_train_guard_signal_name, sk_train_guard_stop_requested.
 */
#ifndef SK_TRAIN_GUARD_H
#define SK_TRAIN_GUARD_H

#ifdef __cplusplus
extern "C" {
#endif

/* Fails (SK_EEXISTS, on every rank) when `dir` exists and holds any entry,
 * unless `resuming` or `overwrite` (run.overwrite): a new run never
 * silently replaces an earlier run's model, metrics and checkpoints.
 * Rank 0 looks; the answer is agreed collectively. */
int sk_train_guard_out_dir(const char *dir, int resuming, int overwrite);

/* Resume with a changed config: compares the "config" object of
 * ckdir/state.json with `now` (the same JSON layout, {"section": {"key":
 * value}}) and names every changed key. Keys that change the model's
 * tensors (every model.* key; data.seq_len when `lm`) or the state a
 * checkpoint holds (data.prune, train.record_forgetting; select.scorer
 * and select.layers when either side's scorer is `learned`) fail with
 * SK_EINVAL, listing each "key: checkpoint A, this run B"; the rest are
 * logged as warnings. A non-model key the checkpoint lacks (written before
 * shrink stored it) counts as having been off (none, false, 0, ""). */
int sk_train_guard_config_diff(const char *ckdir, const char *now, int lm);

/* Collective (one allgather of process ids and hosts): installs
 * handlers for SIGINT, SIGTERM, SIGUSR1 and SIGUSR2 that record the
 * signal and write one line to stderr saying who sent it (the launcher,
 * i.e. the parent process, or a pid), naming the ranks on this host that
 * have already ended, and what happens next. The previous handlers are
 * kept for _restore. Not reentrant: one run at a time per process. */
int sk_train_guard_signals_install(void);
/* Restores the previous handlers and frees what _install allocated. */
void sk_train_guard_signals_restore(void);

/* "SIGINT", "SIGTERM", "SIGUSR1", "SIGUSR2" (static text). */
const char *sk_train_guard_signal_name(int sig);

/* Collective, once per step on every rank: 0 when no rank caught a
 * signal, else the signal number (one of the four above) that some rank
 * got; every rank gets the same answer, so all stop at the same step.
 * Negative SK_E* if the reduction fails. */
int sk_train_guard_stop_requested(void);

#ifdef __cplusplus
}
#endif
#endif /* SK_TRAIN_GUARD_H */
