"""`shrink ablate` bad input: every case exits 2 with one line naming the
cell and key (or the spec), before the first cell starts: nothing is made
under ablate.out_dir. usage: test_ablate_badinput.py SHRINK"""
import os
import subprocess
import sys
import tempfile

ENV = dict(os.environ, OMP_NUM_THREADS="1")
shrink = sys.argv[1]
F = "/usr/share/datasets/fashion-mnist"
if not os.path.exists(f"{F}/t10k-images-idx3-ubyte.gz"):
    print("no Fashion-MNIST here")
    sys.exit(77)

CONFIG = """data: {train: %(d)s/fm.h5, eval: "", eval_fraction: 0.1, batch_size: 24}
model: {arch: vit, patch: 7, width: 32, depth: 2, heads: 2, mlp_ratio: 2}
train: {steps: 6, warmup: 2}
ablate: {methods: "tome/merge", keep: [0.5], seeds: [1], out_dir: %(d)s/out}
"""
failures = []
with tempfile.TemporaryDirectory() as d:
    subprocess.run([shrink, "prepare", "--set", "prepare.format=idx", "--set",
                    f"prepare.input={F}/t10k-images-idx3-ubyte.gz", "--set",
                    f"prepare.labels={F}/t10k-labels-idx1-ubyte.gz", "--set", f"prepare.output={d}/fm.h5"],
                   check=True, capture_output=True, env=ENV)
    cfg = f"{d}/a.yaml"
    open(cfg, "w").write(CONFIG % {"d": d})
    open(f"{d}/bad-base.yaml", "w").write("train: {steps: 0}\n")
    cases = [
        ("unknown scorer", ["--set", "ablate.methods=tome/merge, tomee/merge"],
         "ablate.methods: 'tomee/merge': scorer: 'tomee' is not one of"),
        ("unknown strategy", ["--set", "ablate.methods=tome/mrege"], "strategy: 'mrege'"),
        ("unknown condense method", ["--set", "ablate.methods=condense:kcentre"],
         "condense method: 'kcentre' is not one of"),
        ("malformed spec", ["--set", "ablate.methods=tome"], "'tome' is not none, SCORER/STRATEGY"),
        ("empty grid", ["--set", "ablate.methods="], "ablate.methods is empty"),
        ("no seeds", ["--set", "ablate.seeds=[]"], "ablate.seeds is empty"),
        ("no keep", ["--set", "ablate.keep=[]"], "ablate.keep is empty"),
        ("duplicate", ["--set", "ablate.methods=none, none"], "'none' is listed twice"),
        ("base config invalid", ["--set", "train.warmup=9"], "base config: train.warmup = 9"),
        ("ablate.base file invalid", ["--set", f"ablate.base={d}/bad-base.yaml"], "bad-base.yaml:1"),
        ("ablate.base missing", ["--set", f"ablate.base={d}/nope.yaml"], "nope.yaml"),
        ("a cell invalid", ["--set", "ablate.grid=train.warmup=2|8"], "cell 001-tome-merge-k0.5-8-s1: train.warmup = 8"),
        ("a cell's --set value invalid", ["--set", "ablate.grid=model.heads=2|x"],
         "cell 001-tome-merge-k0.5-x-s1: --set model.heads=x"),
        ("axis not a key", ["--set", "ablate.grid=train.lrr=1|2"], "unknown key 'train.lrr'"),
        ("axis on the seed", ["--set", "ablate.grid=run.seed=1|2"], "run.seed is ablate.seeds' axis"),
        ("batch not divisible in a cell", ["--set", "ablate.grid=data.batch_size=24|0"], "data.batch_size"),
        ("missing corpus", ["--set", f"data.train={d}/none.h5"], "cell 000-tome-merge-k0.5-s1: data.train"),
        ("bad slice", ["--cells", "2:1"], "--cells 2:1"),
        ("slice past the end", ["--cells", "0:99"], "the grid has cells 0 to 2"),
        ("bad keep", ["--set", "ablate.keep=[0]"], "ablate.keep[0]"),
        ("bad budget", ["--set", "ablate.budget=tokens"], "ablate.budget"),
    ]
    for name, args, want in cases:
        p = subprocess.run([shrink, "ablate", "--config", cfg] + args, capture_output=True, text=True, env=ENV,
                           timeout=60)
        line = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ""
        if p.returncode != 2 or want not in line or os.path.exists(f"{d}/out"):
            failures.append(f"{name}: rc {p.returncode}, stderr {p.stderr.strip()!r}, out_dir made: "
                            f"{os.path.exists(f'{d}/out')}")
    p = subprocess.run([shrink, "ablate", "--report", f"{d}/nowhere"], capture_output=True, text=True, env=ENV)
    if p.returncode == 0 or "plan.json" not in p.stderr:
        failures.append(f"--report of a missing dir: rc {p.returncode} {p.stderr!r}")
    p = subprocess.run([shrink, "ablate", "--report", d, "--config", cfg], capture_output=True, text=True, env=ENV)
    if p.returncode != 2:
        failures.append(f"--report with --config: rc {p.returncode}")
if failures:
    print("\n".join(failures))
    sys.exit(1)
print("ok")
