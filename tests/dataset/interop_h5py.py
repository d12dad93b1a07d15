"""interop_h5py.py - the outside reference for test_interop.sh: h5py (Debian
python3-h5py) reading a shrink corpus through HDF5_PLUGIN_PATH, and writing
one with the raw filter id 32015 (compression_opts=(level,)).
Tokens follow sk_dataset_tool's synthetic formula (i*7 + i//13) % 1000."""
import sys

import h5py
import numpy as np


def expected(n):
    i = np.arange(n, dtype=np.int64)
    return ((i * 7 + i // 13) % 1000).astype(np.uint16)


def offsets(n):
    return np.array([0, n // 3, n // 2, n], dtype=np.int64)


def main():
    mode, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "read-text":
        # a `prepare format=text` corpus: [shuffle, zstd] pipeline, EOD 256 per document
        with h5py.File(path, "r") as f:
            d = f["tokens"]
            assert d._filters.get("shuffle") is not None and "32015" in d._filters, d._filters
            tok, off = d[...], f["offsets"][...]
            assert off[0] == 0 and off[-1] == len(tok) and len(off) - 1 == n, (off[:3], len(tok))
            assert (tok[off[1:] - 1] == 256).all()
            text = open(sys.argv[4], "rb").read()
            first = bytes(tok[off[0]:off[1] - 1].astype(np.uint8))
            assert text.startswith(first + b"\n%\n"), first[:40]
        print("h5py read text OK")
        return
    if mode == "read":
        with h5py.File(path, "r") as f:
            assert f.attrs["shrink_format"] == "shrink-corpus", f.attrs["shrink_format"]
            assert f.attrs["kind"] == "tokens"
            assert int(f.attrs["vocab_size"]) == 1000
            d = f["tokens"]
            assert "32015" in d._filters, d._filters
            assert d._filters["32015"][0] == 7, d._filters
            got = d[...]
            assert got.dtype == np.uint16
            assert np.array_equal(got, expected(n)), "token mismatch"
            assert np.array_equal(f["offsets"][...], offsets(n))
        print("h5py read OK")
    else:
        with h5py.File(path, "w") as f:
            f.attrs["shrink_format"] = "shrink-corpus"
            f.attrs["format_version"] = np.int64(1)
            f.attrs["kind"] = "tokens"
            f.attrs["dtype"] = "uint16"
            f.attrs["vocab_size"] = np.int64(1000)
            f.attrs["source"] = "h5py"
            f.create_dataset("tokens", data=expected(n), chunks=(8192,), compression=32015, compression_opts=(5,))
            f.create_dataset("offsets", data=offsets(n), chunks=(4,), compression=32015, compression_opts=(5,))
        print("h5py write OK")


if __name__ == "__main__":
    main()
