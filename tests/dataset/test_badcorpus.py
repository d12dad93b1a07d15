#!/usr/bin/python3
"""test_badcorpus.py SHRINK TMPDIR - corpus metadata that once crashed
`shrink inspect --verify` (issue 16's fuzzing): multi-element string
attributes (fixed and variable length), a zero per-sample dimension, 2-D
and rank-6 /scores/* datasets, a chunk layout the file cannot hold, dims
claiming more uncompressed data than the file holds, a zstd frame shorter
than its chunk, a truncated file. Each must end with a
clear error naming the file (or, for an optional attribute, be printed
as a count), never a signal. h5py is only the outside tool that writes
the bad files."""
import os, shutil, subprocess, sys

try:
    import h5py
    import numpy as np
except ImportError:
    sys.exit(77)

shrink, tmp = sys.argv[1], sys.argv[2]
shutil.rmtree(tmp, ignore_errors=True)
os.makedirs(tmp)
txt = os.path.join(tmp, "t.txt")
with open(txt, "w") as f:
    f.write("one document\n\nanother one\n\nand a third\n")
good = os.path.join(tmp, "good.h5")
subprocess.run([shrink, "prepare", "--set", "prepare.format=text", "--set", "prepare.input=" + txt,
                "--set", "prepare.output=" + good], check=True, capture_output=True)
fails = 0


def case(name, edit, want, ok=False):
    global fails
    p = os.path.join(tmp, name + ".h5")
    shutil.copy(good, p)
    edit(p)
    try:  # a claim the reader trusts can mean hours of reads: a timeout is a failure
        r = subprocess.run([shrink, "inspect", p, "--verify"], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        print(f"FAIL {name}: still running after 120 s")
        fails += 1
        return
    err = r.stderr.strip()
    if r.returncode < 0 or (ok and r.returncode != 0) or (not ok and (r.returncode == 0 or p not in err)) \
            or want not in (r.stdout + err):
        print(f"FAIL {name}: rc {r.returncode}, stderr {err!r}, want {want!r}")
        fails += 1
    else:
        print(f"ok   {name}: rc {r.returncode}: {err.splitlines()[-1] if err else r.stdout.splitlines()[-1]}")


def attr(key, value):
    def edit(p):
        with h5py.File(p, "r+") as f:
            f.attrs[key] = value
    return edit


def scores(shape):
    def edit(p):
        with h5py.File(p, "r+") as f:
            f.create_dataset("scores/s", data=np.zeros(shape, np.float32))
    return edit


def samples_zero_dim(p):
    with h5py.File(p, "w") as f:
        f.attrs["shrink_format"] = "shrink-corpus"
        f.attrs["format_version"] = np.int64(1)
        f.attrs["kind"] = "samples"
        f.attrs["dtype"] = "uint8"
        f.attrs["sample_shape"] = np.array([0, 8], np.int64)
        f.create_dataset("samples", shape=(3, 0, 8), dtype=np.uint8)


def tiny_chunks(p):
    """/tokens rewritten as 4M one-token chunks, only the first few stored:
    a file of a few KiB whose every read made HDF5 build millions of
    per-chunk selections (fuzz_corpus: timeouts and out-of-memory)."""
    with h5py.File(p, "r+") as f:
        t = f["tokens"][()]
        del f["tokens"]
        d = f.create_dataset("tokens", shape=(4 << 20,), dtype=t.dtype, chunks=(1,))
        d[:len(t)] = t


def tokens_claim_more(p):
    """/tokens rewritten as a contiguous dataset of 2^40 tokens that were
    never written (HDF5 returns fill values for such storage), /offsets
    ending there: dims claiming 2 TiB in a file of a few KiB."""
    with h5py.File(p, "r+") as f:
        t = f["tokens"].dtype
        del f["tokens"], f["offsets"]
        f.create_dataset("tokens", shape=(1 << 40,), dtype=t)
        f.create_dataset("offsets", data=np.array([0, 1 << 40], np.int64))


def short_frame(p):
    """/offsets' first chunk replaced by a valid zstd frame (one raw block)
    that records 8 bytes, less than the chunk: HDF5 1.10 would copy the
    whole chunk out of the filter's 8-byte buffer (a heap over-read)."""
    n = 8
    frame = (b"\x28\xb5\x2f\xfd" + bytes([0x20, n])  # magic; single segment, 1-byte content size
             + (1 | n << 3).to_bytes(3, "little") + bytes(n))  # last raw block of n bytes
    with h5py.File(p, "r+") as f:
        f["offsets"].id.write_direct_chunk((0,), frame, 0)


def truncate(p):
    n = os.path.getsize(p)
    with open(p, "r+b") as f:
        f.truncate(n // 2)


case("kind-fixed-array", attr("kind", np.array([b"tokens", b"xxxxxx", b"yyyyyy"], dtype="S6")), "attribute kind missing or not one string")
case("kind-vlen-array", attr("kind", np.array(["tokens"] * 1000, dtype=h5py.string_dtype())), "attribute kind missing or not one string")
case("source-vlen-array", attr("source", np.array(["s"] * 1000, dtype=h5py.string_dtype())), "(1000 values)",
     ok=True)
case("source-fixed-array", attr("source", np.array([b"a" * 64] * 100, dtype="S64")), "(100 values)", ok=True)
case("scores-2d", scores((3, 4)), "one value per sample")
case("scores-rank6", scores((3, 1, 1, 1, 1, 1)), "one value per sample")
case("samples-zero-dim", samples_zero_dim, "sample_shape[0] = 0")
case("tokens-tiny-chunks", tiny_chunks, "/tokens: a chunk layout of 4194304 chunks cannot be stored in a file of")
case("tokens-claim-more", tokens_claim_more, "/tokens: its dims claim 2199023255552 bytes of uncompressed data, "
     "more than the file's")
case("offsets-short-frame", short_frame, "zstd decode: the frame holds 8 bytes, the chunk ")
case("truncated", truncate, "")
sys.exit(1 if fails else 0)
