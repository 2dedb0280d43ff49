#!/usr/bin/env python3
"""`clipsurgery eval` end to end on fixtures/eval/voc-tiny with the tiny model at S = 64 and 96,
compared with eval-golden.json as EVAL.md section 6 prescribes ("How a test should compare"),
the S=64 predicted label maps against voc-tiny-pred64 (all but the listed near ties), and the
bad-dataset, corrupt-JPEG, CSV and SVG behaviour. Run from the repository root by make check."""
import json
import math
import os
import shutil
import struct
import subprocess
import tempfile
import unittest
import xml.etree.ElementTree as ET
import zlib

BUILD = os.environ.get("BUILD", "build")
FIX = os.path.abspath(os.environ.get("CS_FIXTURES") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "fixtures"))
CLI = os.path.join(BUILD, "clipsurgery")
MODEL = os.path.join(FIX, "golden", "tiny-openai-f32.safetensors")
VOCAB = os.path.join(FIX, "vocab", "bpe_simple_vocab_16e6.txt.gz")
VOC = os.path.join(FIX, "eval", "voc-tiny")
with open(os.path.join(FIX, "eval", "eval-golden.json")) as _f:
    GOLD = json.load(_f)
IDS = GOLD["dataset"]["ids"]
CACHE = tempfile.mkdtemp(prefix="cs-eval-cache-")


def run(*args, expect=0):
    env = dict(os.environ, XDG_CACHE_HOME=CACHE)
    p = subprocess.run([CLI, "eval"] + [str(a) for a in args], capture_output=True, text=True,
                       env=env)
    if expect is not None and p.returncode != expect:
        raise AssertionError("exit %d (want %d): %s\n%s" % (p.returncode, expect, " ".join(
            map(str, args)), p.stderr))
    return p


def read_png_indices(path):
    """8-bit palette or gray PNG, non-interlaced -> (w, h, bytes of sample values)."""
    with open(path, "rb") as f:
        b = f.read()
    assert b[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w = 8, b"", None
    while pos < len(b):
        n = struct.unpack(">I", b[pos:pos + 4])[0]
        t = b[pos + 4:pos + 8]
        d = b[pos + 8:pos + 8 + n]
        if t == b"IHDR":
            w, h, depth, ctype, _, _, inter = struct.unpack(">IIBBBBB", d)
            assert depth == 8 and ctype in (0, 3) and inter == 0
        elif t == b"IDAT":
            idat += d
        pos += 12 + n
    raw = zlib.decompress(idat)
    out = bytearray(w * h)
    prev = bytearray(w)
    for y in range(h):
        ft = raw[y * (w + 1)]
        line = bytearray(raw[y * (w + 1) + 1:(y + 1) * (w + 1)])
        for x in range(w):
            a = line[x - 1] if x else 0
            up = prev[x]
            c = prev[x - 1] if x else 0
            if ft == 1:
                line[x] = (line[x] + a) & 255
            elif ft == 2:
                line[x] = (line[x] + up) & 255
            elif ft == 3:
                line[x] = (line[x] + ((a + up) >> 1)) & 255
            elif ft == 4:
                pa, pb, pc = abs(up - c), abs(a - c), abs(a + up - 2 * c)
                pr = a if pa <= pb and pa <= pc else (up if pb <= pc else c)
                line[x] = (line[x] + pr) & 255
        out[y * w:(y + 1) * w] = line
        prev = line
    return w, h, bytes(out)


def write_gray_png(path, w, h, data):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    raw = b"".join(b"\0" + data[y * w:(y + 1) * w] for y in range(h))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def within(got, want, lo=None, hi=None, tol=1e-4):
    if want is None:
        return got is None
    if got is None:
        return False
    if abs(got - want) <= tol:
        return True
    return lo is not None and hi is not None and lo - 1e-6 <= got <= hi + 1e-6


class EvalGolden(unittest.TestCase):
    maxerr = {}

    def note(self, key, err):
        self.maxerr[key] = max(self.maxerr.get(key, 0.0), err)

    def check_segment(self, S, mode, extra, pred_dir=None):
        args = ["segment", MODEL, VOC, "--vocab", VOCAB, "--size", S] + extra
        if pred_dir:
            args += ["--pred-dir", pred_dir]
        rep = json.loads(run(*args).stdout)
        g = GOLD["sizes"][str(S)]["segment"][mode]
        b = g["bounds_if_near_ties_flip"]
        K = len(g["IoU"])
        self.assertEqual(rep["size"], S)
        self.assertEqual(rep["n_evaluated"], 6)
        key = "argmax_near_ties_on_valid_gt" if mode == "nobg" else "near_ties_on_valid_gt"
        total_ties = sum(g["near_ties"][i][key] for i in IDS)
        # Acc_c = I_c / label_c: label_c is fixed by the gt and I_c may move by at most the
        # near-tie pixels (the areas rule of EVAL.md 6.2), so Acc gets the bound that implies.
        acc_lo, acc_hi = [], []
        for c in range(K):
            L, I = g["area_label"][c], g["area_intersect"][c]
            acc_lo.append(max(0, I - total_ties) / L if L else None)
            acc_hi.append(min(L, I + total_ties) / L if L else None)
        defined = [c for c in range(K) if acc_lo[c] is not None]
        for c in range(K):
            self.assertTrue(within(rep["IoU"][c], g["IoU"][c], b["IoU_lo"][c], b["IoU_hi"][c]),
                            "S=%d %s IoU[%d] %r vs %r" % (S, mode, c, rep["IoU"][c], g["IoU"][c]))
            self.assertTrue(within(rep["Acc"][c], g["Acc"][c], acc_lo[c], acc_hi[c]),
                            "S=%d %s Acc[%d] %r vs %r" % (S, mode, c, rep["Acc"][c], g["Acc"][c]))
            if g["IoU"][c] is not None:
                self.note("segment IoU", abs(rep["IoU"][c] - g["IoU"][c]))
            if g["Acc"][c] is not None:
                self.note("segment Acc", abs(rep["Acc"][c] - g["Acc"][c]))
        self.assertTrue(within(rep["mIoU"], g["mIoU"], b["mIoU_lo"], b["mIoU_hi"]))
        self.assertTrue(within(rep["aAcc"], g["aAcc"], b["aAcc_lo"], b["aAcc_hi"]))
        self.assertTrue(within(rep["mAcc"], g["mAcc"], sum(acc_lo[c] for c in defined) / len(defined),
                               sum(acc_hi[c] for c in defined) / len(defined)))
        self.note("segment mIoU", abs(rep["mIoU"] - g["mIoU"]))
        self.note("segment aAcc", abs(rep["aAcc"] - g["aAcc"]))
        for a in ("area_intersect", "area_union", "area_pred_label", "area_label"):
            for c in range(K):
                d = abs(rep[a][c] - g[a][c])
                self.assertLessEqual(d, total_ties, "S=%d %s %s[%d]" % (S, mode, a, c))
                self.note("segment areas (pixels)", d)
            for i in IDS:
                for c in range(K):
                    self.assertLessEqual(abs(rep["per_image"][i][a][c] - g["per_image"][i][a][c]),
                                         g["near_ties"][i][key], "%s %s %s[%d]" % (mode, i, a, c))
        return rep

    def test_segment(self):
        tmp = tempfile.mkdtemp()
        try:
            for S in (64, 96):
                for mode, extra in (("nobg", []), ("bg0.5", ["--bg-threshold", "0.5"])):
                    pd = os.path.join(tmp, "%d-%s" % (S, mode)) if S == 64 else None
                    self.check_segment(S, mode, extra, pd)
                    if pd is None:
                        continue
                    for i in IDS:
                        w, h, got = read_png_indices(os.path.join(pd, i + ".png"))
                        w2, h2, want = read_png_indices(os.path.join(
                            FIX, "eval", "voc-tiny-pred64", mode, i + ".png"))
                        self.assertEqual((w, h), (w2, h2))
                        ties = {(y, x) for y, x in GOLD["sizes"]["64"]["segment"][mode]
                                ["near_ties"][i]["pixels_yx"]}
                        bad = [(p // w, p % w) for p in range(w * h) if got[p] != want[p]]
                        off = [p for p in bad if p not in ties]
                        self.assertEqual(off, [], "%s %s: %d pixels differ off the near ties"
                                         % (mode, i, len(off)))
                        self.note("pred64 differing pixels (all near ties)", len(bad))
        finally:
            shutil.rmtree(tmp)

    def test_explain(self):
        for S in (64, 96):
            rep = json.loads(run("explain", MODEL, VOC, "--vocab", VOCAB, "--size", S).stdout)
            g = GOLD["sizes"][str(S)]["explain"]
            self.assertEqual(rep["classes_evaluated"], g["classes"])
            for k in range(20):
                self.assertTrue(within(rep["curve"][k], g["curve"][k], g["curve_lo"][k],
                                       g["curve_hi"][k]), "S=%d curve[%d]" % (S, k))
                self.note("explain curve", abs(rep["curve"][k] - g["curve"][k]))
            self.assertEqual(rep["best_tau"], g["best_tau"])
            self.assertEqual(rep["best_index"], g["best_index"])
            self.assertTrue(within(rep["best_mIoU"], g["best_mIoU"], g["curve_lo"][g["best_index"]],
                                   g["curve_hi"][g["best_index"]]))
            self.assertLessEqual(abs(rep["mSC"] - g["mSC"]), 1e-4)
            self.note("explain mSC", abs(rep["mSC"] - g["mSC"]))
            self.assertEqual(rep["n_sc_pairs"], g["n_sc_pairs"])
            self.assertEqual([list(p) for p in rep["sc_pairs"]], [list(p) for p in g["sc_pairs"]])
            for a, b in zip(rep["sc"], g["sc"]):
                self.assertLessEqual(abs(a - b), 1e-4)
            nt = g["near_ties_per_image_class"]
            for c in map(str, g["classes"]):
                allowed = sum(nt.get(i, {}).get(c, 0) for i in IDS)
                for k in range(20):
                    self.assertLessEqual(abs(rep["I"][c][k] - g["I"][c][k]), allowed)
                    self.assertLessEqual(abs(rep["U"][c][k] - g["U"][c][k]), allowed)

    def test_multilabel(self):
        for S in (64, 96):
            for mode, extra in (("surgery", []), ("baseline", ["--baseline"])):
                rep = json.loads(run("multilabel", MODEL, os.path.join(VOC, "labels.tsv"),
                                     "--classes", os.path.join(VOC, "classes.txt"), "--vocab",
                                     VOCAB, "--size", S, *extra).stdout)
                g = GOLD["sizes"][str(S)]["multilabel"]
                gm = g[mode]
                self.assertEqual(rep["score"], mode)
                for ra, rb in zip(rep["scores"], gm["scores"]):
                    for a, b in zip(ra, rb):
                        self.assertLessEqual(abs(a - b), 1e-5, "S=%d %s score" % (S, mode))
                        self.note("multilabel scores", abs(a - b))
                for c, (a, b) in enumerate(zip(rep["AP"], gm["AP"])):
                    self.assertTrue(within(a, b, tol=1e-6), "S=%d %s AP[%d] %r %r" % (S, mode, c, a, b))
                self.assertLessEqual(abs(rep["mAP"] - gm["mAP"]), 1e-6)
                self.note("multilabel mAP", abs(rep["mAP"] - gm["mAP"]))
                self.assertEqual(rep["n_pos"], g["n_pos"])

    @classmethod
    def tearDownClass(cls):
        for k, v in sorted(cls.maxerr.items()):
            print("eval golden: max |diff| %s = %.3g" % (k, v))


def link_dataset(root, skip=()):
    """A copy of voc-tiny made of symlinks; the paths in skip are left out."""
    for dp, dn, fn in os.walk(VOC):
        rel = os.path.relpath(dp, VOC)
        if rel in skip:
            continue
        os.makedirs(os.path.join(root, rel), exist_ok=True)
        for f in fn:
            r = os.path.normpath(os.path.join(rel, f))
            if r not in skip:
                os.symlink(os.path.join(dp, f), os.path.join(root, r))


class EvalBadData(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        self.root = os.path.join(self.tmp, "voc")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def seg(self, *extra, expect=1, root=None):
        return run("segment", MODEL, root or self.root, "--vocab", VOCAB, *extra, expect=expect)

    def replace(self, rel, text):
        p = os.path.join(self.root, rel)
        os.unlink(p)
        with open(p, "w") as f:
            f.write(text)
        return p

    def test_missing_folder(self):
        link_dataset(self.root, skip=("SegmentationClass",))
        p = self.seg()
        self.assertIn("SegmentationClass", p.stderr)
        self.assertIn("missing folder", p.stderr)

    def test_id_without_jpeg_or_mask(self):
        link_dataset(self.root, skip=("JPEGImages/chelsea.jpg",))
        p = self.seg()
        self.assertIn("val.txt:3:", p.stderr)
        self.assertIn("chelsea", p.stderr)
        self.assertIn("no JPEG", p.stderr)
        shutil.rmtree(self.root)
        link_dataset(self.root, skip=("SegmentationClass/coffee.png",))
        p = run("explain", MODEL, self.root, "--vocab", VOCAB, expect=1)
        self.assertIn("val.txt:4:", p.stderr)
        self.assertIn("no mask", p.stderr)

    def test_mask_size_mismatch(self):
        link_dataset(self.root, skip=("SegmentationClass/bench-park.png",))
        os.symlink(os.path.join(VOC, "SegmentationClass", "astronaut.png"),
                   os.path.join(self.root, "SegmentationClass", "bench-park.png"))
        p = self.seg()
        self.assertIn("bench-park.png", p.stderr)
        self.assertIn("512x512", p.stderr)
        self.assertIn("500x375", p.stderr)
        self.assertIn("val.txt:1", p.stderr)

    def test_unknown_label(self):
        tsv = os.path.join(self.tmp, "labels.tsv")
        with open(os.path.join(VOC, "labels.tsv")) as f:
            lines = f.read().splitlines()
        lines[2] = lines[2].replace("cat", "dog")
        with open(tsv, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.symlink(os.path.join(VOC, "JPEGImages"), os.path.join(self.tmp, "JPEGImages"))
        p = run("multilabel", MODEL, tsv, "--classes", os.path.join(VOC, "classes.txt"),
                "--vocab", VOCAB, expect=1)
        self.assertIn("labels.tsv:3:", p.stderr)
        self.assertIn("'dog'", p.stderr)

    def test_multilabel_missing_and_corrupt_image(self):
        os.makedirs(os.path.join(self.tmp, "JPEGImages"))
        for i in IDS:
            os.symlink(os.path.join(VOC, "JPEGImages", i + ".jpg"),
                       os.path.join(self.tmp, "JPEGImages", i + ".jpg"))
        tsv = os.path.join(self.tmp, "labels.tsv")
        with open(os.path.join(VOC, "labels.tsv")) as f:
            text = f.read()
        with open(tsv, "w") as f:
            f.write("\n" + text.replace("coffee.jpg", "nope.jpg"))
        cls = os.path.join(VOC, "classes.txt")
        p = run("multilabel", MODEL, tsv, "--classes", cls, "--vocab", VOCAB, expect=1)
        self.assertIn("labels.tsv:5:", p.stderr)  # blank first line counted
        self.assertIn("nope.jpg", p.stderr)
        with open(tsv, "w") as f:
            f.write(text)
        target = os.path.join(self.tmp, "JPEGImages", "camera.jpg")
        os.unlink(target)
        with open(target, "wb") as f:
            f.write(b"\xff\xd8\xff\xe0 not a jpeg")
        rep = json.loads(run("multilabel", MODEL, tsv, "--classes", cls, "--vocab", VOCAB).stdout)
        self.assertEqual(rep["n_corrupt"], 1)
        self.assertEqual(rep["n_evaluated"], 5)
        self.assertIsNone(rep["scores"][5][0])
        run("multilabel", MODEL, tsv, "--classes", cls, "--vocab", VOCAB, "--strict", expect=1)

    def test_bg_threshold_without_background(self):
        link_dataset(self.root, skip=("classes.txt",))
        with open(os.path.join(VOC, "classes.txt")) as f:
            lines = f.read().splitlines()
        self.replace_file = os.path.join(self.root, "classes.txt")
        with open(self.replace_file, "w") as f:
            f.write("\n".join(["void"] + lines[1:]) + "\n")
        p = self.seg("--bg-threshold", "0.5")
        self.assertIn("classes.txt:1:", p.stderr)
        self.assertIn("--bg-threshold", p.stderr)

    def test_empty_split(self):
        link_dataset(self.root, skip=("ImageSets/Segmentation/val.txt",))
        with open(os.path.join(self.root, "ImageSets/Segmentation/val.txt"), "w") as f:
            f.write("\n  \n")
        p = self.seg()
        self.assertIn("val.txt", p.stderr)
        self.assertIn("empty split", p.stderr)
        p = self.seg("--split", "train")
        self.assertIn("train.txt", p.stderr)

    def test_corrupt_jpeg_counted_or_fatal(self):
        link_dataset(self.root, skip=("JPEGImages/rocket.jpg",))
        with open(os.path.join(VOC, "JPEGImages", "rocket.jpg"), "rb") as f:
            data = f.read()
        with open(os.path.join(self.root, "JPEGImages", "rocket.jpg"), "wb") as f:
            f.write(data[:len(data) // 3])
        p = self.seg(expect=0)
        rep = json.loads(p.stdout)
        self.assertEqual(rep["n_corrupt"], 1)
        self.assertEqual(rep["corrupt"], ["rocket"])
        self.assertEqual(rep["n_evaluated"], 5)
        self.assertNotIn("rocket", rep["per_image"])
        self.assertIn("rocket.jpg", p.stderr)
        # the metrics are those of the other five images
        g = GOLD["sizes"]["64"]["segment"]["nobg"]
        want = [sum(g["per_image"][i]["area_label"][c] for i in IDS if i != "rocket")
                for c in range(10)]
        self.assertEqual(rep["area_label"], want)
        p = self.seg("--strict", expect=1)
        self.assertIn("rocket.jpg", p.stderr)
        p = run("explain", MODEL, self.root, "--vocab", VOCAB, expect=0)
        self.assertEqual(json.loads(p.stdout)["n_corrupt"], 1)

    def test_out_of_range_mask_value_warns_once(self):
        link_dataset(self.root, skip=("SegmentationClass/chelsea.png",))
        w, h, m = read_png_indices(os.path.join(VOC, "SegmentationClass", "chelsea.png"))
        m = bytearray(m)
        for p in range(0, 40):
            m[p] = 17
        write_gray_png(os.path.join(self.root, "SegmentationClass", "chelsea.png"), w, h, bytes(m))
        p = self.seg(expect=0)
        self.assertEqual(p.stderr.count("neither a class"), 1)
        self.assertIn("chelsea.png", p.stderr)

    def test_bad_classes_file_line(self):
        link_dataset(self.root, skip=("classes.txt",))
        with open(os.path.join(self.root, "classes.txt"), "w") as f:
            f.write("background\nperson\n , ,\nsky\n")
        p = self.seg()
        self.assertIn("classes.txt:3:", p.stderr)

    def test_reduce_zero_label(self):
        # classes.txt without its background line + --reduce-zero-label: stored k is class k-1 and
        # stored 0 is ignored, so every figure is the no-threshold run's, shifted by one class
        link_dataset(self.root, skip=("classes.txt",))
        with open(os.path.join(VOC, "classes.txt")) as f:
            lines = f.read().splitlines()
        with open(os.path.join(self.root, "classes.txt"), "w") as f:
            f.write("\n".join(lines[1:]) + "\n")
        rep = json.loads(self.seg("--reduce-zero-label", expect=0).stdout)
        full = json.loads(self.seg(expect=0, root=VOC).stdout)
        self.assertTrue(rep["reduce_zero_label"])
        self.assertIsNone(rep["background_class"])
        for a in ("area_intersect", "area_union", "area_pred_label", "area_label", "IoU", "Acc"):
            self.assertEqual(rep[a], full[a][1:], a)
        self.assertEqual(rep["mIoU"], full["mIoU"])
        # a background line contradicts the reduction
        run("segment", MODEL, VOC, "--vocab", VOCAB, "--reduce-zero-label", expect=2)

    def test_usage_errors(self):
        p = run("segment", MODEL, VOC, "--method", "no-such-method", expect=2)
        self.assertIn("no-such-method", p.stderr)
        self.assertIn("clip-surgery", p.stderr)
        run("segment", MODEL, VOC, "--bg-threshold", "1.5", expect=2)
        run("multilabel", MODEL, os.path.join(VOC, "labels.tsv"), expect=2)  # no --classes
        run("explain", MODEL, VOC, "--pred-dir", self.tmp, expect=2)
        run("nothing", expect=2)
        self.assertIn("eval segment", run("--help", expect=0).stdout)


class EvalOutputs(unittest.TestCase):
    def test_csv_svg_progress_raw(self):
        tmp = tempfile.mkdtemp()
        try:
            for tool, args in (("segment", [VOC, "--bg-threshold", "0.5"]), ("explain", [VOC]),
                               ("multilabel", [os.path.join(VOC, "labels.tsv"), "--classes",
                                               os.path.join(VOC, "classes.txt")])):
                out, csv, svg = (os.path.join(tmp, tool + e) for e in (".json", ".csv", ".svg"))
                p = run(tool, MODEL, *args, "--vocab", VOCAB, "--out", out, "--csv", csv,
                        "--plot", svg)
                self.assertEqual(p.stdout, "")
                self.assertIn("[6/6]", p.stderr)
                self.assertIn("images/s", p.stderr)
                with open(out) as f:
                    rep = json.load(f)
                self.assertEqual(rep["size"], 64)  # the model's native resolution
                self.assertEqual(rep["method"], "clip-surgery")
                with open(csv) as f:
                    rows = f.read().splitlines()
                self.assertEqual(len(rows), 11)
                root = ET.parse(svg).getroot()
                self.assertTrue(root.tag.endswith("svg"))
                texts = "".join(t.text or "" for t in root.iter() if t.tag.endswith("text"))
                self.assertIn("tv monitor", texts)
                if tool == "explain":
                    self.assertIn("best tau", texts)
                    self.assertTrue(any(t.tag.endswith("polyline") for t in root.iter()))
            # raw CLIP features go through the same protocol and give other numbers
            raw = json.loads(run("segment", MODEL, VOC, "--vocab", VOCAB, "--method", "raw").stdout)
            self.assertEqual(raw["method"], "raw")
            self.assertNotEqual(raw["area_pred_label"],
                                GOLD["sizes"]["64"]["segment"]["nobg"]["area_pred_label"])
            # every sibling method runs the same protocol: same ground truth, its own predictions
            gold = GOLD["sizes"]["64"]["segment"]["nobg"]
            for m in ("maskclip", "sclip", "clearclip", "naclip", "gem"):
                rep = json.loads(run("segment", MODEL, VOC, "--vocab", VOCAB, "--method", m).stdout)
                self.assertEqual(rep["method"], m)
                self.assertEqual(rep["area_label"], gold["area_label"], m)
                self.assertEqual(sum(rep["area_pred_label"]), sum(gold["area_pred_label"]), m)
                self.assertNotEqual(rep["area_pred_label"], gold["area_pred_label"], m)
        finally:
            shutil.rmtree(tmp)


if __name__ == "__main__":
    try:
        unittest.main()
    finally:
        shutil.rmtree(CACHE, ignore_errors=True)
