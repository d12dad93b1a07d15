"""bench/run_distill_eval.sh with configs/distill-eval-fmnist.yaml, reduced
(2 epochs, a narrow ConvNet): a 40-image subset of the Fashion-MNIST test
set trained over 2 seeds and evaluated on all 10 000 test images; the
printed accuracies are the runs' summary.json values and their mean ± sd;
each run used SGD, the step schedule and DSA as the config says; a missing
corpus is an error naming it."""
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sk_trainer_testlib import ENV, run  # noqa: E402

shrink = sys.argv[1]
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
script = os.path.join(root, "bench", "run_distill_eval.sh")
F = "/usr/share/datasets/fashion-mnist"
if not os.path.exists(f"{F}/t10k-images-idx3-ubyte.gz"):
    print("no Fashion-MNIST here")
    sys.exit(77)
with tempfile.TemporaryDirectory() as d:
    env = dict(ENV, SHRINK=shrink, TEST=f"{d}/test.h5", EPOCHS="2",
               EXTRA="--set model.width=8 --set model.depth=2 --set run.threads=1")
    # the script makes the test corpus itself; the set under evaluation: 40 random test images
    p = subprocess.run([script, f"{d}/none.h5", f"{d}/out", "1"], capture_output=True, text=True, env=env)
    assert p.returncode != 0 and "none.h5" in p.stderr, p.stderr
    run([shrink, "prepare", "--set", "prepare.format=idx", "--set", f"prepare.input={F}/t10k-images-idx3-ubyte.gz",
         "--set", f"prepare.labels={F}/t10k-labels-idx1-ubyte.gz", "--set", f"prepare.output={d}/test.h5"])
    run([shrink, "condense", "--set", "condense.method=random", "--set", f"condense.input={d}/test.h5", "--set",
         f"condense.output={d}/set.h5", "--set", "condense.keep=0.004", "--set", "run.seed=3"])
    p = run([script, f"{d}/set.h5", f"{d}/out", "1", "2"], env=env, timeout=600)
    assert "40 images, batch 40, 2 steps" in p.stderr, p.stderr
    accs = []
    for s in (1, 2):
        j = json.load(open(f"{d}/out/seed-{s}/summary.json"))
        assert j["steps"] == 2, j
        accs.append(100 * j["eval_acc"])
        m = re.search(rf"seed {s}: test accuracy ([0-9.]+)%", p.stdout)
        assert m and abs(float(m.group(1)) - accs[-1]) < 0.006, (p.stdout, accs)
        ck = [x for x in os.listdir(f"{d}/out/seed-{s}/ckpt") if x.startswith("step-")]
        cfg = json.load(open(f"{d}/out/seed-{s}/ckpt/{ck[0]}/state.json"))["config"]
        t = cfg["train"]
        assert (t["optimizer"], t["lr_schedule"], t["dsa"], t["lr"], t["momentum"], t["weight_decay"], t["clip"]) == \
            ("sgd", "step", True, 0.01, 0.9, 0.0005, 0.0), t
        assert cfg["model"]["norm"] == "instance" and cfg["model"]["pooling"] == "avg", cfg["model"]
        lrs = [json.loads(l)["lr"] for l in open(f"{d}/out/seed-{s}/metrics.jsonl") if '"lr"' in l]
        assert len(lrs) == 2 and abs(lrs[0] - 0.01) < 1e-12 and abs(lrs[1] - 0.001) < 1e-12, lrs
    m = re.search(r"over 2 runs: ([0-9.]+) ± ([0-9.]+)", p.stdout)
    assert m, p.stdout
    assert abs(float(m.group(1)) - statistics.mean(accs)) < 0.006
    assert abs(float(m.group(2)) - statistics.stdev(accs)) < 0.006
print("run_distill_eval.sh: protocol config, per-seed accuracies, mean ± sd")
