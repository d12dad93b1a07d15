"""`shrink ablate` end to end on a Fashion-MNIST test-set corpus with a tiny
ViT: two disjoint slices of one grid run as separate processes at once and
are merged with --report; the baselines are added; a re-run skips finished
cells; a cell whose record is gone resumes from its checkpoint; a changed
base config is refused; the epochs budget over a condensed corpus; groups
of ranks under mpirun -np 2 and 3 (ablate.ranks_per_cell); a cell that
fails at its start recorded while the others go on; a cell refused by the
pre-flight on every rank; a group size that does not divide the world
refused.
usage: test_ablate.py SHRINK [mpi]"""
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile

ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMP_NUM_THREADS="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")
shrink = sys.argv[1]
mode = sys.argv[2] if len(sys.argv) > 2 else "slices"
F = "/usr/share/datasets/fashion-mnist"
if not os.path.exists(f"{F}/t10k-images-idx3-ubyte.gz"):
    print("no Fashion-MNIST here")
    sys.exit(77)

CONFIG = """run: {threads: 1}
data: {train: %(d)s/fm.h5, eval: "", eval_fraction: 0.1, batch_size: 24}
model: {arch: vit, patch: 7, width: 32, depth: 2, heads: 2, mlp_ratio: 2, pool: cls}
train: {steps: 6, warmup: 2, eval_batches: 2, ckpt_every: 3, keep_last: 2, lr: 3.0e-3}
select: {layers: [1]}
ablate:
  methods: "tome/merge"
  keep: [0.5]
  seeds: [1, 2]
  out_dir: %(d)s/out
  cost_seconds: 0.5
"""


def run(args, check=True, timeout=300):
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=ENV)
    if check and p.returncode != 0:
        sys.stderr.write(p.stdout + p.stderr)
        raise SystemExit(f"command failed ({p.returncode}): {' '.join(args)}")
    return p


def rows(out):
    with open(f"{out}/results.csv") as f:
        return list(csv.DictReader(f))


with tempfile.TemporaryDirectory() as d:
    run([shrink, "prepare", "--set", "prepare.format=idx", "--set", f"prepare.input={F}/t10k-images-idx3-ubyte.gz",
         "--set", f"prepare.labels={F}/t10k-labels-idx1-ubyte.gz", "--set", f"prepare.output={d}/fm.h5"])
    cfg = f"{d}/ablate.yaml"
    open(cfg, "w").write(CONFIG % {"d": d})
    out = f"{d}/out"
    if mode == "mpi":
        # 2 ranks in 2 groups of 1, 3 ranks in 3 groups, 2 ranks in one group of 2
        for np_, g, sub in ((2, 1, "g2"), (3, 1, "g3"), (2, 2, "one")):
            o = f"{d}/{sub}"
            p = run(["mpirun", "-np", str(np_), shrink, "ablate", "--config", cfg, "--set", f"ablate.out_dir={o}",
                     "--set", f"ablate.ranks_per_cell={g}", "--cells", "0:3"])
            assert f"in {np_ // g} group" in p.stdout, p.stdout
            got = rows(o)
            assert len(got) == 3, got
            assert all(int(r["ranks"]) == g for r in got), got
            starts = [ln for ln in p.stderr.splitlines() if " starts: " in ln]
            assert sorted(ln.split()[2] for ln in starts) == ["0", "1", "2"], starts  # each cell once
        # the same cells on 1 rank and in groups of 1: the same results (same seed, init, data order)
        a = {r["id"]: r["eval_loss"] for r in rows(f"{d}/g2")}
        b = {r["id"]: r["eval_loss"] for r in rows(f"{d}/g3")}
        assert a == b, (a, b)
        # a cell that fails when it starts, past the pre-flight (its run directory is a file: a filesystem
        # fault, not a config one), is recorded beside it, the other group goes on, the command exits 1
        # without hanging
        os.makedirs(f"{d}/fail/cells/000-tome-merge-k0.5-s1")
        open(f"{d}/fail/cells/000-tome-merge-k0.5-s1/run", "w").write("not a directory\n")
        p = run(["mpirun", "-np", "2", shrink, "ablate", "--config", cfg, "--set", f"ablate.out_dir={d}/fail",
                 "--set", "ablate.ranks_per_cell=1", "--set", "ablate.seeds=[1]", "--set", "ablate.cost=false"],
                check=False, timeout=120)
        assert p.returncode == 1 and "1 cell failed" in p.stderr, p.stderr
        err = open(f"{d}/fail/cells/000-tome-merge-k0.5-s1/error.txt").read()
        assert "Not a directory" in err, err
        assert len(rows(f"{d}/fail")) == 2  # none and random/merge
        # a cell's config that fails the pre-flight (a frozen scorer whose checkpoint is missing, in the
        # second cell of the grid) stops every rank with exit 2 before any cell starts
        p = run(["mpirun", "-np", "2", shrink, "ablate", "--config", cfg, "--set", f"ablate.out_dir={d}/pre",
                 "--set", "ablate.ranks_per_cell=1", "--set", "ablate.methods=none, frozen/prune", "--set",
                 "select.checkpoint=/nonexistent.safetensors", "--set", "ablate.seeds=[1]"], check=False,
                timeout=120)
        assert p.returncode == 2 and "cell 001-frozen-prune-k0.5-s1: " in p.stderr and \
            "select.checkpoint: /nonexistent.safetensors" in p.stderr, p.stderr
        assert " starts: " not in p.stderr and not os.path.exists(f"{d}/pre"), p.stderr
        p = run(["mpirun", "-np", "3", shrink, "ablate", "--config", cfg, "--set", f"ablate.out_dir={d}/bad",
                 "--set", "ablate.ranks_per_cell=2"], check=False)
        assert p.returncode != 0 and "ablate.ranks_per_cell = 2 does not divide the 3 ranks" in p.stderr, p.stderr
        assert not os.path.exists(f"{d}/bad")
        print("ok")
        sys.exit(0)

    # two disjoint slices as separate processes, at the same time, then merged
    procs = [subprocess.Popen([shrink, "ablate", "--config", cfg, "--cells", s], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=ENV) for s in ("0:3", "3:")]
    logs = [p.communicate(timeout=300) for p in procs]
    for p, (o, e) in zip(procs, logs):
        assert p.returncode == 0, o + e
    assert "added 'none'" in logs[0][1] and "added 'random/merge'" in logs[0][1], logs[0][1]
    plan = json.load(open(f"{out}/plan.json"))
    ids = [c["id"] for c in plan["cells"]]
    assert len(ids) == 6, ids
    assert sum(" starts: " in ln for o, e in logs for ln in e.splitlines()) == 6
    p = run([shrink, "ablate", "--report", out])
    got = rows(out)
    assert [r["id"] for r in got] == ids, got
    assert {r["method"] for r in got} == {"tome/merge", "none", "random/merge"}
    for r in got:
        assert int(r["steps"]) == 6 and int(r["samples"]) == 6 * 24, r
        assert 0 <= float(r["eval_acc"]) <= 1, r
        if r["method"] != "none":
            assert float(r["flop_ratio"]) > 1, r
            q1, med, q3 = float(r["speedup_q1"]), float(r["speedup_median"]), float(r["speedup_q3"])
            assert q1 <= med <= q3, r
            assert int(r["rss_full"]) > 0 and int(r["rss_base"]) > 0, r
    # the uncompressed cells of one seed start from the same init as the compressed ones: same first loss
    m0 = [json.loads(ln) for ln in open(f"{out}/cells/{ids[0]}/run/metrics.jsonl")][0]
    m1 = [json.loads(ln) for ln in open(f"{out}/cells/{ids[1]}/run/metrics.jsonl")][0]
    assert m0["tokens"] == m1["tokens"], (m0, m1)  # same batches
    table = open(f"{out}/table.md").read()
    assert "| tome/merge | - | 0.5 |" in table and "(random)" in table, table
    for png in ("quality_vs_keep", "quality_vs_time", "memory_vs_keep"):
        b = open(f"{out}/plots/{png}.png", "rb").read(8)
        assert b == b"\x89PNG\r\n\x1a\n", png

    # a re-run skips every finished cell
    p = run([shrink, "ablate", "--config", cfg])
    assert " starts: " not in p.stderr and " resumes: " not in p.stderr, p.stderr
    # a cell killed after its checkpoint (record gone, checkpoint there) resumes
    before = got[2]
    os.remove(f"{out}/cells/{ids[2]}/cell.json")
    shutil.rmtree(f"{out}/cells/{ids[2]}/run/ckpt/step-00000006")
    p = run([shrink, "ablate", "--config", cfg])
    assert f"cell 2 resumes: {ids[2]}" in p.stderr, p.stderr
    after = rows(out)[2]
    assert after["eval_loss"] == before["eval_loss"] and after["loss"] == before["loss"], (before, after)
    # ... and one killed after its final checkpoint keeps the quality that run reached
    before = rows(out)[3]
    os.remove(f"{out}/cells/{ids[3]}/cell.json")
    p = run([shrink, "ablate", "--config", cfg])
    assert f"cell 3 resumes: {ids[3]}" in p.stderr, p.stderr
    assert abs(float(rows(out)[3]["eval_loss"]) - float(before["eval_loss"])) < 1e-5, (before, rows(out)[3])
    # a changed base config is refused, --force accepts it and reruns the changed cells
    p = run([shrink, "ablate", "--config", cfg, "--set", "train.lr=1e-3"], check=False)
    assert p.returncode == 2 and "different base config" in p.stderr and "--force" in p.stderr, p.stderr
    p = run([shrink, "ablate", "--config", cfg, "--set", "train.lr=1e-3", "--cells", "0:1", "--force"])
    assert "cell 0 starts" in p.stderr, p.stderr

    # epochs budget with a condensed corpus: half the rows, half the steps; the corpus is made once
    o2 = f"{d}/cd"
    sets = ["--set", f"ablate.out_dir={o2}", "--set", "ablate.methods=condense:random", "--set", "ablate.budget=epochs",
            "--set", "ablate.epochs=0.04", "--set", "ablate.seeds=[1]", "--set", "ablate.condense_keep=[0.5]"]
    p = run([shrink, "ablate", "--config", cfg] + sets)
    assert p.stderr.count("condensing ") == 1, p.stderr
    got = {r["method"]: r for r in rows(o2)}
    assert set(got) == {"condense:random", "none"}, got
    assert int(got["none"]["steps"]) == 15 and int(got["condense:random"]["steps"]) == 8, got  # ceil(.04*9000/24)
print("ok")
