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


def splitmix64(x):
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9e3779b97f4a7c15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xbf58476d1ce4e5b9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94d049bb133111eb)
        return z ^ (z >> np.uint64(31))


def ref_rule(s, rule, keep, balance, seed, labels, beta=0.1, strata=50):
    """condense.rule (sk_condense_score.c) in numpy: the kept row indices."""
    s = s.astype(np.float32)
    idx = np.arange(len(s))
    groups = [idx[labels == k] for k in range(int(labels.max()) + 1)] if balance else [idx]
    kept = []
    with np.errstate(over="ignore"):
        rkey = splitmix64(np.uint64(seed) ^ (idx.astype(np.uint64) * np.uint64(0x9e3779b97f4a7c15)))
    for gi in groups:
        w = want(keep, len(gi))
        if rule in ("top", "bottom"):
            order = np.lexsort((gi, -s[gi] if rule == "top" else s[gi]))
            kept += list(gi[order[:w]])
            continue
        if rule == "ccs":
            order = np.lexsort((gi, -s[gi]))
            gi = np.sort(gi[order[int(np.floor(beta * len(gi))):]])
        sv = s[gi].astype(np.float64)
        lo, hi = sv.min(), sv.max()
        step = (hi * 1.0001 - lo) / strata
        b = np.floor((sv - lo) / step).astype(np.int64) if step > 0 else np.zeros(len(gi), np.int64)
        b = np.clip(b, 0, strata - 1)
        size = np.bincount(b, minlength=strata)
        budget, left = np.zeros(strata, np.int64), w
        for i, k in enumerate(np.lexsort((np.arange(strata), size))):
            cur = min(size[k], left // (strata - i))
            budget[k] = cur
            left -= cur
        for k in range(strata):
            pool = gi[b == k]
            kept += list(pool[np.lexsort((pool, rkey[pool]))][:budget[k]])
    return np.sort(np.array(kept, dtype=np.int64))


def ref_scores(z, y):
    """The logit scores of sk_condense_logit_score in numpy: logits z [rows, classes], labels y."""
    lse = z.max(1) + np.log(np.exp(z - z.max(1, keepdims=True)).sum(1))
    lp = z - lse[:, None]
    p = np.exp(lp)
    oh = np.eye(z.shape[1])[y]
    ps = np.sort(p, 1)
    return {"loss": lse - z[np.arange(len(y)), y], "el2n": np.sqrt(((p - oh) ** 2).sum(1)),
            "entropy": -(p * lp).sum(1), "margin": 1 - (ps[:, -1] - ps[:, -2]), "least-confidence": 1 - ps[:, -1]}
