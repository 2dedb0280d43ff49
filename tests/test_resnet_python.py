#!/usr/bin/env python3
"""The Python binding on a ResNet CLIP (both rn-tiny files) against rn-tiny-golden.safetensors
and rn-points.json: raw and surgery features at 64/80/96/128 px, label-set similarities at
64/96/128 px, the empty-text form, maps, labels (CLIP's class token), points, segment.
Run from the repository root by make check (skipped in the sanitizer build: ctypes cannot load
an ASan library, and run-all.sh skips only test_python.py by name, so this file checks SAN
itself before loading anything)."""
import json
import os
import sys
import unittest

if os.environ.get("SAN") == "1":
    print("test_resnet_python: skipped in the sanitizer build (ctypes cannot load an ASan library)")
    sys.exit(0)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_python import FIXTURES, GOLDEN, VOCAB, TOL, clipsurgery, flat, max_abs_diff, read_safetensors  # noqa: E402

MODELS = [os.path.join(GOLDEN, f) for f in ("rn-tiny-openai-f32.safetensors", "rn-tiny-openai-f16.safetensors")]
with open(os.path.join(GOLDEN, "rn-manifest.json")) as _f:
    CLASSES = json.load(_f)["classes"]
GOLD = read_safetensors(os.path.join(GOLDEN, "rn-tiny-golden.safetensors"))


class ResNetPython(unittest.TestCase):
    def check(self, got, name, model):
        err = max_abs_diff(got, GOLD[name])
        self.assertLessEqual(err, TOL, "%s on %s: max |diff| %g" % (name, model, err))

    def test_model_and_features(self):
        for path in MODELS:
            with clipsurgery.Model(path, vocab=VOCAB) as m:
                self.assertEqual(m.backbone, "resnet")
                self.assertEqual(m.image_size, 64)
                self.assertEqual(m.image_grid(95, 63), (3, 2))
                x64 = GOLD["input.x64"].nested()
                self.check(m.encode_image(x64, mode="raw"), "raw.image_features", path)
                self.check(m.encode_image(x64), "cs.image_features", path)
                for size in ("80", "96", "128"):
                    got = m.encode_image(GOLD["input.x" + size].nested())
                    self.check(got, "cs%s.image_features" % size, path)

    def test_similarities_maps_labels(self):
        for path in MODELS:
            with clipsurgery.Model(path, vocab=VOCAB) as m:
                for b in range(2):
                    img = GOLD["input.x64"].row(b).nested()
                    sim = m.similarity(img, CLASSES, size=64)
                    self.assertLessEqual(max_abs_diff(sim, GOLD["surgery.similarity"].row(b)), TOL)
                    red = m.similarity(img, CLASSES, size=64, form="empty_text")
                    self.assertLessEqual(max_abs_diff(red, GOLD["surgery.similarity_redundant"].row(b)), TOL)
                    maps = m.similarity_maps(img, CLASSES, size=64, out_size=(75, 100))
                    self.assertLessEqual(max_abs_diff(maps, GOLD["surgery.map_75x100"].row(b)), TOL)
                    probs = [r["probability"] for r in m.labels(img, CLASSES, size=64)]
                    self.assertLessEqual(max_abs_diff(probs, GOLD["raw.cls_probs"].row(b)), TOL)
                for size in ("96", "128"):
                    sim = m.similarity(GOLD["input.x" + size].nested(), CLASSES)
                    self.check(sim, "surgery%s.similarity" % size, path)
                seg = m.segment(GOLD["input.x96"].nested(), ["cat", "sky"], out_size=(30, 40))
                self.assertEqual(len(flat(seg)), 30 * 40)

    def test_points_every_case(self):
        with open(os.path.join(GOLDEN, "rn-points.json")) as f:
            cases = json.load(f)
        with clipsurgery.Model(MODELS[1], vocab=VOCAB) as m:
            sim = flat(m.similarity(GOLD["input.x128"].nested(), CLASSES))
        for c in cases:
            col = CLASSES.index(c["class"])
            ours = [sim[(1 + i) * len(CLASSES) + col] for i in range(16)]
            self.assertLessEqual(max_abs_diff(ours, c["map"]), TOL)
            for src in (c["map"], ours):
                pts, labels = clipsurgery.similarity_to_points(src, 4, 4, c["shape_hw"][1], c["shape_hw"][0],
                                                               c["t"])
                self.assertEqual([list(p) for p in pts], c["points_xy"], c["class"])
                self.assertEqual(list(labels), c["labels"])


if __name__ == "__main__":
    unittest.main(verbosity=1)
