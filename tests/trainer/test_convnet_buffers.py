"""A batch-norm ConvNet's running statistics (buffers, not parameters)
travel with the model: the final model.safetensors and every checkpoint
hold them under PyTorch's state_dict names (the optimizer state does not),
a run killed and resumed ends bit-identical to an uninterrupted one (1 and
2 ranks), and under mpirun -np 2 every rank holds rank 0's statistics at
the start of each step (the broadcast PyTorch's DDP does with
broadcast_buffers=True)."""
import os
import signal
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sk_trainer_testlib import ENV, mpirun, read_safetensors, run  # noqa: E402

drv = sys.argv[1]
BN_CNN = ["data=synth:images", "model.arch=convnet", "model.width=8", "model.depth=2", "model.norm=batch",
          "data.batch_size=16", "train.lr=3e-3", "train.warmup=2", "data.eval_fraction=0.2", "train.eval_batches=2",
          "threads=1"]
BUFS = {f"features.{i}.norm.running_{s}" for i in range(2) for s in ("mean", "var")}


def same_bytes(a, b):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return fa.read() == fb.read()


with tempfile.TemporaryDirectory() as d:
    # 1 rank: uninterrupted vs killed at step 5 and resumed from its checkpoint
    common = ["train.steps=8", "train.ckpt_every=1", "train.keep_last=2"] + BN_CNN
    run([drv, f"out={d}/a"] + common)
    _, t = read_safetensors(f"{d}/a/model.safetensors")
    assert BUFS <= set(t), sorted(t)
    for i in range(2):  # trained statistics, not the initial mean 0 / variance 1
        assert np.abs(t[f"features.{i}.norm.running_mean"]).max() > 1e-3, i
        assert np.abs(t[f"features.{i}.norm.running_var"] - 1).max() > 1e-3, i
    _, ck = read_safetensors(f"{d}/a/ckpt/step-00000008/model.safetensors")
    assert BUFS <= set(ck), sorted(ck)
    for k in BUFS:
        assert np.array_equal(ck[k], t[k]), k
    _, opt = read_safetensors(f"{d}/a/ckpt/step-00000008/optim.safetensors")
    assert not [k for k in opt if "running" in k], sorted(opt)
    p = run([drv, f"out={d}/b"] + common, env=dict(ENV, SK_FAULT_RANK_EXIT="0:5"), check=False)
    assert p.returncode == -signal.SIGKILL, p.returncode
    run([drv, f"out={d}/b", f"resume={d}/b/ckpt"] + common)
    assert same_bytes(f"{d}/a/model.safetensors", f"{d}/b/model.safetensors"), "1-rank batch-norm resume differs"

    # 2 ranks: each rank dumps its buffers at the start of every step
    common = ["train.steps=5", "train.ckpt_every=1", "train.eval_every=100"] + BN_CNN
    os.makedirs(f"{d}/dump")
    run(mpirun(2, [drv, f"out={d}/m", f"dump_buffers={d}/dump"] + common), timeout=180)
    _, init = read_safetensors(f"{d}/dump/step-0-rank-0.safetensors")
    for s in range(1, 5):
        _, r0 = read_safetensors(f"{d}/dump/step-{s}-rank-0.safetensors")
        _, r1 = read_safetensors(f"{d}/dump/step-{s}-rank-1.safetensors")
        assert set(r0) == BUFS, sorted(r0)
        for k in BUFS:
            assert np.array_equal(r0[k], r1[k]), f"step {s}: rank 1's {k} is not rank 0's"
            assert not np.array_equal(r0[k], init[k]), f"step {s}: {k} never moved"
    # and a 2-rank resume (rank 1 killed at step 3) is bit-identical too
    p = run(mpirun(2, [drv, f"out={d}/n"] + common), env=dict(ENV, SK_FAULT_RANK_EXIT="1:3"), check=False)
    assert p.returncode != 0
    run(mpirun(2, [drv, f"out={d}/n", f"resume={d}/n/ckpt"] + common), timeout=180)
    assert same_bytes(f"{d}/m/model.safetensors", f"{d}/n/model.safetensors"), "2-rank batch-norm resume differs"
print("batch-norm buffers: saved, checkpointed, resumed bit-identically, rank 0's on every rank")
