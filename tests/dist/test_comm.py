"""Communicator split (sk_mpi_comm_split / _use): work run inside a group
of a split world equals the same work run alone on a world of the group's
size. `test_comm OUT split` under mpirun -np W (3: groups {0,1} and {2};
2: two groups of one) runs, in every group at once, collectives, a parallel
corpus write and a tiny training run; `test_comm OUT alone` runs them over
an unsplit world of 1 and 2 ranks. Each group's training result (loss,
eval loss and accuracy, to 9 digits) and its final weights must equal the
alone run with as many ranks. argv: test_comm binary, W."""
import filecmp
import os
import subprocess
import sys
import tempfile

exe, W = sys.argv[1], int(sys.argv[2])
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMP_NUM_THREADS="1")


def run(np_, out, mode):
    p = subprocess.run(["mpirun", "--oversubscribe", "-np", str(np_), exe, out, mode], capture_output=True,
                       text=True, timeout=240, env=ENV)
    if p.returncode != 0 or f"ok {mode}" not in p.stdout:
        sys.stderr.write(p.stdout + p.stderr)
        raise SystemExit(f"test_comm -np {np_} {mode} failed ({p.returncode})")


def read(path):
    with open(path) as f:
        return f.read().strip()


with tempfile.TemporaryDirectory() as d:
    run(W, d, "split")
    sizes = {0: 2, 1: 1} if W == 3 else {0: 1, 1: 1}
    for n in sorted(set(sizes.values())):
        run(n, d, "alone")
    for g, n in sizes.items():
        got, want = read(f"{d}/group{g}.txt"), read(f"{d}/alone{n}.txt")
        assert got.startswith(f"ranks={n} "), got
        assert got == want, f"group {g} of {n} ranks: {got} != alone: {want}"
        a, b = f"{d}/group{g}-train/model.safetensors", f"{d}/alone{n}-train/model.safetensors"
        assert filecmp.cmp(a, b, shallow=False), f"group {g}: final weights differ from the alone run"
    if W == 3:  # the two groups did different work: the comparison can tell them apart
        assert read(f"{d}/group0.txt") != read(f"{d}/group1.txt")
print("ok")
