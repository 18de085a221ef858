#!/usr/bin/env python3
"""check_layering.py — fails when an #include runs upwards between the parts of the code.

Every include is written from the repository root, so the compiler alone cannot stop a lower
part from including a higher one. The parts, lowest first (CMakeLists.txt builds one library
per part, linked in this order):

  0  engine/base/   the error types                                     gan_base
  1  engine/io/     file formats and atomic writes                      gan_io
  2  engine/        the training core                                   gan_engine
  3  kernels/cpu/   the CPU backend                                     gan_cpu_backend
  3  kernels/cuda/  the CUDA backend                                    gan_cuda_backend
  3  engine/eval/   the evaluation suite                                gan_eval
  4  apps/          the command line and the commands (apps/bench/ too) gan_app

A file may include its own part and any part of a lower level; parts on the same level (the
two backends, the evaluation) do not include each other. tests/ and tools/ may include
anything. Every `#include "..."` of a part must name a file of the tree (from the root, or
beside the including file).

Usage: tools/check_layering.py [ROOT]   (ROOT defaults to this script's repository). Prints
one line per wrong include, `file:line: ...`, and exits 1 if there is any; 0 and a summary
line otherwise. Run as the CTest test `layering`.
"""

import os
import re
import sys

# (folder prefix, part, level); the longest matching prefix decides.
PARTS = [
    ("engine/base/", "base", 0),
    ("engine/io/", "io", 1),
    ("engine/eval/", "eval", 3),
    ("engine/", "engine", 2),
    ("kernels/cpu/", "cpu backend", 3),
    ("kernels/cuda/", "cuda backend", 3),
    ("apps/", "apps", 4),
]
SOURCE_EXTENSIONS = (".cpp", ".hpp", ".h", ".cu", ".cuh")
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')


def part_of(path):
    """(part, level) of a path relative to the root, or None outside the parts."""
    best = None
    for prefix, part, level in PARTS:
        if path.startswith(prefix) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, part, level)
    return None if best is None else best[1:]


def sources(root):
    for top in sorted({p.split("/")[0] for p, _, _ in PARTS}):
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames.sort()
            for name in sorted(filenames):
                if name.endswith(SOURCE_EXTENSIONS):
                    yield os.path.relpath(os.path.join(dirpath, name), root)


def check(root):
    """The wrong includes as 'file:line: message' strings, and the number of files read."""
    problems, files = [], 0
    for path in sources(root):
        here = part_of(path)
        if here is None:
            continue
        files += 1
        with open(os.path.join(root, path), encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                target = m.group(1)
                if os.path.isfile(os.path.join(root, target)):
                    resolved = target
                elif os.path.isfile(os.path.join(root, os.path.dirname(path), target)):
                    resolved = os.path.normpath(os.path.join(os.path.dirname(path), target))
                else:
                    problems.append(f'{path}:{number}: #include "{target}" names no file')
                    continue
                there = part_of(resolved)
                if there is None:
                    problems.append(f'{path}:{number}: #include "{target}": {here[0]} '
                                    f"includes a file outside the parts")
                elif there[0] != here[0] and there[1] >= here[1]:
                    problems.append(f'{path}:{number}: #include "{target}": {here[0]} '
                                    f"(level {here[1]}) includes {there[0]} (level {there[1]})")
    return problems, files


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    problems, files = check(os.path.abspath(root))
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} include(s) run against the layering (see tools/check_layering.py)")
        return 1
    print(f"layering ok: {files} files, every include runs downwards")
    return 0


if __name__ == "__main__":
    sys.exit(main())
