#!/usr/bin/env python3
"""Counts the node types of an ONNX file (for example the graph ORT runs, written by
run_ort.mjs --optimized) to see which fusions ORT made. JSON on stdout: {"domain.op": count}.

    onnx_ops.py MODEL.onnx

A minimal protobuf wire-format reader (standard library only): ModelProto.graph (field 7),
GraphProto.node (field 1), NodeProto.op_type (field 4) and domain (field 7).
"""
import collections
import json
import mmap
import sys


def _varint(buf, i):
    value = shift = 0
    while True:
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def fields(buf):
    """(field number, value) of one message: int for varints, memoryview for the rest."""
    i, n = 0, len(buf)
    while i < n:
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            size, i = _varint(buf, i)
            value, i = buf[i:i + size], i + size
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        else:
            raise SystemExit("onnx_ops: unsupported wire type %d" % wire)
        yield field, value


def op_counts(path):
    with open(path, "rb") as f:
        data = memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))
    counts = collections.Counter()
    for field, graph in fields(data):
        if field != 7:
            continue
        for gfield, node in fields(graph):
            if gfield != 1:
                continue
            op = domain = ""
            for nfield, value in fields(node):
                if nfield == 4:
                    op = bytes(value).decode("utf-8")
                elif nfield == 7:
                    domain = bytes(value).decode("utf-8")
            counts[domain + "." + op if domain else op] += 1
    return dict(sorted(counts.items()))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    print(json.dumps(op_counts(sys.argv[1])))
