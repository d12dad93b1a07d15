#!/usr/bin/python3
"""test_perplexity.py SHRINK LOGITS WORK - perplexity filtering and the per-document
loss of token corpora under a GPT proxy trained by `shrink train`.

A byte-level corpus of fortunes (JSON Lines) and a small GPT proxy trained
on it, whose data.eval is a one-document corpus D of exactly 8 windows
(8 C + 1 tokens). Then:
- exp(the trainer's own final eval loss on D) is condense's perplexity of
  D (the same windows: stride C, each target once);
- in a corpus holding D twice among other documents (short ones, one of a
  byte, long ones cut into several windows, a last window padded), both
  copies score as D alone (a document's windows do not depend on its
  neighbours), and loss = log(perplexity);
- the kept set and scores are identical at 1, 2 and 3 ranks, and equal
  numpy's for rule=bottom / top, ppl_band=quantile and absolute;
- loss, el2n, entropy, margin and least-confidence of a token corpus are
  each document's mean of numpy's scores of the proxy's own logits
  (sk_proxy_logits runs every window alone), the target token as label;
- bad input: an image proxy, a proxy of a smaller vocabulary, a bad band.
"""
import json
import os
import shutil
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cd_harness  # noqa: E402
from cd_harness import check, failures, ref_rule, ref_scores, sets  # noqa: E402

SHRINK, LOGITS, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
C = 32


def run(args, np_=1, ok=True):
    return cd_harness.run(SHRINK, args, np_, ok)


def corpus(name, texts, eod=True):
    jl, out = os.path.join(WORK, name + ".jsonl"), os.path.join(WORK, name + ".h5")
    with open(jl, "w") as f:
        for t in texts:
            f.write(json.dumps({"text": t}) + "\n")
    run(["prepare"] + sets({"prepare.format": "jsonl", "prepare.input": jl, "prepare.output": out,
                            "prepare.eod": "true" if eod else "false"}))
    with h5py.File(out, "r") as f:
        return out, np.diff(f["offsets"][()])


fort = []
for fn in ("fortunes", "literature", "science", "wisdom"):
    p = os.path.join("/usr/share/games/fortunes", fn)
    if os.path.exists(p):
        fort += [d.strip() for d in open(p, encoding="utf-8", errors="replace").read().split("\n%\n") if d.strip()]
fort = [d for d in fort if d.isascii()][:600]
check(len(fort) >= 300, f"{len(fort)} fortunes")
train, _ = corpus("train", fort)
# D: 8 C + 1 tokens with the end-of-document token (one byte a token)
text = " ".join(fort[:60])
dtext = text[: 8 * C]
one, lens = corpus("one", [dtext])
check(list(lens) == [8 * C + 1], f"D has {lens} tokens, want {8 * C + 1}")

proxy_dir = os.path.join(WORK, "proxy")
run(["train"] + sets({"run.out_dir": proxy_dir, "run.seed": 1, "run.threads": 1, "data.train": train,
                      "data.eval": one, "data.seq_len": C, "data.batch_size": 4, "model.arch": "gpt",
                      "model.width": 32, "model.depth": 1, "model.heads": 2, "train.steps": 40, "train.warmup": 2,
                      "train.lr": 3e-3, "train.eval_every": 0}))
proxy = os.path.join(proxy_dir, "model.safetensors")
eval_loss = json.load(open(os.path.join(proxy_dir, "summary.json")))["eval_loss"]


def condense(name, src, np_=1, ok=True, **kv):
    out = os.path.join(WORK, f"{name}-np{np_}.h5")
    if os.path.exists(out):
        os.remove(out)
    args = {"condense.input": src, "condense.output": out, "condense.method": "perplexity", "condense.proxy": proxy,
            "condense.batch": 7}
    args.update({f"condense.{k}": v for k, v in kv.items()})
    p = run(["condense"] + sets(args), np_, ok)
    if not ok:
        return p, out
    with h5py.File(out, "r") as f:
        return {"kept": f["provenance/kept_indices"][()], "scores": f["provenance/scores"][()].astype(np.float64),
                "steps": json.loads(f["provenance"].attrs["steps"])}


d1 = condense("one", one, keep=1.0)
print(f"perplexity of D {d1['scores'][0]:.6f}, exp(trainer eval loss) {np.exp(eval_loss):.6f}")
check(abs(np.log(d1["scores"][0]) - eval_loss) < 2e-5 * max(1, eval_loss),
      f"log perplexity of D {np.log(d1['scores'][0])}, the trainer's eval loss on D {eval_loss}")

mixed_texts = [fort[100], dtext, "x", fort[101] * 3, text[: 5 * C + 7], fort[102], dtext] + fort[103:160]
mixed, mlens = corpus("mixed", mixed_texts)
check(mlens[2] == 2, f"the one-byte document has {mlens[2]} tokens")
c = [condense("mixed", mixed, np_, keep=0.5, rule="bottom") for np_ in (1, 2, 3)]
for k, o in zip((2, 3), c[1:]):
    check(np.array_equal(c[0]["scores"], o["scores"]), f"perplexities differ between 1 and {k} ranks")
    check(np.array_equal(c[0]["kept"], o["kept"]), f"kept set differs between 1 and {k} ranks")
s = c[0]["scores"]
check(np.all(np.abs(s[[1, 6]] / d1["scores"][0] - 1) < 1e-5), f"D in the mixed corpus {s[[1, 6]]}, alone {d1['scores']}")
check(np.isfinite(s).all() and (s > 1).all(), "perplexities finite and > 1")
check(c[0]["steps"][-1].get("score") == "perplexity" and c[0]["steps"][-1].get("proxy") == proxy, "provenance")
seed = c[0]["steps"][-1]["seed"]
nolab = np.zeros(len(s), np.int64)
check(np.array_equal(c[0]["kept"], ref_rule(s, "bottom", 0.5, False, seed, nolab)), "rule=bottom is not numpy's")
top = condense("top", mixed, 2, keep=0.3, rule="top")
check(np.array_equal(top["kept"], ref_rule(s, "top", 0.3, False, seed, nolab)), "rule=top is not numpy's")
n = len(s)
order = np.lexsort((np.arange(n), s.astype(np.float32)))
for lo, hi in ((0.1, 0.7), (0.0, 0.5), (0.25, 1.0)):
    q = [condense(f"q{lo}-{hi}", mixed, np_, ppl_band="quantile", ppl_low=lo, ppl_high=hi)["kept"] for np_ in (1, 3)]
    exp = np.sort(order[int(np.floor(lo * n + 0.5)):int(np.floor(hi * n + 0.5))])
    check(np.array_equal(q[0], exp) and np.array_equal(q[1], exp), f"quantile band [{lo}, {hi}): not numpy's")
a_lo, a_hi = float(np.quantile(s, 0.2)), float(np.quantile(s, 0.6))
a = condense("abs", mixed, 2, ppl_band="absolute", ppl_low=a_lo, ppl_high=a_hi)
exp = np.where((s.astype(np.float32) >= np.float32(a_lo)) & (s.astype(np.float32) <= np.float32(a_hi)))[0]
check(np.array_equal(a["kept"], exp), f"absolute band: {len(a['kept'])} kept, numpy {len(exp)}")
# the per-document loss of a token corpus is log(perplexity), the same windows
ls = condense("loss", mixed, 3, method="loss", keep=0.5, rule="bottom")
check(np.allclose(ls["scores"], np.log(s), rtol=1e-5, atol=1e-6), "loss on tokens is not log(perplexity)")
check(np.array_equal(ls["kept"], c[0]["kept"]), "loss rule=bottom keeps another set than perplexity's")
# the other logit scores per document against numpy on the proxy's own logits, window by window
zf = os.path.join(WORK, "mixed.logits.f32")
cd_harness.run(LOGITS, [proxy, mixed, zf])
with h5py.File(mixed, "r") as f:
    tok, off = f["tokens"][()].astype(np.int64), f["offsets"][()]
z = np.fromfile(zf, dtype=np.float32).astype(np.float64)
with open(proxy, "rb") as f:  # the vocabulary, from the safetensors header's metadata
    V = int(json.loads(f.read(int.from_bytes(f.read(8), "little")))["__metadata__"]["shrink.gpt.vocab"])
z = z.reshape(-1, C, V)
k, ref = 0, {m: [] for m in ("loss", "el2n", "entropy", "margin", "least-confidence")}
for i in range(len(off) - 1):
    L, rows, ys = off[i + 1] - off[i], [], []
    for s0 in range(0, L - 1, C):
        w = min(C, L - 1 - s0) + 1
        rows.append(z[k, : w - 1])
        ys.append(tok[off[i] + s0 + 1: off[i] + s0 + w])
        k += 1
    r = ref_scores(np.concatenate(rows), np.concatenate(ys))
    for m in ref:
        ref[m].append(r[m].mean())
check(k == len(z), f"{len(z)} windows of logits, the reference cuts {k}")
check(np.allclose(ref["loss"], np.log(s), rtol=2e-5, atol=1e-6), "numpy's mean loss is not log(perplexity)")
for m in ref:
    got = [condense(f"tok-{m}", mixed, np_, method=m, keep=0.5)["scores"] for np_ in (1, 3)]
    err = np.abs(got[0] - np.array(ref[m])).max()
    check(err < 2e-5 * max(1.0, np.abs(ref[m]).max()), f"{m} on tokens: max |score - numpy| = {err}")
    check(np.array_equal(got[0], got[1]), f"{m} on tokens: scores differ at 3 ranks")
reuse = condense("reuse", mixed, 2, keep=0.5, rule="bottom", scores_from=os.path.join(WORK, "mixed-np1.h5"),
                 proxy="")
check(np.array_equal(reuse["kept"], c[0]["kept"]), "scores_from: kept set differs")

# ---- bad input -----------------------------------------------------------------
small, _ = corpus("v256", fort[:300], eod=False)
p256 = os.path.join(WORK, "p256")
run(["train"] + sets({"run.out_dir": p256, "run.threads": 1, "data.train": small, "data.seq_len": C,
                      "data.batch_size": 4, "model.arch": "gpt", "model.width": 16, "model.depth": 1,
                      "model.heads": 2, "train.steps": 2, "train.warmup": 1}))
FM = "/usr/share/datasets/fashion-mnist"
img = os.path.join(WORK, "img.h5")
run(["prepare"] + sets({"prepare.format": "idx", "prepare.input": f"{FM}/t10k-images-idx3-ubyte.gz",
                        "prepare.labels": f"{FM}/t10k-labels-idx1-ubyte.gz", "prepare.output": img}))
pimg = os.path.join(WORK, "pimg")
run(["train"] + sets({"run.out_dir": pimg, "run.threads": 1, "data.train": img, "data.batch_size": 16,
                      "model.arch": "convnet", "model.width": 4, "model.depth": 1, "train.steps": 2,
                      "train.warmup": 1}))
BAD = [
    ("image proxy on tokens", {"condense.proxy": os.path.join(pimg, "model.safetensors")}, "condense.proxy"),
    ("smaller vocabulary", {"condense.proxy": os.path.join(p256, "model.safetensors")}, "vocabulary 256"),
    ("quantile band above 1", {"condense.ppl_band": "quantile", "condense.ppl_high": 2}, "condense.ppl_high"),
    ("empty band", {"condense.ppl_band": "absolute", "condense.ppl_low": 5, "condense.ppl_high": 5}, "ppl_low"),
    ("no proxy", {"condense.proxy": ""}, "condense.proxy"),
    ("perplexity of images", {"condense.input": img}, "token corpora"),
]
for name, kv, needle in BAD:
    kv = {k.replace("condense.", ""): v for k, v in kv.items()}
    src = kv.pop("input", mixed)
    for np_ in (1, 2):
        p, out = condense("bad", src, np_, ok=False, **kv)
        msg = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ""
        check(p.returncode != 0 and needle in p.stderr, f"bad input '{name}' at {np_}: exit {p.returncode}: {msg}")
        check(not os.path.exists(out), f"bad input '{name}': output written")

if failures:
    print(f"{len(failures)} failed")
    sys.exit(1)
print("test_perplexity: all checks passed")
