#!/usr/bin/python3
"""distill_lr_scale.py [TRIALS] - how far one condense.lr_img moves pixels here against the
reference (VICO-UoE/DatasetCondensation main_DM.py), whose synthetic images live in
mean/std-normalised units, u = (p - 0.2861) / 0.3530 for Fashion-MNIST, where shrink's
live in the models' u = (p - 0.5) / 0.5 (models/sk_convnet.h; p in [0, 1]).

An SGD step of lr on u moves the pixels by lr * s^2 * dL/dp (s the map's scale), so the
two steps differ by (0.5 / 0.3530)^2 = 2.0 if dL/dp, the loss's gradient in pixel units,
is the same under both maps. The ConvNet's instance norm makes it nearly invariant to an
affine map of its input (zero padding breaks it at the borders); this measures it: for
TRIALS random ConvNet-3s (width 32, instance norm, average pooling, first conv padded by 3
as models/sk_convnet.h) the DM loss of sk_condense_dm.c (sum over classes of the squared
difference of the mean embeddings of 64 real and 10 synthetic images, the synthetic ones
real images of the class) is differentiated w.r.t. the synthetic pixels under each map,
the same images and network for both. Prints each trial's |dL/dp| ratio and cosine, and
the pixel step of shrink over the reference's at equal lr_img. Debian's python3-torch."""
import sys

import torch

from fmnist_convnet import convnet, load_idx


def load():
    x, y = load_idx()
    return torch.from_numpy(x.copy()).view(-1, 1, 28, 28).float() / 255, torch.from_numpy(y.astype("int64"))


def grad_pixels(net, reals, syns, mean, std):
    loss, leaves = 0, []
    for real, syn in zip(reals, syns):
        p = syn.clone().requires_grad_(True)
        leaves.append(p)
        loss = loss + ((net((real - mean) / std).mean(0) - net((p - mean) / std).mean(0)) ** 2).sum()
    loss.backward()
    return torch.cat([p.grad.flatten() for p in leaves])


def main():
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    torch.set_num_threads(1)
    torch.manual_seed(0)
    x, y = load()
    ratios = []
    for t in range(trials):
        net = convnet()
        reals, syns = [], []
        for c in range(10):
            idx = (y == c).nonzero().flatten()
            idx = idx[torch.randperm(len(idx))]
            reals.append(x[idx[:64]])
            syns.append(x[idx[64:74]])
        ref = grad_pixels(net, reals, syns, 0.2861, 0.3530)
        ours = grad_pixels(net, reals, syns, 0.5, 0.5)
        ratios.append((ref.norm() / ours.norm()).item())
        cos = torch.nn.functional.cosine_similarity(ref, ours, dim=0).item()
        print(f"trial {t}: |dL/dp| reference / shrink {ratios[-1]:.3f}, cosine {cos:.3f}")
    mean_ratio = sum(ratios) / len(ratios)
    print(f"pixel step, shrink / reference, at equal lr_img: {0.5**2 / 0.3530**2 / mean_ratio:.2f}")


if __name__ == "__main__":
    main()
