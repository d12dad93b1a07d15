#!/usr/bin/python3
"""test_condense.py SHRINK WORK - `shrink condense` end to end.

For every method case: the kept set (and the written rows, labels and
scores) is identical at 1, 2 and 3 ranks, counts follow condense.keep
(per class with class_balance), and the provenance record names the
source and its checksum. Then bad input: each case exits non-zero with a
message naming the key or file, and leaves nothing at the output name.
"""
import json
import os
import shutil
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cd_harness  # noqa: E402
from cd_harness import check, failures, sets, want  # noqa: E402

SHRINK, WORK = sys.argv[1], sys.argv[2]
FM = "/usr/share/datasets/fashion-mnist"
TXT = "/usr/share/games/fortunes/computers"
os.makedirs(WORK, exist_ok=True)


def run(args, np_=1, ok=True, exe=None):
    return cd_harness.run(exe or SHRINK, args, np_, ok)


def prepare(name, **kv):
    path = os.path.join(WORK, name)
    if not os.path.exists(path):
        run(["prepare"] + sets({f"prepare.{k}": v for k, v in kv.items()}) + sets({"prepare.output": path}))
    return path


images = prepare("fm.h5", format="idx", input=f"{FM}/t10k-images-idx3-ubyte.gz",
                 labels=f"{FM}/t10k-labels-idx1-ubyte.gz")
text = prepare("txt.h5", format="text", input=TXT)


def condense(name, src, np_, **kv):
    out = os.path.join(WORK, f"{name}-np{np_}.h5")
    if os.path.exists(out):
        os.remove(out)
    run(["condense"] + sets({"condense.input": src, "condense.output": out}) +
        sets({f"condense.{k}": v for k, v in kv.items()}), np_)
    return out


def content(path):
    with h5py.File(path, "r") as f:
        d = {k: f[k][()] for k in ("samples", "tokens", "offsets", "labels") if k in f}
        d["kept"] = f["provenance/kept_indices"][()]
        for k in ("scores", "cluster_ids"):
            if f"provenance/{k}" in f:
                d["prov_" + k] = f[f"provenance/{k}"][()]
        if "scores" in f:
            for k in f["scores"]:
                d["scores/" + k] = f["scores"][k][()]
        d["steps"] = json.loads(f["provenance"].attrs["steps"])
    return d


def same_at_1_2_3(name, src, **kv):
    """Run at 1, 2 and 3 ranks; every written array must be equal. Returns the 1-rank content."""
    c = [content(condense(name, src, np_, **kv)) for np_ in (1, 2, 3)]
    for np_, other in zip((2, 3), c[1:]):
        for k in c[0]:
            if k == "steps":
                continue
            check(k in other and np.array_equal(c[0][k], other[k]), f"{name}: {k} differs between 1 and {np_} ranks")
    return c[0]



# ---- random: class-stratified on images, plain on documents -------------
with h5py.File(images, "r") as f:
    src_labels = f["labels"][()]
    src_samples = f["samples"][()]
for keep in (0.1, 0.37):
    c = same_at_1_2_3(f"random{keep}", images, method="random", keep=keep)
    counts = np.bincount(c["labels"], minlength=10)
    check(all(counts[k] == want(keep, (src_labels == k).sum()) for k in range(10)),
          f"random keep={keep}: per-class counts {counts}")
    check(np.all(np.diff(c["kept"]) > 0), "random: kept indices ascend")
    check(np.array_equal(c["samples"], src_samples[c["kept"]]), "random: rows are the source's kept rows")
    check(np.array_equal(c["labels"], src_labels[c["kept"]]), "random: labels follow their rows")
    st = c["steps"][-1]
    check(st["method"] == "random" and st["source_rows"] == 10000 and st["kept_rows"] == len(c["kept"]),
          f"random: provenance step {st}")
    check(len(st["source_xxh64"]) == 16, "random: source checksum recorded")
# unbalanced: one pick over all rows
c = same_at_1_2_3("random-flat", images, method="random", keep=0.25, class_balance="false")
check(len(c["kept"]) == 2500, f"random unbalanced keeps {len(c['kept'])} of 10000")
# a different seed picks a different subset, the same seed the same
a = content(condense("seed1", images, 1, method="random", keep=0.1))
b = content(condense("seed2", images, 1, method="random", keep=0.1))
check(np.array_equal(a["kept"], b["kept"]), "random: same seed, same subset")
p = run(["condense"] + sets({"condense.input": images, "condense.output": os.path.join(WORK, "seed3.h5"),
                             "condense.keep": 0.1, "condense.overwrite": "true", "run.seed": 7}))
check(not np.array_equal(a["kept"], content(os.path.join(WORK, "seed3.h5"))["kept"]), "random: another seed, another subset")

# documents: tokens and offsets of the kept documents
c = same_at_1_2_3("random-docs", text, method="random", keep=0.3)
with h5py.File(text, "r") as f:
    tok, off = f["tokens"][()], f["offsets"][()]
ndocs = len(off) - 1
check(len(c["kept"]) == want(0.3, ndocs), f"random docs: {len(c['kept'])} of {ndocs}")
docs = [tok[off[i]:off[i + 1]] for i in c["kept"]]
check(np.array_equal(c["tokens"], np.concatenate(docs)), "random docs: tokens are the kept documents'")
check(np.array_equal(np.diff(c["offsets"]), [len(d) for d in docs]), "random docs: offsets")

# chaining: a condensed corpus condensed again records both steps
first = condense("chain1", images, 1, method="random", keep=0.5)
second = content(condense("chain2", first, 2, method="random", keep=0.5))
check([s["method"] for s in second["steps"]] == ["random", "random"] and
      second["steps"][0]["source_file"] == images and second["steps"][1]["source_file"] == first,
      f"chain: steps {[s['source_file'] for s in second['steps']]}")
insp = run(["inspect", os.path.join(WORK, "chain2-np2.h5")]).stdout
check("step 1" in insp and "step 2" in insp, "inspect shows both steps")

# the output trains as it is: a few steps of a small ConvNet on the subset
shutil.rmtree(os.path.join(WORK, "train-subset"), ignore_errors=True)
p = run(["train"] + sets({"data.train": os.path.join(WORK, "random0.1-np1.h5"), "data.eval": images,
                          "data.batch_size": 32, "model.arch": "convnet", "model.width": 8, "model.classes": 10,
                          "train.steps": 3, "train.warmup": 1, "run.out_dir": os.path.join(WORK, "train-subset")}))
with open(os.path.join(WORK, "train-subset", "summary.json")) as f:
    summ = json.load(f)
check(summ.get("steps") == 3 and 0 <= summ.get("eval_acc", -1) <= 1, f"training on the subset: {summ}")

# ---- bad input: exit non-zero, name the key/file, write nothing ----------
bad_out = os.path.join(WORK, "bad.h5")
existing = os.path.join(WORK, "random0.1-np1.h5")
BAD = [
    ("keep 0", {"condense.keep": 0}, "condense.keep"),
    ("keep above 1", {"condense.keep": 1.5}, "condense.keep"),
    ("unknown method", {"condense.method": "kcentre"}, "condense.method"),
    ("output is input", {"condense.output": images}, "condense.output"),
    ("existing output", {"condense.output": existing}, "condense.overwrite"),
    ("no input", {"condense.input": ""}, "condense.input"),
    ("missing input", {"condense.input": os.path.join(WORK, "nope.h5")}, "nope.h5"),
    ("scores for a method without scores", {"condense.scores_from": existing}, "condense.scores_from"),
    ("unknown key", {"condense.kep": 0.5}, "condense.kep"),
]
for name, kv, needle in BAD:
    args = {"condense.input": images, "condense.output": bad_out, "condense.method": "random"}
    args.update(kv)
    for np_ in (1, 3):
        before = os.path.exists(existing) and os.path.getmtime(existing)
        p = run(["condense"] + sets(args), np_, ok=False)
        msg = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ""
        check(p.returncode != 0, f"bad input '{name}' at {np_} ranks: exit {p.returncode}")
        check(needle in p.stderr, f"bad input '{name}' at {np_} ranks: message names {needle}: {msg}")
        check(not os.path.exists(bad_out), f"bad input '{name}': nothing written")
        check(not [x for x in os.listdir(WORK) if "bad.h5" in x], f"bad input '{name}': no temporary left")
        if kv.get("condense.output") == existing:
            check(os.path.getmtime(existing) == before, "existing output untouched")

if failures:
    print(f"{len(failures)} failed")
    sys.exit(1)
print("test_condense: all checks passed")
