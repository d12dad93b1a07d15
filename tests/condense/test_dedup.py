#!/usr/bin/python3
"""test_dedup.py SHRINK WORK - the text deduplication methods end to end.

A corpus of fortunes with planted duplicates (verbatim copies, and edited
copies at measured Jaccard similarities of their word 5-gram sets) is
imported with `shrink prepare` (JSON Lines, byte tokens), then:
  exact-dedup keeps exactly the first of each group of identical documents,
    and every row's cluster id is its group's first index (Python's dict of
    the documents' bytes is the reference);
  minhash (5-grams, 14 bands x 8 rows) gives the same kept set and cluster
    ids at 1, 2 and 3 ranks; cluster ids are the lowest index of their
    cluster; against the exact Jaccard similarity of all pairs, planted
    pairs at s >= 0.85 are found, pairs at s <= 0.35 are not, and detected
    pairs are near-duplicates (precision and recall printed, docs/RESULTS.md).
Then bad input: a dedup method on an image corpus, bands x rows too large,
out-of-range keys; each exits non-zero naming the key or file and writes
nothing.
"""
import glob
import json
import os
import random
import re
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cd_harness  # noqa: E402
from cd_harness import check, failures, sets  # noqa: E402

SHRINK, WORK = sys.argv[1], sys.argv[2]
FM = "/usr/share/datasets/fashion-mnist"
os.makedirs(WORK, exist_ok=True)
NGRAM = 5


def run(args, np_=1, ok=True):
    return cd_harness.run(SHRINK, args, np_, ok, timeout=300)


def words(b):
    """The C normalisation (condense/sk_minhash.c): ASCII lowercase, digits as 0, other ASCII separates."""
    return re.findall(rb"[a-z0\x80-\xff]+", re.sub(rb"[0-9]", b"0", b.lower()))


def shingles(w):
    if len(w) <= NGRAM:
        return frozenset([tuple(w)])
    return frozenset(tuple(w[i:i + NGRAM]) for i in range(len(w) - NGRAM + 1))


def jaccard(a, b):
    return len(a & b) / len(a | b)


# ---- the planted corpus ----------------------------------------------------
rng = random.Random(12)
base = []
seen = set()
for path in sorted(glob.glob("/usr/share/games/fortunes/*")):
    if path.endswith((".dat", ".u8")) or os.path.isdir(path):
        continue
    for doc in open(path, "rb").read().split(b"\n%\n"):
        w = words(doc)
        if 40 <= len(w) <= 200 and shingles(w) not in seen:
            try:
                doc.decode("utf-8")
            except UnicodeDecodeError:
                continue
            seen.add(shingles(w))
            base.append(doc.strip())
rng.shuffle(base)
base = base[:300]
docs = [(d, ("base", i)) for i, d in enumerate(base)]
for i in rng.sample(range(len(base)), 40):  # verbatim copies (some twice)
    for _ in range(1 + (i % 3 == 0)):
        docs.append((base[i], ("exact", i)))
TARGETS = (0.9, 0.8, 0.7, 0.5, 0.3)
fresh = iter(f"zqx{k}" for k in range(10**6))
for t in TARGETS:
    for i in rng.sample(range(len(base)), 50):
        w = [x.decode() for x in words(base[i])]
        ref = shingles([x.encode() for x in w])
        e = list(w)
        # scattered substitutions (each costs up to 5 shingles) while far above t, then
        # the tail replaced word by word (one shingle each) to land just below t
        while jaccard(ref, shingles([x.encode() for x in e])) > t + 0.1:
            e[rng.randrange(len(e))] = next(fresh)
        tail = len(e)
        while jaccard(ref, shingles([x.encode() for x in e])) > t and tail > 0:
            tail -= 1
            e[tail] = next(fresh)
        docs.append((" ".join(e).encode(), (f"near{t}", i)))
rng.shuffle(docs)
jsonl = os.path.join(WORK, "planted.jsonl")
with open(jsonl, "w") as f:
    for d, _ in docs:
        f.write(json.dumps({"text": d.decode("utf-8")}) + "\n")
corpus = os.path.join(WORK, "planted.h5")
if os.path.exists(corpus):
    os.remove(corpus)
run(["prepare"] + sets({"prepare.format": "jsonl", "prepare.input": jsonl, "prepare.output": corpus}))
with h5py.File(corpus, "r") as f:
    tok, off = f["tokens"][()], f["offsets"][()]
n = len(off) - 1
check(n == len(docs), f"prepare: {n} documents of {len(docs)}")
def as_bytes(t):
    return t[t < 256].astype(np.uint8).tobytes()  # without the end-of-document token


text = [as_bytes(tok[off[i]:off[i + 1]]) for i in range(n)]


def condense(name, np_, **kv):
    out = os.path.join(WORK, f"{name}-np{np_}.h5")
    if os.path.exists(out):
        os.remove(out)
    run(["condense"] + sets({"condense.input": corpus, "condense.output": out}) +
        sets({f"condense.{k}": v for k, v in kv.items()}), np_)
    with h5py.File(out, "r") as f:
        return {"kept": f["provenance/kept_indices"][()], "clusters": f["provenance/cluster_ids"][()],
                "offsets": f["offsets"][()], "tokens": f["tokens"][()],
                "steps": json.loads(f["provenance"].attrs["steps"])}


def same_at_1_2_3(name, **kv):
    c = [condense(name, np_, **kv) for np_ in (1, 2, 3)]
    for np_, o in zip((2, 3), c[1:]):
        for k in ("kept", "clusters", "offsets", "tokens"):
            check(np.array_equal(c[0][k], o[k]), f"{name}: {k} differs between 1 and {np_} ranks")
    return c[0]


# ---- exact-dedup -------------------------------------------------------------
first = {}
want_clusters = np.array([first.setdefault(t, i) for i, t in enumerate(text)])
c = same_at_1_2_3("exact", method="exact-dedup")
check(np.array_equal(c["clusters"], want_clusters), "exact-dedup: cluster ids are each group's first index")
check(np.array_equal(c["kept"], np.flatnonzero(want_clusters == np.arange(n))),
      f"exact-dedup: kept {len(c['kept'])}, want the {len(first)} first documents of their groups")
check(n - len(first) >= 40, f"exact-dedup: the corpus has {n - len(first)} planted exact copies")
kept_text = [as_bytes(c["tokens"][c["offsets"][k]:c["offsets"][k + 1]]) for k in range(len(c["kept"]))]
check(kept_text == [text[i] for i in c["kept"]], "exact-dedup: the written documents are the kept ones")
check(c["steps"][-1]["method"] == "exact-dedup", "exact-dedup: provenance step")

# ---- minhash -------------------------------------------------------------
c = same_at_1_2_3("minhash", method="minhash")
cl = c["clusters"]
check(np.all(cl <= np.arange(n)) and np.array_equal(cl[cl], cl), "minhash: a cluster id is its lowest member")
check(np.array_equal(c["kept"], np.flatnonzero(cl == np.arange(n))), "minhash: keeps each cluster's lowest index")
# every exact copy is a minhash duplicate too
check(all(cl[i] == cl[want_clusters[i]] for i in range(n)), "minhash: exact copies share a cluster")

sh = [shingles(words(t)) for t in text]
# pairs: exact Jaccard of all pairs, detected = same cluster
J = np.zeros((n, n))
for i in range(n):
    for j in range(i + 1, n):
        if sh[i] & sh[j]:
            J[i, j] = jaccard(sh[i], sh[j])
iu = np.triu_indices(n, 1)
sims = J[iu]
same = (cl[:, None] == cl[None, :])[iu]
LSH = lambda s: 1 - (1 - s ** 8) ** 14
report = []
for tau in (0.8, 0.7, 0.5):
    true = sims >= tau
    tp = (true & same).sum()
    prec = tp / max(same.sum(), 1)
    rec = tp / max(true.sum(), 1)
    report.append(f"pairs with J>={tau}: {true.sum()}, detected pairs {same.sum()}, precision {prec:.3f}, recall {rec:.3f}")
# planted pairs: (base index in the shuffled corpus, copy index)
where = {}
for k, (_, (kind, i)) in enumerate(docs):
    where.setdefault(i, {}).setdefault(kind, []).append(k)
for t in TARGETS:
    pairs = [(where[i]["base"][0], k) for i in where for k in where[i].get(f"near{t}", [])]
    s = np.array([jaccard(sh[a], sh[b]) for a, b in pairs])
    hit = np.array([cl[a] == cl[b] for a, b in pairs])
    p = LSH(s)  # each pair's chance to share a band if the permutations were truly min-wise
    report.append(f"planted near{t}: {len(pairs)} pairs, J {s.mean():.3f} (min {s.min():.3f}), detected "
                  f"{hit.mean():.3f} (expected {p.mean():.3f})")
    tol = 3 * np.sqrt((p * (1 - p)).sum()) / len(p) + 0.02
    check(abs(hit.mean() - p.mean()) <= tol, f"minhash: planted J~{t}: detected {hit.mean():.3f}, the LSH curve "
          f"expects {p.mean():.3f} +- {tol:.3f}")
    if t >= 0.85:
        check(hit.mean() >= 0.95, f"minhash: only {hit.mean():.2f} of planted pairs at J~{t} detected")
    if t <= 0.35:
        check(hit.mean() <= 0.1, f"minhash: {hit.mean():.2f} of planted pairs at J~{t} detected")
near = sims >= 0.5
check((near & same).sum() / max(same.sum(), 1) >= 0.9, "minhash: precision of detected pairs at J>=0.5 below 0.9")
check((same & (sims >= 0.8)).sum() / max((sims >= 0.8).sum(), 1) >= 0.9, "minhash: recall at J>=0.8 below 0.9")
print(f"minhash on {n} documents ({len(c['kept'])} kept):")
for r in report:
    print("  " + r)

# a different seed draws other permutations (the kept set may move a little, the cluster ids are still lowest members)
o = condense("minhash-seed", 1, method="minhash", minhash_seed=99)
check(np.array_equal(o["clusters"][o["clusters"]], o["clusters"]), "minhash seed 99: cluster ids consistent")
# byte shingles run too and find the verbatim copies
o = condense("minhash-byte", 2, method="minhash", minhash_unit="byte", minhash_ngram=8)
check(all(o["clusters"][i] == o["clusters"][want_clusters[i]] for i in range(n)), "minhash bytes: exact copies share a cluster")

# ---- bad input -------------------------------------------------------------
images = os.path.join(WORK, "fm.h5")
if not os.path.exists(images):
    run(["prepare"] + sets({"prepare.format": "idx", "prepare.input": f"{FM}/t10k-images-idx3-ubyte.gz",
                            "prepare.labels": f"{FM}/t10k-labels-idx1-ubyte.gz", "prepare.output": images}))
bad_out = os.path.join(WORK, "bad.h5")
BAD = [
    ("exact-dedup on images", {"condense.method": "exact-dedup", "condense.input": images}, "fm.h5"),
    ("minhash on images", {"condense.method": "minhash", "condense.input": images}, "token corpora"),
    ("bands x rows too large", {"condense.minhash_bands": 64, "condense.minhash_rows": 32}, "condense.minhash_bands"),
    ("bands out of range", {"condense.minhash_bands": 65}, "condense.minhash_bands"),
    ("rows 0", {"condense.minhash_rows": 0}, "condense.minhash_rows"),
    ("ngram 0", {"condense.minhash_ngram": 0}, "condense.minhash_ngram"),
    ("unknown unit", {"condense.minhash_unit": "char"}, "condense.minhash_unit"),
]
for name, kv, needle in BAD:
    args = {"condense.input": corpus, "condense.output": bad_out, "condense.method": "minhash"}
    args.update(kv)
    for np_ in (1, 2):
        p = run(["condense"] + sets(args), np_, ok=False)
        msg = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ""
        check(p.returncode != 0, f"bad input '{name}' at {np_} ranks: exit {p.returncode}")
        check(needle in p.stderr, f"bad input '{name}' at {np_} ranks: message names {needle}: {msg}")
        check(not [x for x in os.listdir(WORK) if "bad.h5" in x], f"bad input '{name}': nothing written")

if failures:
    print(f"{len(failures)} failed")
    sys.exit(1)
print("test_dedup: all checks passed")
