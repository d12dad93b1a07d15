#!/usr/bin/python3
"""test_distill.py SHRINK NET_DUMP WORK - the dataset-distillation methods
(condense/sk_distill.h) end to end.

dm: three iterations on a tiny Fashion-MNIST corpus against a torch
re-implementation of main_DM.py's update (VICO-UoE/DatasetCondensation):
the same initial real images (the splitmix64 draw of sk_distill.h, checked
against /provenance/kept_indices), the same real batches, the same network
weights per iteration (sk_distill_net_dump writes them), SGD with momentum
0.5 as torch.optim.SGD; the synthetic pixels agree within float tolerance.
dc: two outer iterations of main.py (gradient matching with distance_wb,
create_graph gradients, the inner SGD training on the shuffled synthetic
set) against torch the same way. The output is bit-identical at 1, 2 and
3 ranks (init real and noise; dm and dc with DSA, whose identity strategy
gives the plain result up to rounding);
synthetic_dtype=source is the float result rounded and clamped;
condense.snapshot_every's snapshots are the shorter runs' outputs, and
condense.resume_from continues them (at other rank counts) to the longer
run's output bit for bit, refusing a state made with other keys; the
provenance names the method, the source checksum, every key, the
iterations; `shrink train` trains on the float32 corpus and evaluates on
the uint8 one. Bad input: a token corpus, ipc above a class's size, a
corpus without labels, a model that is not an image classifier: one-line
errors naming the problem, nothing written.
"""
import json
import os
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as Fn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "trainer"))
import cd_harness  # noqa: E402
from cd_harness import check, failures, sets  # noqa: E402
from sk_trainer_testlib import read_safetensors  # noqa: E402

torch.set_num_threads(1)
SHRINK, DUMP, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
FM = "/usr/share/datasets/fashion-mnist"
os.makedirs(WORK, exist_ok=True)
M64 = (1 << 64) - 1
WIDTH, DEPTH = 8, 2
MODEL = {"model.arch": "convnet", "model.width": WIDTH, "model.depth": DEPTH, "run.threads": 1}


def run(args, np_=1, ok=True, exe=None):
    return cd_harness.run(exe or SHRINK, args, np_, ok)


def splitmix64(x):
    z = (x + 0x9e3779b97f4a7c15) & M64
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M64
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M64
    return z ^ (z >> 31)


def key(seed, it, c):
    k = splitmix64(seed ^ 0x64697374696c6c)
    k = splitmix64(k ^ ((it + 1) & M64))
    return splitmix64(k ^ ((c + 1) & M64))


def draw(n, b, k):
    """sk_distill.h's partial Fisher-Yates: the first b of n positions."""
    perm, s = list(range(n)), k
    for j in range(b):
        s = splitmix64(s)
        r = j + s % (n - j)
        perm[j], perm[r] = perm[r], perm[j]
    return perm[:b]


def distill(name, src, np_, method="dm", **kv):
    out = os.path.join(WORK, f"{name}-np{np_}.h5")
    if os.path.exists(out):
        os.remove(out)
    run(["condense"] + sets({"condense.method": method, "condense.input": src, "condense.output": out}) + sets(MODEL) +
        sets({k if "." in k else f"condense.{k}": v for k, v in kv.items()}), np_)
    with h5py.File(out, "r") as f:
        return {"x": f["samples"][()], "y": f["labels"][()],
                "kept": f["provenance/kept_indices"][()] if "provenance/kept_indices" in f else None,
                "steps": json.loads(f["provenance"].attrs["steps"]) if "steps" in f["provenance"].attrs else None,
                "out": out}


# ---- a small labelled corpus ----------------------------------------------
full = os.path.join(WORK, "fm.h5")
if not os.path.exists(full):
    run(["prepare"] + sets({"prepare.format": "idx", "prepare.input": f"{FM}/t10k-images-idx3-ubyte.gz",
                            "prepare.labels": f"{FM}/t10k-labels-idx1-ubyte.gz", "prepare.output": full}))
small = os.path.join(WORK, "small.h5")
if not os.path.exists(small):
    run(["condense"] + sets({"condense.input": full, "condense.output": small, "condense.keep": 0.03}))
with h5py.File(small, "r") as f:
    X, L = f["samples"][()], f["labels"][()]
rows = [np.flatnonzero(L == c) for c in range(10)]
print("class sizes", [len(r) for r in rows])


# ---- the torch reference of main_DM.py's update -------------------------
def embed(W, p):
    """The ConvNet's embed on pixels p [B, 28, 28] in [0, 255] units (models/sk_convnet.h)."""
    x = (p * (2.0 / 255.0) - 1.0).reshape(p.shape[0], 1, 28, 28)
    for i in range(DEPTH):
        x = Fn.conv2d(x, W[f"features.{i}.conv.weight"], W[f"features.{i}.conv.bias"], padding=3 if i == 0 else 1)
        x = Fn.group_norm(x, WIDTH, W[f"features.{i}.norm.weight"], W[f"features.{i}.norm.bias"], eps=1e-5)
        x = Fn.avg_pool2d(torch.relu(x), 2, 2)
    return x.flatten(1)


def net(seed, it):
    path = os.path.join(WORK, f"net-{seed}-{it}.safetensors")
    run([path, str(seed), str(it), "1", "28", "28", "10", str(WIDTH), str(DEPTH)], exe=DUMP)
    return {k: torch.from_numpy(v.copy()) for k, v in read_safetensors(path)[1].items()}


SEED, IPC, ITERS, BR, LR, MOM = 7, 2, 3, 16, 1.0, 0.5
got = distill("dm", small, 1, ipc=IPC, iterations=ITERS, batch_real=BR, lr_img=LR, **{"run.seed": SEED})
init = [rows[c][draw(len(rows[c]), IPC, key(SEED, -1, c))] for c in range(10)]
check(got["kept"] is not None and np.array_equal(got["kept"], np.concatenate(init)),
      "dm: kept_indices are the init draw of sk_distill.h")
u = [torch.from_numpy(X[init[c]].astype(np.float32)) * (1.0 / 127.5) - 1.0 for c in range(10)]
u = [t.clone().requires_grad_(True) for t in u]
opt = torch.optim.SGD(u, lr=LR, momentum=MOM)  # main_DM.py: optimizer_img
for it in range(ITERS):
    W = net(SEED, it)
    loss = 0
    for c in range(10):
        real = torch.from_numpy(X[rows[c][draw(len(rows[c]), min(BR, len(rows[c])), key(SEED, it, c))]]
                                .astype(np.float32))
        out_real = embed(W, real).detach()
        out_syn = embed(W, (u[c] + 1.0) * 127.5)
        loss = loss + torch.sum((out_real.mean(0) - out_syn.mean(0)) ** 2)
    opt.zero_grad()
    loss.backward()
    opt.step()
ref = torch.cat([(t.detach() + 1.0) * 127.5 for t in u]).numpy()
err = np.abs(got["x"] - ref).max()
moved = np.abs(ref - X[np.concatenate(init)]).max()
print(f"dm vs torch: max |diff| {err:.3g} pixels, images moved up to {moved:.3g}")
check(got["x"].dtype == np.float32 and got["x"].shape == (10 * IPC, 28, 28), f"dm: samples {got['x'].shape}")
check(np.array_equal(got["y"], np.repeat(np.arange(10), IPC)), "dm: labels class-major")
check(moved > 1.0, "dm: the update moves the images")
check(err < 2e-3 * max(1.0, moved), f"dm: synthetic pixels match the torch reference ({err})")

# provenance
st = got["steps"][-1] if got["steps"] else {}
check(st.get("method") == "dm" and st.get("iterations") == ITERS and st.get("synthetic_rows") == 10 * IPC,
      f"dm: provenance step {st}")
check(len(st.get("source_xxh64", "")) == 16 and st.get("seed") == SEED, "dm: provenance source checksum and seed")
cfg_text = st.get("config", "")
check("ipc: 2 " in cfg_text and "batch_real: 16 " in cfg_text and "iterations: 3 " in cfg_text and
      '"convnet"' in st.get("model", "") and "width: 8 " in st.get("model", ""),
      f"dm: provenance records every key and the model: {cfg_text[-300:]} {st.get('model', '')[:200]}")

# ---- dc: main.py's outer/inner loop against torch ----------------------------
PNAMES = [f"features.{i}.{m}.{k}" for i in range(DEPTH) for m in ("conv", "norm") for k in ("weight", "bias")] + \
    ["classifier.weight", "classifier.bias"]


def logits(W, p):
    return embed(W, p) @ W["classifier.weight"].t() + W["classifier.bias"]


def ce(W, p, y):
    return Fn.cross_entropy(logits(W, p), y)


def distance_wb(gs, gr):
    """utils.py distance_wb: 1 - cosine per output channel, summed; 1-D parameters count 0."""
    if gs.dim() == 1:
        return 0
    gs, gr = gs.reshape(gs.shape[0], -1), gr.reshape(gr.shape[0], -1)
    return torch.sum(1 - torch.sum(gs * gr, dim=-1) / (torch.norm(gs, dim=-1) * torch.norm(gr, dim=-1) + 0.000001))


def full_perm(m, k):
    perm, s = list(range(m)), k
    for j in range(m - 1):
        s = splitmix64(s)
        r = j + s % (m - j)
        perm[j], perm[r] = perm[r], perm[j]
    return perm


DSEED, DIPC, DITERS, OUTER, INNER, DBR, BT, LRN, LRI = 5, 2, 2, 2, 2, 16, 8, 0.01, 0.1
got = distill("dc", small, 1, method="dc", ipc=DIPC, iterations=DITERS, outer_loop=OUTER, inner_loop=INNER,
              batch_real=DBR, batch_train=BT, lr_net=LRN, **{"run.seed": DSEED})
init = [rows[c][draw(len(rows[c]), DIPC, key(DSEED, -1, c))] for c in range(10)]
u = [(torch.from_numpy(X[init[c]].astype(np.float32)) * (1.0 / 127.5) - 1.0).requires_grad_(True) for c in range(10)]
opt_img = torch.optim.SGD(u, lr=LRI, momentum=0.5)
for it in range(DITERS):
    W = {k: v.clone().requires_grad_(True) for k, v in net(DSEED, it).items()}
    params = [W[k] for k in PNAMES]
    opt_net = torch.optim.SGD(params, lr=LRN)
    for ol in range(OUTER):
        st_ = it * OUTER + ol
        loss = 0
        for c in range(10):
            real = torch.from_numpy(X[rows[c][draw(len(rows[c]), min(DBR, len(rows[c])), key(DSEED, st_, c))]]
                                    .astype(np.float32))
            gr = [g.detach() for g in torch.autograd.grad(ce(W, real, torch.full((len(real),), c)), params)]
            gs = torch.autograd.grad(ce(W, (u[c] + 1.0) * 127.5, torch.full((DIPC,), c)), params, create_graph=True)
            for a, b in zip(gs, gr):
                loss = loss + distance_wb(a, b)
        opt_img.zero_grad()
        loss.backward()
        opt_img.step()
        if ol == OUTER - 1:
            break
        syn = torch.cat([(t.detach() + 1.0) * 127.5 for t in u])
        ysyn = torch.arange(10).repeat_interleave(DIPC)
        for e in range(INNER):
            perm = torch.tensor(full_perm(len(syn), key(DSEED, st_ * INNER + e, -2)))
            for b0 in range(0, len(syn), BT):
                idx = perm[b0:b0 + BT]
                opt_net.zero_grad()
                ce(W, syn[idx], ysyn[idx]).backward()
                opt_net.step()
ref = torch.cat([(t.detach() + 1.0) * 127.5 for t in u]).numpy()
err = np.abs(got["x"] - ref).max()
moved = np.abs(ref - X[np.concatenate(init)]).max()
print(f"dc vs torch: max |diff| {err:.3g} pixels, images moved up to {moved:.3g}")
check(np.array_equal(got["kept"], np.concatenate(init)), "dc: kept_indices are the init draw")
check(moved > 0.05, "dc: the update moves the images")
check(err < 1e-3 * max(1.0, moved), f"dc: synthetic pixels match the torch reference ({err})")
st = got["steps"][-1] if got["steps"] else {}
check(st.get("method") == "dc" and st.get("iterations") == DITERS and "outer_loop: 2 " in st.get("config", ""),
      f"dc: provenance {st.get('method')} {st.get('iterations')}")

# ---- rank-count invariance -------------------------------------------------
for init_ in ("real", "noise"):
    base = None
    for np_ in (1, 2, 3):
        r = distill(f"dm-{init_}", small, np_, ipc=3, iterations=4, batch_real=24, init=init_)
        if base is None:
            base = r
        else:
            check(np.array_equal(r["x"], base["x"]) and np.array_equal(r["y"], base["y"]),
                  f"dm init={init_}: {np_} ranks give the 1-rank images bit for bit")
    check(np.isfinite(base["x"]).all(), f"dm init={init_}: finite")
    check((base["kept"] is None) == (init_ == "noise"), f"dm init={init_}: kept_indices only for real init")
# dc's inner training is cut into class-count pieces over the ranks; with
# batch norm (batch statistics) it is not cut, and every rank trains alike.
for norm in ("instance", "batch"):
    base = None
    for np_ in (1, 2, 3):
        r = distill(f"dc-ranks-{norm}", small, np_, method="dc", ipc=2, iterations=1, outer_loop=2, inner_loop=2,
                    batch_real=16, batch_train=8, **{"model.norm": norm})
        if base is None:
            base = r
        else:
            check(np.array_equal(r["x"], base["x"]), f"dc norm={norm}: {np_} ranks give the 1-rank images bit for bit")
    check(np.isfinite(base["x"]).all(), f"dc norm={norm}: finite")
# DSA: bit-identical at any rank count; the identity strategy gives the
# un-augmented result exactly (the draws do not disturb anything else); a
# real strategy changes it (the identity's round trip of the real pixels
# through [-1, 1] rounds, so that comparison has a tolerance)
for m in ("dm", "dc"):
    kw = dict(ipc=2, iterations=2, batch_real=16) if m == "dm" else \
        dict(ipc=2, iterations=1, outer_loop=2, inner_loop=1, batch_real=16, batch_train=8)
    plain = distill(f"{m}-plain", small, 1, method=m, **kw)["x"]
    none = distill(f"{m}-dsa-none", small, 1, method=m, dsa="true", dsa_strategy="none", **kw)["x"]
    # (the real pixels round-trip through the [-1, 1] scale: equal up to float rounding)
    check(np.abs(plain - none).max() < 0.05, f"{m} dsa with strategy none equals dsa=false "
                                             f"({np.abs(plain - none).max():.3g})")
    base = None
    for np_ in (1, 2, 3):
        r = distill(f"{m}-dsa", small, np_, method=m, dsa="true", **kw)["x"]
        if base is None:
            base = r
        else:
            check(np.array_equal(r, base), f"{m} dsa: {np_} ranks give the 1-rank images bit for bit")
    check(np.isfinite(base).all() and not np.array_equal(base, plain), f"{m} dsa: augmentation changes the result")
q = distill("dm-q", small, 2, ipc=3, iterations=4, batch_real=24, synthetic_dtype="source")
check(q["x"].dtype == np.uint8 and np.array_equal(q["x"], np.clip(np.rint(base_real := distill(
    "dm-real", small, 1, ipc=3, iterations=4, batch_real=24)["x"]), 0, 255).astype(np.uint8)),
    "synthetic_dtype=source: the float result rounded and clamped to uint8")
del base_real

# ---- snapshots and resumed runs ---------------------------------------------
# condense.snapshot_every writes what a shorter run writes; condense.resume_from
# continues a snapshot (or an output) to what one longer run writes, bit for bit,
# at other rank counts too; a state made with other keys is refused.
def clean(prefix):
    for x in os.listdir(WORK):
        if x.startswith(prefix):
            os.remove(os.path.join(WORK, x))


def errline(p):
    lines = [x for x in p.stderr.strip().splitlines() if x.startswith("shrink")]
    return lines[-1] if lines else p.stderr.strip()


for m in ("dm", "dc"):
    kw = dict(ipc=2, batch_real=16, dsa="true") if m == "dm" else \
        dict(ipc=2, outer_loop=2, inner_loop=1, batch_real=16, batch_train=8, dsa="true")
    straight = {n: distill(f"{m}-straight{n}", small, 1, method=m, iterations=n, **kw)["x"] for n in (2, 4, 6)}
    clean(f"{m}-snap")
    snap = distill(f"{m}-snap", small, 2, method=m, iterations=4, snapshot_every=2, **kw)
    stem = snap["out"][:-3]
    for f in (f"{stem}.it2.h5", f"{stem}.it2.state.safetensors", f"{stem}.state.safetensors"):
        check(os.path.exists(f), f"{m} snapshot_every=2: {os.path.basename(f)} written")
    check(not os.path.exists(f"{stem}.it4.h5"), f"{m}: no snapshot at the last iteration (that is the output)")
    with h5py.File(f"{stem}.it2.h5", "r") as f:
        check(np.array_equal(f["samples"][()], straight[2]), f"{m}: the 2-iteration snapshot is a 2-iteration run")
        check(json.loads(f["provenance"].attrs["steps"])[-1]["iterations"] == 2, f"{m}: snapshot provenance: 2 its")
    check(np.array_equal(snap["x"], straight[4]), f"{m}: snapshots leave the output as it was")
    clean(f"{m}-resumed")
    res = distill(f"{m}-resumed", small, 3, method=m, iterations=4, resume_from=f"{stem}.it2.h5", **kw)
    check(np.array_equal(res["x"], straight[4]), f"{m}: 2 + 2 iterations resumed at 3 ranks = 4 at 1 rank")
    st = res["steps"][-1]
    check(st.get("resumed_from") == f"{stem}.it2.h5" and st.get("resumed_iterations") == 2 and
          st.get("iterations") == 4, f"{m}: provenance records the resume {st.get('resumed_from')}")
    res6 = distill(f"{m}-resumed6", small, 1, method=m, iterations=6, resume_from=snap["out"], **kw)
    check(np.array_equal(res6["x"], straight[6]), f"{m}: an output resumed from 4 to 6 iterations = 6")
    # refused: other keys, no more iterations, no state file, existing snapshots, nothing written
    bad = os.path.join(WORK, "bad.h5")
    base = dict(MODEL, **{"condense.input": small, "condense.output": bad, "condense.method": m},
                **{f"condense.{k}": v for k, v in kw.items()})
    clean("clash")
    clash = os.path.join(WORK, "clash.h5")
    open(os.path.join(WORK, "clash.it2.h5"), "w").close()  # a snapshot the run would overwrite
    for name, kv, needle in [
            ("other lr_img", {"condense.iterations": 4, "condense.lr_img": 3, "condense.resume_from": f"{stem}.it2.h5"},
             "condense.lr_img"),
            ("other model", {"condense.iterations": 4, "model.width": 4, "condense.resume_from": f"{stem}.it2.h5"},
             "model.width"),
            ("other seed", {"condense.iterations": 4, "run.seed": 7, "condense.resume_from": f"{stem}.it2.h5"},
             "run.seed"),
            ("no more iterations", {"condense.iterations": 2, "condense.resume_from": f"{stem}.it2.h5"},
             "condense.iterations"),
            ("no state file", {"condense.iterations": 4, "condense.resume_from": os.path.join(WORK, f"{m}-straight2-np1.h5")},
             "state file"),
            ("snapshot exists", {"condense.iterations": 4, "condense.snapshot_every": 2, "condense.output": clash},
             "clash.it2.h5' exists")]:
        args = dict(base)
        args.update(kv)
        for np_ in (1, 2):
            p = run(["condense"] + sets(args), np_, ok=False)
            check(p.returncode != 0 and needle in errline(p),
                  f"{m} {name} at {np_} ranks: exit {p.returncode}, message names {needle}: {errline(p)}")
            check(not [x for x in os.listdir(WORK) if x.startswith("bad.") or x.startswith("clash.") and
                       x != "clash.it2.h5"], f"{m} {name}: nothing written")
p = run(["condense"] + sets({"condense.input": small, "condense.output": os.path.join(WORK, "bad.h5"),
                             "condense.snapshot_every": 2}), ok=False)
check(p.returncode != 0 and "condense.snapshot_every" in errline(p), f"random with snapshot_every: {errline(p)}")

# ---- the example configs run (reduced) --------------------------------------
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
for m in ("dm", "dc"):
    out = os.path.join(WORK, f"cfg-{m}.h5")
    if os.path.exists(out):
        os.remove(out)
    p = run(["condense", "--config", os.path.join(ROOT, "configs", f"condense-{m}.yaml")] +
            sets({"condense.input": small, "condense.output": out, "condense.ipc": 1, "condense.iterations": 1,
                  "condense.batch_real": 8, "model.width": 8, "model.depth": 2, "run.threads": 1}), ok=False)
    check(p.returncode == 0 and os.path.exists(out) and "made 10 synthetic samples" in p.stdout,
          f"configs/condense-{m}.yaml runs: {p.stdout.strip()} {p.stderr.strip()[-300:]}")

# ---- shrink train on the synthetic float32 corpus, evaluated on uint8 ------
tr = os.path.join(WORK, "train")
p = run(["train"] + sets({"run.out_dir": tr, "run.overwrite": "true", "data.train": got["out"], "data.eval": small,
                          "data.batch_size": 10, "train.steps": 5, "train.warmup": 1, "train.eval_every": 0,
                          "train.ckpt_every": 0}) + sets(MODEL), ok=False)
check(p.returncode == 0, f"shrink train on the dm corpus: {p.stderr.strip().splitlines()[-1:] if p.stderr else ''}")

# ---- bad input --------------------------------------------------------------
text = os.path.join(WORK, "txt.h5")
if not os.path.exists(text):
    run(["prepare"] + sets({"prepare.format": "text", "prepare.input": "/usr/share/games/fortunes/computers",
                            "prepare.output": text}))
nolab = os.path.join(WORK, "nolabels.h5")
if not os.path.exists(nolab):
    run(["prepare"] + sets({"prepare.format": "idx", "prepare.input": f"{FM}/t10k-images-idx3-ubyte.gz",
                            "prepare.output": nolab}))
bad_out = os.path.join(WORK, "bad.h5")
BAD = [
    ("token corpus", {"condense.input": text}, "token"),
    ("ipc above a class", {"condense.ipc": 1000}, "condense.ipc"),
    ("no labels", {"condense.input": nolab}, "labels"),
    ("not an image classifier", {"model.arch": "gpt"}, "model.arch"),
    ("bad dsa strategy", {"condense.dsa": "true", "condense.dsa_strategy": "crop_bogus"}, "condense.dsa_strategy"),
]
# dc: an ipc the reference's get_loops does not know, without explicit loop counts
p = run(["condense"] + sets(dict(MODEL, **{"condense.input": small, "condense.output": os.path.join(WORK, "bad.h5"),
                                           "condense.method": "dc", "condense.ipc": 3})), ok=False)
check(p.returncode != 0 and "condense.outer_loop" in p.stderr, f"dc ipc=3 without loops: {p.stderr.strip()[-200:]}")
for method in ("dm", "dc"):
    for name, kv, needle in BAD:
        args = dict(MODEL, **{"condense.input": small, "condense.output": bad_out, "condense.method": method,
                              "condense.iterations": 1})
        args.update(kv)
        for np_ in (1, 2):
            p = run(["condense"] + sets(args), np_, ok=False)
            lines = [x for x in p.stderr.strip().splitlines() if x.startswith("shrink")]
            msg = lines[-1] if lines else p.stderr.strip()
            check(p.returncode != 0, f"{method} bad input '{name}' at {np_} ranks: exit {p.returncode}")
            check(needle in msg, f"{method} bad input '{name}' at {np_} ranks: message names {needle}: {msg}")
            check(not [x for x in os.listdir(WORK) if "bad.h5" in x], f"{method} '{name}': nothing written")

if failures:
    print(f"{len(failures)} failed")
    sys.exit(1)
print("test_distill: all checks passed")
