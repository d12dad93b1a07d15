#!/usr/bin/python3
"""gen_fortune_text.py OUT.txt MIB [SEED]: a large fortune-style text file
for `shrink prepare --set prepare.format=text` (documents end at a line
"%"), made from the fortunes in /usr/share/games/fortunes.

Each document joins 4..40 fortunes drawn at random (a few KB, like a web
page). About 10% of documents are exact copies of an earlier document and
10% near copies (an earlier document with ~5% of its words replaced), so
exact-dedup and minhash have work to do. Deterministic for a seed. Writes
MIB mebibytes of text (rounded up to a whole document) and prints the
document count. Used by bench/run_condense_memory.sh."""
import os
import random
import sys


def load_fortunes(root="/usr/share/games/fortunes"):
    out = []
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name)
        if "." in name or not os.path.isfile(path):
            continue  # the .dat indexes and .u8 links
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        out += [p.strip("\n") for p in text.split("\n%\n") if p.strip()]
    return out


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    out, target = sys.argv[1], int(sys.argv[2]) << 20
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    fortunes = load_fortunes()
    recent = []  # earlier documents to copy (a bounded pool: memory stays small)
    written = docs = 0
    with open(out, "w", encoding="utf-8") as f:
        while written < target:
            u = rng.random()
            if recent and u < 0.1:
                doc = rng.choice(recent)
            elif recent and u < 0.2:
                words = rng.choice(recent).split(" ")
                for _ in range(max(1, len(words) // 20)):
                    words[rng.randrange(len(words))] = rng.choice(("the", "a", "of", "and", "shrink", "data"))
                doc = " ".join(words)
            else:
                doc = "\n\n".join(rng.choice(fortunes) for _ in range(rng.randint(4, 40)))
            if len(recent) < 2000:
                recent.append(doc)
            else:
                recent[rng.randrange(2000)] = doc
            doc = doc.replace("\n%\n", "\n%%\n")
            f.write(doc + "\n%\n")
            written += len(doc.encode("utf-8")) + 3
            docs += 1
    print(f"{out}: {docs} documents, {written} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
