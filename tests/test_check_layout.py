#!/usr/bin/env python3
"""The layout checker fails on a diagram that drops or invents an edge."""
import os
import shutil
import subprocess
import sys
import tempfile

root = sys.argv[1]
script = os.path.join(root, "scripts", "check_layout.py")


def run(readme_edit):
    with tempfile.TemporaryDirectory() as d:
        for name in os.listdir(root):
            cm = os.path.join(root, name, "CMakeLists.txt")
            if os.path.isfile(cm):
                os.makedirs(os.path.join(d, name))
                shutil.copy(cm, os.path.join(d, name))
        text = open(os.path.join(root, "README.md")).read()
        open(os.path.join(d, "README.md"), "w").write(readme_edit(text))
        p = subprocess.run([sys.executable, script, d], capture_output=True, text=True)
        return p.returncode, p.stdout


rc, out = run(lambda t: t)
assert rc == 0, out
rc, out = run(lambda t: t.replace("common <- shim <- selectors", "common <- selectors", 1))
assert rc == 1 and "diagram lacks shim <- selectors" in out, out
rc, out = run(lambda t: t.replace("common <- shim <- selectors", "selectors <- dataset\ncommon <- shim <- selectors", 1))
assert rc == 1 and "CMake has no such link" in out, out
print("1 passed, 0 failed")
