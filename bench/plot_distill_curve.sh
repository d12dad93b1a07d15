#!/usr/bin/env bash
# plot_distill_curve.sh OUT PNG [series...] - test accuracy against distillation iterations
# from the evaluations bench/run_distill_fmnist.sh left in OUT (OUT/eval-<tag>-ipcI-itN/
# seed-*/summary.json), mean ± sd over the seeds, one line per series "<tag>-ipcI"
# (default: every one found), rendered with gnuplot (pngcairo). Baselines from
# bench/run_distill_baselines.sh (OUT/eval-random-ipcI, eval-herding-ipcI, eval-full) are
# drawn as horizontal lines when present. Writes PNG and PNG's .dat (the numbers plotted).
set -euo pipefail
OUT=${1:?usage: plot_distill_curve.sh OUT PNG [series...]}; PNG=${2:?usage: plot_distill_curve.sh OUT PNG [series...]}
shift 2
DAT=${PNG%.png}.dat
/usr/bin/python3 - "$OUT" "$DAT" "$@" <<'PY' > "$DAT.gp"
import glob, json, os, re, statistics as st, sys
out, dat, want = sys.argv[1], sys.argv[2], sys.argv[3:]
def acc(d):
    a = [100 * json.load(open(f))["eval_acc"] for f in sorted(glob.glob(f"{d}/seed-*/summary.json"))]
    return (st.mean(a), st.stdev(a) if len(a) > 1 else 0.0, len(a)) if a else None
series = {}
for d in glob.glob(f"{out}/eval-*-ipc*-it*"):
    m = re.fullmatch(r"eval-(.+-ipc\d+)-it(\d+)", os.path.basename(d))
    r = acc(d)
    if m and r and (not want or m.group(1) in want): series.setdefault(m.group(1), []).append((int(m.group(2)),) + r)
base = {}
for d in glob.glob(f"{out}/eval-random-ipc*") + glob.glob(f"{out}/eval-herding-ipc*") + glob.glob(f"{out}/eval-full"):
    r = acc(d)
    if r: base[os.path.basename(d)[5:]] = r
names = sorted(series, key=lambda s: (int(s.rsplit("ipc", 1)[1]), s))
with open(dat, "w") as f:
    f.write("# series iterations mean_acc sd runs\n")
    for i, s in enumerate(names):
        f.write(f"# index {i}: {s}\n")
        for p in sorted(series[s]): f.write(f"{s} {p[0]} {p[1]:.3f} {p[2]:.3f} {p[3]}\n")
        f.write("\n\n")
    for b, r in sorted(base.items()): f.write(f"# baseline {b}: {r[0]:.3f} ± {r[1]:.3f} ({r[2]} runs)\n")
xmax = max([p[0] for s in names for p in series[s]] + [1])
print(f'set terminal pngcairo size 1100,600 font ",11"\nset output "{sys.argv[2][:-4]}.png"')
print('set xlabel "distillation iterations"\nset ylabel "test accuracy (%), mean ± sd"\nset key outside right top\nset grid')
print(f'set xrange [-{xmax * 0.03:.1f}:{xmax * 1.05:.1f}]')
plots = [f'"{dat}" index {i} using 2:3:4 with yerrorlines lw 2 title "{s}"' for i, s in enumerate(names)]
plots += [f'{r[0]:.3f} with lines dt 2 title "{b} ({r[0]:.1f}%)"' for b, r in sorted(base.items())]
print("plot " + ", \\\n  ".join(plots))
PY
gnuplot "$DAT.gp"
echo "wrote $PNG ($DAT)"
