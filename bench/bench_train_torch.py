"""The models and training step of bench_train.c in PyTorch eager (Debian's
python3-torch, the same libtorch build), on the same formula-generated data.
usage: bench_train_torch.py vit|gpt STEPS THREADS
prints: "torch <model> ranks 1 step_ms <median> samples_s <x>"

One step = what the shrink trainer times: make the batch, forward, loss,
backward, clip the global grad norm to 1.0, AdamW (foreach=False, as the
shim), zero grads, read the loss (and, for the ViT, the accuracy count)."""
import math
import os
import statistics
import sys
import time

# OpenBLAS's own thread pool held at 1, as sk_shim_set_num_threads does (it
# is read when the library loads, so before torch is imported)
os.environ["OPENBLAS_NUM_THREADS"] = "1"

import torch
import torch.nn.functional as F


class Block(torch.nn.Module):
    def __init__(self, d, hidden, heads, causal):
        super().__init__()
        self.ln1 = torch.nn.LayerNorm(d)
        self.qkv = torch.nn.Linear(d, 3 * d)
        self.proj = torch.nn.Linear(d, d)
        self.ln2 = torch.nn.LayerNorm(d)
        self.fc1 = torch.nn.Linear(d, hidden)
        self.fc2 = torch.nn.Linear(hidden, d)
        self.h, self.causal = heads, causal

    def forward(self, x):
        B, N, D = x.shape
        qkv = self.qkv(self.ln1(x)).reshape(B, N, 3, self.h, D // self.h).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        s = torch.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(D // self.h))
        if self.causal:
            s = s + torch.full((N, N), float("-inf")).triu(1)
        a = torch.matmul(s.softmax(-1), v).transpose(1, 2).reshape(B, N, D)
        x = x + self.proj(a)
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class ViT(torch.nn.Module):
    def __init__(self, patch=4, d=64, depth=4, heads=4, mlp=2, classes=10, img=28):
        super().__init__()
        self.p, self.g = patch, img // patch
        self.patch = torch.nn.Linear(patch * patch, d)
        self.cls = torch.nn.Parameter(torch.randn(1, 1, d) * 0.02)
        self.pos = torch.nn.Parameter(torch.randn(1, self.g * self.g + 1, d) * 0.02)
        self.blocks = torch.nn.ModuleList([Block(d, mlp * d, heads, False) for _ in range(depth)])
        self.norm = torch.nn.LayerNorm(d)
        self.head = torch.nn.Linear(d, classes)

    def forward(self, img, labels):
        B, P, g = img.shape[0], self.p, self.g
        x = img.to(torch.float32) * (2.0 / 255.0) - 1.0
        x = x.reshape(B, 1, g, P, g, P).permute(0, 2, 4, 1, 3, 5).reshape(B, g * g, P * P)
        x = torch.cat([self.cls.expand(B, 1, -1), self.patch(x)], 1) + self.pos
        for b in self.blocks:
            x = b(x)
        logits = self.head(self.norm(x)[:, 0])
        return F.cross_entropy(logits, labels), (logits.argmax(1) == labels).sum()


class GPT(torch.nn.Module):
    def __init__(self, vocab=257, T=128, d=128, depth=4, heads=4, mlp=4):
        super().__init__()
        self.wte = torch.nn.Embedding(vocab, d)
        self.wpe = torch.nn.Embedding(T, d)
        self.blocks = torch.nn.ModuleList([Block(d, mlp * d, heads, True) for _ in range(depth)])
        self.ln_f = torch.nn.LayerNorm(d)

    def forward(self, w):
        inp, tgt = w[:, :-1], w[:, 1:]
        T = inp.shape[1]
        x = self.wte(inp) + self.wpe(torch.arange(T))
        for b in self.blocks:
            x = b(x)
        logits = F.linear(self.ln_f(x), self.wte.weight)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1)), None


def batch(kind, step, B):
    i = step * B + torch.arange(B, dtype=torch.int64)
    if kind == "gpt":
        j = torch.arange(129, dtype=torch.int64)
        return ((i[:, None] * 131 + j * 31 + (j * j) % 7) % 257,)
    k = torch.arange(784, dtype=torch.int64)
    img = ((i[:, None] * 37 + k * 11 + (i % 10)[:, None] * k) % 256).to(torch.uint8).reshape(B, 28, 28)
    return img, i % 10


def main():
    kind, steps, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    model = GPT() if kind == "gpt" else ViT()
    B = 32 if kind == "gpt" else 128
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "pos" not in n and "wpe" not in n]
    other = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "pos" not in n and "wpe" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": other, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.999), eps=1e-8, foreach=False)
    times = []
    for step in range(steps):
        t0 = time.perf_counter()
        lr = 1e-5 + 0.5 * (1e-3 - 1e-5) * (1 + math.cos(math.pi * step / max(1, steps - 1)))
        for g in opt.param_groups:
            g["lr"] = lr
        loss, correct = model(*batch(kind, step, B))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss.item()
        if correct is not None:
            correct.item()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times[3:])
    print(f"torch {kind} ranks 1 step_ms {med * 1e3:.3f} samples_s {B / med:.1f}")


if __name__ == "__main__":
    main()
