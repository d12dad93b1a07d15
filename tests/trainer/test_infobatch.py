"""InfoBatch's prune rule (trainer/sk_infobatch.c) against a Python
reimplementation of the reference's InfoBatch.prune() / IBSampler.reset()
(NUS-HPC-AI-Lab/InfoBatch, infobatch/infobatch.py), with numpy's RNG
replaced by the SplitMix64 stream sk_infobatch documents; bad ratios."""
import subprocess
import sys

import numpy as np

tool = sys.argv[1]
M64 = (1 << 64) - 1


def splitmix64(x):
    z = (x + 0x9e3779b97f4a7c15) & M64
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M64
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M64
    return z ^ (z >> 31)


def reference(scores, ratio, delta, epochs, seed, epoch):
    """prune(): well learned = score < mean; keep int(keep * |well|) of them
    without replacement, weight 1/keep; all others kept; shuffle. Full
    (shuffled, weight 1) once epoch >= delta * epochs."""
    n = len(scores)
    s = splitmix64(seed ^ splitmix64((epoch + 0x1b0b) & M64))

    def draw(m):
        nonlocal s
        s = splitmix64(s)
        return s % m

    weights = np.ones(n, np.float32)
    if ratio > 0 and epoch < delta * epochs:
        mean = float(np.mean(scores.astype(np.float64)))
        well = [i for i in range(n) if float(scores[i]) < mean]
        kept = [i for i in range(n) if not float(scores[i]) < mean]
        keep = 1.0 - ratio
        k = int(keep * len(well))
        for j in range(k):  # numpy.random.choice(well, k, replace=False), as a partial Fisher-Yates
            r = j + draw(len(well) - j)
            well[j], well[r] = well[r], well[j]
            weights[well[j]] = np.float32(1.0 / keep)
            kept.append(well[j])
    else:
        kept = list(range(n))
    for j in range(len(kept) - 1, 0, -1):  # np.random.shuffle(remained_indices)
        r = draw(j + 1)
        kept[j], kept[r] = kept[r], kept[j]
    return n - len(kept), kept, weights


def run_tool(scores, ratio, delta, epochs, seed, epoch, check=True):
    p = subprocess.run([tool, str(ratio), str(delta), str(epochs), str(seed), str(epoch)],
                       input="\n".join("%.9g" % v for v in scores), capture_output=True, text=True)
    if not check:
        return p
    assert p.returncode == 0, p.stderr
    lines = p.stdout.split("\n")
    skipped = int(lines[0].split()[1])
    rows = [l.split() for l in lines[1:] if l]
    return skipped, [int(a) for a, _ in rows], np.array([float(b) for _, b in rows], np.float32)


rng = np.random.default_rng(7)
cases = [(rng.exponential(1.0, 500).astype(np.float32), 0.5, 0.875, 8, 1, 3),
         (rng.exponential(1.0, 777).astype(np.float32), 0.3, 0.875, 8, 42, 0),
         (rng.normal(2.0, 0.5, 64).astype(np.float32), 0.9, 1.0, 4, 5, 3),
         (np.full(100, 3.0, np.float32), 0.5, 0.875, 8, 1, 0),          # initial scores: nothing below the mean
         (rng.exponential(1.0, 300).astype(np.float32), 0.5, 0.875, 8, 1, 7),  # past delta: full data
         (rng.exponential(1.0, 300).astype(np.float32), 0.0, 0.875, 8, 1, 1)]  # r = 0: full data
for scores, ratio, delta, epochs, seed, epoch in cases:
    sk, order, w = run_tool(scores, ratio, delta, epochs, seed, epoch)
    rsk, rorder, rw = reference(scores, ratio, delta, epochs, seed, epoch)
    assert sk == rsk, (sk, rsk)
    assert order == rorder, "order differs from the reference rule"
    assert np.array_equal(w, rw[order]), "weights differ from the reference rule"
    assert len(set(order)) == len(order), "a sample twice in one epoch"
    mean = float(np.mean(scores.astype(np.float64)))
    hard = {i for i in range(len(scores)) if not float(scores[i]) < mean}
    assert hard <= set(order), "a sample at or above the mean was skipped"
    if ratio > 0 and epoch < delta * epochs:
        nw = len(scores) - len(hard)
        assert sk == nw - int((1 - ratio) * nw), (sk, nw)
        for i, wi in zip(order, w):
            assert wi == (1.0 if i in hard else np.float32(1 / (1 - ratio))), (i, wi)
    else:
        assert sk == 0 and sorted(order) == list(range(len(scores))) and np.all(w == 1)

# the seed changes the draw, the same seed repeats it
a = run_tool(cases[0][0], 0.5, 0.875, 8, 1, 3)[1]
assert a == run_tool(cases[0][0], 0.5, 0.875, 8, 1, 3)[1]
assert a != run_tool(cases[0][0], 0.5, 0.875, 8, 2, 3)[1]

# bad ratios and deltas: one line naming the key
for ratio, delta, key in [(1.0, 0.875, "data.prune_ratio"), (-0.1, 0.875, "data.prune_ratio"),
                          (0.5, 1.5, "data.prune_delta")]:
    p = run_tool(cases[0][0], ratio, delta, 8, 1, 0, check=False)
    assert p.returncode != 0 and key in p.stderr, (ratio, delta, p.stderr)
print("ok")
