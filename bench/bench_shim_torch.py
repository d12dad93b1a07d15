"""The block of bench_shim.c in PyTorch eager (Debian's python3-torch, the
same libtorch build). usage: bench_shim_torch.py [threads] [steps]
prints: "py step_ms <median> op_us <median>"."""
import os
import statistics
import sys
import time

# OpenBLAS's own thread pool held at 1, as sk_shim_set_num_threads does (it
# is read when the library loads, so before torch is imported)
os.environ["OPENBLAS_NUM_THREADS"] = "1"
import torch  # noqa: E402
import torch.nn.functional as F

B, N, D, H, FF = 8, 64, 128, 4, 512


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(0)
    shapes = [(D,), (D,), (3 * D, D), (3 * D,), (D, D), (D,), (D,), (D,), (FF, D), (FF,), (D, FF), (D,)]
    p = []
    for i, s in enumerate(shapes):
        if len(s) == 1:
            t = torch.ones(s) if i in (0, 6) else torch.zeros(s)
        else:
            t = torch.randn(s, generator=g) * 0.02
        p.append(t.requires_grad_())
    opt = torch.optim.AdamW(p, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, foreach=False)
    x = torch.randn(B, N, D, generator=g)
    sdpa = getattr(F, "scaled_dot_product_attention", None)
    times = []
    for it in range(-3, steps):
        t0 = time.perf_counter()
        h = F.layer_norm(x, (D,), p[0], p[1], 1e-5)
        qkv = F.linear(h, p[2], p[3]).reshape(B, N, 3, H, D // H).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        if sdpa is not None:
            a = sdpa(q, k, v)
        else:
            a = torch.matmul((torch.matmul(q, k.transpose(-2, -1)) / (D // H) ** 0.5).softmax(-1), v)
        a = a.transpose(1, 2).reshape(B, N, D)
        x1 = x + F.linear(a, p[4], p[5])
        h2 = F.layer_norm(x1, (D,), p[6], p[7], 1e-5)
        y = x1 + F.linear(F.gelu(F.linear(h2, p[8], p[9])), p[10], p[11])
        loss = (y * y).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(p, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if it >= 0:
            times.append((time.perf_counter() - t0) * 1e3)
    u = torch.ones(1)
    ops = 20000
    r = []
    for _ in range(7):
        t0 = time.perf_counter()
        for _ in range(ops):
            torch.add(u, u)
        r.append((time.perf_counter() - t0) / ops * 1e6)
    print(f"py step_ms {statistics.median(times):.3f} op_us {statistics.median(r):.3f}")


if __name__ == "__main__":
    main()
