"""`shrink inspect FILE --png OUT.png` (dataset/sk_png.h): the PNG is
decoded here with zlib and struct only (signature, chunk CRCs, IHDR, the
filtered scanlines) and every pixel checked against the corpus samples it
should show: one row per class, the first N samples of each in corpus
order, grey gaps, --scale; uint8 grey, float32 rounded and clamped, RGB
[3, H, W]; a class short of N leaves grey cells. Bad input: a token corpus,
a missing corpus, flags without values: an error naming it, no PNG left.
usage: test_png.py SHRINK SK_DATASET_TOOL WORKDIR"""
import os
import shutil
import struct
import subprocess
import sys
import zlib

import numpy as np

shrink, tool, work = sys.argv[1:4]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)


def run(args, ok=True):
    p = subprocess.run(args, capture_output=True, text=True, timeout=120)
    if ok and p.returncode != 0:
        raise SystemExit(f"failed ({p.returncode}): {' '.join(args)}\n{p.stdout}{p.stderr}")
    return p


def decode_png(path):
    raw = open(path, "rb").read()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n", raw[:8]
    pos, chunks = 8, []
    while pos < len(raw):
        (n,) = struct.unpack(">I", raw[pos:pos + 4])
        typ, data = raw[pos + 4:pos + 8], raw[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", raw[pos + 8 + n:pos + 12 + n])
        assert crc == zlib.crc32(typ + data) & 0xffffffff, f"bad CRC in {typ}"
        chunks.append((typ, data))
        pos += 12 + n
    assert [c[0] for c in chunks][0] == b"IHDR" and chunks[-1][0] == b"IEND", [c[0] for c in chunks]
    w, h, depth, ctype, comp, filt, inter = struct.unpack(">IIBBBBB", chunks[0][1])
    assert depth == 8 and ctype in (0, 2) and comp == 0 and filt == 0 and inter == 0
    ch = 1 if ctype == 0 else 3
    z = zlib.decompress(b"".join(d for t, d in chunks if t == b"IDAT"))
    assert len(z) == h * (w * ch + 1)
    rows = np.frombuffer(z, np.uint8).reshape(h, w * ch + 1)
    assert (rows[:, 0] == 0).all(), "only filter type 0 is written"
    return rows[:, 1:].reshape(h, w, ch)


def samples(n, c, hh, ww, f32):
    k = np.arange(c * hh * ww)
    s = np.stack([(i * 37 + k * 11) % 256 for i in range(n)]).astype(np.float64)
    if f32:
        s = np.clip(np.rint(s.astype(np.float32) - np.float32(20.25)), 0, 255)
    return s.astype(np.uint8).reshape(n, c, hh, ww)


def check(n, c, hh, ww, typ, per, scale):
    corpus, png = f"{work}/img-{typ}-{c}.h5", f"{work}/img-{typ}-{c}-{per}-{scale}.png"
    run([tool, "images", corpus, str(n), str(c), str(hh), str(ww), typ])
    p = run([shrink, "inspect", corpus, "--png", png, "--per-class", str(per), "--scale", str(scale)])
    assert f"3 rows (classes) x {per} images" in p.stdout, p.stdout
    img = decode_png(png)
    gh, gw = 3 * (hh * scale + 1) + 1, per * (ww * scale + 1) + 1
    assert img.shape == (gh, gw, c), (img.shape, (gh, gw, c))
    want = samples(n, c, hh, ww, typ == "f32")
    labels = np.arange(n) % 3
    for k in range(3):
        idx = np.flatnonzero(labels == k)[:per]
        for j in range(per):
            y0, x0 = 1 + k * (hh * scale + 1), 1 + j * (ww * scale + 1)
            cell = img[y0:y0 + hh * scale, x0:x0 + ww * scale]
            if j >= len(idx):
                assert (cell == 128).all(), f"class {k} cell {j}: not grey though the class has {len(idx)} samples"
                continue
            exp = want[idx[j]].transpose(1, 2, 0).repeat(scale, 0).repeat(scale, 1)
            assert (cell == exp).all(), f"class {k} image {j} (sample {idx[j]}) differs"
    for k in range(4):  # the gaps between rows are grey
        assert (img[k * (hh * scale + 1)] == 128).all()
    return png


check(13, 1, 5, 7, "u8", 4, 1)   # class 0 has 5 samples, classes 1, 2 have 4: full rows
check(13, 1, 5, 7, "f32", 4, 2)  # rounded, clamped (values below 0), scaled by 2
check(8, 3, 4, 6, "u8", 4, 1)    # RGB; classes 1 and 2 have 3 samples: the last cell is grey
check(8, 3, 4, 6, "f32", 2, 3)

# bad input: a named error, nothing written
run([tool, "tokens", f"{work}/tok.h5", "3000", "3"])
for args, needle in [([f"{work}/tok.h5", "--png", f"{work}/bad.png"], "token corpus"),
                     ([f"{work}/missing.h5", "--png", f"{work}/bad.png"], "missing.h5"),
                     ([f"{work}/tok.h5", "--png"], "--png needs"),
                     ([f"{work}/img-u8-1.h5", "--png", f"{work}/bad.png", "--per-class", "0"], "--per-class"),
                     ([f"{work}/img-u8-1.h5", "--per-class", "3"], "go with --png")]:
    p = run([shrink, "inspect"] + args, ok=False)
    assert p.returncode != 0 and needle in p.stderr, (args, p.stderr)
    assert not os.path.exists(f"{work}/bad.png"), args
    assert not [f for f in os.listdir(work) if "bad.png" in f], os.listdir(work)
print("inspect --png: grids decode and match the samples; bad input refused")
