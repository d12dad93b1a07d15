"""sk_train_run trains a tiny ConvNet (model.arch=convnet) on 2 ranks:
the loss falls, eval accuracy beats chance, the saved weights carry the
ConvNet's parameter names, every norm x pooling choice runs, a [select]
section is refused naming the model and leaves no output behind."""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sk_trainer_testlib import mpirun, read_safetensors, run  # noqa: E402

drv = sys.argv[1]
TINY_CNN = ["data=synth:images", "model.arch=convnet", "model.width=8", "model.depth=2", "data.batch_size=16",
            "train.lr=3e-3", "train.warmup=2", "data.eval_fraction=0.2", "train.eval_batches=2", "threads=1"]

with tempfile.TemporaryDirectory() as d:
    run(mpirun(2, [drv, f"out={d}/a", "train.steps=30"] + TINY_CNN), timeout=300)
    recs = [json.loads(l) for l in open(f"{d}/a/metrics.jsonl")]
    losses = [r["loss"] for r in recs if "loss" in r]
    assert len(losses) == 30, len(losses)
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < 0.5 * first, f"loss did not fall: first 5 steps {first:.4f}, last 5 {last:.4f}"
    summary = json.load(open(f"{d}/a/summary.json"))
    assert summary["arch"] == "convnet" and summary["eval_acc"] > 0.5, summary  # 4 classes: chance is 0.25
    _, t = read_safetensors(f"{d}/a/model.safetensors")
    want = {f"features.{i}.{m}.{p}" for i in range(2) for m in ("conv", "norm") for p in ("weight", "bias")}
    assert set(t) == want | {"classifier.weight", "classifier.bias"}, sorted(t)
    assert t["features.1.conv.weight"].shape == (8, 8, 3, 3), t["features.1.conv.weight"].shape

    # every norm and pooling choice trains a few steps (1 rank)
    for norm in ("instance", "batch", "none"):
        for pool in ("avg", "max", "none"):
            out = f"{d}/{norm}-{pool}"
            run([drv, f"out={out}", "train.steps=3", f"model.norm={norm}", f"model.pooling={pool}"] + TINY_CNN)
            s = json.load(open(f"{out}/summary.json"))
            assert s["steps"] == 3 and s["eval_acc"] == s["eval_acc"], (norm, pool, s)

    # token selection needs a token sequence: refused, naming the model; nothing written
    p = run([drv, f"out={d}/sel", "train.steps=3", "select.scorer=random"] + TINY_CNN, check=False)
    assert p.returncode != 0 and "convnet" in p.stderr and "select" in p.stderr, p.stderr
    assert not os.path.exists(f"{d}/sel/model.safetensors"), os.listdir(f"{d}/sel")
print("convnet training: loss falls, 9 norm x pooling runs, select refused")
