"""The ConvNet (models/sk_convnet.c) against a PyTorch ConvNet built as
Zhao et al.'s networks.py builds it (conv 3x3 with bias, padding 3 on the
first layer of 1-channel images, else 1; GroupNorm(C, C) / BatchNorm2d /
none; ReLU; AvgPool2d / MaxPool2d (2, 2) / none; flatten; Linear), loaded
with the C model's initial weights: the features in evaluation mode, the
training forward's logits, loss, argmax count and every parameter's
gradient, batch norm's running statistics after one step, the evaluation
logits after it, the analytic FLOPs and the initialisation's bounds.
For every norm x pooling choice.  usage: test_convnet_torch.py SK_CONVNET_DUMP"""
import math
import os
import sys
import tempfile

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "trainer"))
from sk_trainer_testlib import read_safetensors, run  # noqa: E402

torch.set_num_threads(1)


class Layer(nn.Module):
    def __init__(self, cin, width, pad, norm, pool):
        super().__init__()
        self.conv = nn.Conv2d(cin, width, kernel_size=3, padding=pad)
        self.norm = {"instance": lambda: nn.GroupNorm(width, width, affine=True),
                     "batch": lambda: nn.BatchNorm2d(width), "none": lambda: None}[norm]()
        self.pool = {"avg": lambda: nn.AvgPool2d(2, 2), "max": lambda: nn.MaxPool2d(2, 2), "none": lambda: None}[pool]()

    def forward(self, x):
        x = self.conv(x)
        if self.norm is not None:
            x = self.norm(x)
        x = torch.relu(x)
        return self.pool(x) if self.pool is not None else x


class ConvNet(nn.Module):
    def __init__(self, c, h, w, width, depth, classes, norm, pool):
        super().__init__()
        layers = []
        for d in range(depth):
            pad = 3 if c == 1 and d == 0 else 1
            layers.append(Layer(c if d == 0 else width, width, pad, norm, pool))
            h, w = h + 2 * pad - 2, w + 2 * pad - 2
            if pool != "none":
                h, w = h // 2, w // 2
        self.features = nn.ModuleList(layers)
        self.classifier = nn.Linear(width * h * w, classes)

    def embed(self, x):
        for layer in self.features:
            x = layer(x)
        return x.flatten(1)

    def forward(self, x):
        return self.classifier(self.embed(x))


def flops_of(net, c, h, w, pool):
    total = 0.0
    for layer in net.features:
        pad = layer.conv.padding[0]
        h, w = h + 2 * pad - 2, w + 2 * pad - 2
        total += 2.0 * h * w * layer.conv.out_channels * layer.conv.in_channels * 9
        if pool != "none":
            h, w = h // 2, w // 2
    return total + 2.0 * net.classifier.in_features * net.classifier.out_features


def close(name, got, want, tol, floor=1.0):
    """|got - want| <= tol * (|want| + floor) elementwise (floor: the scale below which errors are absolute)."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{name}: shape {got.shape} != {want.shape}"
    err = np.max(np.abs(got - want) / (tol * (np.abs(want) + floor))) if got.size else 0.0
    assert err <= 1.0, f"{name}: error {err:.3g} x the tolerance {tol} (floor {floor:.3g})"


def check_init(t):
    """PyTorch's default init: conv / linear weights and biases U(+-1/sqrt(fan_in)); norms 1 and 0."""
    for name, a in t.items():
        if not (name.startswith("features.") or name.startswith("classifier.")) or "running" in name:
            continue
        if ".norm." in name:
            assert np.all(a == (1.0 if name.endswith("weight") else 0.0)), name
            continue
        w = t[name.rsplit(".", 1)[0] + ".weight"]
        bound = 1.0 / math.sqrt(np.prod(w.shape[1:]))
        assert np.max(np.abs(a)) <= bound * (1 + 1e-6), f"{name}: |x| > 1/sqrt(fan_in)"
        if a.size >= 1000:  # std of U(-b, b) is b / sqrt(3)
            assert abs(a.std() / (bound / math.sqrt(3)) - 1) < 0.08, f"{name}: std {a.std()} for bound {bound}"


def check_case(dump, tmp, norm, pool, c, h, w, width, depth, classes, batch):
    out = os.path.join(tmp, f"{norm}-{pool}-{c}.safetensors")
    run([dump, norm, pool, str(c), str(h), str(w), str(width), str(depth), str(classes), str(batch), out])
    meta, t = read_safetensors(out)
    check_init(t)
    net = ConvNet(c, h, w, width, depth, classes, norm, pool).double()
    state = {k: torch.from_numpy(t[k].astype(np.float64)) for k in net.state_dict() if not k.endswith("num_batches_tracked")}
    for k in state:
        if "running" in k:  # the buffers in the file are after the step; start from BatchNorm2d's 0 / 1
            state[k] = torch.zeros_like(state[k]) if k.endswith("mean") else torch.ones_like(state[k])
    net.load_state_dict(state, strict=False)
    x = torch.from_numpy(t["images"].astype(np.float64)).reshape(batch, c, h, w) / 255.0
    x = (x - 0.5) / 0.5
    y = torch.from_numpy(t["labels"].astype(np.int64))
    tag = f"{norm}/{pool}/C={c}"
    net.eval()
    with torch.no_grad():
        close(f"{tag} eval.embed", t["eval.embed"], net.embed(x), 1e-4)
    net.train()
    logits = net(x)
    loss = nn.functional.cross_entropy(logits, y)
    loss.backward()
    close(f"{tag} train.logits", t["train.logits"], logits.detach(), 1e-4)
    close(f"{tag} train.loss", t["train.loss"], loss.detach(), 1e-5)
    assert int(meta["correct"]) == int((logits.argmax(1) == y).sum()), f"{tag}: correct"
    # A conv bias before instance or batch norm has a zero gradient in exact
    # arithmetic (the norm subtracts it again): float32 leaves noise there,
    # so errors count against the largest gradient of the model too.
    gmax = max(float(p.grad.abs().max()) for p in net.parameters())
    for name, p in net.named_parameters():
        assert "grad." + name in t, f"{tag}: no gradient for {name}"
        floor = max(1e-2 * float(p.grad.abs().max()), 1e-2 * gmax)
        close(f"{tag} grad.{name}", t["grad." + name], p.grad, 1e-3, floor)
    names = {k for k in t if k.startswith("features.") or k.startswith("classifier.")}
    assert names == set(state), f"{tag}: names {sorted(names ^ set(state))} differ from PyTorch's state_dict"
    for k in state:
        if "running" in k:
            close(f"{tag} {k}", t[k], net.state_dict()[k], 1e-5)
    net.eval()
    with torch.no_grad():
        close(f"{tag} eval.logits", t["eval.logits"], net(x), 1e-4)
    close(f"{tag} flops", float(meta["flops"]), flops_of(net, c, h, w, pool), 1e-12)


def main():
    dump = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        for norm in ("instance", "batch", "none"):
            for pool in ("avg", "max", "none"):
                # Fashion-MNIST's shape (1 channel: the first conv pads by 3) and a 3-channel image
                check_case(dump, tmp, norm, pool, 1, 28, 28, 8, 3 if pool != "none" else 2, 10, 6)
                check_case(dump, tmp, norm, pool, 3, 12, 10, 6, 2, 4, 5)
        # bad options: a clear error, no file
        bad = os.path.join(tmp, "bad.safetensors")
        p = run([dump, "instance", "avg", "1", "4", "4", "8", "5", "10", "2", bad], check=False)
        assert p.returncode != 0 and "model.depth" in p.stderr and not os.path.exists(bad), p.stderr
    print("convnet: 18 norm x pooling x shape cases match PyTorch")


if __name__ == "__main__":
    main()
