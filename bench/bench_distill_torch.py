#!/usr/bin/python3
"""bench_distill_torch.py IMAGES_IDX_GZ LABELS_IDX_GZ ITERS IPC BATCH_REAL WIDTH - the DM update
of main_DM.py (VICO-UoE/DatasetCondensation) in PyTorch eager on 1 thread:
per iteration a freshly initialised ConvNet-3 (instance norm, avg pooling,
first conv padded by 3 for 1-channel images, as models/sk_convnet.h), for
each of 10 classes a real batch and the class's synthetic images embedded,
sum of squared mean differences, one SGD step (lr 1, momentum 0.5) of the
images. The same work as `shrink condense` with condense.method=dm.
Prints "torch dm: N iterations, median S s/iteration, spread LO..HI"."""
import gzip
import sys
import time

import numpy as np
import torch
from torch import nn

torch.set_num_threads(1)
imgs, labs, iters, ipc, br, width = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), \
    int(sys.argv[5]), int(sys.argv[6])
X = np.frombuffer(gzip.open(imgs).read(), np.uint8, offset=16).reshape(-1, 28, 28)
Y = np.frombuffer(gzip.open(labs).read(), np.uint8, offset=8)
rows = [np.flatnonzero(Y == c) for c in range(10)]
Xt = torch.from_numpy(X.copy())


def convnet():
    layers, c = [], 1
    for d in range(3):
        layers += [nn.Conv2d(c, width, 3, padding=3 if d == 0 else 1), nn.GroupNorm(width, width, affine=True),
                   nn.ReLU(), nn.AvgPool2d(2, 2)]
        c = width
    net = nn.Sequential(*layers, nn.Flatten())
    for p in net.parameters():
        p.requires_grad_(False)
    return net


rng = np.random.default_rng(0)
syn = torch.cat([Xt[rng.choice(r, ipc, replace=False)].float() / 127.5 - 1 for r in rows]).reshape(-1, 1, 28, 28)
syn.requires_grad_(True)
opt = torch.optim.SGD([syn], lr=1.0, momentum=0.5)
times = []
for it in range(iters + 1):  # the first is a warm-up
    t0 = time.perf_counter()
    net = convnet()
    loss = 0
    for c in range(10):
        real = Xt[rng.permutation(rows[c])[:br]].float().reshape(-1, 1, 28, 28) * (2 / 255) - 1
        fr = net(real).detach()
        fs = net(syn[c * ipc:(c + 1) * ipc])
        loss = loss + torch.sum((fr.mean(0) - fs.mean(0)) ** 2)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if it > 0:
        times.append(time.perf_counter() - t0)
t = np.array(times)
print(f"torch dm: {iters} iterations, median {np.median(t):.4f} s/iteration, spread {t.min():.4f}..{t.max():.4f}")
