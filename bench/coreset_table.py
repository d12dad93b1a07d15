"""coreset_table.py OUT KEEPS METHODS SEED... - the tables of
bench/run_coreset_fmnist.sh (docs/RESULTS.md) from OUT/run-*/summary.json
and OUT/times.tsv. Rows or cells not run yet are marked "not run"; a cell
with fewer seeds than asked says how many it has."""
import json
import os
import statistics as st
import sys

out, keeps, methods, seeds = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), sys.argv[4:]
times = {}
for line in open(f"{out}/times.tsv"):
    kind, name, sec = line.rstrip("\n").split("\t")
    times[(kind, name)] = float(sec)


def runs(name):
    got = []
    for s in seeds:
        f = f"{out}/run-{name}-s{s}/summary.json"
        if os.path.exists(f):
            got.append((s, json.load(open(f))))
    return got


def msd(xs, fmt="{:.2f}"):
    if not xs:
        return "not run"
    sd = st.stdev(xs) if len(xs) > 1 else float("nan")
    tail = "" if len(xs) == len(seeds) else f" (n={len(xs)})"
    return f"{fmt.format(st.mean(xs))} ± {fmt.format(sd)}{tail}"


def tag(spec):
    m, _, rule = spec.partition(":")
    return (m, f"{m}-{rule}" if rule else m, f"{m} ({rule})" if rule else m)


full = runs("full")
fa = [100 * j["eval_acc"] for _, j in full]
print(f"Test accuracy (%), mean ± sd over seeds {' '.join(seeds)}:\n")
print("| method | " + " | ".join(f"{float(k) * 100:.0f}%" for k in keeps) + " |")
print("|---|" + "---|" * len(keeps))
print("| full data (100%) | " + " | ".join([msd(fa)] * len(keeps)) + " |")
for spec in methods:
    m, t, label = tag(spec)
    print(f"| {label} | " + " | ".join(msd([100 * j["eval_acc"] for _, j in runs(f"{t}-{k}")]) for k in keeps) + " |")

print("\nTraining loop seconds per run (summary.json `seconds`, mean over seeds; "
      "full data: " + msd([j["seconds"] for _, j in full], "{:.0f}") + ") and selection seconds "
      "(wall time of `shrink condense`; score methods: the scoring run once, then each pick from the stored scores):\n")
print("| method | " + " | ".join(f"train {float(k) * 100:.0f}%" for k in keeps) + " | scoring once | pick per subset |")
print("|---|" + "---|" * (len(keeps) + 2))
for spec in methods:
    m, t, label = tag(spec)
    tr = []
    for k in keeps:
        r = runs(f"{t}-{k}")
        tr.append(f"{st.mean(j['seconds'] for _, j in r):.0f}" if r else "not run")
    score = times.get(("select", f"{m}-scores"))
    picks = [v for (kind, n), v in times.items() if kind == "select" and n.startswith(f"{t}-") and not n.endswith("-scores")]
    sc = "-" if score is None else f"{score:.1f}"
    pk = f"{min(picks):.1f}-{max(picks):.1f}" if picks else "-"
    print(f"| {label} | " + " | ".join(tr) + f" | {sc} | {pk} |")
prox = {n: v for (kind, n), v in times.items() if kind == "proxy"}
if prox:
    print("\nProxy training wall seconds: " + ", ".join(f"{n} {v:.0f}" for n, v in sorted(prox.items())))

ib = runs("infobatch")
if ib:
    print("\nInfoBatch (data.prune=infobatch, r 0.5, delta 0.875) vs full data, interleaved per seed "
          "(wall: loop seconds; CPU: the loop's process CPU seconds summed over ranks, both measured; "
          "projected: the summary's mean step time x steps skipped):\n")
    print("| seed | full acc | infobatch acc | full loop s | infobatch loop s | wall ratio ib/full | full CPU s "
          "| infobatch CPU s | CPU ratio ib/full | steps ib/full | median step s full / ib "
          "| median step CPU s full / ib | samples skipped | projected saving |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    fj = dict(full)
    ratios, cratios = [], []

    def med_step(name, s, key):
        v = [json.loads(l).get(key) for l in open(f"{out}/run-{name}-s{s}/metrics.jsonl") if '"step_time"' in l]
        v = [x for x in v if x is not None]
        return f"{st.median(v):.3f}" if v else "-"

    def cpu(j):
        return j.get("cpu_seconds")
    for s, j in ib:
        if s not in fj:
            continue
        f = fj[s]
        ratio = j["seconds"] / f["seconds"]
        ratios.append(ratio)
        cr = cpu(j) / cpu(f) if cpu(j) and cpu(f) else None
        if cr is not None:
            cratios.append(cr)
        p = j.get("prune", {})
        proj = p.get("wall_seconds_saved_projected", p.get("wall_seconds_saved")), p.get("full_seconds_projected")
        pj = f"{proj[0]:.0f} s of {proj[1]:.0f} s" if None not in proj else "-"
        cs = (f"{cpu(f):.1f} | {cpu(j):.1f} | {cr:.3f}" if cr is not None else "- | - | -")
        print(f"| {s} | {100 * f['eval_acc']:.2f} | {100 * j['eval_acc']:.2f} | {f['seconds']:.1f} | {j['seconds']:.1f} | "
              f"{ratio:.3f} | {cs} | {j['steps']}/{f['steps']} = {j['steps'] / f['steps']:.3f} | "
              f"{med_step('full', s, 'step_time')} / {med_step('infobatch', s, 'step_time')} | "
              f"{med_step('full', s, 'cpu_time')} / {med_step('infobatch', s, 'cpu_time')} | "
              f"{p.get('samples_skipped', '-')} | {pj} |")
    ia = [100 * j["eval_acc"] for _, j in ib]

    def rng(r):
        return f"median {st.median(r):.3f} (min {min(r):.3f}, max {max(r):.3f})" if r else "not measured"
    print(f"\naccuracy: full {msd(fa)}, infobatch {msd(ia)}; wall ratio {rng(ratios)}; CPU ratio {rng(cratios)}")
