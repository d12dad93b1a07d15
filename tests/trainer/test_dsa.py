"""DSA (trainer/sk_dsa.h) against the reference: each rand_* function of
VICO-UoE/DatasetCondensation utils.py re-implemented in PyTorch with its
random draws replaced by the ones shrink made (so the same parameters give
the same images), values and gradients w.r.t. the images (torch autograd
through the same ops); the batch-wise (Siamese) draw applied to a second
batch; the family choice of mode 'S' and the distributions of the draws.
usage: test_dsa.py SK_DSA_DUMP"""
import math
import os
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sk_trainer_testlib import read_safetensors, run  # noqa: E402

torch.set_num_threads(1)

# ParamDiffAug's defaults
PROB_FLIP, RATIO_SCALE, RATIO_ROTATE, RATIO_CROP, RATIO_CUTOUT = 0.5, 1.2, 15.0, 0.125, 0.5
BRIGHTNESS, SATURATION, CONTRAST = 1.0, 2.0, 0.5
FAMILIES = ["color", "crop", "cutout", "flip", "scale", "rotate"]


def per_sample(v, b):
    """A draw's values for a batch of b: n == 1 is one transform for all (theta[:] = theta[0])."""
    v = torch.as_tensor(np.array(v))
    return v.expand(b).clone() if v.numel() == 1 else v


def rand_brightness(x, randb):
    return x + (randb.view(-1, 1, 1, 1).to(x.dtype) - 0.5) * BRIGHTNESS


def rand_saturation(x, rands):
    x_mean = x.mean(dim=1, keepdim=True)
    return (x - x_mean) * (rands.view(-1, 1, 1, 1).to(x.dtype) * SATURATION) + x_mean


def rand_contrast(x, randc):
    x_mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - x_mean) * (randc.view(-1, 1, 1, 1).to(x.dtype) + CONTRAST) + x_mean


def rand_scale(x, sx, sy):
    theta = torch.tensor([[[sx[i], 0, 0], [0, sy[i], 0]] for i in range(x.shape[0])], dtype=torch.float)
    grid = F.affine_grid(theta, x.shape, align_corners=False)
    return F.grid_sample(x, grid, align_corners=False)


def rand_rotate(x, angle):
    theta = torch.tensor([[[math.cos(angle[i]), math.sin(-angle[i]), 0], [math.sin(angle[i]), math.cos(angle[i]), 0]]
                          for i in range(x.shape[0])], dtype=torch.float)
    grid = F.affine_grid(theta, x.shape, align_corners=False)
    return F.grid_sample(x, grid, align_corners=False)


def rand_flip(x, randf):
    return torch.where(randf.view(-1, 1, 1, 1) < PROB_FLIP, x.flip(3), x)


def rand_crop(x, translation_x, translation_y):
    translation_x, translation_y = translation_x.view(-1, 1, 1), translation_y.view(-1, 1, 1)
    grid_batch, grid_x, grid_y = torch.meshgrid(torch.arange(x.size(0)), torch.arange(x.size(2)),
                                                torch.arange(x.size(3)), indexing="ij")
    grid_x = torch.clamp(grid_x + translation_x + 1, 0, x.size(2) + 1)
    grid_y = torch.clamp(grid_y + translation_y + 1, 0, x.size(3) + 1)
    x_pad = F.pad(x, [1, 1, 1, 1, 0, 0, 0, 0])
    return x_pad.permute(0, 2, 3, 1).contiguous()[grid_batch, grid_x, grid_y].permute(0, 3, 1, 2)


def rand_cutout(x, offset_x, offset_y):
    cutout_size = int(x.size(2) * RATIO_CUTOUT + 0.5), int(x.size(3) * RATIO_CUTOUT + 0.5)
    offset_x, offset_y = offset_x.view(-1, 1, 1), offset_y.view(-1, 1, 1)
    grid_batch, grid_x, grid_y = torch.meshgrid(torch.arange(x.size(0)), torch.arange(cutout_size[0]),
                                                torch.arange(cutout_size[1]), indexing="ij")
    grid_x = torch.clamp(grid_x + offset_x - cutout_size[0] // 2, min=0, max=x.size(2) - 1)
    grid_y = torch.clamp(grid_y + offset_y - cutout_size[1] // 2, min=0, max=x.size(3) - 1)
    mask = torch.ones(x.size(0), x.size(2), x.size(3), dtype=x.dtype)
    mask[grid_batch, grid_x, grid_y] = 0
    return x * mask.unsqueeze(1)


def family(x, f, t, prefix):
    b = x.shape[0]
    g = lambda k: per_sample(t[f"{prefix}.{k}"], b)  # noqa: E731
    if f == "color":
        return rand_contrast(rand_saturation(rand_brightness(x, g("randb")), g("rands")), g("randc"))
    if f == "crop":
        return rand_crop(x, g("translation_x"), g("translation_y"))
    if f == "cutout":
        return rand_cutout(x, g("offset_x"), g("offset_y"))
    if f == "flip":
        return rand_flip(x, g("randf"))
    if f == "scale":
        return rand_scale(x, g("sx"), g("sy"))
    return rand_rotate(x, g("angle"))


def close(name, got, want, tol=1e-5):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, f"{name}: shape {got.shape} != {want.shape}"
    err = float(np.max(np.abs(got - want) / (np.abs(want) + 1.0)))
    assert err <= tol, f"{name}: relative error {err:.3g} > {tol}"


def check(t, prefix, fams):
    x = torch.tensor(t[f"{prefix}.x"].copy(), requires_grad=True)
    y = x
    for f in fams:
        y = family(y, f, t, prefix)
    (y * torch.from_numpy(t[f"{prefix}.r"].copy())).sum().backward()
    close(f"{prefix} y", t[f"{prefix}.y"], y.detach().numpy())
    close(f"{prefix} gx", t[f"{prefix}.gx"], x.grad.numpy())
    assert np.abs(t[f"{prefix}.gx"]).max() > 0, f"{prefix}: no gradient reaches x"
    # pixel units: the draw applied to x * 255 / 127.5 - 1, mapped back
    u = torch.from_numpy(t[f"{prefix}.x"].copy()) * 255.0 / 127.5 - 1.0
    for f in fams:
        u = family(u, f, t, prefix)
    close(f"{prefix} ypix", t[f"{prefix}.ypix"] / 255.0, ((u + 1.0) * 127.5).numpy() / 255.0)
    if f"{prefix}.x2" in t:  # the same draw on a second batch (Siamese)
        y2 = torch.from_numpy(t[f"{prefix}.x2"].copy())
        for f in fams:
            y2 = family(y2, f, t, prefix)
        close(f"{prefix} y2", t[f"{prefix}.y2"], y2.numpy())


def main():
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "dsa.safetensors")
        run([sys.argv[1], out])
        _, t = read_safetensors(out)
    changed = 0
    for fi, f in enumerate(FAMILIES):
        for m in (0, 1):
            check(t, f"f{fi}.m{m}", [f])
            changed += int(not np.allclose(t[f"f{fi}.m{m}.y"], t[f"f{fi}.m{m}.x"]))
    assert changed >= 10, f"only {changed} of 12 draws changed the images"
    check(t, "all", FAMILIES)
    # mode 'S': one family per draw, each about 1/6 of the time
    counts = np.bincount(t["chosen"], minlength=6)
    assert counts.sum() == 400 and counts.min() >= 40, counts
    # the distributions of 4000 draws for 28 x 28 images
    b = {k[4:]: v for k, v in t.items() if k.startswith("big.")}
    for k in ("randb", "rands", "randc", "randf"):
        assert 0 <= b[k].min() and b[k].max() < 1 and abs(b[k].mean() - 0.5) < 0.03, (k, b[k].mean())
    for k in ("sx", "sy"):
        assert 1 / 1.2 <= b[k].min() < 0.84 and 1.19 < b[k].max() < 1.2, (k, b[k].min(), b[k].max())
    lim = RATIO_ROTATE / 180 * math.pi
    assert -lim <= b["angle"].min() < -0.99 * lim and 0.99 * lim < b["angle"].max() < lim
    shift = int(28 * RATIO_CROP + 0.5)
    for k in ("translation_x", "translation_y"):
        assert sorted(set(b[k].tolist())) == list(range(-shift, shift + 1)), (k, sorted(set(b[k].tolist())))
    for k in ("offset_x", "offset_y"):  # cutout 14 (even): centres 0 .. 28
        assert sorted(set(b[k].tolist())) == list(range(0, 29)), k
    print(f"dsa: 6 families x 2 draw sizes, all six chained, Siamese second batch: match the reference; {counts}")


if __name__ == "__main__":
    main()
