"""Token selectors inside training, end to end through the trainer's driver:
every wired scorer x strategy trains with a finite loss on fewer tokens, the
learned scorer's parameters are trained and checkpointed, the run summary
states the FLOP ratio next to the measured speedup, and a run with random
selection that is killed and resumed ends with byte-identical weights."""
import json
import math
import os
import signal
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sk_trainer_testlib import ENV, TINY_GPT, TINY_VIT, mpirun, read_safetensors, run  # noqa: E402

drv = sys.argv[1]


def steps_of(out):
    return [json.loads(l) for l in open(f"{out}/metrics.jsonl") if '"loss"' in l]


def same_bytes(a, b):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return fa.read() == fb.read()


# (name, model args, select args); the selector applies at layer 1
CASES = [
    ("random/prune", TINY_VIT, ["select.scorer=random", "select.strategy=prune", "select.keep=0.5"]),
    ("tome/merge", TINY_VIT, ["select.scorer=tome", "select.strategy=merge", "select.keep=0.5"]),
    ("attn-cls/prune", TINY_VIT, ["select.scorer=attn-cls", "select.strategy=prune", "select.keep=0.5"]),
    ("learned/prune", TINY_VIT, ["select.scorer=learned", "select.strategy=prune", "select.keep=0.5"]),
    ("random/prune-threshold", TINY_VIT, ["select.scorer=random", "select.strategy=prune-threshold",
                                          "select.tau=0.5"]),
    ("random-ltd/drop-restore", TINY_GPT + ["model.depth=3"],
     ["select.scorer=random-ltd", "select.strategy=drop-restore", "select.keep=0.5", "select.restore_layer=2"]),
]

with tempfile.TemporaryDirectory() as d:
    for i, (name, model, sel) in enumerate(CASES):
        out = f"{d}/case{i}"
        run([drv, f"out={out}", "train.steps=3", "train.ckpt_every=1", "train.keep_last=3"] + model + sel)
        recs = steps_of(out)
        assert len(recs) == 3, (name, recs)
        for r in recs:
            assert math.isfinite(r["loss"]), (name, r)
            lt = r["layer_tokens"]
            # select.layers = [1]: block 1 sees fewer (real) tokens than block 0
            assert lt[1] < lt[0], (name, lt)
            assert r["flops"] < r["flops_full"], (name, r)
        if name.endswith("drop-restore"):  # the dropped tokens are back for the last block
            assert recs[-1]["layer_tokens"][2] == recs[-1]["layer_tokens"][0], recs[-1]
        if not name.endswith("prune-threshold"):  # threshold pads to the longest sample
            assert recs[-1]["tokens_kept"] < recs[-1]["tokens"], (name, recs[-1])
        s = json.load(open(f"{out}/summary.json"))
        for k in ("flop_ratio", "measured_speedup", "step_time_select", "step_time_full"):
            assert isinstance(s[k], float) and math.isfinite(s[k]) and s[k] > 0, (name, k, s)
        assert s["flop_ratio"] > 1.0, (name, s)
        assert abs(s["measured_speedup"] - s["step_time_full"] / s["step_time_select"]) < 1e-3 * s["measured_speedup"]
        if name.startswith("learned"):
            _, w1 = read_safetensors(f"{out}/ckpt/step-00000002/model.safetensors")
            _, w2 = read_safetensors(f"{out}/ckpt/step-00000003/model.safetensors")
            names = sorted(k for k in w1 if k.startswith("selector.learned.l1."))
            assert len(names) == 6, sorted(w1)
            changed = [k for k in names if not np.array_equal(w1[k], w2[k])]
            assert len(changed) == 6, f"learned scorer params not all updated by a step: {changed}"
            _, o1 = read_safetensors(f"{out}/ckpt/step-00000003/optim.safetensors")
            assert any(k.startswith("selector.learned.l1.w1") for k in o1), sorted(o1)[:8]
            _, fin = read_safetensors(f"{out}/model.safetensors")
            assert all(k in fin for k in names)

    # the learned scorer's aux loss is part of the training loss: only
    # select.budget_weight differs, so the first step's loss differs
    lw = []
    for bw in ("0", "100"):
        run([drv, f"out={d}/bw{bw}", "train.steps=1", "select.scorer=learned", "select.strategy=prune",
             "select.keep=0.5", f"select.budget_weight={bw}"] + TINY_VIT + ["train.warmup=1"])
        lw.append(steps_of(f"{d}/bw{bw}")[0]["loss"])
    assert lw[1] > lw[0], lw

    # frozen on text: a GPT trained by shrink is the proxy LM whose
    # next-token loss picks the positions that go through the middle block
    proxy = f"{d}/proxy"
    run([drv, f"out={proxy}", "train.steps=20"] + TINY_GPT)
    fz = TINY_GPT + ["model.depth=3", "select.scorer=frozen", "select.strategy=drop-restore", "select.keep=0.5",
                     "select.restore_layer=2", f"select.checkpoint={proxy}/model.safetensors"]
    run([drv, f"out={d}/fz", "train.steps=3"] + fz)
    recs = steps_of(f"{d}/fz")
    assert len(recs) == 3 and all(math.isfinite(r["loss"]) for r in recs), recs
    lt = recs[-1]["layer_tokens"]
    assert lt[1] < lt[0] and lt[2] == lt[0], lt
    fmeta, fw = read_safetensors(f"{d}/fz/model.safetensors")
    assert not any(k.startswith("selector.") for k in fw), sorted(fw)  # the proxy is not trained or saved
    # the step's FLOPs are the blocks' on the tokens each saw (x3: forward +
    # backward) plus the proxy's forward, from both files' architecture metadata
    pmeta, _ = read_safetensors(f"{proxy}/model.safetensors")
    g = lambda m, k: int(m["shrink.gpt." + k])
    T, D, H = g(fmeta, "seq_len"), g(fmeta, "width"), g(fmeta, "mlp_hidden")
    main = 3 * sum(8 * n * D * D + 4 * n * n * D + 4 * n * D * H for n in recs[-1]["layer_tokens_padded"])
    Dp, Hp = g(pmeta, "width"), g(pmeta, "mlp_hidden")
    prox = g(pmeta, "depth") * (8 * T * Dp * Dp + 4 * T * T * Dp + 4 * T * Dp * Hp) + 2 * T * Dp * g(pmeta, "vocab")
    assert abs(recs[-1]["flops"] - (main + prox)) <= 1e-5 * (main + prox), (recs[-1]["flops"], main, prox)
    full = 3 * g(fmeta, "depth") * (8 * T * D * D + 4 * T * T * D + 4 * T * D * H)
    assert abs(recs[-1]["flops_full"] - full) <= 1e-5 * full
    s = json.load(open(f"{d}/fz/summary.json"))
    assert abs(s["flop_ratio"] - full / (main + prox)) < 1e-4 * s["flop_ratio"], s
    # files that cannot serve as a proxy: clear one-line errors naming them
    for bad, want in ((f"{d}/fz/nope.safetensors", "nope.safetensors"),
                      (f"{d}/case0/model.safetensors", "no GPT architecture metadata")):
        p = run([drv, f"out={d}/fzbad", "train.steps=2"] + fz + [f"select.checkpoint={bad}"], check=False)
        assert p.returncode != 0 and want in p.stderr, (p.returncode, p.stderr[-500:])
    p = run([drv, f"out={d}/fzbad", "train.steps=2"] + fz + ["data.seq_len=32"], check=False)
    assert p.returncode != 0 and "data.seq_len = 32" in p.stderr, p.stderr[-500:]

    # no selector: the speedup fields are there, and null
    run([drv, f"out={d}/none", "train.steps=2"] + TINY_VIT)
    s = json.load(open(f"{d}/none/summary.json"))
    assert s["flop_ratio"] is None and s["measured_speedup"] is None, s
    assert "layer_tokens" not in steps_of(f"{d}/none")[0]

    # resume with random selection (and the learned scorer) is bit-identical:
    # stop by SIGKILL at step 5, resume from the step-5 checkpoint
    for sel in (["select.scorer=random", "select.strategy=prune", "select.keep=0.5", "train.accum=2"],
                ["select.scorer=learned", "select.strategy=prune", "select.keep=0.5"]):
        tag = sel[0].split("=")[1]
        common = ["train.steps=8", "train.ckpt_every=1", "train.keep_last=2"] + TINY_VIT + sel
        run([drv, f"out={d}/{tag}a"] + common)
        p = run([drv, f"out={d}/{tag}b"] + common, env=dict(ENV, SK_FAULT_RANK_EXIT="0:5"), check=False)
        assert p.returncode == -signal.SIGKILL, p.returncode
        run([drv, f"out={d}/{tag}b", f"resume={d}/{tag}b/ckpt"] + common)
        assert same_bytes(f"{d}/{tag}a/model.safetensors", f"{d}/{tag}b/model.safetensors"), f"{tag} resume differs"
        la = [r["loss"] for r in steps_of(f"{d}/{tag}a")]
        lb = [r["loss"] for r in steps_of(f"{d}/{tag}b")]
        assert la == lb, (tag, la, lb)
        # the draw really is random: another seed selects differently
        run([drv, f"out={d}/{tag}c", "seed=99"] + common)
        assert not same_bytes(f"{d}/{tag}a/model.safetensors", f"{d}/{tag}c/model.safetensors")

    # 2 ranks with the learned scorer (its params are in the DDP list): a
    # 2-rank run killed on rank 1 and resumed equals the uninterrupted one
    common = ["train.steps=4", "train.ckpt_every=1", "train.keep_last=2", "select.scorer=learned",
              "select.strategy=prune", "select.keep=0.5"] + TINY_VIT
    run(mpirun(2, [drv, f"out={d}/m2a"] + common), timeout=180)
    p = run(mpirun(2, [drv, f"out={d}/m2b"] + common), env=dict(ENV, SK_FAULT_RANK_EXIT="1:3"), check=False,
            timeout=180)
    assert p.returncode != 0
    run(mpirun(2, [drv, f"out={d}/m2b", f"resume={d}/m2b/ckpt"] + common), timeout=180)
    assert same_bytes(f"{d}/m2a/model.safetensors", f"{d}/m2b/model.safetensors"), "2-rank learned resume differs"
print("ok")
