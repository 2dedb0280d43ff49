#!/usr/bin/env python3
"""Judges an abidiff report (stdin) for tools/abi-check.sh. Exit 0 when every change keeps
existing callers working, 1 otherwise (the offending entries are printed).

Allowed: added functions and variables; and a changed function whose only sub-type change is
data members inserted at the END of a size-first struct named cs_*_params or cs_*_info (each
insertion at an offset at or past the old size: the library reads or writes only the caller's
`size` bytes, so old callers keep working). Everything else fails: removed functions or
variables, changed struct layouts (offsets, deletions, retyped members), enum values, return or
parameter types, insertions into other structs or before the old end."""
import re
import sys

report = sys.stdin.read()
bad = []
for kind in ("Functions", "Variables"):
    m = re.search(r"^%s changes summary: (\d+) Removed" % kind, report, re.M)
    if m and int(m.group(1)) > 0:
        bad.append("%s removed: %s" % (kind.lower(), m.group(1)))
m = re.search(r"symbols changes summary: (\d+) Removed", report)
if m and int(m.group(1)) > 0:
    bad.append("symbols removed: %s" % m.group(1))

# each changed entry starts with "  [C] " and runs to the next entry or section
blocks = re.split(r"\n(?=  \[[A-Z]\] )", report)
for b in blocks:
    if not b.startswith("  [C] "):
        continue
    first = b.splitlines()[0].strip()
    lines = [l.strip() for l in b.splitlines()[1:] if l.strip()]
    forbidden = [l for l in lines if re.search(
        r"offset changed|deletion|enumerator|data member change|type changed from|name changed|"
        r"return type|size hasn't changed|alignment|was removed|'.*' changed to", l)]
    structs = re.findall(r"underlying type 'struct (cs_[a-z0-9_]+)'", b)
    sizes = re.findall(r"type size changed from (\d+) to (\d+)", b)
    inserts = [int(x) for x in re.findall(r"at offset (\d+) \(in bits\)", b)]
    ok = (not forbidden and structs and sizes and inserts
          and all(re.search(r"_(params|info)$", s) for s in structs)
          and len(sizes) == len(set(structs))
          and all(off >= int(sizes[0][0]) for off in inserts) and len(set(sizes)) == 1)
    if not ok:
        bad.append(first + "\n    " + "\n    ".join(lines))
if bad:
    print("\n".join(bad))
    sys.exit(1)
