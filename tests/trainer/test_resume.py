"""Kill -9 mid-run, resume, and end with bit-identical weights to an
uninterrupted run (same world size, CPU); 1 and 2 ranks; and a resume on a
different world size that finishes with close weights."""
import os
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sk_trainer_testlib import ENV, TINY_GPT, TINY_VIT, mpirun, read_safetensors, run  # noqa: E402

drv = sys.argv[1]


def same_bytes(a, b):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return fa.read() == fb.read()


with tempfile.TemporaryDirectory() as d:
    # 1 rank: uninterrupted vs killed by SIGKILL at step 5 and resumed
    common = ["train.steps=8", "train.ckpt_every=1", "train.keep_last=2"] + TINY_VIT
    run([drv, f"out={d}/a"] + common)
    p = run([drv, f"out={d}/b"] + common, env=dict(ENV, SK_FAULT_RANK_EXIT="0:5"), check=False)
    assert p.returncode == -signal.SIGKILL, p.returncode
    assert not os.path.exists(f"{d}/b/model.safetensors")
    assert sorted(os.listdir(f"{d}/b/ckpt")) == ["step-00000004", "step-00000005"], os.listdir(f"{d}/b/ckpt")
    run([drv, f"out={d}/b", f"resume={d}/b/ckpt"] + common)
    assert same_bytes(f"{d}/a/model.safetensors", f"{d}/b/model.safetensors"), "1-rank resume differs"
    # metrics.jsonl keeps exactly one record per step across the kill
    import json
    steps = [json.loads(l)["step"] for l in open(f"{d}/b/metrics.jsonl") if '"loss"' in l]
    assert steps == list(range(1, 9)), steps
    # the schedule: warmup 2 steps to 3e-3, then cosine towards min_lr 1e-5 over the remaining 6
    import math
    lrs = [json.loads(l)["lr"] for l in open(f"{d}/b/metrics.jsonl") if '"loss"' in l]
    want = [3e-3 * (k + 1) / 2 if k < 2 else 1e-5 + 0.5 * (3e-3 - 1e-5) * (1 + math.cos(math.pi * (k - 2) / 6))
            for k in range(8)]
    assert all(abs(a - b) < 1e-8 for a, b in zip(lrs, want)), (lrs, want)
    assert same_bytes(f"{d}/a/ckpt/step-00000008/optim.safetensors", f"{d}/b/ckpt/step-00000008/optim.safetensors")

    # SGD with momentum and the step schedule: killed at step 5, resumed bit-identically (the momentum
    # buffers are in the checkpoint); lr is 3e-3 for steps 0..3, then 3e-4
    common = ["train.steps=8", "train.ckpt_every=1", "train.keep_last=2", "train.optimizer=sgd",
              "train.lr_schedule=step", "train.warmup=0", "train.momentum=0.9", "train.weight_decay=5e-4"]
    common = TINY_VIT + common  # later keys win: warmup=0 over TINY_VIT's
    run([drv, f"out={d}/s1"] + common)
    p = run([drv, f"out={d}/s2"] + common, env=dict(ENV, SK_FAULT_RANK_EXIT="0:5"), check=False)
    assert p.returncode == -signal.SIGKILL, p.returncode
    run([drv, f"out={d}/s2", f"resume={d}/s2/ckpt"] + common)
    assert same_bytes(f"{d}/s1/model.safetensors", f"{d}/s2/model.safetensors"), "SGD resume differs"
    lrs = [json.loads(l)["lr"] for l in open(f"{d}/s2/metrics.jsonl") if '"loss"' in l]
    assert np.allclose(lrs, [3e-3] * 4 + [3e-4] * 4, rtol=1e-12, atol=0), lrs
    meta, opt = read_safetensors(f"{d}/s2/ckpt/step-00000008/optim.safetensors")
    assert meta.get("optimizer") == "sgd" and opt and all(k.endswith(".momentum_buffer") for k in opt), (meta, list(opt))
    _, w0 = read_safetensors(f"{d}/a/model.safetensors")
    _, w1 = read_safetensors(f"{d}/s1/model.safetensors")
    assert any(not np.array_equal(w0[k], w1[k]) for k in w0), "sgd trained the same weights as adamw"
    # an AdamW checkpoint resumed as SGD: refused, naming both
    p = run([drv, f"out={d}/b", f"resume={d}/b/ckpt"] + common, check=False)
    assert p.returncode != 0 and "holds adamw state" in p.stderr and "train.optimizer is sgd" in p.stderr, p.stderr

    # 1 rank, GPT, killed from outside with kill -9 while it runs
    common = ["train.steps=150", "train.ckpt_every=1", "train.keep_last=2", "model.width=64"] + TINY_GPT
    run([drv, f"out={d}/c"] + common)
    proc = subprocess.Popen([drv, f"out={d}/e"] + common, env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    t0 = time.time()
    while not os.path.exists(f"{d}/e/ckpt/step-00000020") and time.time() - t0 < 60:
        time.sleep(0.002)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    assert not os.path.exists(f"{d}/e/model.safetensors"), "the run finished before the kill"
    run([drv, f"out={d}/e", f"resume={d}/e/ckpt"] + common)
    assert same_bytes(f"{d}/c/model.safetensors", f"{d}/e/model.safetensors"), "kill -9 resume differs"

    # 2 ranks: rank 1 dies at step 4 (the job goes down), resume on 2 ranks
    common = ["train.steps=6", "train.ckpt_every=1"] + TINY_VIT
    run(mpirun(2, [drv, f"out={d}/m"] + common))
    p = run(mpirun(2, [drv, f"out={d}/n"] + common), env=dict(ENV, SK_FAULT_RANK_EXIT="1:4"), check=False)
    assert p.returncode != 0
    run(mpirun(2, [drv, f"out={d}/n", f"resume={d}/n/ckpt"] + common))
    assert same_bytes(f"{d}/m/model.safetensors", f"{d}/n/model.safetensors"), "2-rank resume differs"

    # a 2-rank checkpoint resumed on 1 rank: same data and state, close weights
    p = run(mpirun(2, [drv, f"out={d}/o"] + common), env=dict(ENV, SK_FAULT_RANK_EXIT="0:4"), check=False)
    assert p.returncode != 0
    p = run([drv, f"out={d}/o", f"resume={d}/o/ckpt"] + common)
    assert "not bit-identical" in p.stderr, p.stderr
    _, w1 = read_safetensors(f"{d}/m/model.safetensors")
    _, w2 = read_safetensors(f"{d}/o/model.safetensors")
    for k in w1:
        np.testing.assert_allclose(w1[k], w2[k], rtol=1e-4, atol=1e-5, err_msg=k)
print("ok")
