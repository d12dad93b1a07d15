"""`shrink ablate` bad input: every case exits 2 with one line naming the
cell and key (or the spec), before the first cell starts: nothing is made
under ablate.out_dir. Besides the config checks, the pre-flight sets every
cell up as the trainer would (sk_train_check): a frozen scorer's
select.checkpoint that is missing, a directory, not safetensors, a GPT's
proxy for a ViT (and the reverse), a network of another width or layer, a
proxy of shorter windows, a selector layer past the depth, a token corpus
for a ViT, an eval corpus of another kind, and a condensation the cells
need that `shrink condense` would refuse (no proxy, a proxy missing or of
another kind, a method for another corpus kind) are all refused naming the
cell (its index, method, keep, axis values, seed) and the key.
usage: test_ablate_badinput.py SHRINK"""
import os
import shutil
import subprocess
import sys
import tempfile

ENV = dict(os.environ, OMP_NUM_THREADS="1")
shrink = sys.argv[1]
F = "/usr/share/datasets/fashion-mnist"
if not os.path.exists(f"{F}/t10k-images-idx3-ubyte.gz"):
    print("no Fashion-MNIST here")
    sys.exit(77)

CONFIG = """data: {train: %(d)s/fm.h5, eval: "", eval_fraction: 0.1, batch_size: 24}
model: {arch: vit, patch: 7, width: 32, depth: 2, heads: 2, mlp_ratio: 2}
train: {steps: 6, warmup: 2}
ablate: {methods: "tome/merge", keep: [0.5], seeds: [1], out_dir: %(d)s/out}
"""
failures = []
with tempfile.TemporaryDirectory() as d:
    subprocess.run([shrink, "prepare", "--set", "prepare.format=idx", "--set",
                    f"prepare.input={F}/t10k-images-idx3-ubyte.gz", "--set",
                    f"prepare.labels={F}/t10k-labels-idx1-ubyte.gz", "--set", f"prepare.output={d}/fm.h5"],
                   check=True, capture_output=True, env=ENV)
    cfg = f"{d}/a.yaml"
    open(cfg, "w").write(CONFIG % {"d": d})
    # a learned scorer's network (width 32, layer 1) for frozen on images; with fortunes, a GPT proxy LM
    # (windows of 32 tokens) and a token corpus
    subprocess.run([shrink, "train", "--config", cfg, "--set", f"run.out_dir={d}/learned", "--set",
                    "select.scorer=learned", "--set", "select.strategy=prune", "--set", "select.layers=[1]",
                    "--set", "train.steps=2", "--set", "train.warmup=1", "--set", "train.eval_batches=1"],
                   check=True, capture_output=True, env=ENV)
    learned = f"{d}/learned/model.safetensors"
    TXT = "/usr/share/games/fortunes/computers"
    text = os.path.exists(TXT)
    if text:
        subprocess.run([shrink, "prepare", "--set", "prepare.format=text", "--set", f"prepare.input={TXT}",
                        "--set", "prepare.boundary=%", "--set", f"prepare.output={d}/tx.h5"],
                       check=True, capture_output=True, env=ENV)
        gpt = ["--set", f"data.train={d}/tx.h5", "--set", "data.seq_len=32", "--set", "data.batch_size=8",
               "--set", "model.arch=gpt", "--set", "model.depth=3", "--set", "train.bytes_per_token=1"]
        subprocess.run([shrink, "train", "--config", cfg, "--set", f"run.out_dir={d}/proxy", "--set",
                        "train.steps=2", "--set", "train.warmup=1", "--set", "train.eval_batches=1"] + gpt,
                       check=True, capture_output=True, env=ENV)
    proxy = f"{d}/proxy/model.safetensors"
    frozen = ["--set", "ablate.methods=none, frozen/prune", "--set", "select.layers=[1]"]
    cell1 = "cell 001-frozen-prune-k0.5-s1: select.scorer 'frozen' at layer 1: select.checkpoint: "
    open(f"{d}/bad-base.yaml", "w").write("train: {steps: 0}\n")
    cases = [
        ("unknown scorer", ["--set", "ablate.methods=tome/merge, tomee/merge"],
         "ablate.methods: 'tomee/merge': scorer: 'tomee' is not one of"),
        ("unknown strategy", ["--set", "ablate.methods=tome/mrege"], "strategy: 'mrege'"),
        ("unknown condense method", ["--set", "ablate.methods=condense:kcentre"],
         "condense method: 'kcentre' is not one of"),
        ("malformed spec", ["--set", "ablate.methods=tome"], "'tome' is not none, SCORER/STRATEGY"),
        ("empty grid", ["--set", "ablate.methods="], "ablate.methods is empty"),
        ("no seeds", ["--set", "ablate.seeds=[]"], "ablate.seeds is empty"),
        ("no keep", ["--set", "ablate.keep=[]"], "ablate.keep is empty"),
        ("duplicate", ["--set", "ablate.methods=none, none"], "'none' is listed twice"),
        ("base config invalid", ["--set", "train.warmup=9"], "base config: train.warmup = 9"),
        ("ablate.base file invalid", ["--set", f"ablate.base={d}/bad-base.yaml"], "bad-base.yaml:1"),
        ("ablate.base missing", ["--set", f"ablate.base={d}/nope.yaml"], "nope.yaml"),
        ("a cell invalid", ["--set", "ablate.grid=train.warmup=2|8"], "cell 001-tome-merge-k0.5-8-s1: train.warmup = 8"),
        ("a cell's --set value invalid", ["--set", "ablate.grid=model.heads=2|x"],
         "cell 001-tome-merge-k0.5-x-s1: --set model.heads=x"),
        ("axis not a key", ["--set", "ablate.grid=train.lrr=1|2"], "unknown key 'train.lrr'"),
        ("axis on the seed", ["--set", "ablate.grid=run.seed=1|2"], "run.seed is ablate.seeds' axis"),
        ("batch not divisible in a cell", ["--set", "ablate.grid=data.batch_size=24|0"], "data.batch_size"),
        ("missing corpus", ["--set", f"data.train={d}/none.h5"], "cell 000-tome-merge-k0.5-s1: data.train"),
        ("bad slice", ["--cells", "2:1"], "--cells 2:1"),
        ("slice past the end", ["--cells", "0:99"], "the grid has cells 0 to 2"),
        ("bad keep", ["--set", "ablate.keep=[0]"], "ablate.keep[0]"),
        ("bad budget", ["--set", "ablate.budget=tokens"], "ablate.budget"),
        # the pre-flight: what the trainer would refuse when the cell starts
        ("frozen checkpoint missing", frozen + ["--set", f"select.checkpoint={d}/nope.safetensors"],
         cell1 + f"{d}/nope.safetensors: cannot open"),
        ("frozen checkpoint a directory", frozen + ["--set", f"select.checkpoint={d}"],
         cell1 + f"{d}: is a directory"),
        ("frozen checkpoint not safetensors", frozen + ["--set", f"select.checkpoint={cfg}"],
         cell1 + f"{cfg}: header length"),
        ("frozen network for another layer", frozen + ["--set", f"select.checkpoint={learned}", "--set",
                                                       "select.checkpoint_layer=0"],
         cell1 + f"{learned}: holds a learned scorer's network for layer 1, not for layer 0"),
        ("frozen network of another width, in a later cell",
         frozen + ["--set", f"select.checkpoint={learned}", "--set", "ablate.grid=model.width=32|64"],
         "cell 003-frozen-prune-k0.5-64-s1: select.scorer 'frozen' at layer 1: select.checkpoint: "
         f"{learned}: tensor 'selector.learned.l1.ln_w'"),
        ("selector layer past the depth", ["--set", "select.layers=[5]"],
         "cell 000-tome-merge-k0.5-s1: select.layers: layer 5 is out of range"),
        # a condensation the cells need, checked as `shrink condense` checks it
        ("condense method needs a proxy", ["--set", "ablate.methods=condense:el2n"],
         "cell 000-condense-el2n-c0.5-s1: condense.method=el2n needs condense.proxy"),
        ("condense method for tokens on images", ["--set", "ablate.methods=condense:minhash"],
         f"cell 000-condense-minhash-c0.5-s1: {d}/fm.h5: condense.method=minhash works on token corpora"),
        ("condense proxy missing", ["--set", "ablate.methods=condense:el2n+random/prune", "--set",
                                    f"condense.proxy={d}/nope.safetensors"],
         f"cell 000-condense-el2n-random-prune-c0.5-k0.5-s1: condense.proxy: {d}/nope.safetensors"),
    ]
    if text:
        cases += [
            ("frozen: a GPT proxy for a ViT", frozen + ["--set", f"select.checkpoint={proxy}"],
             cell1 + f"{proxy} is a shrink GPT's model.safetensors"),
            ("condense proxy of another kind", ["--set", "ablate.methods=condense:el2n", "--set",
                                                f"condense.proxy={proxy}"],
             f"cell 000-condense-el2n-c0.5-s1: condense.proxy {proxy}: a gpt model for tokens, but {d}/fm.h5 "
             "holds images"),
            ("token corpus for a ViT", ["--set", f"data.train={d}/tx.h5"],
             f"cell 000-tome-merge-k0.5-s1: data.train = {d}/tx.h5 holds token sequences; model.arch = vit"),
            ("eval corpus of another kind", ["--set", f"data.eval={d}/tx.h5"],
             f"cell 000-tome-merge-k0.5-s1: data.eval = {d}/tx.h5: samples of shape [257] (tokens)"),
            ("frozen on a GPT: a ViT's network as the proxy",
             gpt + ["--set", "ablate.methods=none, frozen/drop-restore", "--set", "select.layers=[1]", "--set",
                    f"select.checkpoint={learned}"],
             f"cell 001-frozen-drop-restore-k0.5-s1: select.scorer 'frozen' at layer 1: select.checkpoint: "
             f"no GPT architecture metadata"),
            ("frozen on a GPT: a proxy of shorter windows",
             gpt + ["--set", "ablate.methods=none, frozen/drop-restore", "--set", "select.layers=[1]", "--set",
                    f"select.checkpoint={proxy}", "--set", "ablate.grid=data.seq_len=32|64"],
             f"cell 003-frozen-drop-restore-k0.5-64-s1: select.scorer 'frozen' at layer 1: select.checkpoint: "
             f"{proxy}: the proxy LM was trained on windows of 32 tokens"),
        ]
    for name, args, want in cases:
        p = subprocess.run([shrink, "ablate", "--config", cfg] + args, capture_output=True, text=True, env=ENV,
                           timeout=60)
        line = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ""
        if p.returncode != 2 or want not in line or os.path.exists(f"{d}/out"):
            failures.append(f"{name}: rc {p.returncode}, stderr {p.stderr.strip()!r}, out_dir made: "
                            f"{os.path.exists(f'{d}/out')}")
            shutil.rmtree(f"{d}/out", ignore_errors=True)  # one failure, not every case after it
    p = subprocess.run([shrink, "ablate", "--report", f"{d}/nowhere"], capture_output=True, text=True, env=ENV)
    if p.returncode == 0 or "plan.json" not in p.stderr:
        failures.append(f"--report of a missing dir: rc {p.returncode} {p.stderr!r}")
    p = subprocess.run([shrink, "ablate", "--report", d, "--config", cfg], capture_output=True, text=True, env=ENV)
    if p.returncode != 2:
        failures.append(f"--report with --config: rc {p.returncode}")
if failures:
    print("\n".join(failures))
    sys.exit(1)
print("ok")
