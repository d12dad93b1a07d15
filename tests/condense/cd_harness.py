"""cd_harness.py - what the `shrink condense` tests share: running shrink
(under mpirun for more than one rank), --set lists, non-fatal checks, and
sk_pick_want's rounding."""
import os
import subprocess

import numpy as np

ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")
failures = []


def run(exe, args, np_=1, ok=True, timeout=600):
    """exe args under mpirun -np np_ (plain for one rank); exits on failure when ok."""
    cmd = (["mpirun", "-np", str(np_)] if np_ > 1 else []) + [exe] + args
    p = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=timeout)
    if ok and p.returncode != 0:
        raise SystemExit(f"FAILED: {' '.join(cmd)}\n{p.stdout}\n{p.stderr}")
    return p


def sets(kv):
    out = []
    for k, v in kv.items():
        out += ["--set", f"{k}={v}"]
    return out


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def want(keep, count):
    """sk_pick_want: round half up, at least one of a non-empty group."""
    return 0 if count == 0 else min(count, max(1, int(np.floor(keep * count + 0.5))))
