#!/usr/bin/env python3
"""Checks host/'s architecture against host/rooms.txt, its one declaration.

host/ is rooms by capability, each a folder and a CMake library. A line of
rooms.txt is `ROOM [PATH]: DIRECT-DEPS [| caption]` (PATH defaults to
host/ROOM; `#` starts a comment). A room may include its own headers and
those of every room its edges reach. Checked, each problem one line, exit 1:
the table (declared deps, no room twice, no cycle, only direct edges); the
folders (each folder of host/ with sources is a room, each room's folder
exists, no source directly in host/); the includes (each known, each of its
own room or one it reaches; nothing in host/ includes the builtins, which
register through registry.h; X_internal.h only within its room); no two
modules include each other in a circle; no .c file over 700 lines (host/,
plugins/builtin, tests/, bench/); and the picture in docs/design.md section
"## 2. Rooms" (its first mermaid block) draws exactly the rooms and edges
of the table, and the table under it names every room.
The plugin ABI (plugin-api/) and the plugin code the builtins share
(plugins/common, plugins/linear) are below every room.
--self-test builds small trees and checks the lint refuses each fault."""
import os
import re
import sys
import tempfile

MAX_LINES = 700
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
BELOW = ["plugin-api", "plugins/common", "plugins/linear"]
NODE = re.compile(r'^([a-z]+)(\["[^"]*"\])?$')
EDGE = re.compile(r'^([a-z]+)(\["[^"]*"\])?\s+-->\s+([a-z]+)$')


def module_of(stem):
    return stem[:-len("_internal")] if stem.endswith("_internal") else stem


def read_rooms(src, errors):
    rooms = {}  # name -> (path, [deps]) in file order
    for n, line in enumerate(open(os.path.join(src, "host", "rooms.txt"), encoding="utf-8"), 1):
        line = line.split("#", 1)[0].split("|", 1)[0].strip()
        if not line:
            continue
        m = re.match(r"^([a-z]+)(\s+\S+)?\s*:(.*)$", line)
        if not m:
            errors.append(f"host/rooms.txt:{n}: not ROOM [PATH]: DEPS")
        elif m.group(1) in rooms:
            errors.append(f"host/rooms.txt:{n}: room {m.group(1)} declared twice")
        else:
            path = (m.group(2) or "").strip() or "host/" + m.group(1)
            rooms[m.group(1)] = (path, m.group(3).split())
    return rooms


def closure(rooms, r, seen=None):
    seen = set() if seen is None else seen
    for d in rooms.get(r, ("", []))[1]:
        if d not in seen:
            seen.add(d)
            closure(rooms, d, seen)
    return seen


def check_table(rooms, errors):
    for r, (_, deps) in rooms.items():
        for d in deps:
            if d not in rooms:
                errors.append(f"host/rooms.txt: {r}: {d} is no declared room")
    state = {}

    def visit(r, stack):
        state[r] = 1
        for d in rooms[r][1]:
            if state.get(d) == 1:
                errors.append("host/rooms.txt: room cycle: " +
                              " -> ".join(stack[stack.index(d):] + [d]))
            elif d in rooms and d not in state:
                visit(d, stack + [d])
        state[r] = 2
    for r in rooms:
        if r not in state:
            visit(r, [r])
    if any("cycle" in e for e in errors):
        return
    for r, (_, deps) in rooms.items():
        for d in deps:
            via = [o for o in deps if o != d and d in closure(rooms, o)]
            if via:
                errors.append(f"host/rooms.txt: {r}: {via[0]} already reaches {d}")


def check_picture(src, rooms, errors):
    path = os.path.join(src, "docs", "design.md")
    text = open(path, encoding="utf-8").read() if os.path.exists(path) else ""
    sec = re.search(r"^## 2\. Rooms\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    block = re.search(r"```mermaid\n(.*?)```", sec.group(1), re.S) if sec else None
    if not block:
        errors.append("docs/design.md: no ```mermaid block in section '## 2. Rooms'")
        return
    nodes, edges = set(), set()
    for line in block.group(1).splitlines():
        line = line.strip()
        m = EDGE.match(line)
        if m:
            nodes.update((m.group(1), m.group(3)))
            edges.add((m.group(1), m.group(3)))
        elif NODE.match(line):
            nodes.add(NODE.match(line).group(1))
        elif line and line != "flowchart BT":
            errors.append(f"docs/design.md: picture: '{line}' is no ROOM --> ROOM or ROOM[\"caption\"]")
    want = {(r, d) for r, (_, deps) in rooms.items() for d in deps}
    for r in rooms:
        if r not in nodes:
            errors.append(f"room {r} is in host/rooms.txt but not in docs/design.md's picture")
        if not re.search(r"^\|\s*`" + r + r"`", sec.group(1), re.M):
            errors.append(f"room {r} is missing from the table of docs/design.md's section 2")
    for n in sorted(nodes - set(rooms)):
        errors.append(f"docs/design.md's picture draws {n}, which host/rooms.txt does not declare")
    for a, b in sorted(want - edges):
        errors.append(f"edge {a} --> {b} missing from docs/design.md's picture")
    for a, b in sorted(edges - want):
        errors.append(f"docs/design.md's picture draws {a} --> {b}, which host/rooms.txt does not declare")


def main(src):
    errors = []
    rooms = read_rooms(src, errors)
    check_table(rooms, errors)
    host = os.path.join(src, "host")
    folder_room = {os.path.normpath(p): r for r, (p, _) in rooms.items()}
    for dirpath, _, names in os.walk(host):
        rel = os.path.relpath(dirpath, src)
        if rel == "host":
            for n in names:
                if n.endswith((".c", ".h", ".html")):
                    errors.append(f"host/{n}: a source file outside the room folders")
        elif rel not in folder_room and any(n.endswith((".c", ".h", ".html")) for n in names):
            errors.append(f"{rel}/: a folder no room of host/rooms.txt names")
    room_of, files = {}, []  # header -> room ("" below every room); (path, room, module)
    for d in BELOW:
        for name in os.listdir(os.path.join(src, d)):
            if name.endswith(".h"):
                room_of[name] = ""
    for r, (p, _) in rooms.items():
        if not os.path.isdir(os.path.join(src, p)):
            errors.append(f"{p}/: room {r}'s folder does not exist")
            continue
        for name in sorted(os.listdir(os.path.join(src, p))):
            if name.endswith((".c", ".h")):
                files.append((os.path.join(p, name), r, module_of(name[:-2])))
                if name.endswith(".h"):
                    if name in room_of:
                        errors.append(f"{p}/{name}: header name also in room {room_of[name] or 'below'}")
                    room_of[name] = r
    builtin_rooms = {r for r, (p, _) in rooms.items() if not p.startswith("host/")}
    edges = {}
    for rel, r, module in files:
        text = open(os.path.join(src, rel), encoding="utf-8").read()
        if rel.endswith(".c") and text.count("\n") > MAX_LINES:
            errors.append(f"{rel}: {text.count(chr(10))} lines, over {MAX_LINES}: split it by concern")
        reach = closure(rooms, r)
        for inc in INCLUDE.findall(text):
            to = room_of.get(os.path.basename(inc))
            if to is None or "/" in inc:
                errors.append(f"{rel}: includes \"{inc}\", which is no header of a room or the ABI")
            elif to in builtin_rooms and r not in builtin_rooms:
                errors.append(f"{rel}: includes \"{inc}\": host never includes plugins/ "
                              "(builtins register through registry.h)")
            elif to and to != r and to not in reach:
                errors.append(f"{rel}: includes \"{inc}\" of room {to}; {r} stands on "
                              f"{', '.join(rooms[r][1]) or 'nothing'} (reaching "
                              f"{', '.join(sorted(reach)) or 'nothing'})")
            elif inc.endswith("_internal.h") and to != r:
                errors.append(f"{rel}: includes \"{inc}\", private to room {to}")
            target = module_of(inc[:-2])
            if to and target != module:
                edges.setdefault(module, set()).add(target)
    state, stack, seen = {}, [], set()

    def visit(m):
        state[m] = 1
        stack.append(m)
        for t in sorted(edges.get(m, ())):
            if state.get(t) == 1:
                cycle = stack[stack.index(t):] + [t]
                if frozenset(cycle) not in seen:
                    seen.add(frozenset(cycle))
                    errors.append("module include cycle: " + " -> ".join(cycle))
            elif t not in state:
                visit(t)
        stack.pop()
        state[m] = 2
    for m in sorted(edges):
        if m not in state:
            visit(m)
    for sub in ("tests", "bench"):
        for dirpath, _, names in os.walk(os.path.join(src, sub)):
            for name in sorted(n for n in names if n.endswith(".c")):
                path = os.path.join(dirpath, name)
                n = open(path, encoding="utf-8").read().count("\n")
                if n > MAX_LINES:
                    errors.append(f"{os.path.relpath(path, src)}: {n} lines, over {MAX_LINES}: "
                                  "split it by concern")
    check_picture(src, rooms, errors)
    for e in errors:
        print(e)
    host_rooms = len(rooms) - len(builtin_rooms)
    print(f"{len(files)} files, {len({m for _, _, m in files})} modules in {host_rooms} rooms "
          f"(+ {', '.join(sorted(builtin_rooms)) or 'none'}): "
          f"{'ok' if not errors else str(len(errors)) + ' violation(s)'}")
    return 1 if errors else 0


def self_test():
    """Three small trees, each with one fault the lint must refuse."""
    picture = ("## 2. Rooms\n```mermaid\nflowchart BT\n  b --> a\n  builtin --> a\n```\n"
               "| `a` | x |\n| `b` | y |\n| `builtin` | z |\n")
    cases = {
        "upward include": ({"host/a/a.h": '#include "b.h"\n', "host/b/b.h": ""}, picture),
        "room missing from the picture": ({"host/a/a.h": "", "host/b/b.h": ""},
                                          picture.replace("  b --> a\n", "")),
        "host includes plugins": ({"host/a/a.h": "", "host/b/b.h": '#include "builtins.h"\n'},
                                  picture),
    }
    failed = 0
    for what, (tree, pic) in cases.items():
        with tempfile.TemporaryDirectory() as d:
            files = dict(tree, **{"plugins/builtin/builtins.h": "", "host/rooms.txt":
                                  "a:\nb: a\nbuiltin plugins/builtin: a\n", "docs/design.md": pic})
            for sub in BELOW:
                os.makedirs(os.path.join(d, sub))
            for rel, text in files.items():
                os.makedirs(os.path.dirname(os.path.join(d, rel)), exist_ok=True)
                open(os.path.join(d, rel), "w").write(text)
            sys.stdout = open(os.devnull, "w")
            rc = main(d)
            sys.stdout = sys.__stdout__
            print(f"{what}: {'refused' if rc else 'NOT refused'}")
            failed += rc == 0
    return 1 if failed else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--self-test"]:
        sys.exit(self_test())
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else
                  os.path.join(os.path.dirname(__file__), "..", "..")))
