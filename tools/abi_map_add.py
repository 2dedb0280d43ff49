#!/usr/bin/env python3
"""Adds every call the header declares (CS_API ... cs_name(...)) that abi/libclipsurgery.map does
not list yet to the newest version node (the last one, the release being prepared), keeping its
names sorted. Run after adding public calls:  python3 tools/abi_map_add.py  (prints what it added)."""
import re
import sys

HEADER, MAP = "include/clipsurgery.h", "abi/libclipsurgery.map"
header = open(HEADER, encoding="utf-8").read()
calls = set(re.findall(r"^CS_API[^(;]*?[ *](cs_[a-z0-9_]+)\(", header, re.M))
lines = open(MAP, encoding="utf-8").read().split("\n")
listed = {m.group(1) for l in lines for m in [re.match(r"^\s+(cs_[a-z0-9_]+);\s*$", l)] if m}
missing = sorted(calls - listed)
starts = [i for i, l in enumerate(lines) if re.match(r"^CS_[0-9.]+ \{$", l)]
if not starts:
    sys.exit("abi_map_add: no version node in " + MAP)
node = lines[starts[-1]].split()[0]
g = lines.index("  global:", starts[-1])
end = next(i for i in range(g + 1, len(lines)) if not re.match(r"^\s+cs_[a-z0-9_]+;\s*$", lines[i]))
names = sorted(set(lines[g + 1:end]) | {"    %s;" % m for m in missing}, key=str.strip)
lines[g + 1:end] = names
open(MAP, "w", encoding="utf-8").write("\n".join(lines))
for m in missing:
    print("added %s to %s" % (m, node))
