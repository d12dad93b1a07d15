#!/usr/bin/python3
"""test_scores.py SHRINK LOGITS WORK - the score-based methods of `shrink condense`.

A 2000-sample Fashion-MNIST corpus and two small ConvNet proxies trained on
it by `shrink train` (a few steps). Then:
- every score method keeps the same set at 1, 2 and 3 ranks;
- loss, el2n, entropy, margin, least-confidence equal numpy's functions of
  the proxy's own logits (sk_proxy_logits prints them), el2n averaged
  over condense.proxy and condense.proxies; grand (all-parameter
  gradient norm) is at least the final bias's gradient norm, which is el2n;
- rules top, bottom, stratified, ccs, with and without class balance,
  equal a numpy reimplementation applied to the stored /provenance/scores;
- condense.scores_from reuses scores without a proxy and keeps the same set;
- bad input: a proxy of other classes or image shape, a labelled score on a
  corpus without labels, scores of another length or another corpus.
"""
import gzip
import json
import os
import struct
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cd_harness  # noqa: E402
from cd_harness import check, failures, ref_rule, ref_scores, sets, want  # noqa: E402

SHRINK, LOGITS, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
FM = "/usr/share/datasets/fashion-mnist"
os.makedirs(WORK, exist_ok=True)


def run(args, np_=1, ok=True, exe=None):
    return cd_harness.run(exe or SHRINK, args, np_, ok)


def prepare(name, images, labels=None):
    path = os.path.join(WORK, name)
    if not os.path.exists(path):
        kv = {"prepare.format": "idx", "prepare.input": images, "prepare.output": path}
        if labels:
            kv["prepare.labels"] = labels
        run(["prepare"] + sets(kv))
    return path


def write_idx(path, arr):
    """An IDX file (gzip) of uint8 array arr."""
    with gzip.open(path, "wb") as f:
        f.write(struct.pack(">BBBB", 0, 0, 8, arr.ndim) + struct.pack(">" + "I" * arr.ndim, *arr.shape))
        f.write(arr.astype(np.uint8).tobytes())


def condense(name, src, np_=1, **kv):
    out = os.path.join(WORK, f"{name}-np{np_}.h5")
    if os.path.exists(out):
        os.remove(out)
    # run.threads=1: bit-identical scores across rank counts need a fixed thread count
    # (configs' run.threads); libtorch's default differs between 1 rank and bound ranks.
    run(["condense"] + sets({"condense.input": src, "condense.output": out, "run.threads": 1}) +
        sets({f"condense.{k}": v for k, v in kv.items()}), np_)
    return out


def content(path):
    with h5py.File(path, "r") as f:
        d = {k: f[k][()] for k in ("samples", "labels") if k in f}
        d["kept"] = f["provenance/kept_indices"][()]
        if "provenance/scores" in f:
            d["prov_scores"] = f["provenance/scores"][()]
        d["steps"] = json.loads(f["provenance"].attrs["steps"])
    return d



# ---- the corpus and the proxies -------------------------------------------
full = prepare("fm10k.h5", f"{FM}/t10k-images-idx3-ubyte.gz", f"{FM}/t10k-labels-idx1-ubyte.gz")
src = os.path.join(WORK, "fm2k.h5")
if not os.path.exists(src):
    run(["condense"] + sets({"condense.input": full, "condense.output": src, "condense.keep": 0.2}))
with h5py.File(src, "r") as f:
    labels = f["labels"][()]
    N = len(labels)
check(N == 2000, f"source corpus has {N} rows")


def train_proxy(name, seed, steps):
    out = os.path.join(WORK, name)
    model = os.path.join(out, "model.safetensors")
    if not os.path.exists(model):
        run(["train"] + sets({"run.out_dir": out, "run.seed": seed, "run.threads": 1, "data.train": src,
                              "data.batch_size": 64, "model.arch": "convnet", "model.width": 8, "model.depth": 2,
                              "train.steps": steps, "train.warmup": 2, "train.lr": 3e-3, "train.eval_every": 0,
                              "train.ckpt_every": 0}))
    return model


proxy = train_proxy("proxy1", 1, 40)
proxy2 = train_proxy("proxy2", 2, 25)


def logits_of(model, corpus):
    out = model + ".logits.f32"
    run([model, corpus, out], exe=LOGITS)
    z = np.fromfile(out, dtype=np.float32).astype(np.float64)
    return z.reshape(-1, 10)


ref1, ref2 = ref_scores(logits_of(proxy, src), labels), ref_scores(logits_of(proxy2, src), labels)

# ---- each method: same at 1/2/3 ranks, scores = numpy's -------------------
stored = {}
for m in ("loss", "el2n", "entropy", "margin", "least-confidence", "grand"):
    kv = dict(method=m, keep=0.3, proxy=proxy)
    c = [content(condense(m, src, np_, **kv)) for np_ in (1, 2, 3)]
    for k, other in enumerate(c[1:], 2):
        check(np.array_equal(c[0]["kept"], other["kept"]), f"{m}: kept set differs between 1 and {k} ranks")
        # Bit-identical: rows are scored in the corpus's global batches of condense.batch,
        # whichever rank holds them (the shard bounds at 3 ranks, 666 and 1333, cut batches).
        check(np.array_equal(c[0]["prov_scores"], other["prov_scores"]), f"{m}: scores differ at {k} ranks")
    s = c[0]["prov_scores"].astype(np.float64)
    stored[m] = c[0]
    check(len(s) == N and np.all(np.isfinite(s)), f"{m}: {len(s)} finite scores")
    check(c[0]["steps"][-1].get("score") == m.replace("-", "_"), f"{m}: step names its score")
    check(c[0]["steps"][-1].get("proxy") == proxy, f"{m}: step records the proxy")
    if m in ref1:
        err = np.abs(s - ref1[m]).max()
        check(err < 1e-4 * max(1.0, np.abs(ref1[m]).max()), f"{m}: max |score - numpy| = {err}")
# grand >= || d loss / d (final bias) || = el2n (the bias is one of the parameters)
g, e = stored["grand"]["prov_scores"].astype(np.float64), ref1["el2n"]
check(np.all(g >= e * (1 - 1e-4) - 1e-6), f"grand below el2n on {np.sum(g < e * (1 - 1e-4) - 1e-6)} rows")
check(np.mean(g > e * 1.01) > 0.5, "grand counts more than the final bias's gradient")
# the mean loss is the trained proxy's loss scale (well below log 10 = 2.30 after 40 steps)
check(0.05 < ref1["loss"].mean() < 2.2, f"mean loss {ref1['loss'].mean()}")

# el2n averaged over two proxies (condense.proxies)
c = [content(condense("el2n-avg", src, np_, method="el2n", keep=0.3, proxy=proxy, proxies=proxy2)) for np_ in (1, 3)]
check(np.array_equal(c[0]["kept"], c[1]["kept"]), "el2n over 2 proxies: kept set differs at 3 ranks")
px = c[0]["steps"][-1].get("proxies", [])
check(len(px) == 1 and px[0]["file"] == proxy2 and len(px[0]["xxh64"]) == 16 and px[0]["xxh64"] != c[0]["steps"][-1]["proxy_xxh64"],
      f"provenance records condense.proxies with their checksums: {px}")
avg = (ref1["el2n"] + ref2["el2n"]) / 2
err = np.abs(c[0]["prov_scores"] - avg).max()
check(err < 1e-4, f"el2n over 2 proxies: max |score - numpy mean| = {err}")


# ---- rules against numpy on the stored scores -----------------------------
el2n_out = os.path.join(WORK, "el2n-np1.h5")
seed = stored["el2n"]["steps"][-1]["seed"]
for rule in ("top", "bottom", "stratified", "ccs"):
    for bal in ("true", "false"):
        kv = dict(method="el2n", keep=0.25, rule=rule, class_balance=bal, scores_from=el2n_out, strata=20)
        c = [content(condense(f"rule-{rule}-{bal}", src, np_, **kv)) for np_ in (1, 3)]
        exp = ref_rule(stored["el2n"]["prov_scores"], rule, 0.25, bal == "true", seed, labels, strata=20)
        check(np.array_equal(c[0]["kept"], exp),
              f"rule={rule} class_balance={bal}: {len(c[0]['kept'])} kept, numpy {len(exp)}, "
              f"{len(np.setxor1d(c[0]['kept'], exp))} differ")
        check(np.array_equal(c[0]["kept"], c[1]["kept"]), f"rule={rule} class_balance={bal}: differs at 3 ranks")
        check("proxy" not in c[0]["steps"][-1] and c[0]["steps"][-1].get("scores_from") == el2n_out,
              f"rule={rule}: scores_from step records no proxy")
        check(np.array_equal(c[0]["prov_scores"], stored["el2n"]["prov_scores"]), f"rule={rule}: scores carried over")
# scores_from with the same settings keeps the identical set (no proxy opened)
c = content(condense("reuse", src, 2, method="el2n", keep=0.3, scores_from=el2n_out))
check(np.array_equal(c["kept"], stored["el2n"]["kept"]), "scores_from: kept set differs from the scored run")

# ---- uncertainty scores need no labels ------------------------------------
with gzip.open(f"{FM}/t10k-images-idx3-ubyte.gz") as f:
    imgs = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
write_idx(os.path.join(WORK, "nolab.gz"), imgs[:500])
nolab = prepare("nolab.h5", os.path.join(WORK, "nolab.gz"))
c = content(condense("entropy-nolab", nolab, 2, method="entropy", keep=0.2, proxy=proxy))
check(len(c["kept"]) == 100, f"entropy without labels keeps {len(c['kept'])} of 500")

# ---- bad input -------------------------------------------------------------
write_idx(os.path.join(WORK, "small.gz"), imgs[:300, ::2, ::2])
write_idx(os.path.join(WORK, "small-lab.gz"), np.arange(300) % 10)
small = prepare("small.h5", os.path.join(WORK, "small.gz"), os.path.join(WORK, "small-lab.gz"))
with gzip.open(f"{FM}/t10k-labels-idx1-ubyte.gz") as f:
    lab = np.frombuffer(f.read(), np.uint8, offset=8)
write_idx(os.path.join(WORK, "five.gz"), imgs[:300])
write_idx(os.path.join(WORK, "five-lab.gz"), lab[:300] % 5)
five = prepare("five.h5", os.path.join(WORK, "five.gz"), os.path.join(WORK, "five-lab.gz"))
other2k = os.path.join(WORK, "fm2k-other.h5")
if not os.path.exists(other2k):
    run(["condense"] + sets({"condense.input": full, "condense.output": other2k, "condense.keep": 0.2, "run.seed": 7}))
bad_out = os.path.join(WORK, "bad.h5")
BAD = [
    ("proxy of another class count", {"condense.input": five}, "10 classes"),
    ("proxy of another image shape", {"condense.input": small}, "another shape"),
    ("labelled score without labels", {"condense.input": nolab}, "needs labels"),
    ("no proxy", {"condense.proxy": ""}, "condense.proxy"),
    ("missing extra proxy", {"condense.proxies": os.path.join(WORK, "nope.safetensors")}, "nope.safetensors"),
    ("scores of another length", {"condense.input": full, "condense.scores_from": el2n_out}, "scores_from"),
    ("scores of another corpus", {"condense.input": other2k, "condense.scores_from": el2n_out}, "another corpus"),
    ("strata too many", {"condense.rule": "stratified", "condense.strata": 100000}, "condense.strata"),
]
for name, kv, needle in BAD:
    args = {"condense.input": src, "condense.output": bad_out, "condense.method": "el2n", "condense.proxy": proxy}
    args.update(kv)
    for np_ in (1, 3):
        p = run(["condense"] + sets(args), np_, ok=False)
        msg = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ""
        check(p.returncode != 0, f"bad input '{name}' at {np_} ranks: exit {p.returncode}")
        check(needle in p.stderr, f"bad input '{name}' at {np_} ranks: message names {needle}: {msg}")
        check(not os.path.exists(bad_out), f"bad input '{name}': nothing written")
        check(not [x for x in os.listdir(WORK) if "bad.h5" in x], f"bad input '{name}': no temporary left")

if failures:
    print(f"{len(failures)} failed")
    sys.exit(1)
print("test_scores: all checks passed")
