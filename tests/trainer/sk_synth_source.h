/* sk_synth_source.h - a deterministic synthetic corpus for trainer tests,
 * with the sk_loader contract (sharding, per-epoch shuffle, splits,
 * tell/seek) so tests run without a corpus file.
 *
 * defines: sk_synth_source (an sk_train_source), and the data it makes:
 *   path "synth:images": 16x16 uint8 images of 4 classes (a bright
 *     quadrant per class plus hashed noise), 640 samples;
 *   path "synth:tokens": windows of seq_len+1 tokens over a 16-token
 *     vocabulary following t[i+1] = (t[i] + stride) % 16 with a per-sample
 *     stride, 640 samples.
 */
#ifndef SK_SYNTH_SOURCE_H
#define SK_SYNTH_SOURCE_H

#include "sk_train.h"

extern const sk_train_source sk_synth_source;

#endif
