#!/usr/bin/env python3
"""Writes docs/api.md from include/clipsurgery.h: every section, type, macro and public call with
its doc comment (shapes, units, ownership, statuses). `make check` verifies it is up to date:
    python3 tools/gen_api_doc.py > docs/api.md"""
import sys

HEADER = "include/clipsurgery.h"


def items(body):
    """Yields ("comment", text) and ("code", text) at brace depth 0, in order."""
    i, n = 0, len(body)
    while i < n:
        if body.startswith("/*", i):
            j = body.index("*/", i) + 2
            yield "comment", body[i:j]
            i = j
        elif body[i].isspace():
            i += 1
        elif body[i] == "#":
            j = body.find("\n", i)
            j = n if j < 0 else j
            while body[j - 1] == "\\":
                j = body.find("\n", j + 1)
            yield "code", body[i:j]
            i = j
        else:
            depth, j = 0, i
            while j < n:
                if body.startswith("/*", j):
                    j = body.index("*/", j) + 2
                    continue
                c = body[j]
                depth += c == "{"
                depth -= c == "}"
                j += 1
                if c == ";" and depth == 0:
                    break
            yield "code", body[i:j]
            i = j


def clean_comment(c):
    lines = [l.strip() for l in c[2:-2].splitlines()]
    lines = [l[1:].strip() if l.startswith("*") else l for l in lines]
    return [l for l in lines if l]


def main():
    src = open(HEADER).read()
    start = src.index("/* ---", src.index("typedef enum cs_status") - 400)
    body = src[start:src.rindex("#ifdef __cplusplus")]
    out = ["# libclipsurgery API reference", "",
           "Generated from `include/clipsurgery.h` by `tools/gen_api_doc.py` (the header is the",
           "source; see docs/ARCHITECTURE.md for the data flow). Conventions used by every call:", ""]
    intro = src[src.index("Conventions used by every call below:"):src.index("*/")]
    out += [l.strip().lstrip("*").rstrip() for l in intro.splitlines()[1:] if l.strip().lstrip("*").strip()]
    out.append("")
    pending = []
    for kind, text in items(body):
        if kind == "comment":
            lines = clean_comment(text)
            if lines and set(lines[0]) <= set("-"):
                title = [l for l in lines if not set(l) <= set("-")]
                if not title and pending:  # banner / title / banner
                    title = pending[-1:]
                out += ["## " + title[0], ""] if title else []
                pending = []
            elif lines:
                pending.append("\n".join(lines))
            continue
        if text.startswith("#") and not text.startswith("#define CS_"):
            continue
        if text.startswith("#define CS_API") or text.startswith("#define CS_DEPRECATED"):
            continue
        out += ["```c", text.strip(), "```"]
        if pending:
            out += pending
        out.append("")
        pending = []
    sys.stdout.write("\n".join(out).rstrip() + "\n")


if __name__ == "__main__":
    main()
