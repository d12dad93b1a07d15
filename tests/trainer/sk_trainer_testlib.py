"""Helpers for the trainer's process-level tests (run with /usr/bin/python3)."""
import json
import os
import struct
import subprocess
import sys

import numpy as np

ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMP_NUM_THREADS="1")

DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32, "U8": np.uint8,
          "I16": np.int16, "F16": np.float16}


def read_safetensors(path):
    """Parse a safetensors file by hand, enforcing the format's rules.
    Returns (metadata, {name: ndarray})."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    assert 0 < n <= 100_000_000, n
    head = raw[8:8 + n].decode("utf-8")
    assert head.startswith("{"), head[:20]
    hdr = json.loads(head)
    meta = hdr.pop("__metadata__", {})
    assert all(isinstance(v, str) for v in meta.values())
    data = raw[8 + n:]
    spans = sorted((v["data_offsets"][0], v["data_offsets"][1], k) for k, v in hdr.items())
    pos = 0
    for b, e, k in spans:
        assert b == pos, f"hole before {k}"
        pos = e
    assert pos == len(data), "trailing or missing bytes"
    out = {}
    for k, v in hdr.items():
        b, e = v["data_offsets"]
        dt = np.dtype(DTYPES[v["dtype"]]).newbyteorder("<")
        a = np.frombuffer(data[b:e], dtype=dt).reshape(v["shape"])
        assert a.nbytes == e - b
        out[k] = a
    return meta, out


def run(args, timeout=120, env=None, check=True):
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env or ENV)
    if check and p.returncode != 0:
        sys.stderr.write(p.stdout + p.stderr)
        raise SystemExit(f"command failed ({p.returncode}): {' '.join(args)}")
    return p


def mpirun(n, args):
    return ["mpirun", "--oversubscribe", "-np", str(n)] + args


TINY_VIT = ["data=synth:images", "model.width=32", "model.depth=2", "model.heads=2", "model.patch=4",
            "model.mlp_ratio=2", "data.batch_size=16", "train.lr=3e-3", "train.warmup=2", "data.eval_fraction=0.2",
            "train.eval_batches=2", "threads=1"]
TINY_GPT = ["data=synth:tokens", "model.arch=gpt", "model.width=32", "model.depth=2", "model.heads=2",
            "data.seq_len=16", "model.mlp_ratio=2", "data.batch_size=16", "train.lr=3e-3", "train.warmup=2",
            "data.eval_fraction=0.2", "train.eval_batches=2", "threads=1"]
