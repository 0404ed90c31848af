#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The layering rules, checked on the source tree's include graph.

Usage: check_layers.py SOURCE_DIR [LINK_CLOSURE_FILE]

Every quoted #include is resolved to a file (from the tree's root, then from
the including file's folder) and becomes an edge between top-level folders;
tests/**/*.inc tables are generated at build time and may be used by tests/ only.
It fails when
  - a rule names a folder that does not exist (renamed: the rule is void),
  - an include does not resolve (an edge we cannot see would hide a breach),
  - a folder includes one it must not (RULES below),
  - a system header that belongs to one layer is included elsewhere (OWNED),
  - the folder graph has a cycle,
  - with a link closure file (written by CMake), a program links a library
    it must not (LINK_RULES).
Each problem is printed on its own line; exit status 1 when there is any.
"""
import os
import re
import sys

# folder -> folders it must never include, and why
RULES = {
    # The pure layers sit at the bottom: they see the snapshot and the store,
    # never a thread, the bus, the daemon or the CLI.
    "bms": ({"worker", "publish", "supervisor", "tools", "config", "hotplug"},
            "a pure layer includes nothing above it"),
    "charge": ({"worker", "publish", "supervisor", "tools", "config", "hotplug"},
               "a pure layer includes nothing above it"),
    "common": ({"worker", "publish", "supervisor", "tools", "config", "hotplug"},
               "a pure layer includes nothing above it"),
    # The CLI reads the config through config/, below both programs.
    "tools": ({"supervisor"}, "the CLI never includes the daemon's supervisor"),
    # Matching takes plain strings; the supervisor maps the worker's settings.
    "hotplug": ({"worker", "supervisor", "publish", "tools"},
                "hotplug matching takes plain match strings"),
    # The schema is below both programs.
    "config": ({"supervisor", "tools"}, "the config schema is below both programs"),
}

# System headers only one layer (besides tests/ and bench/) may include.
OWNED = {
    "dbus/dbus.h": "publish",  # only publish/ touches libdbus
    "libudev.h": "hotplug",    # only hotplug/ talks to libudev (and owns no udev_ name)
}
OWNED_ALSO = {"tests", "bench"}

# program -> libraries its link closure must not contain
LINK_RULES = {
    "serialbattery": ({"sb_supervisor"}, "the CLI does not link the daemon's supervisor"),
    # --gc-sections would drop unused simulator code anyway; the rule is that the
    # daemon never links it (CLI, tests and benches only)
    "serialbatteryd": ({"sb_bms_sim"}, "the daemon does not link the device simulators"),
}

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^">]+)[">]')


def source_files(root):
    for top in sorted(os.listdir(root)):
        path = os.path.join(root, top)
        # hidden folders, build trees (in-source builds, the cross sysroot) and
        # packaging output are not sources
        if top.startswith((".", "build")) or top == "out" or not os.path.isdir(path):
            continue
        if os.path.exists(os.path.join(path, "CMakeCache.txt")):
            continue
        for d, dirs, files in os.walk(path):
            dirs[:] = sorted(x for x in dirs
                             if not os.path.exists(os.path.join(d, x, "CMakeCache.txt")))
            for f in sorted(files):
                if f.endswith((".c", ".h", ".inc")):
                    yield os.path.join(d, f)


def top_folder(root, path):
    rel = os.path.relpath(path, root)
    return rel.split(os.sep)[0] if os.sep in rel else None


def find_cycle(graph):
    """A list of folders forming a cycle (first == last), or None."""
    state = {}
    stack = []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                c = visit(m)
                if c:
                    return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            c = visit(n)
            if c:
                return c
    return None


def check_rule_folders(root, problems):
    """A rule naming a folder that is gone (renamed) would pass forever."""
    named = set(RULES) | set(OWNED.values())
    for banned, _ in RULES.values():
        named |= banned
    for folder in sorted(named):
        if not os.path.isdir(os.path.join(root, folder)):
            problems.append(f"rule names folder {folder}/, which does not exist: update the rules")


def check_includes(root, problems):
    graph = {}
    for path in source_files(root):
        src = top_folder(root, path)
        rel = os.path.relpath(path, root)
        with open(path, encoding="utf-8", errors="replace") as fh:
            for lineno, line in enumerate(fh, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                kind, name = m.groups()
                where = f"{rel}:{lineno}"
                if kind == "<":
                    owner = OWNED.get(name)
                    if owner and src != owner and src not in OWNED_ALSO:
                        problems.append(f"{where}: <{name}>: only {owner}/ may include it")
                    continue
                target = None
                for base in (root, os.path.dirname(path)):
                    cand = os.path.normpath(os.path.join(base, name))
                    if os.path.isfile(cand):
                        target = cand
                        break
                if target is None and name.startswith("tests/") and name.endswith(".inc"):
                    # a table CMake generates in the build tree from tests/vectors/
                    # (data, no includes of its own): only tests/ may use one
                    if src != "tests":
                        problems.append(f'{where}: generated "{name}" outside tests/')
                    continue
                if target is None:
                    problems.append(f'{where}: "{name}" does not resolve to a file')
                    continue
                dst = top_folder(root, target)
                if dst is None or dst == src:
                    continue
                graph.setdefault(src, set()).add(dst)
                banned, why = RULES.get(src, (set(), ""))
                if dst in banned:
                    problems.append(f'{where}: {src}/ includes {dst}/ ("{name}"): {why}')
    cycle = find_cycle(graph)
    if cycle:
        problems.append("include cycle among folders: " + " -> ".join(cycle))


def check_links(closure_file, problems):
    closures = {}
    with open(closure_file, encoding="utf-8") as fh:
        for line in fh:
            if ":" in line:
                target, libs = line.split(":", 1)
                closures[target.strip()] = set(libs.split())
    for prog, (banned, why) in LINK_RULES.items():
        if prog not in closures:
            problems.append(f"{closure_file}: no link closure for {prog}")
            continue
        for lib in sorted(closures[prog] & banned):
            problems.append(f"{prog} links {lib}: {why}")


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    root = os.path.abspath(argv[1])
    problems = []
    check_rule_folders(root, problems)
    check_includes(root, problems)
    if len(argv) == 3:
        check_links(argv[2], problems)
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
