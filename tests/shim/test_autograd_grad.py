"""sk_shim_autograd_grad against torch.autograd.grad, first and second order
(create_graph=True, the gradient-matching pattern of dataset condensation):
the gradients, an unused input's zeros (allow_unused), and the gradient of a
loss built from the gradients w.r.t. the input x and the parameter w.
usage: test_autograd_grad.py SK_AUTOGRAD_DUMP"""
import math
import subprocess
import sys

import numpy as np
import torch

torch.set_num_threads(1)
out = subprocess.run([sys.argv[1]], capture_output=True, text=True, check=True, timeout=60).stdout
got = {ln.split()[0]: np.array([float(v) for v in ln.split()[1:]]) for ln in out.strip().splitlines()}


def leaf(shape, n, phase):
    return torch.tensor([math.sin(0.7 * k + phase) for k in range(n)], dtype=torch.float32).reshape(shape) \
        .requires_grad_(True)


x, w, b, u = leaf((4, 3), 12, 0.1), leaf((3, 2), 6, 1.3), leaf((2,), 2, 2.9), leaf((5,), 5, 0.5)
c = torch.tensor([math.cos(k) for k in range(6)], dtype=torch.float32).reshape(3, 2)
y = (torch.tanh(x @ w + b) ** 2).sum()
gw, gb, gu = torch.autograd.grad(y, (w, b, u), create_graph=True, allow_unused=True)
assert gu is None
L = (gw * c).sum() + (gb * gb).sum()
L.backward()
y0 = (torch.tanh(x @ w + b) ** 2).sum()
gw0 = torch.autograd.grad(y0, (w,))[0]
want = {"gw": gw, "gb": gb, "gu": torch.zeros(5), "xgrad": x.grad, "wgrad": w.grad, "gw0": gw0}
bad = []
for k, v in want.items():
    v = v.detach().numpy().ravel().astype(np.float64)
    err = float(np.max(np.abs(got[k] - v) / (np.abs(v) + 1.0)))
    print(f"{k}: relative error {err:.3g}")
    if not err <= 1e-5:
        bad.append(k)
if float(np.abs(want["xgrad"].numpy()).max()) == 0:
    bad.append("x.grad is zero: the second-order path is not exercised")
if got["gw_requires_grad"][0] != 1 or got["gw0_requires_grad"][0] != 0:
    bad.append("requires_grad of the gradients (create_graph 1 / 0)")
if bad:
    sys.exit(f"FAILED: {bad}")
print("test_autograd_grad: all checks passed")
