"""`shrink train` refusals and stops (issue 11), through the real CLI on a
small text corpus made by `shrink prepare`. Each case asserts the exit code
(2 usage/config, 1 runtime), a message naming the key/value/file, and that
nothing is left at the output name. Also: SIGINT/SIGTERM stop at a step
boundary with a checkpoint and a resume command that works (1 rank, and 2
ranks with one rank signalled, 3 ranks with one rank signalled; Ctrl-C and SIGUSR1 on
mpirun itself), a
rank SIGKILLed in a 3-rank job is named by the survivors, and the summary after a resume counts this
run's steps and the total."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sk_trainer_testlib import ENV, mpirun, run  # noqa: E402

shrink = sys.argv[1]
FORT = "/usr/share/games/fortunes/fortunes"
if not os.path.exists(FORT):
    print("no fortunes here")
    sys.exit(77)
ncases = 0


def case(args, code, *needles, absent=None, env=None):
    """shrink train ARGS exits `code` with every needle in stderr; `absent`
    (a path) must not exist afterwards."""
    global ncases
    p = run([shrink, "train"] + args, check=False, env=env)
    assert p.returncode == code, (args, p.returncode, p.stderr)
    for n in needles:
        assert n in p.stderr, (args, n, p.stderr)
    if absent:
        assert not os.path.exists(absent), (args, absent)
    ncases += 1
    return p


with tempfile.TemporaryDirectory() as d:
    with open(FORT, "rb") as f, open(f"{d}/t.txt", "wb") as g:
        g.write(f.read(60000))
    run([shrink, "prepare", "--set", "prepare.format=text", "--set", f"prepare.input={d}/t.txt", "--set",
         "prepare.boundary=%", "--set", f"prepare.output={d}/t.h5"])
    G = []
    for kv in (f"data.train={d}/t.h5", "model.arch=gpt", "model.width=32", "model.depth=1", "model.heads=2",
               "data.seq_len=32", "data.batch_size=8", "train.steps=4", "train.warmup=1", "train.eval_batches=1",
               "train.ckpt_every=2", "run.threads=1", "data.eval_fraction=0.1", "log.every=1000000"):
        G += ["--set", kv]

    # a finished run, then a second run into the same out_dir is refused
    # and leaves the first run's files as they were
    a = f"{d}/a"
    run([shrink, "train"] + G + ["--set", f"run.out_dir={a}"])
    before = open(f"{a}/model.safetensors", "rb").read()
    case(G + ["--set", f"run.out_dir={a}"], 1, f"run.out_dir = {a}: not empty", "run.overwrite=true")
    assert open(f"{a}/model.safetensors", "rb").read() == before
    # a plain file as out_dir
    open(f"{d}/file", "w").write("x")
    case(G + ["--set", f"run.out_dir={d}/file"], 1, f"run.out_dir = {d}/file", "not a directory")
    # run.overwrite=true allows it; a resume too
    run([shrink, "train"] + G + ["--set", f"run.out_dir={a}", "--set", "run.overwrite=true"])
    s = json.load(open(f"{a}/summary.json"))
    assert s["steps"] == 4 and s["steps_this_run"] == 4, s

    # corrupt checkpoints: every file is checked against the MANIFEST
    ck = f"{d}/ck"
    run([shrink, "train"] + G + ["--set", f"run.out_dir={ck}", "--set", "train.steps=6"])
    os.remove(f"{ck}/model.safetensors")  # so a failed resume is seen to write none
    R = G + ["--set", f"run.out_dir={ck}", "--set", "train.steps=8"]
    step6 = f"{ck}/ckpt/step-00000006"
    pristine = f"{d}/pristine"
    shutil.copytree(step6, pristine)
    for fname, how in (("model.safetensors", "flip"), ("optim.safetensors", "flip"), ("state.json", "truncate"),
                       ("model.safetensors", "truncate")):
        path = f"{step6}/{fname}"
        raw = bytearray(open(path, "rb").read())
        if how == "flip":
            for i in range(4):
                raw[len(raw) // 2 + i] ^= 0xFF
        else:
            raw = raw[:len(raw) - 7]
        open(path, "wb").write(bytes(raw))
        msg = "checksum mismatch" if how == "flip" else "the checkpoint's MANIFEST says"
        case(R + ["--resume", f"{ck}/ckpt"], 1, path, msg, "--resume-latest-valid", absent=f"{ck}/model.safetensors")
        shutil.copyfile(f"{pristine}/{fname}", path)
    os.remove(f"{step6}/MANIFEST")
    case(R + ["--resume", f"{ck}/ckpt"], 1, f"{step6}/MANIFEST", absent=f"{ck}/model.safetensors")
    # resume with a changed config: shape keys refused naming key and both values, the rest warned
    shutil.copyfile(f"{pristine}/MANIFEST", f"{step6}/MANIFEST")
    case(R + ["--set", "model.width=64", "--resume", f"{ck}/ckpt"], 1, "model.width: checkpoint 32, this run 64",
         absent=f"{ck}/model.safetensors")
    case(R + ["--set", "model.depth=2", "--resume", f"{ck}/ckpt"], 1, "model.depth: checkpoint 1, this run 2",
         absent=f"{ck}/model.safetensors")
    case(R + ["--set", "data.seq_len=16", "--set", "model.heads=4", "--resume", f"{ck}/ckpt"], 1,
         "data.seq_len: checkpoint 32, this run 16", "model.heads: checkpoint 2, this run 4",
         absent=f"{ck}/model.safetensors")
    case(R + ["--set", "model.vocab=300", "--resume", f"{ck}/ckpt"], 1, "model.vocab: checkpoint",
         absent=f"{ck}/model.safetensors")
    os.remove(f"{step6}/MANIFEST")
    # the named fallback: the newest intact checkpoint (step 4), with a warning naming the skipped one
    p = run([shrink, "train"] + R + ["--set", "train.lr=0.002", "--resume-latest-valid", f"{ck}/ckpt"])
    assert "resuming with train.lr = 0.002 (the checkpoint was trained with 0.001)" in p.stderr, p.stderr
    assert "resuming with train.steps = 8 (the checkpoint was trained with 6)" in p.stderr, p.stderr
    assert f"skipping {step6}" in p.stderr and "resumed from " + f"{ck}/ckpt/step-00000004" in p.stderr, p.stderr
    s = json.load(open(f"{ck}/summary.json"))
    assert s["steps"] == 8 and s["steps_this_run"] == 4, s
    ncases += 1

    # data.prune decides which state a checkpoint holds: a change is refused
    # naming the key and both values (not the missing tensor); infobatch's
    # ratio and delta and the held-out split are warned, naming key and values
    os.remove(f"{ck}/model.safetensors")
    case(R + ["--set", "data.prune=infobatch", "--resume", f"{ck}/ckpt"], 1,
         'data.prune: checkpoint "none", this run "infobatch"', absent=f"{ck}/model.safetensors")
    pr_ = f"{d}/pr"
    PR = G + ["--set", f"run.out_dir={pr_}", "--set", "data.prune=infobatch"]
    run([shrink, "train"] + PR)
    os.remove(f"{pr_}/model.safetensors")
    case(PR + ["--set", "data.prune=none", "--set", "train.steps=6", "--resume", f"{pr_}/ckpt"], 1,
         'data.prune: checkpoint "infobatch", this run "none"', absent=f"{pr_}/model.safetensors")
    p = run([shrink, "train"] + PR + ["--set", "train.steps=6", "--set", "data.prune_ratio=0.25", "--set",
                                      "data.prune_delta=0.5", "--set", "data.eval_split=random", "--resume",
                                      f"{pr_}/ckpt"])
    for want in ("resuming with data.prune_ratio = 0.25 (the checkpoint was trained with 0.5)",
                 "resuming with data.prune_delta = 0.5 (the checkpoint was trained with 0.875)",
                 'resuming with data.eval_split = "random" (the checkpoint was trained with "tail")'):
        assert want in p.stderr, (want, p.stderr)
    assert json.load(open(f"{pr_}/summary.json"))["steps"] == 6
    ncases += 1

    # a learned scorer's weights are in the checkpoint: another scorer or other layers are refused on resume,
    # naming the key; its keep ratio is warned
    ls_ = f"{d}/ls"
    LS = G + ["--set", f"run.out_dir={ls_}", "--set", "model.depth=3", "--set", "select.scorer=learned", "--set",
              "select.strategy=drop-restore", "--set", "select.layers=[0]", "--set", "select.keep=0.5"]
    run([shrink, "train"] + LS)
    os.remove(f"{ls_}/model.safetensors")
    case(LS + ["--set", "train.steps=6", "--set", "select.scorer=random", "--resume", f"{ls_}/ckpt"], 1,
         'select.scorer: checkpoint "learned", this run "random"', absent=f"{ls_}/model.safetensors")
    case(LS + ["--set", "train.steps=6", "--set", "select.layers=[1]", "--resume", f"{ls_}/ckpt"], 1,
         "select.layers: checkpoint [0], this run [1]", absent=f"{ls_}/model.safetensors")
    p = run([shrink, "train"] + LS + ["--set", "train.steps=6", "--set", "select.keep=0.75", "--resume",
                                      f"{ls_}/ckpt"])
    assert "resuming with select.keep = 0.75 (the checkpoint was trained with 0.5)" in p.stderr, p.stderr
    ncases += 1

    # a wrong-kind eval corpus fails before step 1 (nothing written)
    F = "/usr/share/datasets/fashion-mnist"
    if os.path.exists(f"{F}/t10k-images-idx3-ubyte.gz"):
        run([shrink, "prepare", "--set", "prepare.format=idx", "--set", f"prepare.input={F}/t10k-images-idx3-ubyte.gz",
             "--set", f"prepare.labels={F}/t10k-labels-idx1-ubyte.gz", "--set", f"prepare.output={d}/im.h5"])
        case(G + ["--set", f"run.out_dir={d}/e1", "--set", f"data.eval={d}/im.h5"], 1,
             f"data.eval = {d}/im.h5: samples of shape [28,28] (images)", "has [33] (tokens)", absent=f"{d}/e1")
        case(G + ["--set", f"run.out_dir={d}/e2", "--set", f"data.train={d}/im.h5"], 1,
             f"data.train = {d}/im.h5 holds images (samples of shape [28,28]); model.arch = gpt needs a token corpus",
             absent=f"{d}/e2")
        case(G + ["--set", f"run.out_dir={d}/e3", "--set", "model.arch=vit"], 1,
             f"data.train = {d}/t.h5 holds token sequences; model.arch = vit needs an image corpus", absent=f"{d}/e3")
    # an eval corpus damaged past its first chunk fails the final evaluation, but the model is saved first
    big = b""
    for name in sorted(os.listdir("/usr/share/games/fortunes")):
        fp = os.path.join("/usr/share/games/fortunes", name)
        if os.path.isfile(fp) and not name.endswith((".dat", ".u8")):
            big += open(fp, "rb").read()
        if len(big) > 1_300_000:
            break
    if len(big) > 1_300_000:
        open(f"{d}/big.txt", "wb").write(big)
        run([shrink, "prepare", "--set", "prepare.format=text", "--set", f"prepare.input={d}/big.txt", "--set",
             "prepare.boundary=%", "--set", f"prepare.output={d}/big.h5"])
        raw = bytearray(open(f"{d}/big.h5", "rb").read())
        for i in range(8):
            raw[int(len(raw) * 0.8) + i] ^= 0xFF
        open(f"{d}/bigbad.h5", "wb").write(bytes(raw))
        p = case(G + ["--set", f"run.out_dir={d}/e4", "--set", f"data.eval={d}/bigbad.h5", "--set", "train.eval_batches=0",
                      "--set", "data.shuffle=false", "--set", "train.steps=2"], 1, f"data.eval = {d}/bigbad.h5",
                 "zstd decode", absent=f"{d}/e4/model.safetensors")  # read in full before step 1

    # selector settings: restore_layer's default is not blamed on the user; a no-op selector warns
    SEL = ["--set", "select.scorer=random", "--set", "select.strategy=drop-restore", "--set", "select.layers=[0]"]
    p = case(G + SEL + ["--set", f"run.out_dir={d}/s1"], 1,
             "select.layers: drop-restore applies at layer 0, which leaves no later block to restore at",
             absent=f"{d}/s1/model.safetensors")
    assert "select.restore_layer" not in p.stderr, p.stderr
    for extra, want in ((["--set", "select.budget=40"], "select.budget = 40 keeps every token"),
                        (["--set", "select.keep=1"], "select.keep = 1 keeps every token"),
                        (["--set", "select.keep=0.99"], "select.keep = 0.99 keeps every token")):
        o = f"{d}/s2{len(extra[1])}{extra[1][-2:]}"
        p = run([shrink, "train"] + G + SEL + ["--set", "model.depth=2", "--set", f"run.out_dir={o}"] + extra)
        assert want in p.stderr, p.stderr
        ncases += 1
    p = run([shrink, "train"] + G + SEL + ["--set", "model.depth=2", "--set", "select.budget=16", "--set",
                                           f"run.out_dir={d}/s3"])
    assert "keeps every token" not in p.stderr, p.stderr

    # frozen-scorer files: each wrong file says what it is and what was expected
    proxy = f"{a}/model.safetensors"  # a shrink GPT run's model (32 wide, 2 heads, windows of 32)
    FZ = G + ["--set", "model.depth=2", "--set", "select.scorer=frozen", "--set", "select.strategy=drop-restore",
              "--set", "select.layers=[0]"]
    raw = open(proxy, "rb").read()
    n = int.from_bytes(raw[:8], "little")
    hdr = json.loads(raw[8:8 + n])
    hdr["__metadata__"]["shrink.gpt.heads"] = "3"
    h2 = json.dumps(hdr).encode()
    h2 += b" " * ((8 - len(h2) % 8) % 8)
    open(f"{d}/badmeta.safetensors", "wb").write(len(h2).to_bytes(8, "little") + h2 + raw[8 + n:])
    p = case(FZ + ["--set", f"run.out_dir={d}/f1", "--set", f"select.checkpoint={d}/badmeta.safetensors"], 1,
             f"{d}/badmeta.safetensors: metadata shrink.gpt.heads = 3 does not divide shrink.gpt.width = 32",
             absent=f"{d}/f1")
    assert "model.heads" not in p.stderr, p.stderr
    case(FZ + ["--set", f"run.out_dir={d}/f2", "--set", f"select.checkpoint={d}/nope.safetensors"], 1,
         f"{d}/nope.safetensors", absent=f"{d}/f2")
    case(FZ + ["--set", f"run.out_dir={d}/f2d", "--set", f"select.checkpoint={d}"], 1,
         f"{d}: is a directory, not a safetensors file", absent=f"{d}/f2d")
    # a proxy whose header claims more tensor data than the file holds
    open(f"{d}/short.safetensors", "wb").write(raw[:8 + n + (len(raw) - 8 - n) // 2])
    case(FZ + ["--set", f"run.out_dir={d}/f2s", "--set", f"select.checkpoint={d}/short.safetensors"], 1,
         f"{d}/short.safetensors", absent=f"{d}/f2s")
    # a header length a few bytes too large: said as such, not "not valid JSON" / "truncated data"
    open(f"{d}/hlen.safetensors", "wb").write((n + 3).to_bytes(8, "little") + raw[8:])
    case(FZ + ["--set", f"run.out_dir={d}/f2h", "--set", f"select.checkpoint={d}/hlen.safetensors"], 1,
         f"{d}/hlen.safetensors: the header length in the file's first 8 bytes ({n + 3}) runs 3 bytes past",
         absent=f"{d}/f2h")
    case(FZ + ["--set", f"run.out_dir={d}/f3"], 1, "select.checkpoint: scorer 'frozen' needs", absent=f"{d}/f3")
    case(FZ + ["--set", f"run.out_dir={d}/f4", "--set", f"select.checkpoint={proxy}", "--set", "data.seq_len=64"],
         1, "the proxy LM was trained on windows of 32 tokens, shorter than this run's data.seq_len = 64",
         absent=f"{d}/f4")
    if os.path.exists(f"{d}/im.h5"):
        V = ["--set", f"data.train={d}/im.h5", "--set", "model.arch=vit", "--set", "model.width=32", "--set",
             "model.depth=2", "--set", "model.heads=2", "--set", "model.patch=7", "--set", "data.batch_size=8",
             "--set", "train.steps=2", "--set", "train.warmup=1", "--set", "train.eval_batches=1", "--set",
             "run.threads=1", "--set", "log.every=1000000", "--set", "train.ckpt_every=0"]
        run([shrink, "train"] + V + ["--set", f"run.out_dir={d}/vit"])
        VF = V + ["--set", "select.scorer=frozen", "--set", "select.strategy=prune", "--set", "select.layers=[1]"]
        case(VF + ["--set", f"run.out_dir={d}/f5", "--set", f"select.checkpoint={proxy}"], 1,
             f"{proxy} is a shrink GPT's model.safetensors", "frozen on images needs a learned scorer's network",
             absent=f"{d}/f5")
        case(VF + ["--set", f"run.out_dir={d}/f6", "--set", f"select.checkpoint={d}/vit/model.safetensors"], 1,
             f"{d}/vit/model.safetensors holds no learned scorer's network", absent=f"{d}/f6")
        case(FZ + ["--set", f"run.out_dir={d}/f7", "--set", f"select.checkpoint={d}/vit/model.safetensors"], 1,
             f"{d}/vit/model.safetensors", "no GPT architecture metadata", absent=f"{d}/f7")

    # a directory or a missing file where a corpus is expected names the key and says which
    os.makedirs(f"{d}/adir", exist_ok=True)
    case(G + ["--set", f"run.out_dir={d}/dd1", "--set", f"data.train={d}/adir"], 1,
         f"data.train: {d}/adir is a directory, expected a corpus file (.h5)", absent=f"{d}/dd1")
    case(G + ["--set", f"run.out_dir={d}/dd2", "--set", f"data.eval={d}/adir"], 1,
         f"data.eval: {d}/adir is a directory, expected a corpus file (.h5)", absent=f"{d}/dd2")
    case(G + ["--set", f"run.out_dir={d}/dd3", "--set", f"data.eval={d}/nope.h5"], 1,
         f"data.eval: {d}/nope.h5: cannot open corpus", absent=f"{d}/dd3")
    case(G + ["--set", f"run.out_dir={d}/dd4", "--set", f"data.train={d}/t.txt"], 1,
         f"data.train: {d}/t.txt: not an HDF5 file", absent=f"{d}/dd4")
    # windows longer than the corpus
    case(G + ["--set", f"run.out_dir={d}/w", "--set", "data.seq_len=30000"], 1, f"data.train: {d}/t.h5: its ",
         "hold no training window of data.seq_len + 1 = 30001 tokens", absent=f"{d}/w")
    # the random held-out split trains
    run([shrink, "train"] + G + ["--set", f"run.out_dir={d}/rs", "--set", "data.eval_split=random"])
    assert json.load(open(f"{d}/rs/summary.json"))["eval_loss"] > 0

    # usage errors: exit 2, nothing created
    x = f"{d}/x"
    X = G + ["--set", f"run.out_dir={x}"]
    case(X + ["--resume"], 2, "--resume needs a checkpoint DIR", absent=x)
    case(X + ["--resume", "--set", "train.steps=5"], 2, "--resume needs a checkpoint DIR", absent=x)
    case(X + ["--bogus"], 2, "unexpected argument '--bogus'", absent=x)
    case(X + ["extra"], 2, "unexpected argument 'extra'", absent=x)
    case(X + ["--set", "run.dtype=bf16"], 2, "run.dtype = bf16", absent=x)
    case(X + ["--set", "run.device=cuda"], 2, "run.device", absent=x)
    case(X + ["--set", "train.warmup=9"], 2, "train.warmup = 9", absent=x)
    case(X + ["--set", "data.batch_size=7", "--set", "train.accum=2"], 2, "data.batch_size = 7", absent=x)
    case(X + ["--set", "train.min_lr=1"], 2, "train.min_lr = 1", absent=x)
    case(X + ["--set", "model.heads=5"], 2, "model.heads", absent=x)
    case(X + ["--set", "train.nosuchkey=1"], 2, "train.nosuchkey", absent=x)
    case(X + ["--set", "train.steps=abc"], 2, "train.steps", absent=x)
    case(X + ["--config", f"{d}/missing.yaml"], 2, f"{d}/missing.yaml", absent=x)
    case(X + ["--set", "data.eval_fraction=0", "--set", "data.eval="], 2, "data.eval_fraction", absent=x)
    # `shrink config` refuses bf16 the same way
    p = run([shrink, "config", "--set", "run.dtype=bf16"], check=False)
    assert p.returncode == 2 and "run.dtype = bf16" in p.stderr, p.stderr
    ncases += 1

    # SIGINT on 1 rank: stop at a step boundary, checkpoint, resume command
    for sig, name in ((signal.SIGINT, "SIGINT"), (signal.SIGTERM, "SIGTERM")):
        o = f"{d}/sig{name}"
        L = G + ["--set", f"run.out_dir={o}", "--set", "train.steps=1000000", "--set", "train.ckpt_every=0"]
        pr = subprocess.Popen([shrink, "train"] + L, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True)
        t0 = time.time()
        while not os.path.exists(f"{o}/metrics.jsonl") and time.time() - t0 < 60:
            time.sleep(0.1)
        time.sleep(0.5)
        pr.send_signal(sig)
        err = pr.communicate(timeout=60)[1]
        assert pr.returncode == 1, (pr.returncode, err)
        assert f"interrupted by {name} after step" in err, err
        cks = os.listdir(f"{o}/ckpt")
        assert len(cks) == 1 and cks[0].startswith("step-"), cks
        assert f"checkpoint written to {o}/ckpt/{cks[0]}" in err, err
        assert f"--resume {o}/ckpt" in err and f"run.out_dir={o}" in err, err
        assert not os.path.exists(f"{o}/model.safetensors")
        ncases += 1
    step = int(cks[0][5:])
    # resume it to a nearby end: the summary counts this run's steps and the total
    p = run([shrink, "train"] + L[:-4] + ["--set", f"train.steps={step + 3}", "--set", "train.ckpt_every=0",
                                          "--resume", f"{o}/ckpt"])
    s = json.load(open(f"{o}/summary.json"))
    assert s["steps"] == step + 3 and s["steps_this_run"] == 3, s
    assert f"done: 3 steps this run (resumed at step {step}; {step + 3} steps in total)" in p.stderr, p.stderr

    # 2 ranks, SIGTERM to one rank only: both stop at the same step
    o = f"{d}/sig2"
    L = G + ["--set", f"run.out_dir={o}", "--set", "train.steps=1000000", "--set", "train.ckpt_every=0"]
    pr = subprocess.Popen(mpirun(2, [shrink, "train"] + L), env=ENV, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    while not os.path.exists(f"{o}/metrics.jsonl") and time.time() - t0 < 60:
        time.sleep(0.1)
    time.sleep(0.5)
    kids = subprocess.run(["pgrep", "-P", str(pr.pid)], capture_output=True, text=True).stdout.split()
    assert len(kids) == 2, kids
    os.kill(int(kids[-1]), signal.SIGTERM)
    err = pr.communicate(timeout=60)[1]
    assert pr.returncode != 0, err
    assert "interrupted by SIGTERM after step" in err and "mpirun -np 2 " in err, err
    cks = os.listdir(f"{o}/ckpt")
    assert len(cks) == 1 and not cks[0].startswith("tmp"), cks
    ncases += 1

    def start(n, o, pre=()):
        """mpirun -np n shrink train into o (long run, no periodic
        checkpoints); returns the process once training is under way and
        {rank: pid} of its ranks."""
        L = G + ["--set", f"run.out_dir={o}", "--set", "train.steps=1000000", "--set", "train.ckpt_every=0",
                 "--set", f"data.batch_size={4 * n}"]
        cmd = mpirun(n, [shrink, "train"] + L)
        pr = subprocess.Popen(cmd[:1] + list(pre) + cmd[1:], env=ENV, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
        t0 = time.time()
        while not os.path.exists(f"{o}/metrics.jsonl") and time.time() - t0 < 60:
            time.sleep(0.1)
        time.sleep(0.5)
        ranks = {}
        for k in subprocess.run(["pgrep", "-P", str(pr.pid)], capture_output=True, text=True).stdout.split():
            for e in open(f"/proc/{k}/environ", "rb").read().split(b"\0"):
                if e.startswith(b"OMPI_COMM_WORLD_RANK="):
                    ranks[int(e.split(b"=")[1])] = int(k)
        assert sorted(ranks) == list(range(n)), ranks
        return pr, ranks

    # 3 ranks, rank 1 SIGKILLed mid-training: the job ends non-zero within
    # seconds, and the survivors name rank 1 (the launcher's SIGTERM
    # reaches them while they wait for it in a collective)
    o = f"{d}/kill1"
    pr, ranks = start(3, o)
    t0 = time.time()
    os.kill(ranks[1], signal.SIGKILL)
    err = pr.communicate(timeout=60)[1]
    assert pr.returncode != 0, (pr.returncode, err)
    assert time.time() - t0 < 30, time.time() - t0
    for r in (0, 2):
        assert (f"shrink[{r}] rank {r}: stopped by the launcher (SIGTERM): rank 1 (pid {ranks[1]}) has already "
                "ended") in err, err
    ncases += 1

    # 3 ranks, SIGTERM to rank 2 only: every rank stops after the same step,
    # one checkpoint, the resume command names 3 ranks, and it resumes
    o = f"{d}/sig3"
    pr, ranks = start(3, o)
    os.kill(ranks[2], signal.SIGTERM)
    err = pr.communicate(timeout=90)[1]
    assert pr.returncode != 0, (pr.returncode, err)
    assert "interrupted by SIGTERM after step" in err and "mpirun -np 3 " in err, err
    cks = os.listdir(f"{o}/ckpt")
    assert len(cks) == 1 and cks[0].startswith("step-"), cks
    assert f"checkpoint written to {o}/ckpt/{cks[0]}" in err and f"--resume {o}/ckpt" in err, err
    step = int(cks[0][5:])
    run(mpirun(3, [shrink, "train"] + G + ["--set", f"run.out_dir={o}", "--set", f"train.steps={step + 2}",
                                           "--set", "train.ckpt_every=0", "--set", "data.batch_size=12",
                                           "--resume", f"{o}/ckpt"]), timeout=120)
    s = json.load(open(f"{o}/summary.json"))
    assert s["steps"] == step + 2 and s["steps_this_run"] == 2, s
    ncases += 1

    # Ctrl-C on mpirun itself: mpirun sends its ranks SIGTERM, then SIGKILL
    # odls_base_sigkill_timeout seconds later (1 by default; raised here so
    # a loaded machine cannot lose the race): every rank says the launcher
    # stopped it, the checkpoint is written and the resume command printed
    for sig, pre, name in ((signal.SIGINT, ("--mca", "odls_base_sigkill_timeout", "5"), "SIGTERM"),
                           (signal.SIGUSR1, (), "SIGUSR1")):
        o = f"{d}/mpirun-{name}"
        pr, ranks = start(2, o, pre)
        pr.send_signal(sig)
        err = pr.communicate(timeout=90)[1]
        assert pr.returncode != 0, (pr.returncode, err)
        for r in (0, 1):
            assert f"shrink[{r}] rank {r}: stopped by the launcher ({name})" in err, err
        assert f"interrupted by {name} after step" in err and "mpirun -np 2 " in err, err
        cks = os.listdir(f"{o}/ckpt")
        assert len(cks) == 1 and cks[0].startswith("step-"), cks
        assert f"checkpoint written to {o}/ckpt/{cks[0]}" in err and f"--resume {o}/ckpt" in err, err
        ncases += 1
    # the SIGUSR1 checkpoint resumes (2 more steps)
    step = int(cks[0][5:])
    run(mpirun(2, [shrink, "train"] + G + ["--set", f"run.out_dir={o}", "--set", f"train.steps={step + 2}",
                                           "--set", "train.ckpt_every=0", "--set", "data.batch_size=8",
                                           "--resume", f"{o}/ckpt"]), timeout=120)
    assert json.load(open(f"{o}/summary.json"))["steps"] == step + 2
print(f"ok: {ncases} cases")
