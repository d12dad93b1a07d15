"""test_malloc_keep.py SHRINK WORKDIR - run.malloc_keep (cli/sk_cli.c) does
what it is for and nothing else: a dm distillation whose activations are
larger than glibc's mmap threshold (ConvNet-3 width 64, 256 real images a
class: ~51 MB a layer) takes far fewer minor page faults with it than
without, since freed tensors' pages are reused instead of mapped and
faulted in again every step, and the images it makes are the same bit for
bit. Page faults are counted by the kernel (wait4's rusage), not timed."""
import os
import subprocess
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "condense"))
from cd_harness import check, failures, sets  # noqa: E402

SHRINK, WORK = sys.argv[1], sys.argv[2]
FM = "/usr/share/datasets/fashion-mnist"
os.makedirs(WORK, exist_ok=True)


def faults(args):
    """Minor page faults of one shrink run (os.wait4 on the child)."""
    log = os.path.join(WORK, "stderr.txt")
    with open(log, "w") as err:
        p = subprocess.Popen([SHRINK] + args, stdout=subprocess.DEVNULL, stderr=err)
        _, status, ru = os.wait4(p.pid, 0)
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        raise SystemExit(f"FAILED: shrink {' '.join(args)}\n{open(log).read()}")
    return ru.ru_minflt


src = os.path.join(WORK, "fm-test.h5")
if not os.path.exists(src):
    subprocess.run([SHRINK, "prepare"] + sets({"prepare.format": "idx",
                                               "prepare.input": f"{FM}/t10k-images-idx3-ubyte.gz",
                                               "prepare.labels": f"{FM}/t10k-labels-idx1-ubyte.gz",
                                               "prepare.output": src}), check=True, capture_output=True)
base = {"condense.method": "dm", "condense.input": src, "condense.ipc": 2, "condense.iterations": 2,
        "condense.batch_real": 256, "condense.overwrite": "true", "model.arch": "convnet", "model.width": 64,
        "model.depth": 3, "run.threads": 1}
got, x = {}, {}
for keep in ("false", "true"):
    out = os.path.join(WORK, f"dm-keep-{keep}.h5")
    got[keep] = faults(["condense"] + sets(dict(base, **{"condense.output": out, "run.malloc_keep": keep})))
    with h5py.File(out, "r") as f:
        x[keep] = f["samples"][()]
    print(f"run.malloc_keep={keep}: {got[keep]} minor page faults")
check(got["true"] * 3 < got["false"],
      f"run.malloc_keep=true takes under a third of false's page faults ({got['true']} vs {got['false']})")
check(np.array_equal(x["true"], x["false"]), "run.malloc_keep changes no image")
if failures:
    sys.exit(f"{len(failures)} check(s) failed")
print("ok")
