#!/usr/bin/env python3
"""Python binding of the explanations (Model.explain_text, Model.token_features,
clipsurgery.mask, clipsurgery.boxes) against explain-golden, without numpy. Skipped in the
sanitizer build (ctypes cannot load an ASan library)."""
import array
import json
import os
import struct
import sys
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.abspath(os.path.join(ROOT, os.environ.get("BUILD", "build")))
FIXTURES = os.path.abspath(os.environ.get("CS_FIXTURES") or os.path.join(ROOT, "..", "shared",
                                                                          "fixtures"))
GOLDEN = os.path.join(FIXTURES, "golden")
VOCAB = os.path.join(FIXTURES, "vocab", "bpe_simple_vocab_16e6.txt.gz")
MODEL = os.path.join(GOLDEN, "tiny-openai-f32.safetensors")
os.environ.setdefault("CLIPSURGERY_LIBRARY", os.path.join(BUILD, "libclipsurgery.so.0"))
os.environ["CLIPSURGERY_NO_NUMPY"] = "1"  # the pure-Python Array path
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))


def read_st(path):
    with open(path, "rb") as f:
        b = f.read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    data = b[8 + n:]
    out = {}
    for k, e in h.items():
        if k == "__metadata__":
            continue
        s, t = e["data_offsets"]
        a = array.array({"F32": "f", "I32": "i"}[e["dtype"]])
        a.frombytes(data[s:t])
        out[k] = (e["shape"], a)
    return out


def max_diff(a, b):
    assert len(a) == len(b), (len(a), len(b))
    return max(abs(x - y) for x, y in zip(a, b))


@unittest.skipIf(os.environ.get("SAN") == "1", "sanitizer build: ctypes cannot load an ASan library")
class ExplainPython(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import clipsurgery
        cls.cs = clipsurgery
        cls.g = read_st(os.path.join(GOLDEN, "explain-golden.safetensors"))
        with open(os.path.join(GOLDEN, "explain-golden.json")) as f:
            cls.gj = json.load(f)
        cls.model = clipsurgery.Model(MODEL, vocab=VOCAB)

    @classmethod
    def tearDownClass(cls):
        cls.model.close()

    def test_explain_text_matches_golden(self):
        shape, px = self.g["input.x64"]
        plane = 3 * 64 * 64
        worst = {}
        for c, cap in enumerate(self.gj["captions"]):
            ids, feats = self.model.token_features(cap)
            self.assertEqual(ids, list(self.g["text%d.token_ids" % c][1]))
            d = max_diff(feats.data, self.g["text%d.token_features" % c][1])
            worst["token_features"] = max(worst.get("token_features", 0), d)
            self.assertLessEqual(d, 1e-4)
            n = len(ids)
            for b in range(2):
                pix = self.cs.Array(px[b * plane:(b + 1) * plane], (1, 3, 64, 64))
                r = self.model.explain_text(pix, cap, out_size=(75, 100))
                self.assertEqual(r["token_ids"], ids)
                self.assertEqual(r["tokens"][0], "<|startoftext|>")
                self.assertEqual(" ".join(r["tokens"][1:-1]), cap)
                self.assertEqual(r["similarity"].shape, (17, n))
                self.assertEqual(r["maps"].shape, (75, 100, n))
                ws = self.g["text%d.similarity" % c][1]
                wm = self.g["text%d.maps_75x100" % c][1]
                wsc = self.g["text%d.token_scores" % c][1]
                for key, got, want in (("similarity", r["similarity"].data, ws[b * 17 * n:(b + 1) * 17 * n]),
                                       ("maps", r["maps"].data, wm[b * 7500 * n:(b + 1) * 7500 * n]),
                                       ("scores", r["scores"].data, wsc[b * n:(b + 1) * n])):
                    d = max_diff(got, want)
                    worst[key] = max(worst.get(key, 0), d)
                    self.assertLessEqual(d, 1e-4, (c, b, key))
        print("explain_text (Python): max abs error", worst)

    def test_boxes_and_masks_match_golden(self):
        shape, maps = self.g["boxes.maps"]
        H, W, T = shape
        full = self.cs.Array(maps, (H, W, T))
        cache = {}
        for row in self.gj["boxes"]:
            spec = "otsu" if row["kind"] == "otsu" else "%s:%r" % (row["kind"], row["param"])
            if spec not in cache:
                cache[spec] = self.cs.boxes(full, spec)
            got = cache[spec][row["text_index"]]
            self.assertLessEqual(abs(got["threshold"] - row["threshold"]), 1e-6)
            self.assertEqual(got["mask_pixels"], row["mask_pixels"])
            self.assertEqual(len(got["components"]), row["n_components"])
            for a, b in zip(got["components"], row["components"]):
                self.assertEqual((a["box_xywh"], a["area"]), (b["box_xywh"], b["area"]))
                self.assertLessEqual(abs(a["mean_map"] - b["mean_map"]), 1e-6)
                self.assertLessEqual(abs(a["peak_map"] - b["peak_map"]), 1e-6)
        # one map as [H, W]; the mask helper agrees with the pixel count
        row = self.gj["boxes"][0]
        t = row["text_index"]
        one = self.cs.Array(array.array("f", maps[t::T]), (H, W))
        spec = "%s:%r" % (row["kind"], row["param"])
        self.assertEqual(self.cs.boxes(one, spec)["components"][0]["box_xywh"],
                         row["components"][0]["box_xywh"])
        m = self.cs.mask(one, spec)
        self.assertEqual(m.shape, (H, W))
        self.assertEqual(sum(m.data), row["mask_pixels"])
        self.assertEqual(self.cs.mask(full, spec).shape, (H, W, T))
        got = self.cs.boxes(one, spec, min_area=1000)
        self.assertEqual([c["area"] for c in got["components"]],
                         [c["area"] for c in row["components"] if c["area"] >= 1000])

    def test_edge_cases(self):
        const = [[0.3] * 4 for _ in range(3)]
        for spec in ("otsu", "fixed:0", "quantile:0", 0.0):
            r = self.cs.boxes(const, spec)
            self.assertEqual((r["mask_pixels"], r["components"]), (0, []))
            self.assertEqual(sum(self.cs.mask(const, spec).data), 0)
        self.assertEqual(self.cs.boxes([[0.9]], "fixed:0.1")["components"], [])
        ramp = [[(y * 7 + x) / 34.0 for x in range(7)] for y in range(5)]
        self.assertEqual([c["box_xywh"] for c in self.cs.boxes(ramp, 0.0)["components"]],
                         [[0, 0, 7, 5]])
        with self.assertRaises(self.cs.ClipSurgeryError) as e:
            self.cs.boxes([[0.1, float("nan")], [0.2, 0.3]])
        self.assertEqual(e.exception.name, "CS_ERR_INVALID_ARGUMENT")
        with self.assertRaises(ValueError):
            self.cs.boxes(ramp, "median")
        with self.assertRaises(self.cs.ClipSurgeryError):
            self.cs.boxes(ramp, "quantile:2")
        with self.assertRaises(ValueError):
            self.cs.boxes([1.0, 2.0])
        with self.assertRaises(self.cs.ClipSurgeryError) as e:
            self.model.token_features("cat " * 100)
        self.assertEqual(e.exception.name, "CS_ERR_TEXT_TOO_LONG")

    def test_explain_text_from_a_photo(self):
        r = self.model.explain_text(os.path.join(FIXTURES, "images", "chelsea.png"), "a cat")
        self.assertEqual(r["tokens"], ["<|startoftext|>", "a", "cat", "<|endoftext|>"])
        h, w, n = r["maps"].shape
        self.assertEqual(n, 4)
        self.assertEqual((h, w), (300, 451))


if __name__ == "__main__":
    unittest.main(verbosity=1)
