"""data.prune=infobatch in the training loop (trainer/sk_infobatch.h):
2-rank runs killed mid-epoch and at an epoch boundary resume to
bit-identical weights, scores and skip counts; the skip counts per epoch
agree at 1, 2 and 3 ranks with the same global batch (the scores agree to
float rounding: per-rank batch shapes change the losses' last bits, so a
bit-identical kept sequence across rank counts holds only while no score
sits within rounding of the mean); bad data.prune values."""
import glob
import json
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sk_trainer_testlib import ENV, TINY_VIT, mpirun, read_safetensors, run  # noqa: E402

drv = sys.argv[1]


def same_bytes(a, b):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return fa.read() == fb.read()


def records(out):
    return [json.loads(l) for l in open(f"{out}/metrics.jsonl") if '"loss"' in l]


def last_ckpt(out):
    return read_safetensors(sorted(glob.glob(f"{out}/ckpt/step-*/model.safetensors"))[-1])[1]


with tempfile.TemporaryDirectory() as d:
    # 512 training samples, 32 full steps per epoch; 3 epochs, all pruned (delta 1)
    common = ["train.steps=96", "train.ckpt_every=1", "train.keep_last=2", "data.prune=infobatch",
              "data.prune_delta=1.0"] + TINY_VIT
    run(mpirun(2, [drv, f"out={d}/a"] + common))
    ra = records(f"{d}/a")
    sa = json.load(open(f"{d}/a/summary.json"))["prune"]
    skipped = [r["samples_skipped"] for r in ra]
    epochs = [r["epoch"] for r in ra]
    assert epochs[0] == 0 and epochs[-1] == 2, epochs
    assert skipped[31] == 0 and skipped[-1] > 0, skipped  # epoch 0 is full (every score starts at 3.0)
    assert len(ra) < 96 and sa["samples_skipped"] == skipped[-1], (len(ra), sa)
    assert sa["samples_trained"] == len(ra) * 16 and sa["epochs"] == 3, sa
    # time: measured loop wall and CPU (summed over ranks), per-step means, the skipped steps' projection
    su = json.load(open(f"{d}/a/summary.json"))
    threads = 1  # TINY_VIT: run.threads=1 per rank (plus the loader's prefetch thread and MPI's)
    assert su["seconds"] > 0 and 0 < su["cpu_seconds_max_rank"] <= su["cpu_seconds"], su
    assert su["cpu_seconds"] <= su["seconds"] * 2 * (threads + 2) + 1, su  # 2 ranks, their threads, slack
    assert sa["steps"] == len(ra) and sa["steps_skipped"] == 96 - len(ra) > 0, sa
    assert 0 < sa["step_seconds"] and sa["step_seconds"] * len(ra) <= su["seconds"], (sa, su)
    assert 0 < sa["step_cpu_seconds"] and sa["step_cpu_seconds"] * len(ra) <= su["cpu_seconds"], (sa, su)
    assert abs(sa["wall_seconds_saved_projected"] - sa["step_seconds"] * sa["steps_skipped"]) < 1e-4, sa
    assert abs(sa["cpu_seconds_saved_projected"] - sa["step_cpu_seconds"] * sa["steps_skipped"]) < 1e-4, sa
    assert abs(sa["full_seconds_projected"] - su["seconds"] - sa["wall_seconds_saved_projected"]) < 1e-3, sa
    ct = [r["cpu_time"] for r in ra]
    assert all(c > 0 for c in ct) and abs(sum(ct) / len(ct) - sa["step_cpu_seconds"]) < 1e-4, sa
    # lr follows epoch progress: the last step's lr is near min_lr as in a full 96-step run
    assert ra[-1]["lr"] < 2e-4, ra[-1]["lr"]

    for kill in ("1:32", "0:45"):  # at the epoch boundary (next batch starts epoch 1), and mid epoch 1
        out = f"{d}/k{kill[0]}"
        p = run(mpirun(2, [drv, f"out={out}"] + common), env=dict(ENV, SK_FAULT_RANK_EXIT=kill), check=False)
        assert p.returncode != 0
        assert not os.path.exists(f"{out}/model.safetensors")
        run(mpirun(2, [drv, f"out={out}", f"resume={out}/ckpt"] + common))
        assert same_bytes(f"{d}/a/model.safetensors", f"{out}/model.safetensors"), f"resume after {kill} differs"
        assert [r["samples_skipped"] for r in records(out)] == skipped, kill
        wa, wb = last_ckpt(f"{d}/a"), last_ckpt(out)
        for k in ("infobatch.scores", "infobatch.epoch_scores", "infobatch.state"):
            assert np.array_equal(wa[k], wb[k]), (kill, k)

    # 1, 2, 3 ranks, global batch 24: the same skip counts per epoch, scores equal to rounding
    c3 = ["train.steps=63", "data.prune=infobatch", "data.batch_size=24"] + [a for a in TINY_VIT if "batch_size" not in a]
    per = {}
    for n in (1, 2, 3):
        run(mpirun(n, [drv, f"out={d}/r{n}"] + c3))
        per[n] = ([r["samples_skipped"] for r in records(f"{d}/r{n}")], last_ckpt(f"{d}/r{n}"))
    for n in (2, 3):
        assert per[n][0] == per[1][0], (n, per[n][0][-1], per[1][0][-1])
        np.testing.assert_allclose(per[n][1]["infobatch.scores"], per[1][1]["infobatch.scores"], atol=1e-4)

    # the GPT (unigram pass over the training split after training) and a token selector (its timing batch)
    from sk_trainer_testlib import TINY_GPT  # noqa: E402
    run([drv, f"out={d}/g", "train.steps=64", "data.prune=infobatch"] + TINY_GPT)
    assert json.load(open(f"{d}/g/summary.json"))["prune"]["samples_skipped"] > 0
    run([drv, f"out={d}/s", "train.steps=64", "data.prune=infobatch", "select.scorer=random", "select.strategy=prune",
         "select.keep=0.5"] + TINY_VIT)
    assert json.load(open(f"{d}/s/summary.json"))["measured_speedup"] is not None

    # resuming an unpruned checkpoint with pruning fails naming the key and both values
    p = run([drv, f"out={d}/x", "train.steps=4"] + TINY_VIT)
    p = run([drv, f"out={d}/x", f"resume={d}/x/ckpt", "train.steps=8", "data.prune=infobatch"] + TINY_VIT,
            check=False)
    assert p.returncode != 0 and 'data.prune: checkpoint "none", this run "infobatch"' in p.stderr, p.stderr

    # bad values: one line naming the key, nothing written
    for arg, key in [("data.prune=infobatch2", "data.prune"), ("data.prune_ratio=1.0", "data.prune_ratio"),
                     ("data.prune_ratio=-0.5", "data.prune_ratio"), ("data.prune_delta=2", "data.prune_delta")]:
        p = run([drv, f"out={d}/bad", arg, "train.steps=2"] + TINY_VIT, check=False)
        assert p.returncode != 0 and key in p.stderr, (arg, p.stderr)
        assert not os.path.exists(f"{d}/bad/model.safetensors"), arg
print("ok")
