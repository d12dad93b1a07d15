#!/usr/bin/python3
"""test_geometric.py SHRINK EMBED_DUMP WORK - the geometric condensation
methods (kcenter, herding, facility-location) on a small proxy that `shrink train` makes here.

For each method, with and without class balance: the kept set and the pick
order (/provenance/scores, score "pick_order") are identical at 1, 2 and 3
ranks; per-class counts follow condense.keep; and the pick sequence of each
group equals that of a numpy reference of the same greedy algorithm run on
the embeddings sk_embed_dump writes (same summation orders, so the
comparison is exact). Facility location: lazy greedy re-evaluates fewer
gains than plain greedy, and the picks are the same with the similarities
cached (the default here) and recomputed from broadcast embeddings
(condense.sim_cache_mb 0, at 2 and 3 ranks). Bad input: no condense.proxy,
a token corpus, a missing proxy.
"""
import os
import re
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cd_harness  # noqa: E402
from cd_harness import check, failures, sets  # noqa: E402

SHRINK, DUMP, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
FM = "/usr/share/datasets/fashion-mnist"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.makedirs(WORK, exist_ok=True)
M64 = (1 << 64) - 1
BATCH = 96  # rows per proxy forward: shards split batches differently at 1, 2, 3 ranks


def run(args, np_=1, ok=True, exe=None):
    return cd_harness.run(exe or SHRINK, args, np_, ok)


def condense(name, src, np_, **kv):
    """kept indices, /provenance/scores (or None) and the run's stderr"""
    out = os.path.join(WORK, f"{name}-np{np_}.h5")
    if os.path.exists(out):
        os.remove(out)
    p = run(["condense"] + sets({"condense.input": src, "condense.output": out}) +
            sets({f"condense.{k}": v for k, v in kv.items()}), np_)
    with h5py.File(out, "r") as f:
        sc = f["provenance/scores"][()] if "provenance/scores" in f else None
        return f["provenance/kept_indices"][()], sc, p.stderr


FL_LOG = re.compile(r"(\d+) picks, (\d+) lazy gain re-evaluations after the first pass \(plain greedy: (\d+)\) in "
                    r"(\d+) collective rounds; (\d+) of (\d+) candidates' similarities cached")


# ---- a 1000-sample corpus and a proxy trained on it ---------------------
# Fixtures are reused across runs of this test in the same build folder, so
# their names carry the row count: a build folder left by a version of this
# test with another size must not hand it a stale corpus or proxy.
ROWS = 1000
full = os.path.join(WORK, "fm.h5")
if not os.path.exists(full):
    run(["prepare"] + sets({"prepare.format": "idx", "prepare.input": f"{FM}/t10k-images-idx3-ubyte.gz",
                            "prepare.labels": f"{FM}/t10k-labels-idx1-ubyte.gz", "prepare.output": full}))
small = os.path.join(WORK, f"small-{ROWS}.h5")
if not os.path.exists(small):
    run(["condense"] + sets({"condense.input": full, "condense.output": small, "condense.keep": ROWS / 10000}))
proxy = os.path.join(WORK, f"proxy-{ROWS}", "model.safetensors")
if not os.path.exists(proxy):
    run(["train", "--config", os.path.join(ROOT, "configs", "fmnist-convnet.yaml")] +
        sets({"run.out_dir": os.path.dirname(proxy), "run.threads": 1, "data.train": small, "data.eval": "",
              "data.eval_fraction": 0.1, "data.batch_size": 64, "model.width": 8, "model.depth": 2,
              "train.steps": 30, "train.warmup": 5, "train.eval_every": 0, "train.ckpt_every": 0}))
emb = os.path.join(WORK, f"emb-{ROWS}.f32")
n, F = map(int, run([proxy, small, str(BATCH), emb], exe=DUMP).stdout.split())
X = np.fromfile(emb, dtype=np.float32).reshape(n, F)
with h5py.File(small, "r") as f:
    labels = f["labels"][()]
check(n == ROWS and F > 0 and np.isfinite(X).all(), f"embeddings {n} x {F}")
check(len(np.unique(X, axis=0)) > n // 2, "embeddings are not degenerate")


# ---- numpy references of the same greedy algorithms ---------------------
def splitmix64(x):
    z = (x + 0x9e3779b97f4a7c15) & M64
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M64
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M64
    return z ^ (z >> 31)


def sqdist(A, c):
    """Row-wise squared distances summed in feature order (as sk_condense_sqdist)."""
    return np.cumsum((A.astype(np.float64) - c) ** 2, axis=1)[:, -1]


def kcenter_ref(rows, k, seed):
    keys = [splitmix64(seed ^ ((int(i) * 0x9e3779b97f4a7c15) & M64)) for i in rows]
    seq = [int(np.argmin(np.array(keys, dtype=np.uint64)))]
    mind = np.full(len(rows), np.finfo(np.float64).max)
    for _ in range(k - 1):
        mind = np.minimum(mind, sqdist(X[rows], X[rows[seq[-1]]].astype(np.float64)))
        m = mind.copy()
        m[seq] = -1
        seq.append(int(np.argmax(m)))
    return [int(rows[j]) for j in seq]


def herding_ref(rows, k):
    mx = float(np.abs(X.astype(np.float64)).max())
    e = np.frexp(mx)[1]
    scale = 2.0 ** (62 - e - len(rows).bit_length())
    q = np.trunc(X[rows].astype(np.float64) * scale).astype(np.int64).sum(axis=0)
    mu = q.astype(np.float64) / scale / len(rows)
    s = np.zeros(F)
    seq = []
    for r in range(k):
        d = sqdist(X[rows], (r + 1) * mu - s)
        d[seq] = np.inf
        seq.append(int(np.argmin(d)))
        s += X[rows[seq[-1]]].astype(np.float64)
    return [int(rows[j]) for j in seq]


def facility_ref(rows, k):
    """Plain greedy facility location over every row of the group: each
    round recomputes every candidate's gain (the C code is lazy greedy and
    must pick the same rows), sim = D - d with D = 4 max ||x||^2."""
    R = X[rows]
    D = 4 * sqdist(R, np.zeros(F)).max()
    S = D - np.stack([sqdist(R, R[j].astype(np.float64)) for j in range(len(rows))], axis=1)  # [rows, candidates]
    scale = 2.0 ** (62 - np.frexp(D)[1] - len(rows).bit_length())
    cur = np.zeros(len(rows))
    taken = np.zeros(len(rows), dtype=bool)
    seq = []
    for _ in range(k):
        q = np.trunc(np.maximum(S - cur[:, None], 0) * scale).astype(np.int64).sum(axis=0)
        q[taken] = -1
        j = int(np.argmax(q))
        taken[j] = True
        cur = np.maximum(cur, S[:, j])
        seq.append(int(rows[j]))
    return seq


def want(keep, count):
    return 0 if count == 0 else min(count, max(1, int(np.floor(keep * count + 0.5))))


# ---- each method: 1/2/3 ranks alike, counts, the reference --------------
REF = {"kcenter": lambda rows, w: kcenter_ref(rows, w, 0), "herding": herding_ref,
       "facility-location": facility_ref}
# the picks are not those of random: the method did something (keep 0.08, class balance: the first setting below)
rand_kept = condense("random", small, 1, method="random", keep=0.08)[0]
# 1, 2 and 3 ranks; facility location without class balance caches no similarities at 2 and 3 ranks.
for method in REF:
    for keep, balance in ((0.08, "true"), (0.05, "false")):
        name = f"{method}-{keep}-{balance}"
        kv = dict(method=method, keep=keep, class_balance=balance, proxy=proxy, batch=BATCH)  # run.seed 0
        nps = (1, 2, 3)
        fl_flat = method == "facility-location" and balance == "false"
        res = [condense(name, small, np_, **kv, **({"sim_cache_mb": 0} if fl_flat and np_ > 1 else {}))
               for np_ in nps]
        kept, order, _ = res[0]
        for np_, (k2, o2, _) in zip(nps[1:], res[1:]):
            check(np.array_equal(kept, k2) and np.array_equal(order, o2), f"{name}: picks differ at 1 and {np_} ranks")
        groups = [np.flatnonzero(labels == c) for c in range(10)] if balance == "true" else [np.arange(n)]
        for gi, rows in enumerate(groups):
            w = want(keep, len(rows))
            got = sorted((int(order[i]), int(i)) for i in rows if order[i] >= 0)
            check([o for o, _ in got] == list(range(w)), f"{name}: group {gi} picks {len(got)}, wants {w}")
            ref = REF[method](rows, w)
            check([i for _, i in got] == ref, f"{name}: group {gi} sequence {[i for _, i in got][:8]}... "
                                              f"!= reference {ref[:8]}...")
        check(np.array_equal(kept, np.flatnonzero(order >= 0)), f"{name}: kept rows are the picked rows")
        if balance == "true":
            counts = np.bincount(labels[kept], minlength=10)
            check(all(counts[c] == want(keep, (labels == c).sum()) for c in range(10)), f"{name}: counts {counts}")
            check(not np.array_equal(rand_kept, kept), f"{method}: same rows as random")
        if fl_flat:
            # lazy greedy re-evaluates fewer gains than plain greedy would; the similarities cached by
            # default (1 rank), not with sim_cache_mb 0 (2 and 3 ranks)
            logs = [FL_LOG.search(r[2]) for r in res]
            m = logs[0]
            check(m and int(m.group(1)) == want(keep, n) and int(m.group(2)) < int(m.group(3)),
                  f"lazy greedy: {m.groups() if m else res[0][2][-300:]}")
            if m:
                print(f"facility-location lazy greedy: {m.group(2)} re-evaluations in {m.group(4)} collective rounds "
                      f"for {m.group(1)} picks, plain {m.group(3)}")
            for lm, r, cached_ok, what in zip(logs, res, (lambda c: c == n, lambda c: c == 0, lambda c: c == 0),
                                              ("default, 1 rank", "sim_cache_mb=0, 2 ranks", "sim_cache_mb=0, 3 ranks")):
                check(lm and cached_ok(int(lm.group(5))) and int(lm.group(6)) == n,
                      f"cached similarities ({what}): {lm.groups() if lm else r[2][-300:]}")

# ---- bad input ----------------------------------------------------------
text = os.path.join(WORK, "txt.h5")
if not os.path.exists(text):
    run(["prepare"] + sets({"prepare.format": "text", "prepare.input": "/usr/share/games/fortunes/computers",
                            "prepare.output": text}))
bad_out = os.path.join(WORK, "bad.h5")
BAD = [
    ("no proxy", {"condense.proxy": ""}, "condense.proxy"),
    ("token corpus", {"condense.input": text}, "token"),
    ("missing proxy", {"condense.proxy": os.path.join(WORK, "nope.safetensors")}, "nope.safetensors"),
]
for method in REF:
    for name, kv, needle in BAD:
        args = {"condense.input": small, "condense.output": bad_out, "condense.method": method,
                "condense.proxy": proxy}
        args.update(kv)
        for np_ in (1, 2):
            p = run(["condense"] + sets(args), np_, ok=False)
            msg = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ""
            check(p.returncode != 0, f"{method} bad input '{name}' at {np_} ranks: exit {p.returncode}")
            check(needle in p.stderr, f"{method} bad input '{name}' at {np_} ranks: message names {needle}: {msg}")
            check(not [x for x in os.listdir(WORK) if "bad.h5" in x], f"{method} '{name}': nothing written")

if failures:
    print(f"{len(failures)} failed")
    sys.exit(1)
print("test_geometric: all checks passed")
