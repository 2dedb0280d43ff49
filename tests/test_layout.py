#!/usr/bin/env python3
"""lib/ layout rules (docs/ARCHITECTURE.md): every library file sits in a stage folder, includes
other library files by stage path, and no two modules depend on each other, directly or through
others. A module is a .c with its .h (lib/image/image.c + image.h); module A depends on B when a
file of A includes a header of B. Exits nonzero on failure."""
import os
import re
import sys
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIB = os.path.join(ROOT, "lib")
STAGES = {"core", "io", "image", "text", "vision", "dense", "eval"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def lib_files():
    for d, _, names in os.walk(LIB):
        for n in names:
            if n.endswith((".c", ".h", ".inc")):
                yield os.path.relpath(os.path.join(d, n), LIB)


def module(rel):
    return os.path.splitext(rel)[0]


class Layout(unittest.TestCase):
    def test_files_in_stage_folders(self):
        for rel in lib_files():
            parts = rel.split(os.sep)
            self.assertEqual(len(parts), 2, "%s: lib/ files live in lib/<stage>/" % rel)
            self.assertIn(parts[0], STAGES, "%s: unknown stage folder" % rel)

    def test_includes_by_stage_path_and_acyclic(self):
        files = set(lib_files())
        graph = {}
        for rel in files:
            with open(os.path.join(LIB, rel), encoding="utf-8") as f:
                text = f.read()
            deps = graph.setdefault(module(rel), set())
            for inc in INCLUDE.findall(text):
                if inc == "clipsurgery.h":
                    continue
                self.assertIn(inc, files, "%s includes \"%s\": not lib/<stage>/<file>" % (rel, inc))
                if module(inc) != module(rel):
                    deps.add(module(inc))
        # depth-first search for a cycle
        state = {}

        def visit(m, path):
            state[m] = 1
            for d in sorted(graph.get(m, ())):
                if state.get(d) == 1:
                    cyc = path[path.index(d):] + [d] if d in path else [m, d]
                    self.fail("modules depend on each other: " + " -> ".join(cyc))
                if d not in state:
                    visit(d, path + [d])
            state[m] = 2

        for m in sorted(graph):
            if m not in state:
                visit(m, [m])
        self.assertGreater(len(graph), 20)


if __name__ == "__main__":
    unittest.main()
