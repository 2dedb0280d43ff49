"""The dense methods through the CLI against fixtures/golden/dense-*: encode-image --method for
every method and input (tokens rows 1..N within 1e-4), segment's official SCLIP pipeline
(--preprocess mmseg --short-side 96 --slide 64:32 --logit-scale 40) against slide.logits and
slide.pred outside slide.pred_ambiguous, --method on the map commands, and the usage errors."""
import array
import json
import os
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
GOLDEN = os.path.join(FIX, "golden", "dense-golden.safetensors")
with open(os.path.join(FIX, "golden", "dense-manifest.json")) as _f:
    MANIFEST = json.load(_f)
METHODS = ["maskclip", "sclip", "clearclip", "naclip", "gem"]


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
        a = array.array({"F32": "f", "I32": "i", "U8": "B"}[e["dtype"]])
        a.frombytes(data[s:t])
        out[k] = (e["shape"], a)
    return out


def write_st(path, name, shape, values):
    data = values.tobytes()
    head = json.dumps({name: {"dtype": "F32", "shape": shape, "data_offsets": [0, len(data)]}}).encode()
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)) + head + data)


def read_png_gray(path):
    """8-bit one-channel (gray or palette) PNG -> (w, h, bytes of indices)."""
    with open(path, "rb") as f:
        b = f.read()
    assert b[:8] == b"\x89PNG\r\n\x1a\n"
    i, idat, w, h = 8, b"", 0, 0
    while i < len(b):
        n = struct.unpack(">I", b[i:i + 4])[0]
        typ, body = b[i + 4:i + 8], b[i + 8:i + 8 + n]
        if typ == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (0, 3), (depth, ctype)
        elif typ == b"IDAT":
            idat += body
        i += 12 + n
    raw = zlib.decompress(idat)
    out = bytearray(w * h)
    prev = bytearray(w)
    for y in range(h):
        ft = raw[y * (w + 1)]
        line = bytearray(raw[y * (w + 1) + 1:(y + 1) * (w + 1)])
        for x in range(w):
            a = line[x - 1] if x else 0
            c = prev[x - 1] if x else 0
            up = prev[x]
            if ft == 1:
                line[x] = (line[x] + a) & 255
            elif ft == 2:
                line[x] = (line[x] + up) & 255
            elif ft == 3:
                line[x] = (line[x] + ((a + up) >> 1)) & 255
            elif ft == 4:
                p = a + up - c
                pa, pb, pc = abs(p - a), abs(p - up), abs(p - c)
                pr = a if pa <= pb and pa <= pc else (up if pb <= pc else c)
                line[x] = (line[x] + pr) & 255
        out[y * w:(y + 1) * w] = line
        prev = line
    return w, h, bytes(out)


def run(*args):
    return subprocess.run([CLI] + [str(a) for a in args], capture_output=True, text=True)


class MethodsCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.g = read_st(GOLDEN)
        cls.tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_encode_image_every_method(self):
        for inp in ("x64", "x96", "x64x96"):
            shape, px = self.g["input." + inp]
            pv = os.path.join(self.tmp.name, inp + ".safetensors")
            write_st(pv, "pixel_values", shape, px)
            for m in METHODS:
                out = os.path.join(self.tmp.name, "%s_%s.safetensors" % (m, inp))
                r = run("encode-image", MODEL, pv, "--method", m, "--out", out)
                self.assertEqual(r.returncode, 0, r.stderr)
                got = read_st(out)
                gs, gv = got["image_features"]
                ws, wv = self.g["%s.%s.tokens" % (m, inp)]
                self.assertEqual(gs, ws)
                b, t, e = ws
                err = max(abs(gv[i] - wv[i]) for i in range(len(wv)) if (i // e) % t != 0)
                print("encode-image --method %s %s: tokens rows 1..N max abs error %.3g" % (m, inp, err))
                self.assertLessEqual(err, 1e-4)
                self.assertEqual(got["__metadata__"]["method"], m)
        # --mode stays an alias of --method raw|clip-surgery
        a = os.path.join(self.tmp.name, "a.safetensors")
        c = os.path.join(self.tmp.name, "c.safetensors")
        for mode, method in (("raw", "raw"), ("surgery", "clip-surgery")):
            self.assertEqual(run("encode-image", MODEL, pv, "--mode", mode, "--out", a).returncode, 0)
            self.assertEqual(run("encode-image", MODEL, pv, "--method", method, "--out", c).returncode, 0)
            self.assertEqual(read_st(a)["image_features"], read_st(c)["image_features"])
        r = run("encode-image", MODEL, pv, "--method", "mask-clip", "--out", a)
        self.assertEqual(r.returncode, 2)

    def test_segment_sclip_official_pipeline(self):
        classes = MANIFEST["classes"]
        mask = os.path.join(self.tmp.name, "M.png")
        logits = os.path.join(self.tmp.name, "L.safetensors")
        r = run("segment", MODEL, os.path.join(FIX, "images", "chelsea.png"), "--vocab", VOCAB, "--no-cache",
                "--method", "sclip", "--preprocess", "mmseg", "--short-side", 96, "--slide", "64:32",
                "--logit-scale", 40, "--out", mask, "--logits", logits, "--", *classes)
        self.assertEqual(r.returncode, 0, r.stderr)
        gs, gv = read_st(logits)["logits"]
        ws, wv = self.g["slide.logits"]
        self.assertEqual([1] + gs, ws)
        err = max(abs(a - b) for a, b in zip(gv, wv))
        print("segment --logits vs slide.logits: max abs error %.3g" % err)
        self.assertLessEqual(err, 1e-4)
        w, h, lab = read_png_gray(mask)
        ps, pred = self.g["slide.pred"]
        _, amb = self.g["slide.pred_ambiguous"]
        self.assertEqual([h, w], ps)
        bad = sum(1 for i in range(w * h) if not amb[i] and lab[i] != pred[i])
        print("segment mask vs slide.pred: %d mismatches outside %d ambiguous pixels" % (bad, sum(amb)))
        self.assertEqual(bad, 0)
        # PAMR and the background threshold run; a threshold of 1 gives label 0 everywhere
        r = run("segment", MODEL, os.path.join(FIX, "images", "chelsea.png"), "--vocab", VOCAB, "--no-cache",
                "--method", "naclip", "--preprocess", "mmseg", "--short-side", 96, "--pamr", "2:1,2",
                "--bg-threshold", 1, "--out", mask, "--", *classes)
        self.assertEqual(r.returncode, 0, r.stderr)
        w, h, lab = read_png_gray(mask)
        self.assertEqual(set(lab), {0})

    def test_map_commands_accept_method(self):
        img = os.path.join(FIX, "images", "coffee.png")
        for cmd, extra in (("labels", []), ("heatmap", ["--out-dir", self.tmp.name]), ("points", []),
                           ("segment", ["--out", os.path.join(self.tmp.name, "s.png")])):
            for m in ("gem", "clip-surgery"):
                r = run(cmd, MODEL, img, "--vocab", VOCAB, "--no-cache", "--size", 64, "--method", m, *extra,
                        "--", "cup", "table")
                self.assertEqual(r.returncode, 0, "%s --method %s: %s" % (cmd, m, r.stderr))
        # the default is clip-surgery: same output as no --method
        a = run("labels", MODEL, img, "--vocab", VOCAB, "--no-cache", "--size", 64, "--", "cup", "table")
        b = run("labels", MODEL, img, "--vocab", VOCAB, "--no-cache", "--size", 64, "--method", "clip-surgery",
                "--", "cup", "table")
        self.assertEqual(a.stdout, b.stdout)
        c = run("labels", MODEL, img, "--vocab", VOCAB, "--no-cache", "--size", 64, "--method", "sclip",
                "--", "cup", "table")
        self.assertNotEqual(a.stdout, c.stdout)

    def test_usage_errors(self):
        img = os.path.join(FIX, "images", "coffee.png")
        out = os.path.join(self.tmp.name, "u.png")
        for bad in (["--method", "nope"], ["--slide", "64"], ["--slide", "32:64"], ["--pamr", "10"],
                    ["--pamr", "10:0"], ["--preprocess", "crop"], ["--bg-threshold", "2"],
                    ["--logit-scale", "x"]):
            r = run("segment", MODEL, img, "--vocab", VOCAB, "--out", out, *bad, "--", "cup")
            self.assertEqual(r.returncode, 2, "%s: %s" % (bad, r.stderr))
        r = run("labels", MODEL, img, "--vocab", VOCAB, "--slide", "64:32", "--", "cup")
        self.assertEqual(r.returncode, 2)


if __name__ == "__main__":
    unittest.main()
