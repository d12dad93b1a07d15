#!/usr/bin/python3
"""bench_distill_torch.py IMAGES_IDX_GZ LABELS_IDX_GZ ITERS IPC BATCH_REAL WIDTH - the DM update
of main_DM.py (VICO-UoE/DatasetCondensation) in PyTorch eager on 1 thread:
per iteration a freshly initialised ConvNet-3 (instance norm, avg pooling,
first conv padded by 3 for 1-channel images, as models/sk_convnet.h), for
each of 10 classes a real batch and the class's synthetic images embedded,
sum of squared mean differences, one SGD step (lr 1, momentum 0.5) of the
images. The same work as `shrink condense` with condense.method=dm.
Prints "torch dm: N iterations, median S s/iteration, spread LO..HI"."""
import sys
import time

import numpy as np
import torch

from fmnist_convnet import convnet, load_idx


def main():
    torch.set_num_threads(1)
    imgs, labs = sys.argv[1], sys.argv[2]
    iters, ipc, br, width = (int(a) for a in sys.argv[3:7])
    X, Y = load_idx(imgs, labs)
    rows = [np.flatnonzero(Y == c) for c in range(10)]
    Xt = torch.from_numpy(X.copy())
    rng = np.random.default_rng(0)
    syn = torch.cat([Xt[rng.choice(r, ipc, replace=False)].float() / 127.5 - 1 for r in rows]).reshape(-1, 1, 28, 28)
    syn.requires_grad_(True)
    opt = torch.optim.SGD([syn], lr=1.0, momentum=0.5)
    times = []
    for it in range(iters + 1):  # the first is a warm-up
        t0 = time.perf_counter()
        net = convnet(width)
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


if __name__ == "__main__":
    main()
