#!/usr/bin/env python3
"""check_layout.py [ROOT] - README's dependency diagram against the CMake link graph.

README.md's "Layout and dependency order" section holds a code block of
chains such as `common <- shim <- selectors`: each name is a module target
without its `sk_` prefix, and `a <- b` says b links a (names may be grouped
with commas: `shim, mpi <- dist`). The check reads every module's
`add_library(sk_X ...)` and `target_link_libraries(sk_X ...)` in the
top-level folders' CMakeLists.txt, takes the transitive reduction of both
graphs (what a diagram draws), and fails naming every edge that one has and
the other lacks, and every module folder the layout list leaves out.
`shrink` (libshrink, every module in one library) links all module targets.
Exit 0 when they match, 1 otherwise.
"""
import os
import re
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
SECTION = "## Layout and dependency order"


def cmake_graph(root):
    """{target: set(direct shrink targets it links)}, {target: folder}."""
    edges, folder = {}, {}
    for d in sorted(os.listdir(root)):
        path = os.path.join(root, d, "CMakeLists.txt")
        if d in ("tests", "bench") or not os.path.isfile(path):
            continue
        text = re.sub(r"#[^\n]*", "", open(path).read())
        for m in re.finditer(r"add_library\(\s*(sk_\w+)\s+STATIC", text):
            t = m.group(1)[3:]
            edges.setdefault(t, set())
            folder[t] = d
        for m in re.finditer(r"target_link_libraries\(\s*(\w+)([^)]*)\)", text):
            t = m.group(1)
            if t == "sk_cli":  # the CLI links libshrink: every module
                edges.setdefault("cli", set()).add("shrink")
                folder["cli"] = d
                continue
            if not t.startswith("sk_"):
                continue
            deps = {w[3:] for w in m.group(2).split() if w.startswith("sk_")}
            edges.setdefault(t[3:], set()).update(deps)
    modules = {t for t in edges if t != "cli"}
    for t in edges:
        if "shrink" in edges[t]:
            edges[t] = (edges[t] - {"shrink"}) | modules
    return edges, folder


def readme_graph(text):
    start = text.index(SECTION)
    body = text[start:]
    blocks = re.findall(r"```\n(.*?)```", body, re.S)
    chains = [b for b in blocks if "<-" in b]
    if not chains:
        raise SystemExit("README.md: no dependency chains (`a <- b`) under '%s'" % SECTION)
    edges = {}
    for line in chains[0].splitlines():
        if "<-" not in line:
            continue
        groups = [[n.strip() for n in g.split(",") if n.strip()] for g in line.split("<-")]
        for lower, upper in zip(groups, groups[1:]):
            for u in upper:
                for lo in lower:
                    edges.setdefault(u, set()).add(lo)
                    edges.setdefault(lo, set())
    layout = blocks[0] if blocks else ""
    return edges, layout


def reduce(edges):
    """Transitive reduction of a DAG: drop a -> c when a -> b ->* c."""
    memo = {}

    def reach(n, seen=()):
        if n in memo:
            return memo[n]
        if n in seen:
            raise SystemExit("dependency cycle through %s" % n)
        r = set()
        for d in edges.get(n, ()):
            r |= {d} | reach(d, seen + (n,))
        memo[n] = r
        return r

    out = set()
    for a, ds in edges.items():
        for c in ds:
            if not any(c in reach(b) for b in ds if b != c):
                out.add((a, c))
    return out


def main():
    cm, folder = cmake_graph(ROOT)
    rd, layout = readme_graph(open(os.path.join(ROOT, "README.md")).read())
    bad = []
    if set(cm) != set(rd):
        for n in sorted(set(cm) - set(rd)):
            bad.append("README.md: module '%s' (CMake target in %s/) is missing from the diagram" % (n, folder[n]))
        for n in sorted(set(rd) - set(cm)):
            bad.append("README.md: diagram names '%s', which no CMakeLists.txt defines" % n)
    ce, re_ = reduce(cm), reduce(rd)
    for a, c in sorted(ce - re_):
        bad.append("README.md: diagram lacks %s <- %s (%s links %s in CMake)" % (c, a, a, c))
    for a, c in sorted(re_ - ce):
        bad.append("README.md: diagram shows %s <- %s, but CMake has no such link" % (c, a))
    for d in sorted(set(folder.values())):
        if not re.search(r"^%s/" % re.escape(d), layout, re.M):
            bad.append("README.md: folder %s/ is missing from the layout list" % d)
    for b in bad:
        print(b)
    print("layout: %d modules, %d edges, %s" % (len(cm), len(ce), "ok" if not bad else "%d problems" % len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
