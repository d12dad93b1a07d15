#!/usr/bin/env bash
# run_ablation.sh - a grid of token selectors x seeds through `shrink train`,
# each run on the same config, data order and step count, then one table of
# quality next to the measured speedup (summary.json of every run).
#
#   bench/run_ablation.sh CONFIG OUT SEEDS SPEC... [-- --set KEY=VALUE ...]
#
#   CONFIG  a shrink train config (configs/*.yaml)
#   OUT     output root: OUT/<spec>-s<seed>/ per run, OUT/table.md at the end
#   SEEDS   comma-separated run seeds, e.g. 1,2,3
#   SPEC    none | scorer/strategy/keep, e.g. random/prune/0.5, tome/merge/0.5
#   after --: --set options applied to every run (select.layers, select.checkpoint, ...)
#
# Environment: SHRINK (default build/cli/shrink), NP (ranks, default 2).
# Runs go one after another; every row of the table is the mean (and the
# spread, with more than one seed) over its seeds. The measured speedup is
# the trainer's own side-by-side forward+backward timing with and without
# the selector (summary.json), so it does not depend on how loaded the
# machine was between runs; the loop seconds do.
set -euo pipefail
[ $# -ge 4 ] || { sed -n 2,19p "$0" >&2; exit 2; }
config=$1 out=$2 seeds=$3
shift 3
specs=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do specs+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
common=("$@")
shrink=${SHRINK:-build/cli/shrink}
np=${NP:-2}
[ -x "$shrink" ] || { echo "run_ablation: $shrink not built" >&2; exit 2; }
[ -f "$config" ] || { echo "run_ablation: $config: no such config" >&2; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
mkdir -p "$out"
IFS=, read -r -a seedv <<<"$seeds"
for spec in "${specs[@]}"; do
  if [ "$spec" = none ]; then
    sel=(--set select.scorer=none)
  else
    IFS=/ read -r sc st kp <<<"$spec"
    [ -n "${kp:-}" ] || { echo "run_ablation: spec '$spec' is not none or scorer/strategy/keep" >&2; exit 2; }
    sel=(--set "select.scorer=$sc" --set "select.strategy=$st" --set "select.keep=$kp")
  fi
  for seed in "${seedv[@]}"; do
    dir="$out/${spec//\//-}-s$seed"
    echo "run_ablation: $spec seed $seed -> $dir" >&2
    mpirun -np "$np" "$shrink" train --config "$config" --set "run.out_dir=$dir" --set "run.seed=$seed" \
      "${sel[@]}" "${common[@]}" >"$dir.log" 2>&1 || { echo "run_ablation: $spec seed $seed failed, see $dir.log" >&2; exit 1; }
  done
done
python3 - "$out" "$seeds" "${specs[@]}" <<'EOF'
import json, math, os, statistics, sys
out, seeds, specs = sys.argv[1], sys.argv[2].split(","), sys.argv[3:]
rows = []
for spec in specs:
    runs = [json.load(open(os.path.join(out, f"{spec.replace('/', '-')}-s{s}", "summary.json"))) for s in seeds]
    def col(k):
        v = [r[k] for r in runs if r.get(k) is not None]
        if not v:
            return "-"
        m = statistics.mean(v)
        return f"{m:.4f}" + (f" ± {statistics.stdev(v):.4f}" if len(v) > 1 else "")
    metric = "eval_acc" if runs[0]["arch"] == "vit" else "eval_bpb"
    kept = statistics.mean(r["tokens_kept"] / r["tokens"] for r in runs)
    rows.append((spec, col(metric), f"{kept:.3f}", col("flop_ratio"), col("measured_speedup"), col("seconds")))
head = ["selector", "eval accuracy" if runs[0]["arch"] == "vit" else "eval bits/byte", "tokens kept / in",
        "FLOP ratio", "measured fwd+bwd speedup", "loop seconds"]
lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(r) + " |" for r in rows]
text = f"seeds {','.join(seeds)}; mean ± sd over seeds\n\n" + "\n".join(lines) + "\n"
open(os.path.join(out, "table.md"), "w").write(text)
print(text)
EOF
