"""Shim ops against PyTorch (Debian's python3-torch as the outside reference):
sk_shim_dump runs them on deterministic inputs and writes inputs and
results; this script recomputes each with torch and compares.
  sgd: sk_sgd against torch.optim.SGD(foreach=False), step by step;
  grid: sk_shim_affine_grid / sk_shim_grid_sample / sk_shim_flip against
        torch.nn.functional.affine_grid / grid_sample (bilinear, zeros) and
        torch.flip, values and gradients (x and theta), both align_corners.
usage: test_shim_torch.py SK_SHIM_DUMP"""
import os
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "trainer"))
from sk_trainer_testlib import read_safetensors, run  # noqa: E402

torch.set_num_threads(1)

# The cases of sk_shim_dump.c: momentum, dampening, weight decay, nesterov, param 1 undecayed.
SGD_CASES = [(0.9, 0.0, 5e-4, False, False), (0.9, 0.0, 5e-4, True, False), (0.5, 0.0, 5e-4, False, True),
             (0.5, 0.25, 0.0, False, False), (0.0, 0.0, 5e-4, False, False), (0.5, 0.0, 5e-4, True, True)]
NP = 3


def has_grad(i, k):
    return i != 2 or k in (2, 3, 5)


def close(name, got, want, tol=1e-6):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, f"{name}: shape {got.shape} != {want.shape}"
    err = float(np.max(np.abs(got - want) / (np.abs(want) + 1.0)))
    assert err <= tol, f"{name}: relative error {err:.3g} > {tol}"


def check_sgd(t):
    for c, (mom, damp, wd, nest, mask) in enumerate(SGD_CASES):
        lrs = t[f"c{c}.lr"]
        steps = len(lrs)
        ps = [torch.tensor(t[f"c{c}.init.p{i}"].copy(), requires_grad=True) for i in range(NP)]
        groups = [{"params": [ps[0], ps[2]]}, {"params": [ps[1]], "weight_decay": 0.0 if mask else wd}]
        opt = torch.optim.SGD(groups, lr=float(lrs[0]), momentum=mom, dampening=damp, weight_decay=wd,
                              nesterov=nest, foreach=False)
        moved = 0
        for k in range(steps):
            opt.zero_grad(set_to_none=True)
            loss = sum((torch.from_numpy(t[f"c{c}.s{k}.a{i}"].copy()) * 0.5 * ps[i] * ps[i]
                        + torch.from_numpy(t[f"c{c}.s{k}.b{i}"].copy()) * ps[i]).sum()
                       for i in range(NP) if has_grad(i, k))
            loss.backward()
            for g in opt.param_groups:
                g["lr"] = float(lrs[k])
            opt.step()
            for i in range(NP):
                got = t[f"c{c}.s{k}.p{i}"]
                close(f"case {c} step {k} param {i}", got, ps[i].detach().numpy())
                moved += int(not np.array_equal(got, t[f"c{c}.init.p{i}"]))
        assert moved > 0, f"case {c}: nothing moved"
        for i in range(NP):
            buf = opt.state[ps[i]].get("momentum_buffer") if ps[i] in opt.state else None
            name = f"c{c}.buf{i}"
            if buf is None:
                assert name not in t, f"case {c}: shrink kept a momentum buffer for param {i}, torch none"
            else:
                assert name in t, f"case {c}: torch has a momentum buffer for param {i}, shrink none"
                close(f"case {c} buffer {i}", t[name], buf.numpy())
    print(f"sgd: {len(SGD_CASES)} cases match torch.optim.SGD")


def check_grid(t):
    import torch.nn.functional as F
    x = torch.tensor(t["x"].copy(), requires_grad=True)
    th = torch.tensor(t["theta"].copy(), requires_grad=True)
    r = torch.from_numpy(t["r"].copy())
    close("flip", t["flip"], torch.flip(x, [3]).detach().numpy(), 0)
    for a in (0, 1):
        x.grad = th.grad = None
        grid = F.affine_grid(th, [3, 2, 5, 6], align_corners=bool(a))
        y = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=bool(a))
        (y * r).sum().backward()
        close(f"grid{a}", t[f"grid{a}"], grid.detach().numpy(), 1e-6)
        close(f"y{a}", t[f"y{a}"], y.detach().numpy(), 1e-5)
        close(f"gx{a}", t[f"gx{a}"], x.grad.numpy(), 1e-5)
        close(f"gtheta{a}", t[f"gtheta{a}"], th.grad.numpy(), 1e-4)
        assert np.abs(t[f"gx{a}"]).max() > 0 and np.abs(t[f"gtheta{a}"]).max() > 0, "zero gradient"
        assert not np.allclose(t[f"y{a}"], 0), "empty output"
    print("grid: affine_grid / grid_sample / flip match torch.nn.functional")


def main():
    dump = sys.argv[1]
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "sgd.safetensors")
        run([dump, "sgd", out])
        check_sgd(read_safetensors(out)[1])
        out = os.path.join(d, "grid.safetensors")
        run([dump, "grid", out])
        check_grid(read_safetensors(out)[1])


if __name__ == "__main__":
    main()
