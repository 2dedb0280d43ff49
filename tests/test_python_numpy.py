#!/usr/bin/env python3
"""numpy both ways: with numpy, pixel batches [B, 3, S, S] and ids go in as arrays and results come
back as ndarray views of the library's output (no copy); with CLIPSURGERY_NO_NUMPY=1 the same
calls take and give lists / clipsurgery.Array. run-all.sh runs this file both ways."""
import os
import sys
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.abspath(os.path.join(ROOT, os.environ.get("BUILD", "build")))
FIXTURES = os.path.abspath(os.environ.get("CS_FIXTURES") or os.path.join(ROOT, "..", "shared",
                                                                          "fixtures"))
MODEL = os.path.join(FIXTURES, "golden", "tiny-openai-f32.safetensors")
VOCAB = os.path.join(FIXTURES, "vocab", "bpe_simple_vocab_16e6.txt.gz")
PHOTOS = [os.path.join(FIXTURES, "images", n) for n in ("bench-park.jpg", "camera.png")]
os.environ.setdefault("CLIPSURGERY_LIBRARY", os.path.join(BUILD, "libclipsurgery.so.0"))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))

import clipsurgery  # noqa: E402

HIDDEN = bool(os.environ.get("CLIPSURGERY_NO_NUMPY"))
try:
    import numpy as np
except ImportError:
    np = None


class BothWaysTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.m = clipsurgery.Model(MODEL, vocab=VOCAB)

    @classmethod
    def tearDownClass(cls):
        cls.m.close()

    def test_flag_decides(self):
        self.assertEqual(clipsurgery.have_numpy(), np is not None and not HIDDEN)

    def test_without_numpy_lists_and_array(self):
        if clipsurgery.have_numpy():
            self.skipTest("numpy visible (the CLIPSURGERY_NO_NUMPY=1 run covers this)")
        px = [clipsurgery.preprocess(p, 64) for p in PHOTOS]
        self.assertIsInstance(px[0], clipsurgery.Array)
        batch = px[0].tolist(), px[1].tolist()
        f = self.m.encode_image(list(batch))
        self.assertIsInstance(f, clipsurgery.Array)
        self.assertEqual(f.shape[0], 2)
        one = self.m.encode_image(px[1])
        # a batch rounds a little differently from a single image (GEMM shapes): within 1e-4
        worst = max(abs(a - b) for ra, rb in zip(f[1].tolist(), one[0].tolist())
                    for a, b in zip(ra, rb))
        self.assertLess(worst, 1e-4)
        ids = self.m.tokenize(["a photo", "bench"])
        self.assertEqual(self.m.encode_tokens(ids.tolist()).tolist(),
                         self.m.encode_tokens(ids).tolist())

    def test_with_numpy_arrays_in_views_out(self):
        if not clipsurgery.have_numpy():
            self.skipTest("numpy hidden or missing (the numpy run covers this)")
        px = np.stack([clipsurgery.preprocess(p, 64) for p in PHOTOS])  # [2, 3, 64, 64] float32
        self.assertEqual((px.shape, px.dtype), ((2, 3, 64, 64), np.float32))
        f = self.m.encode_image(px)
        self.assertIsInstance(f, np.ndarray)
        self.assertEqual((f.shape[0], f.dtype), (2, np.float32))
        self.assertFalse(f.flags.owndata)  # a view of the buffer the library wrote
        self.assertTrue(f.flags.writeable)
        # a batch rounds a little differently from a single image (GEMM shapes): within 1e-4
        self.assertLess(float(np.abs(f[1] - self.m.encode_image(px[1])[0]).max()), 1e-4)
        # other dtypes / layouts are converted once
        self.assertTrue(np.array_equal(self.m.encode_image(px.astype(np.float64)), f))
        fortran = np.asfortranarray(px)
        self.assertTrue(np.array_equal(self.m.encode_image(fortran), f))
        ids = self.m.tokenize(["a photo", "bench"])
        self.assertEqual(ids.dtype, np.int32)
        t = self.m.encode_tokens(ids)
        self.assertTrue(np.array_equal(t, self.m.encode_tokens(ids.astype(np.int64))))
        maps = self.m.similarity_maps(PHOTOS[0], ["person", "bench"], size=64)
        self.assertEqual(maps.dtype, np.float32)
        self.assertFalse(maps.flags.owndata)
        seg = self.m.segment(PHOTOS[0], ["person", "bench"], size=64)
        self.assertEqual(seg.dtype, np.uint8)
        pts, labels = clipsurgery.similarity_to_points(np.linspace(0, 1, 16, dtype=np.float32),
                                                       4, 4, 64, 64)
        self.assertEqual(len(pts), len(labels))


if __name__ == "__main__":
    unittest.main()
