#!/usr/bin/env python3
"""Python binding: the dense methods (method= of Model and encode_image) against
fixtures/golden/dense-golden.safetensors, without numpy. Run from the repository root."""
import array
import json
import math
import os
import struct
import sys
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.abspath(os.path.join(ROOT, os.environ.get("BUILD", "build")))
FIXTURES = os.path.abspath(os.environ.get("CS_FIXTURES") or os.path.join(ROOT, "..", "shared",
                                                                          "fixtures"))
MODEL = os.path.join(FIXTURES, "golden", "tiny-openai-f32.safetensors")
VOCAB = os.path.join(FIXTURES, "vocab", "bpe_simple_vocab_16e6.txt.gz")
GOLDEN = os.path.join(FIXTURES, "golden", "dense-golden.safetensors")
TOL = 1e-4
if os.environ.get("SAN") != "1":
    os.environ.setdefault("CLIPSURGERY_LIBRARY", os.path.join(BUILD, "libclipsurgery.so.0"))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))

if os.environ.get("SAN") != "1":
    import clipsurgery  # noqa: E402

METHODS = ["maskclip", "sclip", "clearclip", "naclip", "gem"]


def read_st(path):
    with open(path, "rb") as f:
        b = f.read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    out = {}
    for k, e in h.items():
        if k == "__metadata__" or e["dtype"] != "F32":
            continue
        s, t = e["data_offsets"]
        a = array.array("f")
        a.frombytes(b[8 + n + s:8 + n + t])
        out[k] = (e["shape"], a)
    return out


def nested(flat, shape):
    if len(shape) == 1:
        return list(flat)
    step = len(flat) // shape[0]
    return [nested(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


def flat(x):
    if isinstance(x, (list, tuple)):
        return [v for e in x for v in flat(e)]
    return [x]


class PythonMethods(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.g = read_st(GOLDEN)

    def test_encode_image_method(self):
        with clipsurgery.Model(MODEL, vocab=VOCAB) as m:
            for inp in ("x64", "x64x96"):
                shape, px = self.g["input." + inp]
                pixels = nested(px, shape)
                for meth in METHODS:
                    got = flat(m.encode_image(pixels, method=meth).tolist())
                    ws, want = self.g["%s.%s.tokens" % (meth, inp)]
                    b, t, e = ws
                    err = max(abs(got[i] - want[i]) for i in range(len(want)) if (i // e) % t)
                    print("python encode_image(method=%r) %s: max abs error %.3g" % (meth, inp, err))
                    self.assertLessEqual(err, TOL)
            # surgery stays the default; mode= is the alias
            shape, px = self.g["input.x64"]
            pixels = nested(px, shape)
            a = flat(m.encode_image(pixels).tolist())
            b = flat(m.encode_image(pixels, method="clip-surgery").tolist())
            c = flat(m.encode_image(pixels, mode="raw").tolist())
            d = flat(m.encode_image(pixels, method="raw").tolist())
            self.assertEqual(a, b)
            self.assertEqual(c, d)
            with self.assertRaises(ValueError):
                m.encode_image(pixels, method="mask-clip")
        with self.assertRaises(ValueError):
            clipsurgery.Model(MODEL, vocab=VOCAB, method="nope")

    def test_model_method_similarity_is_plain_cosine(self):
        shape, px = self.g["input.x96"]
        pixels = nested(px, shape)
        classes = ["person", "sky"]
        with clipsurgery.Model(MODEL, vocab=VOCAB, method="naclip") as m:
            self.assertEqual(m.method, "naclip")
            sim = m.similarity(pixels, classes, size=96).tolist()
            tok = flat(m.encode_image(pixels).tolist())
            text = m.ensemble(classes).tolist()
        e = len(text[0])
        row = tok[e:2 * e]
        nrm = math.sqrt(sum(v * v for v in row))
        want = sum(row[j] / nrm * text[0][j] for j in range(e))
        self.assertAlmostEqual(sim[1][0], want, places=5)


if __name__ == "__main__":
    if os.environ.get("SAN") == "1":
        print("python methods: skipped in the sanitizer build (ctypes cannot load an ASan library)")
        sys.exit(0)
    unittest.main()
