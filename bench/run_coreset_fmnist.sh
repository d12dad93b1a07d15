#!/usr/bin/env bash
# run_coreset_fmnist.sh BUILD OUT EPOCHS [SEED...]
# Coreset selection on Fashion-MNIST at an EPOCH budget (docs/RESULTS.md,
# issue 12 item 6): the same small ConvNet-3 (width 32) trained for EPOCHS
# epochs on the full training set, with InfoBatch on the full set, and on
# every method's 10/30/50% subsets, each with seeds SEED... (default 1 2 3);
# test accuracy on the 10 000 test images. A subset of n rows trains for
# EPOCHS * floor(n / 128) steps, so smaller subsets take less time; every
# run's training wall time and every selection's time are logged in
# OUT/times.tsv and the tables are printed at the end (rerunning skips
# what is done and reprints them).
# Environment: METHODS (method or method:rule, in the order run), KEEPS,
# NP (ranks, default 2; one intra-op thread per rank), SELECT_ONLY=1 (make
# the proxies and subsets only: a second instance can select ahead of one
# that trains), INFOBATCH_ONLY=1 (only the full / InfoBatch pairs and
# their table).
set -euo pipefail
B=$1; OUT=$2; EPOCHS=$3; shift 3
SEEDS=${*:-1 2 3}
METHODS=${METHODS:-random el2n:ccs el2n:top forgetting:ccs herding kcenter facility-location \
  entropy:ccs margin:ccs least-confidence:ccs loss:ccs grand:ccs}
KEEPS=${KEEPS:-0.1 0.3 0.5}
NP=${NP:-2}
S=$B/cli/shrink; FM=/usr/share/datasets/fashion-mnist
. "$(dirname "$0")/../scripts/mpi_env.sh"
mkdir -p "$OUT/sel"
T=$OUT/times.tsv; touch "$T"
now() { date +%s.%N; }
log_time() { echo -e "$1\t$2\t$(echo "$(now) - $3" | bc)" >> "$T"; }   # kind, name, since
[ -f "$OUT/train.h5" ] || $S prepare --set prepare.format=idx --set prepare.input=$FM/train-images-idx3-ubyte.gz \
  --set prepare.labels=$FM/train-labels-idx1-ubyte.gz --set prepare.output="$OUT/train.h5"
[ -f "$OUT/test.h5" ] || $S prepare --set prepare.format=idx --set prepare.input=$FM/t10k-images-idx3-ubyte.gz \
  --set prepare.labels=$FM/t10k-labels-idx1-ubyte.gz --set prepare.output="$OUT/test.h5"
NET="--config configs/fmnist-convnet.yaml --set data.eval=$OUT/test.h5 --set model.width=32 --set train.eval_every=0
  --set train.ckpt_every=0 --set run.overwrite=true --set run.threads=1"
nsamples() { $S inspect "$1" | awk '$1 == "samples" { print $2; exit }'; }
# train NAME CORPUS SEED [extra --set ...]: EPOCHS epochs of CORPUS, warmup 5% of the steps
train() {
  [ "${SELECT_ONLY:-0}" = 1 ] && return 0
  local name=$1 d=$2 seed=$3; shift 3
  local r=$OUT/run-$name-s$seed
  [ -f "$r/summary.json" ] && return 0
  local n; n=$(nsamples "$d"); local steps=$(( EPOCHS * (n / 128) ))
  local t0; t0=$(now)
  mpirun -np "$NP" $S train $NET --set data.train="$d" --set train.steps=$steps --set train.warmup=$(( steps / 20 > 1 ? steps / 20 : 1 )) \
    --set run.seed="$seed" --set run.out_dir="$r" "$@" > "$r.log" 2>&1
  log_time train "$name-s$seed" "$t0"
}
# full data and InfoBatch interleaved, so that machine load hits both
# alike; which side goes first flips from seed to seed (ABBA)
ab=0
for seed in $SEEDS; do
  if [ $ab = 0 ]; then train full "$OUT/train.h5" "$seed"; fi
  train infobatch "$OUT/train.h5" "$seed" --set data.prune=infobatch
  if [ $ab = 1 ]; then train full "$OUT/train.h5" "$seed"; fi
  ab=$((1 - ab))
done
if [ "${INFOBATCH_ONLY:-0}" = 1 ]; then
  /usr/bin/python3 bench/coreset_table.py "$OUT" "$KEEPS" "" $SEEDS
  exit 0
fi
# proxies: two 300-step ConvNets on the full set (scores are averaged over
# both; the first also gives the embeddings), and for forgetting events a
# separate EPOCHS-epoch run with train.record_forgetting (seed 100)
for ps in 100 101; do
  p=$OUT/proxy-$ps
  [ -f "$p/model.safetensors" ] || { t0=$(now); mpirun -np "$NP" $S train $NET --set data.train="$OUT/train.h5" --set train.steps=300 \
    --set train.warmup=30 --set run.seed=$ps --set run.out_dir="$p" > "$p.log" 2>&1; log_time proxy "proxy-$ps" "$t0"; }
done
PROXY="--set condense.proxy=$OUT/proxy-100/model.safetensors"
PROXIES="$PROXY --set condense.proxies=$OUT/proxy-101/model.safetensors"
# condense NAME FILE [--set ...]: one selection, timed
condense() {
  local name=$1 f=$2; shift 2
  [ -f "$f" ] && return 0
  local t0; t0=$(now)
  mpirun -np "$NP" $S condense --set condense.input="$OUT/train.h5" --set condense.output="$f" --set run.threads=1 "$@" \
    >> "$OUT/condense.log" 2>&1
  log_time select "$name" "$t0"
}
for spec in $METHODS; do
  m=${spec%%:*}; rule=top; [ "$m" = "$spec" ] || rule=${spec#*:}
  tag=$m; [ "$m" = "$spec" ] || tag=$m-$rule
  src=""
  case $m in
    random) ;;
    kcenter|herding|facility-location) ;;
    forgetting)
      fp=$OUT/proxy-forget
      [ -f "$fp/forgetting.safetensors" ] || { t0=$(now); mpirun -np "$NP" $S train $NET --set data.train="$OUT/train.h5" \
        --set train.steps=$(( EPOCHS * 468 )) --set train.warmup=$(( EPOCHS * 468 / 20 )) --set train.record_forgetting=true \
        --set run.seed=100 --set run.out_dir="$fp" > "$fp.log" 2>&1; log_time proxy proxy-forget "$t0"; }
      src=$OUT/sel/$m-scores.h5
      condense "$m-scores" "$src" --set condense.method=$m --set condense.keep=0.1 \
        --set condense.forgetting_from="$fp/forgetting.safetensors" --set run.seed=1 ;;
    *)  # score once under both proxies; every rule, keep and seed reuses the scores
      src=$OUT/sel/$m-scores.h5
      condense "$m-scores" "$src" --set condense.method=$m --set condense.keep=0.1 $PROXIES --set run.seed=1 ;;
  esac
  for seed in $SEEDS; do
    for keep in $KEEPS; do
      case $m in
        random) f=$OUT/sel/$tag-$keep-s$seed.h5
          condense "$tag-$keep-s$seed" "$f" --set condense.method=random --set condense.keep=$keep --set run.seed=$seed ;;
        herding|facility-location|kcenter)
          # deterministic given the proxy (kcenter: its first centres from
          # run.seed 1): one subset per fraction, the seed varies the training
          f=$OUT/sel/$tag-$keep.h5
          condense "$tag-$keep" "$f" --set condense.method=$m --set condense.keep=$keep $PROXY --set run.seed=1 ;;
        *) f=$OUT/sel/$tag-$keep-s$seed.h5
          condense "$tag-$keep-s$seed" "$f" --set condense.method=$m --set condense.rule=$rule --set condense.keep=$keep \
            --set condense.scores_from="$src" --set run.seed=$seed ;;
      esac
      train "$tag-$keep" "$f" "$seed"
    done
  done
done
[ "${SELECT_ONLY:-0}" = 1 ] || /usr/bin/python3 bench/coreset_table.py "$OUT" "$KEEPS" "$METHODS" $SEEDS
