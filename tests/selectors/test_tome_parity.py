"""tome x merge against ToMe's bipartite soft matching (Bolya et al., ICLR
2023; facebookresearch/ToMe tome/merge.py bipartite_soft_matching and
merge_wavg), written here from the algorithm: sets A = even and B = odd
positions of the whole sequence, protected tokens' similarities -inf,
node_max / node_idx = max over B, the r A tokens first in
node_max.argsort(descending=True) merge into their node_idx,
size-weighted. max and argsort are torch's, the same calls ToMe makes, so
exact ties (identical tokens) fall as in ToMe; on random keys and on keys
with many exact ties, with and without a class token, for several r up to
(N - p) // 2. Outputs are compared in sequence order (ToMe returns
[unmerged A, B]; shrink keeps sequence order). The metric is computed op
for op as ToMe does (mean over heads, divided by the norm), so near-ties
between groups of identical tokens round, and order, the same way."""
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

dump = sys.argv[1]


def reference(keys, x, sizes, p, r):
    """Merged x, sizes and original positions, sorted by position."""
    b, _, n, _ = keys.shape
    metric = keys.mean(1)
    metric = metric / metric.norm(dim=-1, keepdim=True)
    a_pos, b_pos = torch.arange(0, n, 2), torch.arange(1, n, 2)
    sim = metric[:, 0::2] @ metric[:, 1::2].transpose(1, 2)
    sim[:, a_pos < p, :] = -float("inf")
    sim[:, :, b_pos < p] = -float("inf")
    node_max, node_idx = sim.max(dim=-1)
    order = node_max.argsort(dim=-1, descending=True)
    xs, ss, ps = [], [], []
    for s in range(b):
        into = list(range(n))  # the position each token ends up in
        for i in order[s, :r].tolist():
            into[int(a_pos[i])] = int(b_pos[node_idx[s, i]])
        keep = [t for t in range(n) if into[t] == t]
        w = sizes[s].double().numpy()
        xv = x[s].double().numpy()
        xs.append([sum(w[u] * xv[u] for u in range(n) if into[u] == t) / sum(w[u] for u in range(n) if into[u] == t)
                   for t in keep])
        ss.append([sum(w[u] for u in range(n) if into[u] == t) for t in keep])
        ps.append(keep)
    return np.array(xs), np.array(ss), np.array(ps)


def ours(keys, x, sizes, p, r, d):
    b, h, n, dh = keys.shape
    fin, fout = os.path.join(d, "in.bin"), os.path.join(d, "out.bin")
    with open(fin, "wb") as f:
        f.write(np.array([b, n, x.shape[2], h, dh, p, r], dtype="<i8").tobytes())
        for t in (keys, x, sizes):
            f.write(t.numpy().astype("<f4").tobytes())
    subprocess.run([dump, fin, fout], check=True)
    raw = open(fout, "rb").read()
    n2 = int(np.frombuffer(raw[:8], "<i8")[0])
    assert n2 == n - r, (n2, n, r)
    o = 8
    xo = np.frombuffer(raw[o:o + 4 * b * n2 * x.shape[2]], "<f4").reshape(b, n2, x.shape[2])
    o += xo.nbytes
    so = np.frombuffer(raw[o:o + 4 * b * n2], "<f4").reshape(b, n2)
    o += so.nbytes
    po = np.frombuffer(raw[o:], "<i8").reshape(b, n2)
    return xo, so, po


def inputs(seed, n, tied):
    g = torch.Generator().manual_seed(seed)
    b, h, dh, d = 4, 2, 8, 6
    keys = torch.randn(b, h, n, dh, generator=g)
    if tied:  # most tokens share one of 3 keys (background patches): node_max ties exactly
        base = torch.randn(b, h, 3, dh, generator=g)
        pick = torch.randint(0, 3, (n,), generator=g)
        for t in range(n):
            if t % 4 != 1:
                keys[:, :, t] = base[:, :, pick[t]]
    x = torch.randn(b, n, d, generator=g)
    sizes = torch.randint(1, 4, (b, n), generator=g).float()
    return keys, x, sizes


cases = 0
with tempfile.TemporaryDirectory() as d:
    for tied in (False, True):
        for p in (0, 1):
            # 24 unprotected tokens; 80 with ties (torch sorts runs this long
            # unstably, so a stable sort would not pass)
            n = (80 if tied else 24) + p
            for r in sorted({r for r in (1, 5, 11, 23, 31) if r <= (n - p) // 2} | {(n - p) // 2}):
                keys, x, sizes = inputs(100 * r + 10 * p + tied, n, tied)
                xr, sr, pr = reference(keys, x, sizes, p, r)
                xo, so, po = ours(keys, x, sizes, p, r, d)
                what = f"tied={tied} p={p} r={r}"
                assert np.array_equal(po, pr), f"{what}: other tokens merged\n{po}\n{pr}"
                assert np.array_equal(so, sr), f"{what}: sizes\n{so}\n{sr}"
                assert np.abs(xo - xr).max() < 1e-5, f"{what}: merged values differ by {np.abs(xo - xr).max()}"
                if p:
                    assert (po[:, 0] == 0).all() and (so[:, 0] == sizes[:, 0].numpy()).all(), what
                cases += 1
print(f"ok: {cases} cases match ToMe's bipartite soft matching")
