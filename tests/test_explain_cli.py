"""The clipsurgery CLI on explain-golden (EXPLAIN.md): explain-text token ids, scores,
similarities and maps; boxes --from-maps on every golden row; boxes from a model agreeing with
heatmap --maps; heatmap --masks; edge cases and bad maps files. Run from the repository root by
make check."""
import array
import json
import os
import re
import shlex
import struct
import subprocess
import tempfile
import unittest
import zlib

BUILD = os.environ.get("BUILD", "build")
FIX = os.path.abspath(os.environ.get("CS_FIXTURES") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "fixtures"))
CLI = os.path.join(BUILD, "clipsurgery")
MODEL = os.path.join(FIX, "golden", "tiny-openai-f32.safetensors")
VOCAB = os.path.join(FIX, "vocab", "bpe_simple_vocab_16e6.txt.gz")
GOLDEN = os.path.join(FIX, "golden", "explain-golden.safetensors")
with open(os.path.join(FIX, "golden", "explain-golden.json")) as _f:
    GJ = json.load(_f)


def read_st(path):
    with open(path, "rb") as f:
        b = f.read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    data = b[8 + n:]
    out = {}
    for k, e in h.items():
        if k == "__metadata__":
            out[k] = e
            continue
        s, t = e["data_offsets"]
        a = array.array({"F32": "f", "I32": "i"}[e["dtype"]])
        a.frombytes(data[s:t])
        out[k] = (e["shape"], a)
    return out


def write_st(path, tensors, meta=None, dtype="F32"):
    hdr, blobs, off = {}, [], 0
    for name, (shape, values) in tensors.items():
        data = values.tobytes() if isinstance(values, array.array) else struct.pack("<%df" % len(values), *values)
        hdr[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    if meta:
        hdr["__metadata__"] = meta
    h = json.dumps(hdr).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def max_diff(a, b):
    assert len(a) == len(b), (len(a), len(b))
    return max(abs(x - y) for x, y in zip(a, b))


def png_gray(path):
    """8-bit grayscale PNG -> (w, h, bytes)."""
    with open(path, "rb") as f:
        b = f.read()
    assert b[:8] == b"\x89PNG\r\n\x1a\n"
    i, idat, w, h = 8, b"", 0, 0
    while i < len(b):
        n = struct.unpack(">I", b[i:i + 4])[0]
        kind, body = b[i + 4:i + 8], b[i + 8:i + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype == 0, (depth, ctype)
        elif kind == b"IDAT":
            idat += body
        i += 12 + n
    raw = zlib.decompress(idat)
    out, prev = bytearray(), bytearray(w)
    for y in range(h):
        ft, line = raw[y * (w + 1)], bytearray(raw[y * (w + 1) + 1:(y + 1) * (w + 1)])
        for x in range(w):
            a = line[x - 1] if x else 0
            c = prev[x - 1] if x else 0
            p = prev[x]
            if ft == 1: line[x] = (line[x] + a) & 255
            elif ft == 2: line[x] = (line[x] + p) & 255
            elif ft == 3: line[x] = (line[x] + (a + p) // 2) & 255
            elif ft == 4:
                pa, pb, pc = abs(p - c), abs(a - c), abs(a + p - 2 * c)
                pr = a if pa <= pb and pa <= pc else (p if pb <= pc else c)
                line[x] = (line[x] + pr) & 255
        out += line
        prev = line
    return w, h, bytes(out)


def spec(row):
    return "otsu" if row["kind"] == "otsu" else "%s:%r" % (row["kind"], row["param"])


class ExplainCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.env = dict(os.environ, XDG_CACHE_HOME=os.path.join(cls.tmp.name, "cache"))
        cls.g = read_st(GOLDEN)
        shape, values = cls.g["input.x64"]
        cls.px = os.path.join(cls.tmp.name, "px.safetensors")
        write_st(cls.px, {"pixel_values": (shape, values)})
        shape, values = cls.g["boxes.maps"]
        cls.maps = os.path.join(cls.tmp.name, "boxes-maps.safetensors")
        write_st(cls.maps, {"maps": (shape, values)})

    def run_cli(self, *args, code=0):
        p = subprocess.run([CLI] + list(args), capture_output=True, text=True, env=self.env)
        self.assertEqual(p.returncode, code, "%s\nstdout: %s\nstderr: %s" % (args, p.stdout[:2000], p.stderr))
        return p

    def test_explain_text_matches_golden(self):
        out = os.path.join(self.tmp.name, "ex", "maps.safetensors")
        caps = GJ["captions"]
        p = self.run_cli("explain-text", MODEL, "--vocab", VOCAB, self.px, "--map-size", "75x100",
                         "--maps", out, "--top", "2", "--", *caps)
        lines = [json.loads(l) for l in p.stdout.splitlines()]
        self.assertEqual([l["index"] for l in lines], [0, 1])
        worst = {"similarity": 0.0, "maps": 0.0, "scores": 0.0}
        for c, cap in enumerate(caps):
            path = out if c == 0 else out.replace(".safetensors", "_%d.safetensors" % c)
            got = read_st(path)
            ids_shape, want_ids = self.g["text%d.token_ids" % c]
            self.assertEqual(list(got["token_ids"][1]), list(want_ids))
            for name, key in (("similarity", "similarity"), ("maps", "maps_75x100")):
                ws, wv = self.g["text%d.%s" % (c, key)]
                self.assertEqual(got[name][0], ws)
                d = max_diff(got[name][1], wv)
                worst[name] = max(worst[name], d)
                self.assertLessEqual(d, 1e-4, "caption %d %s" % (c, name))
            ss, sv = self.g["text%d.token_scores" % c]
            n = ss[1]
            for b in range(2):
                res = lines[b]["results"][c]
                self.assertEqual(res["caption"], cap)
                self.assertEqual([t["id"] for t in res["tokens"]], list(want_ids))
                d = max_diff([t["score"] for t in res["tokens"]], sv[b * n:(b + 1) * n])
                worst["scores"] = max(worst["scores"], d)
                self.assertLessEqual(d, 1e-4)
                self.assertEqual(res["tokens"][0]["text"], "<|startoftext|>")
                self.assertEqual(res["tokens"][-1]["text"], "<|endoftext|>")
                top = res["top"]
                self.assertEqual(len(top), min(2, n - 2))
                words = sorted(res["tokens"][1:-1], key=lambda t: -t["score"])
                self.assertEqual([t["index"] for t in top], [t["index"] for t in words[:len(top)]])
        words = [t["text"] for t in lines[0]["results"][0]["tokens"][1:-1]]
        self.assertEqual(" ".join(words), caps[0])
        print("explain-text CLI: max abs error", worst)

    def test_explain_text_overlays(self):
        d = os.path.join(self.tmp.name, "ov")
        img = os.path.join(FIX, "images", "chelsea.png")
        p = self.run_cli("explain-text", MODEL, "--vocab", VOCAB, img, "--out-dir", d, "--", "a cat")
        res = json.loads(p.stdout)[0]
        want = [os.path.join(d, "chelsea_a_cat_1_a.png"), os.path.join(d, "chelsea_a_cat_2_cat.png")]
        self.assertEqual(res["overlays"], want)
        for f in want:
            self.assertTrue(os.path.getsize(f) > 0)
        self.assertEqual(sorted(os.listdir(d)), sorted(os.path.basename(f) for f in want))

    def test_boxes_from_maps_match_golden(self):
        by_spec = {}
        for row in GJ["boxes"]:
            by_spec.setdefault(spec(row), []).append(row)
        d_tau = d_stat = 0.0
        for s, rows in by_spec.items():
            p = self.run_cli("boxes", "--from-maps", self.maps, "--threshold", s)
            got = [json.loads(l) for l in p.stdout.splitlines()]
            self.assertEqual(len(got), 12)
            for row in rows:
                g = got[row["text_index"]]
                self.assertEqual(g["text_index"], row["text_index"])
                self.assertNotIn("index", g)
                d_tau = max(d_tau, abs(g["threshold"] - row["threshold"]))
                self.assertLessEqual(abs(g["threshold"] - row["threshold"]), 1e-6, (s, row["text_index"]))
                self.assertEqual(g["mask_pixels"], row["mask_pixels"])
                self.assertEqual(g["n_components"], row["n_components"])
                self.assertEqual(len(g["components"]), len(row["components"]))
                for a, b in zip(g["components"], row["components"]):
                    self.assertEqual(a["box_xywh"], b["box_xywh"])
                    self.assertEqual(a["area"], b["area"])
                    x, y, w, h = b["box_xywh"]
                    self.assertEqual(a["box_xyxy"], [x, y, x + w - 1, y + h - 1])
                    for k in ("mean_map", "peak_map"):
                        d_stat = max(d_stat, abs(a[k] - b[k]))
                        self.assertLessEqual(abs(a[k] - b[k]), 1e-6)
                self.assertEqual(g["box_prompts"], [c["box_xyxy"] for c in g["components"]])
        # --min-area drops the small components and keeps the order
        row = GJ["boxes"][0]
        p = self.run_cli("boxes", "--from-maps", self.maps, "--threshold", spec(row), "--min-area", "1000")
        g = json.loads(p.stdout.splitlines()[row["text_index"]])
        self.assertEqual([c["area"] for c in g["components"]],
                         [c["area"] for c in row["components"] if c["area"] >= 1000])
        print("boxes --from-maps CLI: %d rows, max |threshold error| %.3g, max |mean/peak error| %.3g"
              % (len(GJ["boxes"]), d_tau, d_stat))

    def test_boxes_from_model_agree_with_heatmap_maps(self):
        hm = os.path.join(self.tmp.name, "hm.safetensors")
        mk = os.path.join(self.tmp.name, "masks")
        texts = ["cat", "sky", "grass"]
        self.run_cli("heatmap", MODEL, "--vocab", VOCAB, self.px, "--map-size", "75x100", "--maps", hm,
                     "--masks", mk, "--threshold", "quantile:0.75", "--", *texts)
        p = self.run_cli("boxes", MODEL, "--vocab", VOCAB, self.px, "--map-size", "75x100",
                         "--threshold", "quantile:0.75", "--", *texts)
        from_model = [json.loads(l) for l in p.stdout.splitlines()]
        p = self.run_cli("boxes", "--from-maps", hm, "--threshold", "quantile:0.75")
        from_file = [json.loads(l) for l in p.stdout.splitlines()]
        self.assertEqual(len(from_file), 2 * 3)
        for b in range(2):
            for t in range(3):
                a, f = from_model[b]["results"][t], from_file[b * 3 + t]
                self.assertEqual((f["index"], f["text_index"], f["text"]), (b, t, texts[t]))
                self.assertEqual(a["text"], texts[t])
                for k in ("threshold", "mask_pixels", "components", "box_prompts"):
                    self.assertEqual(a[k], f[k])
                w, h, px = png_gray(os.path.join(mk, "px_%d_%s.png" % (b, texts[t])))
                self.assertEqual((w, h), (100, 75))
                self.assertEqual(set(px) - {0, 255}, set())
                self.assertEqual(sum(1 for v in px if v), f["mask_pixels"])

    def test_edge_cases_and_bad_files(self):
        t = self.tmp.name
        const = os.path.join(t, "const.safetensors")
        write_st(const, {"maps": ([3, 4, 1], [0.5] * 12)})
        for s in ("otsu", "fixed:0", "quantile:0", "quantile:0.9"):
            g = json.loads(self.run_cli("boxes", "--from-maps", const, "--threshold", s).stdout)
            self.assertEqual((g["mask_pixels"], g["components"]), (0, []))
        one = os.path.join(t, "one.safetensors")
        write_st(one, {"maps": ([1, 1, 1], [0.7])})
        g = json.loads(self.run_cli("boxes", "--from-maps", one, "--threshold", "fixed:0.1").stdout)
        self.assertEqual(g["components"], [])
        ramp = os.path.join(t, "ramp.safetensors")
        write_st(ramp, {"maps": ([5, 7, 1], [i / 34 for i in range(35)])})
        g = json.loads(self.run_cli("boxes", "--from-maps", ramp, "--threshold", "fixed:0").stdout)
        self.assertEqual([c["box_xywh"] for c in g["components"]], [[0, 0, 7, 5]])
        nan = os.path.join(t, "nan.safetensors")
        write_st(nan, {"maps": ([2, 2, 1], [0.1, float("nan"), 0.3, 0.9])})
        p = self.run_cli("boxes", "--from-maps", nan, code=1)
        self.assertIn("NaN", p.stderr)
        bad = os.path.join(t, "bad.safetensors")
        write_st(bad, {"maps": ([4, 4], [0.0] * 16)})
        self.assertIn("dimensions", self.run_cli("boxes", "--from-maps", bad, code=1).stderr)
        write_st(bad, {"other": ([2, 2, 1], [0.0] * 4)})
        self.assertIn("no tensor", self.run_cli("boxes", "--from-maps", bad, code=1).stderr)
        write_st(bad, {"maps": ([0, 2, 1], [])})
        self.run_cli("boxes", "--from-maps", bad, code=1)
        with open(bad, "wb") as f:
            f.write(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}      ")
        self.run_cli("boxes", "--from-maps", bad, code=1)
        self.run_cli("boxes", "--from-maps", os.path.join(t, "missing.safetensors"), code=1)
        for s in ("quantile:1.5", "fixed:nan", "median", "fixed:"):
            self.run_cli("boxes", "--from-maps", ramp, "--threshold", s, code=2)
        self.run_cli("boxes", "--from-maps", ramp, "--min-area", "-1", code=2)
        self.run_cli("boxes", "--from-maps", code=2)
        self.run_cli("heatmap", MODEL, self.px, "--threshold", "otsu", "--", "cat", code=2)
        self.run_cli("explain-text", MODEL, "--vocab", VOCAB, self.px, "--top", "x", "--", "a", code=2)
        self.assertIn("explain-text", self.run_cli("--help").stdout)
        self.assertIn("--from-maps", self.run_cli("boxes", "--help").stdout)

    def test_readme_examples(self):
        """The README section's explain-text and boxes examples give the output it shows."""
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "README.md")) as f:
            text = f.read()
        sec = text[text.index("## Explain a caption, masks and boxes"):]
        sec = sec[:sec.index("\n## ", 5)]
        pairs = re.findall(r"```sh\n(.*?)```\n```json\n(.*?)```", sec, re.S)
        self.assertEqual(len(pairs), 2)
        # The README shows the output of one machine (OpenBLAS engine, AVX-512). Another engine,
        # or the row kernels' AVX2 or baseline clones (core/exp_kernels.c), round the last bits
        # differently (maps by ~1e-6): enough for a pixel or two at a threshold to cross it, so
        # counts may move by 0.1% (at least 3) and values by 1e-4.
        def close(a, b, where):
            if isinstance(a, int) and isinstance(b, int) and not isinstance(a, bool):
                self.assertLessEqual(abs(a - b), max(3, 1e-3 * abs(b)), where)
            elif isinstance(a, float) or isinstance(b, float):
                self.assertLessEqual(abs(a - b), 1e-4 * max(1.0, abs(b)), where)
            elif isinstance(a, list):
                self.assertEqual(len(a), len(b), where)
                for i, (x, y) in enumerate(zip(a, b)):
                    close(x, y, "%s[%d]" % (where, i))
            elif isinstance(a, dict):
                self.assertEqual(sorted(a), sorted(b), where)
                for k in a:
                    close(a[k], b[k], "%s.%s" % (where, k))
            else:
                self.assertEqual(a, b, where)

        for cmd, want in pairs:
            args = shlex.split(cmd.replace("\\\n", " "))
            self.assertEqual(args[0], "build/clipsurgery")
            args = [a.replace("../shared/fixtures", FIX) for a in args[1:]]
            p = subprocess.run([os.path.abspath(CLI)] + args, capture_output=True, text=True,
                               cwd=self.tmp.name, env=self.env)
            self.assertEqual(p.returncode, 0, p.stderr)
            close(json.loads(p.stdout), json.loads(want), args[0])


if __name__ == "__main__":
    unittest.main(verbosity=1)
