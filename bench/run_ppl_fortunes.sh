#!/usr/bin/env bash
# run_ppl_fortunes.sh BUILD OUT KEEP [SEED...]
# Perplexity filtering vs random subsets of equal size on the fortunes
# corpus (docs/RESULTS.md, issue 12 item 6): the documents of
# /usr/share/games/fortunes split once (fixed shuffle) into a 95% training
# corpus and a 5% held-out corpus; a small GPT proxy (depth 2, width 64,
# 300 steps) trained on the training corpus scores every training document's
# perplexity; subsets keep KEEP of the documents by lowest perplexity
# (CCNet's head), by the middle perplexity band, and at random; a GPT
# (configs/fortunes-gpt.yaml at depth 2, width 64 for this 2-core machine)
# trains STEPS steps on each (seeds SEED..., default 1 2 3) and is
# evaluated in bits/byte on the whole held-out corpus.
# Environment: NP (ranks, default 1; one intra-op thread per rank), STEPS
# (default 400), VARIANTS (default "random ppl-bottom ppl-middle").
set -euo pipefail
B=$1; OUT=$2; KEEP=$3; shift 3
SEEDS=${*:-1 2 3}
NP=${NP:-1}
VARIANTS=${VARIANTS:-random ppl-bottom ppl-middle}
STEPS=${STEPS:-400}
S=$B/cli/shrink
. "$(dirname "$0")/../scripts/mpi_env.sh"
mkdir -p "$OUT"
T=$OUT/times.tsv; touch "$T"
now() { date +%s.%N; }
log_time() { echo -e "$1\t$2\t$(echo "$(now) - $3" | bc)" >> "$T"; }
if [ ! -f "$OUT/heldout.h5" ]; then
  # every fortune file (not the .dat indexes or .u8 links), documents split at
  # lines "%", shuffled with a fixed seed, the last 5% held out
  /usr/bin/python3 - "$OUT" <<'PY'
import os, random, sys
out = sys.argv[1]; d = "/usr/share/games/fortunes"; docs = []
for f in sorted(os.listdir(d)):
    p = os.path.join(d, f)
    if f.endswith((".dat", ".u8")) or not os.path.isfile(p): continue
    cur = []
    for line in open(p, "rb").read().split(b"\n"):
        if line == b"%":
            if cur: docs.append(b"\n".join(cur) + b"\n")
            cur = []
        else: cur.append(line)
    if any(cur): docs.append(b"\n".join(cur).rstrip(b"\n") + b"\n")
random.Random(12).shuffle(docs)
h = len(docs) // 20
for name, part in (("train", docs[h:]), ("heldout", docs[:h])):
    open(f"{out}/{name}.txt", "wb").write(b"%\n".join(part))
print(f"{len(docs)} documents: {len(docs) - h} train, {h} held out")
PY
  for p in train heldout; do
    $S prepare --set prepare.format=text --set prepare.input="$OUT/$p.txt" --set prepare.boundary=% \
      --set prepare.output="$OUT/$p.h5"
  done
fi
GPT="--config configs/fortunes-gpt.yaml --set data.eval=$OUT/heldout.h5 --set train.eval_every=0 --set train.eval_batches=0
  --set train.ckpt_every=0 --set run.overwrite=true --set run.threads=1"
p=$OUT/proxy
[ -f "$p/model.safetensors" ] || { t0=$(now); mpirun -np "$NP" $S train $GPT --set data.train="$OUT/train.h5" \
  --set model.depth=2 --set model.width=64 --set train.steps=300 --set run.seed=100 --set run.out_dir="$p" > "$p.log" 2>&1
  log_time proxy proxy "$t0"; }
condense() {
  local f=$1; shift
  [ -f "$f" ] && return 0
  local t0; t0=$(now)
  mpirun -np "$NP" $S condense --set condense.input="$OUT/train.h5" --set condense.output="$f" --set run.threads=1 "$@" \
    >> "$OUT/condense.log" 2>&1
  log_time select "$(basename "$f" .h5)" "$t0"
}
# score once; both perplexity subsets reuse the scores
condense "$OUT/ppl-bottom.h5" --set condense.method=perplexity --set condense.proxy="$p/model.safetensors" \
  --set condense.ppl_band=none --set condense.keep="$KEEP" --set condense.rule=bottom --set run.seed=1
lo=$(echo "(1 - $KEEP) / 2" | bc -l); hi=$(echo "1 - $lo" | bc -l)
condense "$OUT/ppl-middle.h5" --set condense.method=perplexity --set condense.scores_from="$OUT/ppl-bottom.h5" \
  --set condense.ppl_band=quantile --set condense.ppl_low="$lo" --set condense.ppl_high="$hi" --set run.seed=1
for seed in $SEEDS; do
  condense "$OUT/random-s$seed.h5" --set condense.method=random --set condense.class_balance=false \
    --set condense.keep="$KEEP" --set run.seed="$seed"
  for v in $VARIANTS; do
    d=$OUT/$v.h5; [ "$v" = random ] && d=$OUT/random-s$seed.h5
    r=$OUT/run-$v-s$seed
    [ -f "$r/summary.json" ] && continue
    t0=$(now)
    mpirun -np "$NP" $S train $GPT --set data.train="$d" --set model.depth=2 --set model.width=64 --set train.steps="$STEPS" \
      --set train.warmup=$(( STEPS / 12 )) --set run.seed="$seed" --set run.out_dir="$r" > "$r.log" 2>&1
    log_time train "$v-s$seed" "$t0"
  done
done
/usr/bin/python3 - "$OUT" "$VARIANTS" $SEEDS <<'PY'
import json, os, statistics as st, sys
out, variants, seeds = sys.argv[1], sys.argv[2].split(), sys.argv[3:]
print(f"| training subset | documents | bytes | held-out bits/byte (mean ± sd, n seeds) | per seed |\n|---|---|---|---|---|")
for v in variants:
    b = []
    for s in seeds:
        f = f"{out}/run-{v}-s{s}/summary.json"
        if os.path.exists(f): b.append(json.load(open(f))["eval_bpb"])
    if not b: continue
    sd = st.stdev(b) if len(b) > 1 else float("nan")
    print(f"| {v} | | | {st.mean(b):.4f} ± {sd:.4f} (n={len(b)}) | {', '.join(f'{x:.4f}' for x in b)} |")
PY
