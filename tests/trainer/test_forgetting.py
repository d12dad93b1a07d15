"""Forgetting-event counting (trainer/sk_forgetting.c) against a numpy
reimplementation of the reference's (mtoneva/example_forgetting,
order_examples_by_forgetting.py: compute_forgetting_statistics and
sort_examples_by_forgetting for one run), on random presentation
sequences with a checkpoint round trip in the middle; a bad index."""
import subprocess
import sys

import numpy as np

tool = sys.argv[1]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def reference(n, seq):
    """Per sample: the correctness of each presentation in order;
    forgetting events = transitions 1 -> 0; never learned (no correct
    presentation) = npresentations, here the most presentations any sample
    had (every sample once per epoch: the epochs)."""
    acc = [[] for _ in range(n)]
    for i, c in seq:
        acc[i].append(c)
    npres = max(len(a) for a in acc)
    out = np.zeros(n)
    for i, a in enumerate(acc):
        a = np.array(a, dtype=np.int64)
        transitions = a[1:] - a[:-1]
        first_learned = np.where(a == 1)[0][0] if np.any(a == 1) else np.nan
        out[i] = npres if np.isnan(first_learned) else len(np.where(transitions == -1)[0])
    return out, npres


def run(n, seq, cut):
    text = "".join(f"{i} {c}\n" for i, c in seq)
    p = subprocess.run([tool, str(n), str(cut)], input=text, capture_output=True, text=True)
    return p


rng = np.random.default_rng(5)
for trial in range(12):
    n = int(rng.integers(1, 60))
    epochs = int(rng.integers(1, 12))
    p_learn = rng.uniform(0.0, 1.0, n)  # some samples never right, some always
    p_learn[rng.random(n) < 0.15] = 0.0
    p_learn[rng.random(n) < 0.15] = 1.0
    seq = []
    for e in range(epochs):
        order = rng.permutation(n)
        if trial % 3 == 2:  # a partial last epoch: some samples seen fewer times, some never
            order = order[: max(1, n // 2)] if e == epochs - 1 else order
        if trial % 4 == 3 and e == 0:
            order = order[: max(1, n - 3)]
        seq += [(int(i), int(rng.random() < p_learn[i])) for i in order]
    if trial == 7:
        seq = [(i, c) for i, c in seq if i != 0]  # sample 0 never presented
    exp, npres = reference(n, seq)
    cut = int(rng.integers(0, len(seq) + 1))
    p = run(n, seq, cut)
    check(p.returncode == 0, f"trial {trial}: exit {p.returncode}: {p.stderr}")
    if p.returncode:
        continue
    lines = p.stdout.split()
    got = np.array([float(x) for x in lines[2:]])
    check(int(lines[1]) == npres, f"trial {trial}: never-learned value {lines[1]}, reference {npres}")
    check(len(got) == n and np.array_equal(got, exp),
          f"trial {trial}: {np.sum(got != exp) if len(got) == n else 'wrong count'} of {n} counts differ")

# an index outside the split
p = run(3, [(0, 1), (3, 0)], 10)
check(p.returncode != 0 and "sample index 3" in p.stderr, f"bad index: exit {p.returncode}: {p.stderr.strip()}")

if failures:
    print(f"{len(failures)} failed")
    sys.exit(1)
print("test_forgetting: all checks passed")
