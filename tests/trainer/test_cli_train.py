"""`shrink train` end to end through the CLI on a real corpus and the real
loader: a Fashion-MNIST test-set corpus made by `shrink prepare`, a 2-rank
run, a 2-rank run whose rank 1 is SIGKILLed at step 4 then resumed with
--resume: bit-identical weights; and a bad --set value stops before work.
The killed run goes through sk_train_driver (same config file and keys),
whose per-step callback does the kill: the CLI has no fault injection."""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sk_trainer_testlib import ENV, mpirun, run  # noqa: E402

shrink, drv = sys.argv[1], sys.argv[2]
F = "/usr/share/datasets/fashion-mnist"
if not os.path.exists(f"{F}/t10k-images-idx3-ubyte.gz"):
    print("no Fashion-MNIST here")
    sys.exit(77)
with tempfile.TemporaryDirectory() as d:
    run([shrink, "prepare", "--set", "prepare.format=idx", "--set", f"prepare.input={F}/t10k-images-idx3-ubyte.gz",
         "--set", f"prepare.labels={F}/t10k-labels-idx1-ubyte.gz", "--set", f"prepare.output={d}/fm.h5"])
    cfg = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "configs", "fmnist-vit.yaml")
    sets = ["--set", f"data.train={d}/fm.h5", "--set", "data.eval=", "--set", "data.eval_fraction=0.1",
            "--set", "train.steps=6", "--set", "train.warmup=2", "--set", "data.batch_size=32", "--set",
            "train.eval_batches=2", "--set", "train.ckpt_every=1", "--set", "model.depth=2", "--set", "run.threads=1"]
    run(mpirun(2, [shrink, "train", "--config", cfg, "--set", f"run.out_dir={d}/a"] + sets), timeout=120)
    p = run(mpirun(2, [drv, f"config={cfg}", f"run.out_dir={d}/b"] + [a for a in sets if a != "--set"]),
            env=dict(ENV, SK_FAULT_RANK_EXIT="1:4"), check=False, timeout=120)
    assert p.returncode != 0
    assert not os.path.exists(f"{d}/b/model.safetensors")
    run(mpirun(2, [shrink, "train", "--config", cfg, "--set", f"run.out_dir={d}/b", "--resume", f"{d}/b/ckpt"]
               + sets), timeout=120)
    a = open(f"{d}/a/model.safetensors", "rb").read()
    b = open(f"{d}/b/model.safetensors", "rb").read()
    assert a == b, "resume through the CLI and the corpus loader is not bit-identical"
    p = run([shrink, "train", "--config", cfg, "--set", f"run.out_dir={d}/c", "--set", "model.heads=5"] + sets[:2],
            check=False)
    assert p.returncode != 0 and "model.heads" in p.stderr, p.stderr
    assert not os.path.exists(f"{d}/c")
    # data.prune=infobatch with a separate data.eval corpus (the eval check reads one
    # training batch, then seeks back in the pruned epoch's order), 2 epochs of 9 steps
    run([shrink, "condense", "--set", "condense.method=random", "--set", f"condense.input={d}/fm.h5",
         "--set", "condense.keep=0.03", "--set", f"condense.output={d}/fm300.h5"])
    ib = [a if not a.startswith("data.train=") else f"data.train={d}/fm300.h5" for a in sets]
    ib = [a if a != "data.eval=" else f"data.eval={d}/fm300.h5" for a in ib]
    ib = [a if a != "train.steps=6" else "train.steps=18" for a in ib]
    run(mpirun(2, [shrink, "train", "--config", cfg, "--set", f"run.out_dir={d}/ib", "--set", "data.prune=infobatch",
                   "--set", "data.prune_delta=1.0"] + ib), timeout=120)
    s = json.load(open(f"{d}/ib/summary.json"))
    assert s["prune"]["epochs"] == 2 and s["prune"]["samples_skipped"] > 0 and s["eval_acc"] == s["eval_acc"], s
print("ok")
