"""Safetensors written by the trainer are readable without the safetensors
package: parse by hand (header JSON + raw little-endian bytes via numpy),
compare to the values C wrote, load into torch."""
import json
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sk_trainer_testlib import TINY_VIT, read_safetensors, run  # noqa: E402

drv = sys.argv[1]
writer = os.path.join(os.path.dirname(drv), "sk_st_writer")
with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "known.safetensors")
    want = json.loads(run([writer, path]).stdout)
    meta, got = read_safetensors(path)
    assert meta == {"format": "pt"}, meta
    assert set(got) == set(want), (got.keys(), want.keys())
    assert got["layer.weight"].shape == (3, 4) and got["layer.weight"].dtype == np.float32
    np.testing.assert_array_equal(got["layer.weight"].ravel(), np.array(want["layer.weight"], np.float32))
    np.testing.assert_array_equal(got["layer.bias"], np.array(want["layer.bias"], np.float32))
    np.testing.assert_array_equal(got["idx"], np.array(want["idx"], np.int64))
    # the C values are what numpy computes for the same formulas
    np.testing.assert_allclose(got["layer.weight"].ravel(), np.sin(np.arange(12)).astype(np.float32), rtol=1e-6)

    # a trained model's weights load into torch under the model's names
    out = os.path.join(d, "run")
    run([drv, f"out={out}", "train.steps=3"] + TINY_VIT)
    meta, w = read_safetensors(os.path.join(out, "model.safetensors"))
    import torch
    sd = {k: torch.from_numpy(v.copy()) for k, v in w.items()}
    assert sd["patch_embed.proj.weight"].shape == (32, 16), sd["patch_embed.proj.weight"].shape
    assert sd["blocks.1.attn.qkv.weight"].shape == (96, 32)
    assert sd["head.weight"].shape == (4, 32)
    assert all(torch.isfinite(t).all() for t in sd.values())
    # the checkpoint holds the same weights plus optimizer moments
    ck = os.path.join(out, "ckpt", "step-00000003")
    _, w2 = read_safetensors(os.path.join(ck, "model.safetensors"))
    for k in w:
        np.testing.assert_array_equal(w[k], w2[k])
    ometa, opt = read_safetensors(os.path.join(ck, "optim.safetensors"))
    assert ometa["adamw_step"] == "3", ometa
    assert set(opt) == {k + s for k in w for s in (".exp_avg", ".exp_avg_sq", ".step")}
    # every parameter had a gradient in each of the 3 steps: its own count is 3
    assert all(opt[k + ".step"].dtype == np.int64 and opt[k + ".step"].tolist() == [3] for k in w), opt
    state = json.load(open(os.path.join(ck, "state.json")))
    assert state["step"] == 3 and state["world"] == 1 and state["config"]["model"]["width"] == 32, state
    summary = json.load(open(os.path.join(out, "summary.json")))  # valid JSON: NaN metrics are null
    assert summary["steps"] == 3 and summary["eval_bpb"] is None and 0 <= summary["eval_acc"] <= 1, summary
    recs = [json.loads(l) for l in open(os.path.join(out, "metrics.jsonl"))]
    steps = [r for r in recs if "loss" in r]
    assert [r["step"] for r in steps] == [1, 2, 3]
    assert all(k in steps[0] for k in ("loss", "lr", "tokens", "tokens_kept", "step_time")), steps[0]
    # linear warmup (train.warmup=2, train.lr=3e-3), then the cosine starts at the peak
    lrs = [r["lr"] for r in steps]
    assert abs(lrs[0] - 1.5e-3) < 1e-9 and abs(lrs[1] - 3e-3) < 1e-9 and abs(lrs[2] - 3e-3) < 1e-9, lrs
print("ok")
