#!/usr/bin/python3
"""h5_same.py A.h5 B.h5 [B2.h5 ...]: exit 0 when every file holds the same
groups, datasets (dtype, shape, values, chunk shape, filter pipeline, bytes
stored) and
attributes as A; otherwise print each difference and exit 1. The layout
check of tests/dataset/test_fill_write.sh (streamed vs in-memory writes)."""
import sys

import h5py
import numpy as np


def describe(path):
    """{object name: (kind, facts)} for every group and dataset, attributes included."""
    out = {}
    with h5py.File(path, "r") as f:
        def attrs(obj):
            return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in obj.attrs.items()}

        out["/"] = ("group", attrs(f))

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                plist = obj.id.get_create_plist()
                filters = [plist.get_filter(i)[:3] for i in range(plist.get_nfilters())]
                out["/" + name] = ("dataset", {"dtype": str(obj.dtype), "shape": obj.shape, "chunks": obj.chunks,
                                               "filters": filters, "stored": obj.id.get_storage_size(),
                                               "attrs": attrs(obj), "data": obj[()]})
            else:
                out["/" + name] = ("group", attrs(obj))

        f.visititems(visit)
    return out


def diff(a, b, pa, pb):
    bad = []
    for name in sorted(set(a) | set(b)):
        if name not in a or name not in b:
            bad.append(f"{name}: only in {pa if name in a else pb}")
            continue
        ka, fa = a[name]
        kb, fb = b[name]
        if ka != kb:
            bad.append(f"{name}: a {ka} in {pa}, a {kb} in {pb}")
        elif ka == "group":
            if fa != fb:
                bad.append(f"{name}: attributes differ: {fa} vs {fb}")
        else:
            for key in ("dtype", "shape", "chunks", "filters", "stored", "attrs"):
                if fa[key] != fb[key]:
                    bad.append(f"{name}: {key} {fa[key]} in {pa}, {fb[key]} in {pb}")
            if fa["shape"] == fb["shape"] and not np.array_equal(fa["data"], fb["data"]):
                bad.append(f"{name}: values differ")
    return bad


def main():
    if len(sys.argv) < 3:
        print("usage: h5_same.py A.h5 B.h5 [...]", file=sys.stderr)
        return 2
    ref = describe(sys.argv[1])
    bad = []
    for p in sys.argv[2:]:
        bad += diff(ref, describe(p), sys.argv[1], p)
    for line in bad:
        print(line)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
