"""The clipsurgery CLI on the golden cases: heatmap maps and similarities, points, labels,
segment, the text-feature cache and exit codes. Run from the repository root by make check."""
import array
import json
import os
import struct
import subprocess
import sys
import tempfile
import unittest

BUILD = os.environ.get("BUILD", "build")
FIX = os.path.abspath(os.environ.get("CS_FIXTURES") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "fixtures"))
CLI = os.path.join(BUILD, "clipsurgery")
MODELS = [os.path.join(FIX, "golden", f) for f in ("tiny-openai-f32.safetensors", "tiny-hf-f16.safetensors")]
VOCAB = os.path.join(FIX, "vocab", "bpe_simple_vocab_16e6.txt.gz")
GOLDEN = os.path.join(FIX, "golden", "tiny-golden.safetensors")
with open(os.path.join(FIX, "golden", "manifest.json")) as _f:
    CLASSES = json.load(_f)["classes"]


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


def write_st(path, name, shape, values):
    data = struct.pack("<%df" % len(values), *values)
    hdr = json.dumps({name: {"dtype": "F32", "shape": shape, "data_offsets": [0, len(data)]}}).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hdr)) + hdr + data)


def max_diff(a, b):
    assert len(a) == len(b), (len(a), len(b))
    return max(abs(x - y) for x, y in zip(a, b))


class CliGolden(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.env = dict(os.environ, XDG_CACHE_HOME=os.path.join(cls.tmp.name, "cache"))
        cls.golden = read_st(GOLDEN)
        for name in ("input.x64", "input.x96"):
            shape, values = cls.golden[name]
            write_st(os.path.join(cls.tmp.name, name + ".safetensors"), "pixel_values", shape, values)

    def run_cli(self, *args, ok=True):
        p = subprocess.run([CLI] + list(args), capture_output=True, text=True, env=self.env)
        if ok:
            self.assertEqual(p.returncode, 0, p.stderr)
        return p

    def heatmap(self, model, inp, size, *extra):
        out = os.path.join(self.tmp.name, "maps.safetensors")
        self.run_cli("heatmap", model, "--vocab", VOCAB, os.path.join(self.tmp.name, inp),
                     "--map-size", size, "--maps", out, *extra, "--", *CLASSES)
        return read_st(out)

    def test_heatmap_maps_and_similarity(self):
        for model in MODELS:
            got = self.heatmap(model, "input.x64.safetensors", "75x100")
            self.assertEqual(got["maps"][0], [2, 75, 100, 12])
            self.assertLess(max_diff(got["similarity"][1], self.golden["surgery.similarity"][1]), 1e-4)
            self.assertLess(max_diff(got["maps"][1], self.golden["surgery.map_75x100"][1]), 1e-4)

    def test_heatmap_96_interpolated_positions(self):
        for model in MODELS:
            got = self.heatmap(model, "input.x96.safetensors", "300x451")
            self.assertLess(max_diff(got["similarity"][1], self.golden["surgery96.similarity"][1]), 1e-4)
            self.assertLess(max_diff(got["maps"][1], self.golden["surgery96.map_300x451"][1]), 1e-4)

    def test_heatmap_empty_text_form(self):
        got = self.heatmap(MODELS[0], "input.x64.safetensors", "75x100", "--empty-text")
        self.assertLess(max_diff(got["similarity"][1], self.golden["surgery.similarity_redundant"][1]), 1e-4)

    def test_points_golden_cases(self):
        with open(os.path.join(FIX, "golden", "points.json")) as f:
            cases = json.load(f)
        for i, c in enumerate(cases):
            side = c["side"]
            path = os.path.join(self.tmp.name, "points%d.safetensors" % i)
            write_st(path, "similarity", [1 + side * side, 1], [0.0] + c["map"])
            p = self.run_cli("points", "--similarity", path, "--map-size", "%dx%d" % tuple(c["shape_hw"]),
                             "--threshold", str(c["t"]), "--", "target")
            r = json.loads(p.stdout)[0]
            self.assertEqual(r["points"], c["points_xy"])
            self.assertEqual(r["labels"], c["labels"])

    def test_points_model_path_matches_similarity_path(self):
        texts = ["person", "bench"]
        maps = os.path.join(self.tmp.name, "empty.safetensors")
        inp = os.path.join(self.tmp.name, "input.x64.safetensors")
        self.run_cli("heatmap", MODELS[0], "--vocab", VOCAB, inp, "--map-size", "375x500", "--empty-text",
                     "--maps", maps, "--", *texts)
        direct = self.run_cli("points", MODELS[0], "--vocab", VOCAB, inp, "--map-size", "375x500",
                              "--", "person", "bench", "person+bench").stdout.splitlines()
        via = self.run_cli("points", "--similarity", maps, "--map-size", "375x500",
                           "--", "person", "bench", "person+bench").stdout.splitlines()
        self.assertEqual(len(direct), 2)  # two images: one JSON line each
        self.assertEqual([json.loads(x)["results"] for x in direct], [json.loads(x)["results"] for x in via])
        # the maps file names its columns: the TEXTs may come in any order
        swapped = self.run_cli("points", "--similarity", maps, "--map-size", "375x500",
                               "--", "bench", "person").stdout.splitlines()
        for d, s in zip(direct, swapped):
            d, s = json.loads(d)["results"], json.loads(s)["results"]
            self.assertEqual(s[0], d[1])
            self.assertEqual(s[1], d[0])
        p = self.run_cli("points", "--similarity", maps, "--map-size", "375x500", "--", "dog", ok=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("not among the texts", p.stderr)
        multi = json.loads(direct[0])["results"][2]
        self.assertEqual(multi["text"], "person+bench")
        self.assertEqual(len(multi["points"]), len(multi["labels"]))

    def test_labels_class_probabilities(self):
        for model in MODELS:
            p = self.run_cli("labels", model, "--vocab", VOCAB, os.path.join(self.tmp.name, "input.x64.safetensors"),
                             "--", *CLASSES)
            lines = [json.loads(x) for x in p.stdout.splitlines()]
            probs = [r["probability"] for line in lines for r in line["results"]]
            self.assertLess(max_diff(probs, self.golden["raw.cls_probs"][1]), 1e-4)

    def test_segment_mask_and_legend(self):
        mask = os.path.join(self.tmp.name, "mask.png")
        img = os.path.join(FIX, "images", "chelsea.png")
        p = self.run_cli("segment", MODELS[0], "--vocab", VOCAB, img, "--out", mask, "--size", "64",
                         "--", "cat", "sky", "grass")
        legend = json.loads(p.stdout)
        self.assertEqual([x["text"] for x in legend["labels"]], ["cat", "sky", "grass"])
        self.assertEqual(sum(x["pixels"] for x in legend["labels"]), 451 * 300)
        with open(mask, "rb") as f:
            head = f.read(33)
        self.assertEqual(head[:8], b"\x89PNG\r\n\x1a\n")
        self.assertEqual(struct.unpack(">II", head[16:24]), (451, 300))
        self.assertEqual(head[25], 3)  # colour type: palette

    def test_overlays_and_cache(self):
        outdir = os.path.join(self.tmp.name, "overlays")
        img = os.path.join(FIX, "images", "bench-park.jpg")
        saved = self.env
        self.env = dict(saved, XDG_CACHE_HOME=os.path.join(self.tmp.name, "cache2"))
        self.addCleanup(setattr, self, "env", saved)
        cache = os.path.join(self.tmp.name, "cache2", "clipsurgery")
        args = ("heatmap", MODELS[0], "--vocab", VOCAB, img, "--size", "64", "--out-dir", outdir,
                "--maps", os.path.join(self.tmp.name, "c.safetensors"), "--", "person", "potted plant")
        self.run_cli(*args)
        first = read_st(os.path.join(self.tmp.name, "c.safetensors"))
        self.assertTrue(os.path.isfile(os.path.join(outdir, "bench-park_person.png")))
        self.assertTrue(os.path.isfile(os.path.join(outdir, "bench-park_potted_plant.png")))
        entries = [f for d, _, fs in os.walk(cache) for f in fs if f.endswith(".f32")]
        self.assertEqual(len(entries), 3)  # two classes and ""
        self.run_cli(*args)  # warm: read from the cache
        second = read_st(os.path.join(self.tmp.name, "c.safetensors"))
        self.assertEqual(first["maps"][1].tobytes(), second["maps"][1].tobytes())
        nocache = self.run_cli(*(args[:-3] + ("--no-cache", "--", "person", "potted plant")))
        self.assertEqual(nocache.returncode, 0)

    def test_output_names_never_collide(self):
        dup = os.path.join(self.tmp.name, "dup")
        os.makedirs(dup, exist_ok=True)
        img = os.path.join(FIX, "images", "chelsea.png")
        with open(img, "rb") as f, open(os.path.join(dup, "chelsea.png"), "wb") as g:
            g.write(f.read())
        out = os.path.join(self.tmp.name, "names")
        self.run_cli("heatmap", MODELS[0], "--vocab", VOCAB, img, os.path.join(dup, "chelsea.png"),
                     "--size", "64", "--out-dir", out, "--", "a b", "a_b", "", "empty")
        self.assertEqual(sorted(os.listdir(out)), sorted(
            "%s_%s.png" % (stem, t) for stem in ("chelsea", "chelsea_2")
            for t in ("a_b", "a_b_1", "empty", "empty_3")))

    def test_maps_of_different_sizes_fail_before_any_work(self):
        out = os.path.join(self.tmp.name, "early")
        imgs = [os.path.join(FIX, "images", n) for n in ("chelsea.png", "bench-park.jpg")]
        p = self.run_cli("heatmap", MODELS[0], "--vocab", VOCAB, *imgs, "--size", "64", "--out-dir", out,
                         "--maps", os.path.join(self.tmp.name, "early.safetensors"), "--", "cat", ok=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("--map-size", p.stderr)
        self.assertEqual(os.listdir(out) if os.path.isdir(out) else [], [])
        # with --map-size: maps at that size, overlays still at each photo's size
        maps = os.path.join(self.tmp.name, "sub", "folder", "m.safetensors")
        self.run_cli("heatmap", MODELS[0], "--vocab", VOCAB, *imgs, "--size", "64", "--out-dir", out,
                     "--map-size", "30x40", "--maps", maps, "--", "cat")
        self.assertEqual(read_st(maps)["maps"][0], [2, 30, 40, 1])
        with open(os.path.join(out, "bench-park_cat.png"), "rb") as f:
            head = f.read(24)
        self.assertEqual(struct.unpack(">II", head[16:24]), (500, 375))

    def test_pixel_values_by_content_and_batch_index(self):
        src = os.path.join(self.tmp.name, "input.x64.safetensors")
        other = os.path.join(self.tmp.name, "pixels.bin")
        with open(src, "rb") as f, open(other, "wb") as g:
            g.write(f.read())
        p = self.run_cli("labels", MODELS[0], "--vocab", VOCAB, other, "--", *CLASSES)
        lines = [json.loads(x) for x in p.stdout.splitlines()]
        self.assertEqual([x["index"] for x in lines], [0, 1])
        probs = [r["probability"] for line in lines for r in line["results"]]
        self.assertLess(max_diff(probs, self.golden["raw.cls_probs"][1]), 1e-4)
        out = os.path.join(self.tmp.name, "raw.safetensors")
        self.run_cli("encode-image", MODELS[0], other, "--mode", "raw", "--out", out)
        got = read_st(out)["image_features"]
        self.assertLess(max_diff(got[1], self.golden["raw.image_features"][1]), 1e-4)

    def test_exit_codes(self):
        self.assertEqual(self.run_cli("heatmap", ok=False).returncode, 2)
        self.assertEqual(self.run_cli("heatmap", MODELS[0], "--bogus", ok=False).returncode, 2)
        p = self.run_cli("heatmap", "/nonexistent.safetensors", os.path.join(FIX, "images", "coffee.png"),
                         "--", "cup", ok=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("nonexistent", p.stderr)
        p = self.run_cli("points", MODELS[0], "--vocab", VOCAB, os.path.join(FIX, "edge", "bad_text.jpg"),
                         "--", "x", ok=False)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(self.run_cli("segment", MODELS[0], "img.png", "--", "a", ok=False).returncode, 2)
        self.assertEqual(self.run_cli("nosuchcommand", ok=False).returncode, 2)
        for cmd in ("heatmap", "points", "segment", "labels", "convert", "info"):
            self.assertEqual(self.run_cli(cmd, "--help").returncode, 0)

    def test_convert_bundle_loads_alone(self):
        bundle = os.path.join(self.tmp.name, "bundle.safetensors")
        self.run_cli("convert", MODELS[1], bundle, "--vocab", VOCAB, "--dtype", "f16")
        info = json.loads(self.run_cli("info", bundle).stdout)
        self.assertTrue(info["has_vocabulary"])
        out = os.path.join(self.tmp.name, "b.safetensors")
        self.run_cli("heatmap", bundle, os.path.join(self.tmp.name, "input.x64.safetensors"),
                     "--map-size", "75x100", "--maps", out, "--no-cache", "--", *CLASSES)
        got = read_st(out)
        self.assertLess(max_diff(got["maps"][1], self.golden["surgery.map_75x100"][1]), 1e-4)


if __name__ == "__main__":
    unittest.main(verbosity=1)
