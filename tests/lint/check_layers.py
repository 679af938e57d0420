#!/usr/bin/env python3
"""Checks host/'s architecture: every #include "..." of a host file names a
header of its own layer or of a lower one, no two modules include each
other in a circle, and no .c file is over 700 lines.

Layers, lowest first: util, core, pipeline, edge, builtin (the builtin
models, plugins/builtin: no host file may include them, they register into
core's builtin table); the plugin ABI header
(plugin-api) and the plugin code the builtins share (plugins/common,
plugins/linear) are below every layer. A module is a .c/.h pair (same stem); a header X_internal.h belongs to
module X (the private header of a module split over several files). The
700-line cap holds for the .c files of tests/ and bench/ too.
Exits 1 and names every violation."""
import os
import re
import sys

LAYERS = ["util", "core", "pipeline", "edge", "builtin"]
MAX_LINES = 700
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def module_of(stem):
    return stem[:-len("_internal")] if stem.endswith("_internal") else stem


def main(src):
    host = os.path.join(src, "host")
    layer_of = {}   # header name -> layer index
    files = []      # (path, layer index, module)
    # every layer is a folder of host/ but the builtins', plugins/builtin
    dirs = [(os.path.join(src, "plugins", "builtin") if l == "builtin" else os.path.join(host, l), i)
            for i, l in enumerate(LAYERS)]
    for d, i in dirs:
        for name in sorted(os.listdir(d)):
            if name.endswith((".c", ".h")):
                files.append((os.path.join(d, name), i, module_of(name[:-2])))
                if name.endswith(".h"):
                    layer_of[name] = i
    for name in os.listdir(os.path.join(src, "plugin-api")):
        if name.endswith(".h"):
            layer_of[name] = -1
    for sub in ("common", "linear"):  # plugin code the builtins share
        for name in os.listdir(os.path.join(src, "plugins", sub)):
            if name.endswith(".h"):
                layer_of[name] = -1

    errors = []
    edges = {}
    stray = [n for n in os.listdir(host) if n.endswith((".c", ".h"))]
    for n in stray:
        errors.append(f"host/{n}: a source file outside the layer folders")
    for path, layer, module in files:
        rel = os.path.relpath(path, src)
        text = open(path, encoding="utf-8").read()
        if path.endswith(".c") and text.count("\n") > MAX_LINES:
            errors.append(f"{rel}: {text.count(chr(10))} lines, over {MAX_LINES}: split it by concern")
        for inc in INCLUDE.findall(text):
            if inc not in layer_of:
                errors.append(f"{rel}: includes \"{inc}\", which is no host, ABI or builtin header")
                continue
            if layer_of[inc] > layer:
                errors.append(f"{rel}: includes \"{inc}\" of layer {LAYERS[layer_of[inc]]}, "
                              f"above its own layer {LAYERS[layer]}")
            target = module_of(inc[:-2])
            if target != module and layer_of[inc] >= 0:
                edges.setdefault(module, set()).add(target)

    # cycles among modules (depth-first search, report each cycle once)
    state, stack, seen_cycles = {}, [], set()

    def visit(m):
        state[m] = 1
        stack.append(m)
        for t in sorted(edges.get(m, ())):
            if state.get(t) == 1:
                cycle = stack[stack.index(t):] + [t]
                key = frozenset(cycle)
                if key not in seen_cycles:
                    seen_cycles.add(key)
                    errors.append("module include cycle: " + " -> ".join(cycle))
            elif t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m)

    for sub in ("tests", "bench"):  # the same cap for the tests and the benchmarks
        for dirpath, _, names in os.walk(os.path.join(src, sub)):
            for name in sorted(names):
                if name.endswith(".c"):
                    path = os.path.join(dirpath, name)
                    n = open(path, encoding="utf-8").read().count("\n")
                    if n > MAX_LINES:
                        errors.append(f"{os.path.relpath(path, src)}: {n} lines, over {MAX_LINES}: "
                                      "split it by concern")

    for e in errors:
        print(e)
    n_modules = len({m for _, _, m in files})
    print(f"{len(files)} files, {n_modules} modules in {len(LAYERS)} layers: "
          f"{'ok' if not errors else str(len(errors)) + ' violation(s)'}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else
                  os.path.join(os.path.dirname(__file__), "..", "..")))
