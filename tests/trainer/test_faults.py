"""Bad input and faults: NaN loss names the step and the tensors; a dying
rank takes the job down instead of hanging; bad config values stop the job
before any work."""
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sk_trainer_testlib import ENV, TINY_VIT, mpirun, run  # noqa: E402

drv = sys.argv[1]
with tempfile.TemporaryDirectory() as d:
    # NaN: the first parameter is poisoned at step 3
    p = run([drv, f"out={d}/nan", "train.steps=6"] + TINY_VIT, env=dict(ENV, SK_FAULT_NAN_STEP="3"), check=False)
    assert p.returncode != 0
    assert "step 3: training loss is nan" in p.stderr, p.stderr
    assert "non-finite parameters: patch_embed.proj.weight" in p.stderr, p.stderr
    # the same under MPI: the job exits non-zero with the message
    p = run(mpirun(2, [drv, f"out={d}/nan2", "train.steps=6"] + TINY_VIT), env=dict(ENV, SK_FAULT_NAN_STEP="3"),
            check=False, timeout=90)
    assert p.returncode != 0 and "step 3: training loss is nan" in p.stderr, p.stderr

    # a rank dies (SIGKILL) at step 3: the job must end, non-zero, well within the timeout
    t0 = time.time()
    p = run(mpirun(2, [drv, f"out={d}/die", "train.steps=200"] + TINY_VIT),
            env=dict(ENV, SK_FAULT_RANK_EXIT="1:3"), check=False, timeout=90)
    assert p.returncode != 0, p.returncode
    assert time.time() - t0 < 60
    assert not os.path.exists(f"{d}/die/model.safetensors")

    # bad config values are rejected before anything is created
    for bad, key in [("model.heads=3", "model.heads"), ("data.batch_size=15", "data.batch_size"),
                     ("train.lr=-1", "train.lr"), ("model.patch=5", "model.patch"),
                     ("model.arch=rnn", "model.arch")]:
        p = run(mpirun(2, [drv, f"out={d}/bad", "train.steps=5"] + TINY_VIT + [bad]), check=False, timeout=90)
        assert p.returncode != 0 and key in p.stderr, (bad, p.stderr)
        assert not os.path.exists(f"{d}/bad/metrics.jsonl"), bad
print("ok")
