"""Data parallelism is exact up to float rounding: P ranks with per-rank
batch B/P end with the same parameters as one rank with batch B (and as one
rank with B/2 x 2 accumulation micro-steps), for the ViT and the GPT, after
several AdamW steps. Real mpirun."""
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "trainer"))
from sk_trainer_testlib import TINY_GPT, TINY_VIT, mpirun, read_safetensors, run  # noqa: E402

drv = sys.argv[1]
with tempfile.TemporaryDirectory() as d:
    for name, cfg in (("vit", TINY_VIT), ("gpt", TINY_GPT)):
        common = cfg + ["train.steps=6", "data.batch_size=16", "train.warmup=1", "train.bucket_mb=0.01"]
        run([drv, f"out={d}/{name}1"] + common)
        run(mpirun(2, [drv, f"out={d}/{name}2"] + common), timeout=120)
        run([drv, f"out={d}/{name}acc", "train.accum=2"] + common)
        _, w1 = read_safetensors(f"{d}/{name}1/model.safetensors")
        _, w0 = read_safetensors(f"{d}/{name}1/ckpt/step-00000006/model.safetensors")
        _, w2 = read_safetensors(f"{d}/{name}2/model.safetensors")
        _, wa = read_safetensors(f"{d}/{name}acc/model.safetensors")
        assert set(w1) == set(w2)
        moved = 0.0
        for k in w1:
            np.testing.assert_allclose(w2[k], w1[k], rtol=1e-4, atol=2e-5, err_msg=f"{name} 2 ranks: {k}")
            np.testing.assert_allclose(wa[k], w1[k], rtol=1e-4, atol=2e-5, err_msg=f"{name} accum: {k}")
        # the comparison is not vacuous: training moved the weights far more than the tolerance
        run([drv, f"out={d}/{name}init"] + common + ["train.steps=1", "train.lr=1e-12", "train.min_lr=0",
                                                      "train.warmup=0"])
        _, init = read_safetensors(f"{d}/{name}init/model.safetensors")
        moved = max(float(np.abs(w1[k] - init[k]).max()) for k in w1)
        assert moved > 1e-2, moved
        assert np.array_equal(w0[next(iter(w0))], w1[next(iter(w1))])
print("ok")
