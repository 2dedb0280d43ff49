#!/usr/bin/env python3
"""The clipsurgery CLI on a ResNet CLIP (both rn-tiny files): encode-image features, heatmap
similarities (label-set at 64/96/128 px, empty-text at 64 px) and maps, labels, points of every
rn-points.json case, segment, info and a convert bundle, all against rn-tiny-golden (1e-4).
Run from the repository root by make check."""
import array
import json
import os
import struct
import subprocess
import tempfile
import unittest

BUILD = os.environ.get("BUILD", "build")
FIX = os.path.abspath(os.environ.get("CS_FIXTURES") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "fixtures"))
CLI = os.path.join(BUILD, "clipsurgery")
MODELS = [os.path.join(FIX, "golden", f) for f in ("rn-tiny-openai-f32.safetensors", "rn-tiny-openai-f16.safetensors")]
VOCAB = os.path.join(FIX, "vocab", "bpe_simple_vocab_16e6.txt.gz")
GOLDEN = os.path.join(FIX, "golden", "rn-tiny-golden.safetensors")
with open(os.path.join(FIX, "golden", "rn-manifest.json")) as _f:
    CLASSES = json.load(_f)["classes"]
TOL = 1e-4


def read_st(path):
    with open(path, "rb") as f:
        b = f.read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    data = b[8 + n:]
    out = {}
    for k, e in h.items():
        if k == "__metadata__" or e["dtype"] not in ("F32", "I32"):
            continue
        s, t = e["data_offsets"]
        a = array.array({"F32": "f", "I32": "i"}[e["dtype"]])
        a.frombytes(data[s:t])
        out[k] = (e["shape"], a)
    return out


def write_st(path, name, shape, values):
    data = struct.pack("<%df" % len(values), *values)
    hdr = json.dumps({name: {"dtype": "F32", "shape": shape, "data_offsets": [0, len(data)]}}).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hdr)) + hdr + data)


def max_diff(a, b):
    assert len(a) == len(b), (len(a), len(b))
    return max(abs(x - y) for x, y in zip(a, b))


class ResNetCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.env = dict(os.environ, XDG_CACHE_HOME=os.path.join(cls.tmp.name, "cache"))
        cls.golden = read_st(GOLDEN)
        for name in ("input.x64", "input.x80", "input.x96", "input.x128"):
            shape, values = cls.golden[name]
            write_st(cls.inp(name), "pixel_values", shape, values)

    @classmethod
    def inp(cls, name):
        return os.path.join(cls.tmp.name, name + ".safetensors")

    def run_cli(self, *args, ok=True):
        p = subprocess.run([CLI] + list(args), capture_output=True, text=True, env=self.env)
        if ok:
            self.assertEqual(p.returncode, 0, p.stderr)
        return p

    def check(self, got, name, what):
        err = max_diff(got, self.golden[name][1])
        self.assertLess(err, TOL, "%s: %s max |diff| %g" % (what, name, err))

    def heatmap(self, model, inp, size, *extra):
        out = os.path.join(self.tmp.name, "maps.safetensors")
        self.run_cli("heatmap", model, "--vocab", VOCAB, self.inp(inp), "--map-size", size, "--maps", out,
                     *extra, "--", *CLASSES)
        return read_st(out)

    def test_info(self):
        info = json.loads(self.run_cli("info", MODELS[1]).stdout)
        self.assertEqual(info["backbone"], "resnet")
        self.assertEqual(info["resnet"], {"stage_blocks": [1, 2, 1, 1], "width": 8})
        self.assertEqual(info["vision"]["width"], 256)
        self.assertEqual(info["vision"]["image_size"], 64)
        self.assertEqual(info["dtype"], "F16")

    def test_encode_image(self):
        out = os.path.join(self.tmp.name, "f.safetensors")
        for model in MODELS:
            self.run_cli("encode-image", model, self.inp("input.x64"), "--mode", "raw", "--out", out)
            self.check(read_st(out)["image_features"][1], "raw.image_features", model)
            for size, name in (("x64", "cs"), ("x80", "cs80"), ("x96", "cs96"), ("x128", "cs128")):
                self.run_cli("encode-image", model, self.inp("input." + size), "--out", out)
                got = read_st(out)["image_features"]
                self.assertEqual(got[0], self.golden[name + ".image_features"][0])
                self.check(got[1], name + ".image_features", model)

    def test_heatmap_similarities_and_maps(self):
        for model in MODELS:
            got = self.heatmap(model, "input.x64", "75x100")
            self.assertEqual(got["maps"][0], [2, 75, 100, 12])
            self.check(got["similarity"][1], "surgery.similarity", model)
            self.check(got["maps"][1], "surgery.map_75x100", model)
            got = self.heatmap(model, "input.x96", "30x30")
            self.check(got["similarity"][1], "surgery96.similarity", model)
            got = self.heatmap(model, "input.x128", "30x30")
            self.check(got["similarity"][1], "surgery128.similarity", model)
            got = self.heatmap(model, "input.x64", "75x100", "--empty-text")
            self.check(got["similarity"][1], "surgery.similarity_redundant", model)

    def test_labels(self):
        for model in MODELS:
            p = self.run_cli("labels", model, "--vocab", VOCAB, self.inp("input.x64"), "--", *CLASSES)
            probs = [r["probability"] for line in p.stdout.splitlines() for r in json.loads(line)["results"]]
            self.check(probs, "raw.cls_probs", model)

    def test_points_every_case(self):
        with open(os.path.join(FIX, "golden", "rn-points.json")) as f:
            cases = json.load(f)
        # the similarity the CLI computes itself at 128 px (label-set form, as rn-points.json)
        sims = os.path.join(self.tmp.name, "s128.safetensors")
        self.run_cli("heatmap", MODELS[0], "--vocab", VOCAB, self.inp("input.x128"), "--map-size", "8x8",
                     "--maps", sims, "--", *CLASSES)
        for i, c in enumerate(cases):
            side = c["side"]
            path = os.path.join(self.tmp.name, "rnpoints%d.safetensors" % i)
            write_st(path, "similarity", [1 + side * side, 1], [0.0] + c["map"])
            for src, texts in ((path, ["target"]), (sims, [c["class"]])):
                p = self.run_cli("points", "--similarity", src, "--map-size", "%dx%d" % tuple(c["shape_hw"]),
                                 "--threshold", str(c["t"]), "--", *texts)
                r = json.loads(p.stdout.splitlines()[0])
                r = r["results"][0] if "results" in r else r[0]
                self.assertEqual(r["points"], c["points_xy"], "case %d (%s) from %s" % (i, c["class"], src))
                self.assertEqual(r["labels"], c["labels"])

    def test_segment(self):
        mask = os.path.join(self.tmp.name, "mask.png")
        p = self.run_cli("segment", MODELS[0], "--vocab", VOCAB, os.path.join(FIX, "images", "chelsea.png"),
                         "--out", mask, "--size", "96", "--", "cat", "sky", "grass")
        legend = json.loads(p.stdout)
        self.assertEqual(sum(x["pixels"] for x in legend["labels"]), 451 * 300)

    def test_convert_bundle(self):
        for model, dtype in ((MODELS[0], "f32"), (MODELS[1], "f16")):
            bundle = os.path.join(self.tmp.name, "rn-bundle-%s.safetensors" % dtype)
            self.run_cli("convert", model, bundle, "--vocab", VOCAB, "--dtype", dtype)
            info = json.loads(self.run_cli("info", bundle).stdout)
            self.assertEqual(info["backbone"], "resnet")
            self.assertTrue(info["has_vocabulary"])
            got = self.heatmap(bundle, "input.x64", "75x100", "--no-cache")
            self.check(got["maps"][1], "surgery.map_75x100", bundle)


if __name__ == "__main__":
    unittest.main(verbosity=1)
