"""fmnist_convnet.py - what the PyTorch references under bench/ share (Debian's python3-torch):
the Fashion-MNIST idx loader and the ConvNet-3 embedding of the distillation papers
(VICO-UoE/DatasetCondensation utils.py ConvNet with instance norm, average pooling, no
classifier), its first conv padded by 3 for 1-channel 28x28 images as models/sk_convnet.h."""
import gzip

import numpy as np
from torch import nn

FM = "/usr/share/datasets/fashion-mnist/"


def load_idx(images_gz=FM + "train-images-idx3-ubyte.gz", labels_gz=FM + "train-labels-idx1-ubyte.gz"):
    """Images uint8 [N, 28, 28] and labels uint8 [N] of an idx pair."""
    x = np.frombuffer(gzip.open(images_gz).read(), np.uint8, offset=16).reshape(-1, 28, 28)
    y = np.frombuffer(gzip.open(labels_gz).read(), np.uint8, offset=8)
    return x, y


def convnet(width=32):
    """A freshly initialised ConvNet-3 embedding, weights frozen (only the images learn)."""
    layers, c = [], 1
    for d in range(3):
        layers += [nn.Conv2d(c, width, 3, padding=3 if d == 0 else 1), nn.GroupNorm(width, width, affine=True),
                   nn.ReLU(), nn.AvgPool2d(2, 2)]
        c = width
    net = nn.Sequential(*layers, nn.Flatten())
    for p in net.parameters():
        p.requires_grad_(False)
    return net
