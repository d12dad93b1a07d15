"""train.dsa: a tiny ConvNet trained with DSA on every training batch
(trainer/sk_dsa.h): the loss falls, the weights differ from the same run
without DSA, two runs are bit-identical, a run killed and resumed is
bit-identical (the draws come from the checkpointed generator), 2 ranks
train; a token corpus and a bad strategy are refused naming the key, with
nothing written."""
import json
import os
import signal
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sk_trainer_testlib import ENV, TINY_GPT, mpirun, read_safetensors, run  # noqa: E402

drv = sys.argv[1]
CNN = ["data=synth:images", "model.arch=convnet", "model.width=8", "model.depth=2", "data.batch_size=16",
       "train.lr=3e-3", "train.warmup=2", "data.eval_fraction=0.2", "train.eval_batches=2", "threads=1",
       "train.steps=30"]
DSA = CNN + ["train.dsa=true"]


def same_bytes(a, b):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return fa.read() == fb.read()


with tempfile.TemporaryDirectory() as d:
    run([drv, f"out={d}/plain"] + CNN)
    run([drv, f"out={d}/a"] + DSA)
    run([drv, f"out={d}/b"] + DSA)
    assert same_bytes(f"{d}/a/model.safetensors", f"{d}/b/model.safetensors"), "two DSA runs differ"
    _, w0 = read_safetensors(f"{d}/plain/model.safetensors")
    _, w1 = read_safetensors(f"{d}/a/model.safetensors")
    assert any(not np.array_equal(w0[k], w1[k]) for k in w0), "DSA changed nothing"
    losses = [json.loads(l)["loss"] for l in open(f"{d}/a/metrics.jsonl") if '"loss"' in l]
    assert len(losses) == 30 and all(np.isfinite(losses)), losses
    assert sum(losses[-5:]) < 0.8 * sum(losses[:5]), f"loss did not fall with DSA: {losses}"
    s = json.load(open(f"{d}/a/summary.json"))
    assert s["eval_acc"] > 0.4, s  # 4 classes: chance is 0.25
    # one family per batch: a single family (flip) also trains, differently from the whole strategy
    run([drv, f"out={d}/flip", "train.dsa_strategy=flip"] + DSA)
    _, w2 = read_safetensors(f"{d}/flip/model.safetensors")
    assert any(not np.array_equal(w1[k], w2[k]) for k in w1)

    # killed at step 12 and resumed: bit-identical
    ck = DSA + ["train.ckpt_every=1", "train.keep_last=2"]
    run([drv, f"out={d}/r1"] + ck)
    p = run([drv, f"out={d}/r2"] + ck, env=dict(ENV, SK_FAULT_RANK_EXIT="0:12"), check=False)
    assert p.returncode == -signal.SIGKILL, p.returncode
    run([drv, f"out={d}/r2", f"resume={d}/r2/ckpt"] + ck)
    assert same_bytes(f"{d}/r1/model.safetensors", f"{d}/r2/model.safetensors"), "DSA resume differs"

    # 2 ranks (each augments its shard)
    run(mpirun(2, [drv, f"out={d}/m"] + DSA), timeout=300)
    assert json.load(open(f"{d}/m/summary.json"))["steps"] == 30

    # bad input: a token corpus, an unknown family
    p = run([drv, f"out={d}/tok", "train.steps=3", "train.dsa=true"] + TINY_GPT, check=False)
    assert p.returncode != 0 and "train.dsa" in p.stderr and "token" in p.stderr, p.stderr
    assert not os.path.exists(f"{d}/tok/model.safetensors")
    p = run([drv, f"out={d}/bad", "train.dsa_strategy=color_blur"] + DSA, check=False)
    assert p.returncode != 0 and "train.dsa_strategy" in p.stderr and '"blur"' in p.stderr, p.stderr
    assert not os.path.exists(f"{d}/bad/model.safetensors")
print("train.dsa: trains, deterministic, resumes bit-identically, 2 ranks, bad input refused")
