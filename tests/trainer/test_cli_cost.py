"""`shrink cost` through the CLI on a real corpus (the Fashion-MNIST test set
made by `shrink prepare`): --json gives every figure, consistent with each
other (q1 <= median <= q3, the FLOP ratio of keep 0.25 on the config's ViT
from sk_select_flops' closed form, peak RSS >= the RSS before a step, no
device figures on CPU); the same under mpirun -np 2; bad input exits 2 with
one line naming the flag or key."""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sk_trainer_testlib import mpirun, run  # noqa: E402

shrink = sys.argv[1]
F = "/usr/share/datasets/fashion-mnist"
if not os.path.exists(f"{F}/t10k-images-idx3-ubyte.gz"):
    print("no Fashion-MNIST here")
    sys.exit(77)


def block(n, d=64, r=2):  # sk_select_flops per block
    return 8 * n * d * d + 4 * n * n * d + 4 * r * n * d * d


with tempfile.TemporaryDirectory() as d:
    run([shrink, "prepare", "--set", "prepare.format=idx", "--set", f"prepare.input={F}/t10k-images-idx3-ubyte.gz",
         "--set", f"prepare.labels={F}/t10k-labels-idx1-ubyte.gz", "--set", f"prepare.output={d}/fm.h5"])
    cfg = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "configs", "fmnist-vit.yaml")
    sets = ["--set", f"data.train={d}/fm.h5", "--set", "data.eval=", "--set", "data.eval_fraction=0.1",
            "--set", "data.batch_size=32", "--set", "run.threads=1", "--set", "select.scorer=random",
            "--set", "select.keep=0.25"]
    # 28x28 in 4x4 patches: 49 + the class token; keep 0.25 keeps ceil(12.25) = 13 after layer 1 of 4
    want = 4 * block(50) / (block(50) + 3 * block(14))
    for np_ in (1, 2):
        cmd = [shrink, "cost", "--config", cfg, "--json", "--rounds", "5:40", "--max-seconds", "10"] + sets
        p = run(mpirun(np_, cmd) if np_ > 1 else cmd, timeout=180)
        r = json.loads(p.stdout.strip().splitlines()[-1])
        assert abs(r["flop_ratio"] - want) < 1e-4 * want, (r, want)
        assert r["speedup_q1"] <= r["speedup_median"] <= r["speedup_q3"], r
        assert r["speedup_median"] > 1.0, r
        assert 5 <= r["rounds"] <= 40 and r["ms_full"] > r["ms_compressed"] > 0, r
        assert r["rss_full"] >= r["rss_base"] > 0 and r["rss_compressed"] >= r["rss_base"], r
        assert r["dev_full"] == -1 and r["dev_compressed"] == -1, r
    # text output names the figures
    p = run([shrink, "cost", "--config", cfg, "--rounds", "3:3"] + sets, timeout=120)
    assert "measured speedup" in p.stdout and "analytic FLOP ratio" in p.stdout, p.stdout
    for bad, key in ((["--set", "select.scorer=none"], "select.scorer"), (["--rounds", "2"], "--rounds"),
                     (["--spread", "0"], "--spread"), (["--frobnicate"], "--frobnicate"),
                     (["--set", "data.batch_size=0"], "data.batch_size")):
        p = run([shrink, "cost", "--config", cfg] + sets + bad, check=False)
        assert p.returncode == 2 and key in p.stderr, (bad, p.returncode, p.stderr)
print("ok")
