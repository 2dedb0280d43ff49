#!/usr/bin/env python3
"""Parity checks of the ONNX Runtime baseline (one JSON line each on stdout).

    check_parity.py lib CHECKPOINT --size S --pixels P.f32 --ort-features F.f32 [--threads 2]
        The same pixels through our library (Python binding, Model.encode_image(mode='surgery'),
        un-normalised [1 + N, D] features) and through ORT (F, written by run_ort.mjs --out from
        the pixels it wrote with --save-pixels): max abs difference and min per-token cosine.
        Needs CLIPSURGERY_LIBRARY (or an installed library) and PYTHONPATH=bindings/python.

    check_parity.py golden GOLDEN_DIR --node-modules DIR [--work DIR]
        Exports the tiny fixture checkpoint (GOLDEN_DIR/tiny-openai-f32.safetensors) to ONNX and
        runs it with ORT on the fixture inputs; compares with the features the official
        xmed-lab/CLIP_Surgery code produced (GOLDEN_DIR/tiny-golden.safetensors: surgery at 64 and
        96 px, the latter with the positional-embedding resize, and raw CLIP at 64 px). This checks
        the exported graph against the official computation without going through our library.

Raw files are little-endian float32. numpy is used when importable, else plain Python.
"""
import argparse
import array
import json
import math
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import export_onnx  # noqa: E402


def read_f32(path):
    a = array.array("f")
    with open(path, "rb") as f:
        a.frombytes(f.read())
    if sys.byteorder != "little":
        a.byteswap()
    return a


def write_f32(path, values):
    a = array.array("f", values)
    if sys.byteorder != "little":
        a.byteswap()
    with open(path, "wb") as f:
        f.write(a.tobytes())


def compare(ours, ref, dim):
    """Flat sequences of n_tokens * dim -> (max abs diff, min per-token cosine, max |ref|)."""
    if len(ours) != len(ref) or len(ref) % dim:
        raise SystemExit("check_parity: %d vs %d values (dim %d)" % (len(ours), len(ref), dim))
    max_diff = max_ref = 0.0
    min_cos = 1.0
    for t in range(len(ref) // dim):
        a = ours[t * dim:(t + 1) * dim]
        b = ref[t * dim:(t + 1) * dim]
        dot = na = nb = 0.0
        for x, y in zip(a, b):
            dot += x * y
            na += x * x
            nb += y * y
            d = abs(x - y)
            if d > max_diff:
                max_diff = d
            if abs(y) > max_ref:
                max_ref = abs(y)
        min_cos = min(min_cos, dot / math.sqrt(na * nb) if na > 0 and nb > 0 else 0.0)
    return max_diff, min_cos, max_ref


def compare_np(ours, ref, dim):
    try:
        import numpy as np
    except ImportError:
        return compare(ours, ref, dim)
    a = np.asarray(ours, dtype=np.float64).reshape(-1, dim)
    b = np.asarray(ref, dtype=np.float64).reshape(a.shape)
    cos = (a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1))
    return float(np.abs(a - b).max()), float(cos.min()), float(np.abs(b).max())


def flat(x):
    """A numpy array or nested lists -> a flat list of floats."""
    if hasattr(x, "ravel"):
        return x.ravel().tolist()
    out = []
    stack = [x]
    while stack:
        v = stack.pop()
        if isinstance(v, (list, tuple)):
            stack.extend(reversed(v))
        else:
            out.append(float(v))
    return out


def cmd_lib(a):
    import clipsurgery
    pixels = read_f32(a.pixels)
    if len(pixels) != 3 * a.size * a.size:
        raise SystemExit("check_parity: %s holds %d floats, expected 3 x %d x %d" %
                         (a.pixels, len(pixels), a.size, a.size))
    try:
        import numpy as np
        pix = np.frombuffer(pixels.tobytes(), dtype=np.float32).reshape(3, a.size, a.size)
    except ImportError:
        pix = list(pixels)
    with clipsurgery.Model(a.checkpoint, threads=a.threads) as m:
        ours = flat(m.encode_image(pix, mode="surgery", size=a.size))  # [1, 1 + N, D]
        dim = m.embed_dim
    ref = read_f32(a.ort_features)
    max_diff, min_cos, max_ref = compare_np(ours, ref, dim)
    print(json.dumps({"bench": "ort_parity", "against": "libclipsurgery", "mode": "surgery",
                      "size": a.size, "tokens": len(ref) // dim, "embed_dim": dim,
                      "max_abs_diff": float("%.3g" % max_diff), "max_abs_feature":
                      float("%.4g" % max_ref), "min_token_cosine": float("%.10f" % min_cos),
                      "ok": min_cos >= a.min_cosine}))
    return 0 if min_cos >= a.min_cosine else 1


def golden_tensors(path):
    ck = export_onnx.Checkpoint(path)

    def get(name):
        return ck.shape(name), read_bytes_f32(ck.raw(name))
    return get


def read_bytes_f32(raw):
    a = array.array("f")
    a.frombytes(raw)
    if sys.byteorder != "little":
        a.byteswap()
    return a


def cmd_golden(a):
    ckpt = os.path.join(a.golden_dir, "tiny-openai-f32.safetensors")
    get = golden_tensors(os.path.join(a.golden_dir, "tiny-golden.safetensors"))
    runner = os.path.join(HERE, "run_ort.mjs")
    node = os.environ.get("NODE", "node")
    work = a.work or tempfile.mkdtemp(prefix="cs-ort-golden-")
    os.makedirs(work, exist_ok=True)
    # (mode, size, input tensor, expected tensor)
    cases = [("surgery", 64, "input.x64", "cs.image_features"),
             ("surgery", 96, "input.x96", "cs96.image_features"),
             ("raw", 64, "input.x64", "raw.image_features")]
    status = 0
    for mode, size, key_in, key_out in cases:
        onnx = os.path.join(work, "tiny-%s-%d.onnx" % (mode, size))
        export_onnx.export(ckpt, onnx, size, mode)
        (batch, _, _, _), pixels = get(key_in)
        shape_out, expected = get(key_out)
        tokens, dim = shape_out[1], shape_out[2]
        worst_diff, worst_cos = 0.0, 1.0
        plane = 3 * size * size
        for b in range(batch):
            pin = os.path.join(work, "in-%d-%d.f32" % (size, b))
            pout = os.path.join(work, "out-%s-%d-%d.f32" % (mode, size, b))
            write_f32(pin, pixels[b * plane:(b + 1) * plane])
            subprocess.run([node, runner, onnx, "--size", str(size), "--reps", "1",
                            "--threads", "1", "--mode", mode, "--in", pin, "--out", pout,
                            "--node-modules", a.node_modules],
                           check=True, stdout=subprocess.DEVNULL)
            ref = expected[b * tokens * dim:(b + 1) * tokens * dim]
            d, c, _ = compare_np(read_f32(pout), ref, dim)
            worst_diff, worst_cos = max(worst_diff, d), min(worst_cos, c)
        ok = worst_cos >= a.min_cosine
        status |= 0 if ok else 1
        print(json.dumps({"bench": "ort_parity", "against": "official_golden", "mode": mode,
                          "size": size, "images": batch, "tokens": tokens, "embed_dim": dim,
                          "max_abs_diff": float("%.3g" % worst_diff),
                          "min_token_cosine": float("%.10f" % worst_cos), "ok": ok}))
    return status


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("lib", help="ORT features vs our library on the same pixels")
    p.add_argument("checkpoint")
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--pixels", required=True)
    p.add_argument("--ort-features", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--min-cosine", type=float, default=0.99999)
    p = sub.add_parser("golden", help="ORT on the tiny fixture vs the official code's output")
    p.add_argument("golden_dir")
    p.add_argument("--node-modules", required=True)
    p.add_argument("--work")
    p.add_argument("--min-cosine", type=float, default=0.99999)
    a = ap.parse_args(argv)
    return cmd_lib(a) if a.cmd == "lib" else cmd_golden(a)


if __name__ == "__main__":
    sys.exit(main())
