#!/usr/bin/env python3
"""Python binding (bindings/python/clipsurgery) against the golden fixtures (run-all.sh runs it
with numpy and with CLIPSURGERY_NO_NUMPY=1).

Run from the repository root: python3 tests/test_python.py. Environment: BUILD (build folder,
default build), CS_FIXTURES (default ../shared/fixtures). Exits nonzero on failure. Tests whose
C piece is not in the library yet are skipped (listed at the end)."""
import array
import ctypes
import json
import os
import struct
import subprocess
import sys
import tempfile
import threading
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.abspath(os.path.join(ROOT, os.environ.get("BUILD", "build")))
FIXTURES = os.path.abspath(os.environ.get("CS_FIXTURES") or os.path.join(ROOT, "..", "shared",
                                                                          "fixtures"))
GOLDEN = os.path.join(FIXTURES, "golden")
VOCAB = os.path.join(FIXTURES, "vocab", "bpe_simple_vocab_16e6.txt.gz")
MODELS = {"openai-f32": os.path.join(GOLDEN, "tiny-openai-f32.safetensors"),
          "hf-f16": os.path.join(GOLDEN, "tiny-hf-f16.safetensors")}
TOL = 1e-4

LIBRARY = os.path.join(BUILD, "libclipsurgery.so.0")
os.environ.setdefault("CLIPSURGERY_LIBRARY", LIBRARY)
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))

import clipsurgery  # noqa: E402
from clipsurgery import ClipSurgeryError  # noqa: E402


# --- safetensors in pure Python ------------------------------------------------------------
class Tensor(object):
    def __init__(self, values, shape):
        self.values = values  # flat list
        self.shape = tuple(shape)

    def row(self, i):
        """Sub-tensor i along the first axis."""
        step = 1
        for d in self.shape[1:]:
            step *= d
        return Tensor(self.values[i * step:(i + 1) * step], self.shape[1:])

    def nested(self):
        def build(off, dims):
            if len(dims) == 1:
                return self.values[off:off + dims[0]]
            step = 1
            for d in dims[1:]:
                step *= d
            return [build(off + k * step, dims[1:]) for k in range(dims[0])]
        return build(0, self.shape)


_TYPECODES = {"F32": "f", "I32": "i", "F64": "d", "I64": "q", "U8": "B"}


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a = array.array(_TYPECODES[info["dtype"]])
        start, end = info["data_offsets"]
        a.frombytes(blob[base + start:base + end])
        if sys.byteorder != "little":
            a.byteswap()
        out[name] = Tensor(a.tolist(), info["shape"])
    return out


def flat(x):
    """Flattens an Array / numpy array / nested list / Tensor to a list of numbers."""
    if isinstance(x, Tensor):
        return list(x.values)
    if hasattr(x, "tolist"):
        x = x.tolist()
    if isinstance(x, (list, tuple)):
        res = []
        for v in x:
            res.extend(flat(v) if isinstance(v, (list, tuple)) or hasattr(v, "tolist") else [v])
        return res
    return [x]


def max_abs_diff(a, b):
    a, b = flat(a), flat(b)
    if len(a) != len(b):
        raise AssertionError("sizes differ: %d vs %d" % (len(a), len(b)))
    worst = 0.0
    for x, y in zip(a, b):
        d = abs(x - y)
        if not d <= worst:  # also catches NaN
            worst = d if d == d else float("inf")
    return worst


def lib_has(*names):
    try:
        return all(clipsurgery.has(n) for n in names)
    except OSError:
        return False


def needs(*names):
    return unittest.skipUnless(lib_has(*names), "library lacks %s (not merged yet)"
                               % ", ".join(n for n in names if not lib_has(n)))


def skip_if_unimplemented(test, exc):
    """Skips when a stub reports 'not implemented'; re-raises anything else."""
    if "not implemented" in str(exc):
        test.skipTest("C piece not implemented yet: %s" % exc)
    raise exc


_GOLD = None
_MANIFEST = None


def gold():
    global _GOLD
    if _GOLD is None:
        _GOLD = read_safetensors(os.path.join(GOLDEN, "tiny-golden.safetensors"))
    return _GOLD


def manifest():
    global _MANIFEST
    if _MANIFEST is None:
        with open(os.path.join(GOLDEN, "manifest.json"), encoding="utf-8") as f:
            _MANIFEST = json.load(f)
    return _MANIFEST


_TEXT_MODELS = {}


def text_model(test, key):
    """A model loaded with the vocabulary (cached), or a skip while the tokenizer is a stub."""
    if key not in _TEXT_MODELS:
        try:
            _TEXT_MODELS[key] = clipsurgery.Model(MODELS[key], vocab=VOCAB)
        except ClipSurgeryError as exc:
            skip_if_unimplemented(test, exc)
    return _TEXT_MODELS[key]


# --- tests -----------------------------------------------------------------------------------
class LibraryTest(unittest.TestCase):
    def test_version_matches_header(self):
        with open(os.path.join(ROOT, "include", "clipsurgery.h")) as f:
            text = f.read()
        parts = []
        for what in ("MAJOR", "MINOR", "PATCH"):
            tag = "#define CS_VERSION_%s " % what
            line = [ln for ln in text.splitlines() if ln.startswith(tag)][0]
            parts.append(line[len(tag):].strip())
        self.assertEqual(clipsurgery.version(), ".".join(parts))

    def _import_with_library(self, path):
        env = dict(os.environ, CLIPSURGERY_LIBRARY=path)
        code = ("import sys; sys.path.insert(0, %r)\nimport clipsurgery\n"
                "try:\n    clipsurgery.Model(%r)\nexcept OSError as e:\n    print('OSError:', e)\n"
                "    sys.exit(3)\n" % (os.path.join(ROOT, "bindings", "python"),
                                       MODELS["openai-f32"]))
        return subprocess.run([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=True)

    def test_missing_library_is_a_clear_oserror(self):
        missing = "/nonexistent/folder/libclipsurgery.so.0"
        r = self._import_with_library(missing)
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
        self.assertIn("libclipsurgery", r.stdout)
        self.assertIn(missing, r.stdout)
        self.assertIn("CLIPSURGERY_LIBRARY", r.stdout)

    def test_source_tree_build_is_found_without_the_variable(self):
        if os.path.realpath(BUILD) != os.path.realpath(os.path.join(ROOT, "build")):
            self.skipTest("BUILD is not the source tree's build/ folder")
        env = dict(os.environ)
        env.pop("CLIPSURGERY_LIBRARY", None)
        code = ("import sys; sys.path.insert(0, %r)\nimport clipsurgery\n"
                "print(clipsurgery.version())\n" % os.path.join(ROOT, "bindings", "python"))
        r = subprocess.run([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), clipsurgery.version())

    def test_wrong_major_version_is_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "fake.c")
            so = os.path.join(tmp, "libfake.so")
            with open(src, "w") as f:
                f.write("unsigned cs_version(void) { return 10000u * 7u; }\n")
            try:
                subprocess.run(["cc", "-shared", "-fPIC", "-o", so, src], check=True)
            except (OSError, subprocess.CalledProcessError):
                self.skipTest("no C compiler")
            r = self._import_with_library(so)
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
        self.assertIn("major version 7", r.stdout)

    def test_status_names(self):
        self.assertEqual(clipsurgery.STATUS_NAMES[3], "CS_ERR_IO")
        self.assertEqual(clipsurgery.STATUS_NAMES[14], "CS_ERR_INTERNAL")


class PrototypeTest(unittest.TestCase):
    def test_prototypes_match_the_header(self):
        """Every ctypes prototype has the header's parameter count and return kind."""
        import re
        from clipsurgery import _lib
        with open(os.path.join(ROOT, "include", "clipsurgery.h")) as f:
            text = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
        decls = {}
        for m in re.finditer(r"CS_API\s+([^;{]*?)\b(cs_\w+)\s*\(([^)]*)\)\s*;", text):
            params = m.group(3).strip()
            n = 0 if params in ("", "void") else params.count(",") + 1
            decls[m.group(2)] = (" ".join(m.group(1).split()), n)
        for name, (restype, argtypes) in sorted(_lib._PROTOTYPES.items()):
            with self.subTest(function=name):
                self.assertIn(name, decls)
                ret, n = decls[name]
                self.assertEqual(len(argtypes), n)
                if ret == "void":
                    self.assertIsNone(restype)
                elif ret == "cs_status":
                    self.assertIs(restype, _lib.c_status)
                elif ret.endswith("*"):
                    self.assertIn(restype, (ctypes.c_char_p, ctypes.c_void_p))
                elif ret == "double":
                    self.assertIs(restype, ctypes.c_double)
                else:
                    self.assertIn(restype, (ctypes.c_int, ctypes.c_uint))


class ArrayTest(unittest.TestCase):
    def test_wrapper_shape_tolist_indexing(self):
        a = clipsurgery.Array(array.array("f", [float(i) for i in range(24)]), (2, 3, 4))
        self.assertEqual(a.shape, (2, 3, 4))
        self.assertEqual(len(a), 2)
        self.assertEqual(a.tolist()[1][2], [20.0, 21.0, 22.0, 23.0])
        self.assertEqual(a[1].shape, (3, 4))
        self.assertEqual(a[-1][0][3], 15.0)
        self.assertEqual([r.shape for r in a], [(3, 4), (3, 4)])
        with self.assertRaises(IndexError):
            a[2]
        with self.assertRaises(ValueError):
            clipsurgery.Array(array.array("f", [1.0, 2.0]), (3,))

    def test_input_conversion(self):
        from clipsurgery._array import as_float32
        data, shape, _ = as_float32([[[1, 2], [3, 4]], [[5, 6], [7, 8]]])
        self.assertEqual(shape, (2, 2, 2))
        self.assertEqual(list(data), [1, 2, 3, 4, 5, 6, 7, 8])
        with self.assertRaises(ValueError):
            as_float32([[1, 2], [3]])


class ModelErrorsTest(unittest.TestCase):
    def test_missing_model_file(self):
        path = "/nonexistent/model.safetensors"
        with self.assertRaises(ClipSurgeryError) as cm:
            clipsurgery.Model(path)
        e = cm.exception
        self.assertEqual(e.name, "CS_ERR_IO")
        self.assertEqual(e.status, 3)
        self.assertEqual(e.function, "cs_model_load")
        self.assertIn(path, e.message)
        self.assertIn("CS_ERR_IO", str(e))
        self.assertIn(e.message, str(e))

    def test_malformed_model_file(self):
        with tempfile.NamedTemporaryFile(suffix=".safetensors") as f:
            f.write(b"\x05\x00\x00\x00\x00\x00\x00\x00{oops")
            f.flush()
            with self.assertRaises(ClipSurgeryError) as cm:
                clipsurgery.Model(f.name)
        self.assertEqual(cm.exception.name, "CS_ERR_FORMAT")
        self.assertTrue(cm.exception.message)

    def test_info_and_close(self):
        m = clipsurgery.Model(MODELS["openai-f32"])
        self.assertEqual((m.embed_dim, m.patch_size, m.image_size, m.context_length),
                         (64, 16, 64, 77))
        m.close()
        m.close()  # idempotent
        with self.assertRaises(ValueError):
            m.encode_image([0.0] * (3 * 64 * 64), size=64)

    @needs("cs_image_decode_file")
    def test_missing_image(self):
        with clipsurgery.Model(MODELS["openai-f32"]) as m:
            with self.assertRaises(ClipSurgeryError) as cm:
                m.encode_image("/nonexistent/photo.png", size=64)
        self.assertEqual(cm.exception.name, "CS_ERR_IO")
        self.assertIn("/nonexistent/photo.png", cm.exception.message)

    @needs("cs_image_decode_file")
    def test_truncated_image(self):
        path = os.path.join(FIXTURES, "edge", "bad_truncated.jpg")
        try:
            clipsurgery.preprocess(path, 64)
        except ClipSurgeryError as exc:
            if "not implemented" in str(exc):
                self.skipTest(str(exc))
            self.assertIn(exc.name, ("CS_ERR_FORMAT", "CS_ERR_CORRUPT_DATA"))
        else:
            self.fail("truncated JPEG decoded without error")

    @needs("cs_surgery_apply", "cs_context_create")
    def test_bad_pixel_shapes(self):
        with clipsurgery.Model(MODELS["openai-f32"]) as m:
            with self.assertRaises(ValueError):
                m.encode_image([0.0] * 100, size=64)            # not B*3*64*64
            with self.assertRaises(ValueError):
                m.encode_image([[[0.0] * 8] * 8] * 2)           # 2 channels
            with self.assertRaises(ValueError):
                m.encode_image([0.0] * (3 * 40 * 40), size=40)  # not a multiple of 16
            with self.assertRaises(ValueError):
                m.encode_image(gold()["input.x64"].nested(), mode="other")

    @needs("cs_encode_texts", "cs_context_create", "cs_tokenize_context")
    def test_text_without_vocabulary(self):
        # the golden folder holds no vocabulary beside the weights
        with clipsurgery.Model(MODELS["openai-f32"], vocab=None) as m:
            with self.assertRaises(ClipSurgeryError) as cm:
                m.encode_text(["a photo"])
            self.assertEqual(cm.exception.name, "CS_ERR_NO_VOCABULARY")
            self.assertTrue(cm.exception.message)
            with self.assertRaises(ClipSurgeryError) as cm:
                m.tokenize("a photo")
            self.assertEqual(cm.exception.name, "CS_ERR_NO_VOCABULARY")

    @needs("cs_tokenize_context")
    def test_missing_vocabulary_file(self):
        with self.assertRaises(ClipSurgeryError) as cm:
            clipsurgery.Model(MODELS["openai-f32"], vocab="/nonexistent/vocab.txt.gz")
        self.assertEqual(cm.exception.name, "CS_ERR_IO")
        self.assertIn("/nonexistent/vocab.txt.gz", cm.exception.message)


@needs("cs_context_create", "cs_encode_images", "cs_surgery_apply")
class ImageFeaturesTest(unittest.TestCase):
    def run_or_skip(self, fn, *args, **kw):
        try:
            return fn(*args, **kw)
        except ClipSurgeryError as exc:
            skip_if_unimplemented(self, exc)

    def test_golden_image_features(self):
        g = gold()
        x64 = g["input.x64"].nested()
        for key, path in sorted(MODELS.items()):
            with clipsurgery.Model(path) as m:
                for mode, name in (("raw", "raw.image_features"), ("surgery", "cs.image_features")):
                    with self.subTest(model=key, mode=mode):
                        got = self.run_or_skip(m.encode_image, x64, mode=mode)
                        self.assertEqual(tuple(got.shape), (2, 17, 64))
                        self.assertLess(max_abs_diff(got, g[name]), TOL)
                with self.subTest(model=key, mode="surgery96"):
                    got = self.run_or_skip(m.encode_image, g["input.x96"].nested())
                    self.assertEqual(tuple(got.shape), (1, 37, 64))
                    self.assertLess(max_abs_diff(got, g["cs96.image_features"]), TOL)

    def test_input_forms_agree(self):
        g = gold()
        one = g["input.x64"].row(1)  # [3, 64, 64]
        with clipsurgery.Model(MODELS["openai-f32"]) as m:
            a = self.run_or_skip(m.encode_image, one.nested())               # [3, H, W]
            b = self.run_or_skip(m.encode_image, list(one.values), size=64)  # flat
            c = self.run_or_skip(m.encode_image, clipsurgery.Array(array.array("f", one.values),
                                                                   (1, 3, 64, 64)))
        self.assertEqual(tuple(a.shape), (1, 17, 64))
        self.assertEqual(flat(a), flat(b))
        self.assertEqual(flat(a), flat(c))
        self.assertLess(max_abs_diff(a, g["cs.image_features"].row(1)), TOL)

    def test_threads_share_a_model(self):
        g = gold()
        x = g["input.x64"].row(0).nested()
        results = [None] * 4
        errors = []
        with clipsurgery.Model(MODELS["openai-f32"]) as m:
            self.run_or_skip(m.encode_image, x)

            def work(i):
                try:
                    results[i] = flat(m.encode_image(x))
                except Exception as exc:  # reported below
                    errors.append(exc)
            threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        self.assertEqual(errors, [])
        for r in results:
            self.assertLess(max_abs_diff(r, g["cs.image_features"].row(0)), TOL)

    @needs("cs_image_decode_file", "cs_image_preprocess")
    def test_path_is_decoded_and_preprocessed(self):
        path = os.path.join(FIXTURES, "images", "bench-park.jpg")
        pre = self.run_or_skip(clipsurgery.preprocess, path, 64)
        self.assertEqual(tuple(pre.shape), (3, 64, 64))
        # golden input.x64[0] is bench-park preprocessed to 64: within one intensity level
        level = 1.0 / (255 * 0.26130258)
        self.assertLess(max_abs_diff(pre, gold()["input.x64"].row(0)), level + 1e-6)
        with clipsurgery.Model(MODELS["openai-f32"]) as m:
            a = self.run_or_skip(m.encode_image, path, size=64)
            b = m.encode_image(pre)
        self.assertEqual(tuple(a.shape), (1, 17, 64))
        self.assertEqual(flat(a), flat(b))


@needs("cs_context_create", "cs_encode_texts", "cs_prompt_ensemble", "cs_tokenize_context")
class PrecisionTest(unittest.TestCase):
    """precision= (CS_MODEL_PRECISION_BF16): the golden features within the bf16 tolerance of
    tests/test_precision.c where the library has bf16, else a clean CS_ERR_UNSUPPORTED."""

    def test_bad_precision_is_a_value_error(self):
        with self.assertRaises(ValueError):
            clipsurgery.Model(MODELS["openai-f32"], precision="fp8")

    def test_bf16_golden_or_unsupported(self):
        self.assertIn(clipsurgery.gemm_engine(), ("openblas", "onednn"))
        with clipsurgery.Model(MODELS["openai-f32"]) as m:
            self.assertEqual(m.precision, "f32")
        try:
            m = clipsurgery.Model(MODELS["openai-f32"], precision="bf16")
        except ClipSurgeryError as exc:
            self.assertEqual(exc.name, "CS_ERR_UNSUPPORTED")
            self.assertIn("bf16", exc.message)
            if clipsurgery.gemm_engine() == "openblas":
                self.assertIn("GEMM=onednn", exc.message)
            return
        with m:
            self.assertEqual(clipsurgery.gemm_engine(), "onednn")
            self.assertEqual(m.precision, "bf16")
            g = gold()
            got = m.encode_image(g["input.x64"].nested(), mode="surgery")
            err = max_abs_diff(got, g["cs.image_features"])
            self.assertLess(err, 0.04)  # TOL_BF16_VIT of tests/test_precision.c
            self.assertGreater(err, 0.0)  # it really ran in bf16


class TextFeaturesTest(unittest.TestCase):
    def run_or_skip(self, fn, *args, **kw):
        try:
            return fn(*args, **kw)
        except ClipSurgeryError as exc:
            skip_if_unimplemented(self, exc)

    def test_golden_text_features(self):
        g = gold()
        prompts = manifest()["prompts"]
        for key in sorted(MODELS):
            m = text_model(self, key)
            with self.subTest(model=key):
                ids = self.run_or_skip(m.tokenize, prompts)
                self.assertEqual(tuple(ids.shape), (6, 77))
                self.assertEqual(flat(ids), [int(v) for v in g["text.tokens"].values])
                got = self.run_or_skip(m.encode_text, prompts)
                self.assertEqual(tuple(got.shape), (6, 64))
                self.assertLess(max_abs_diff(got, g["text.features"]), TOL)
                got = self.run_or_skip(m.encode_tokens, g["text.tokens"].nested())
                self.assertLess(max_abs_diff(got, g["text.features"]), TOL)

    def test_golden_ensemble(self):
        g = gold()
        classes = manifest()["classes"]
        for key in sorted(MODELS):
            m = text_model(self, key)
            with self.subTest(model=key):
                got = self.run_or_skip(m.ensemble, classes)
                self.assertEqual(tuple(got.shape), (12, 64))
                self.assertLess(max_abs_diff(got, g["text.ensemble"]), TOL)
                # cached per class name: another order and a repeat give the same rows
                again = m.ensemble(classes[::-1] + ["sky"])
                want = [r for i in range(11, -1, -1) for r in g["text.ensemble"].row(i).values]
                want += g["text.ensemble"].row(classes.index("sky")).values
                self.assertLess(max_abs_diff(again, want), TOL)
                red = self.run_or_skip(m.redundant_feature)
                self.assertLess(max_abs_diff(red, g["text.redundant"]), TOL)

    def test_single_string_and_errors(self):
        m = text_model(self, "openai-f32")
        one = self.run_or_skip(m.encode_text, "a diagram")
        self.assertEqual(tuple(one.shape), (1, 64))
        self.assertLess(max_abs_diff(one, gold()["text.features"].row(1)), TOL)
        with self.assertRaises(ValueError):
            m.encode_text([])
        with self.assertRaises(ClipSurgeryError) as cm:
            m.encode_text(["word " * 100])
        self.assertEqual(cm.exception.name, "CS_ERR_TEXT_TOO_LONG")
        self.assertTrue(cm.exception.message)


@needs("cs_similarity_to_points")
class PointsTest(unittest.TestCase):
    def test_golden_points(self):
        with open(os.path.join(GOLDEN, "points.json")) as f:
            cases = json.load(f)
        for i, c in enumerate(cases):
            with self.subTest(case=i):
                h, w = c["shape_hw"]
                try:
                    pts, labels = clipsurgery.similarity_to_points(
                        c["map"], c["side"], c["side"], w, h, c["t"])
                except ClipSurgeryError as exc:
                    skip_if_unimplemented(self, exc)
                self.assertEqual(pts, [list(p) for p in c["points_xy"]])
                self.assertEqual(labels, list(c["labels"]))


@needs("cs_context_create", "cs_surgery_apply", "cs_prompt_ensemble", "cs_l2_normalize",
       "cs_feature_surgery_label_set", "cs_feature_surgery_empty_text", "cs_similarity",
       "cs_similarity_maps", "cs_redundant_feature")
class PipelineTest(unittest.TestCase):
    def run_or_skip(self, fn, *args, **kw):
        try:
            return fn(*args, **kw)
        except ClipSurgeryError as exc:
            skip_if_unimplemented(self, exc)

    def test_golden_similarities(self):
        g = gold()
        classes = manifest()["classes"]
        for key in sorted(MODELS):
            m = text_model(self, key)
            for b in range(2):
                img = g["input.x64"].row(b).nested()
                for form, name in (("label_set", "surgery.similarity"),
                                   ("empty_text", "surgery.similarity_redundant"),
                                   ("raw", "raw.similarity")):
                    with self.subTest(model=key, image=b, form=form):
                        got = self.run_or_skip(m.similarity, img, classes, form=form)
                        self.assertEqual(tuple(got.shape), (17, 12))
                        self.assertLess(max_abs_diff(got, g[name].row(b)), TOL)
                got = m.similarity(img, classes)  # default: label set for T > 1
                self.assertLess(max_abs_diff(got, g["surgery.similarity"].row(b)), TOL)

    def test_golden_maps(self):
        g = gold()
        classes = manifest()["classes"]
        m = text_model(self, "openai-f32")
        for b in range(2):
            with self.subTest(image=b):
                got = self.run_or_skip(m.similarity_maps, g["input.x64"].row(b).nested(),
                                       classes, out_size=(75, 100))
                self.assertEqual(tuple(got.shape), (75, 100, 12))
                self.assertLess(max_abs_diff(got, g["surgery.map_75x100"].row(b)), TOL)
        m = text_model(self, "hf-f16")
        got = self.run_or_skip(m.similarity_maps, g["input.x96"].nested(), classes,
                               out_size=(300, 451))
        self.assertEqual(tuple(got.shape), (300, 451, 12))
        self.assertLess(max_abs_diff(got, g["surgery96.map_300x451"].row(0)), TOL)

    @needs("cs_image_decode_file", "cs_image_preprocess")
    def test_maps_of_a_photo(self):
        m = text_model(self, "openai-f32")
        path = os.path.join(FIXTURES, "images", "bench-park.jpg")
        maps = self.run_or_skip(m.similarity_maps, path, ["person", "bench", "sky"], size=64)
        self.assertEqual(tuple(maps.shape), (375, 500, 3))  # the photo's own size
        values = flat(maps)
        self.assertTrue(all(0.0 <= v <= 1.0 for v in values))
        # same composition as pixels in, resized to the photo's size
        pre = clipsurgery.preprocess(path, 64)
        again = m.similarity_maps(pre, ["person", "bench", "sky"], out_size=(375, 500))
        self.assertEqual(values, flat(again))
        # a single text uses the empty-text form (never the degenerate label set): it equals
        # the first map of an explicit empty-text run with more texts
        one = m.similarity_maps(path, ["person"], size=64)
        self.assertEqual(tuple(one.shape), (375, 500, 1))
        two = m.similarity_maps(path, ["person", "bench"], size=64, empty_text=True)
        self.assertLess(max_abs_diff(one, flat(two)[0::2]), 1e-6)
        self.assertGreater(max(flat(one)), min(flat(one)))
        self.assertNotEqual(flat(two), flat(m.similarity_maps(path, ["person", "bench"], size=64)))

    @needs("cs_similarity_to_points")
    def test_points_of_an_image(self):
        g = gold()
        m = text_model(self, "openai-f32")
        img = g["input.x64"].row(0).nested()
        texts = ["person", "bench"]
        got = self.run_or_skip(m.points, img, texts, threshold=0.8, out_size=(375, 500))
        self.assertEqual([r["text"] for r in got], texts)
        sim = g["surgery.similarity_redundant"].row(0)  # [17, 12], classes person, bench first
        for t, r in enumerate(got):
            column = [sim.values[(n + 1) * 12 + t] for n in range(16)]
            pts, labels = clipsurgery.similarity_to_points(column, 4, 4, 500, 375, 0.8)
            self.assertEqual(r["points"], pts)
            self.assertEqual(r["labels"], labels)
            self.assertEqual(len(r["points"]), len(r["labels"]))
            for x, y in r["points"]:
                self.assertTrue(0 <= x < 500 and 0 <= y < 375)

    @needs("cs_similarity_to_points_multi")
    def test_points_of_several_targets(self):
        g = gold()
        m = text_model(self, "openai-f32")
        img = g["input.x64"].row(0).nested()
        got = self.run_or_skip(m.points, img, ["person", "bench"], out_size=(375, 500),
                               combined=True)
        self.assertEqual(len(got), 1)
        self.assertEqual(got[0]["text"], "person+bench")
        sim = g["surgery.similarity_redundant"].row(0).values
        cells = [[sim[(n + 1) * 12 + t] for t in range(2)] for n in range(16)]
        pts, labels = clipsurgery.similarity_to_points(cells, 4, 4, 500, 375, 0.8)
        self.assertEqual(got[0]["points"], pts)
        self.assertEqual(got[0]["labels"], labels)
        self.assertIn(0, labels)  # negatives first, from the mean map
        self.assertEqual(labels[0], 0)

    @needs("cs_similarity_to_points_multi")
    def test_points_plus_form_as_the_cli(self):
        """A text holding '+' is the multi-target form, as in the CLI; one encode serves all."""
        g = gold()
        m = text_model(self, "openai-f32")
        img = g["input.x64"].row(0).nested()
        got = self.run_or_skip(m.points, img, ["person", "person+bench", "bench+"],
                               out_size=(375, 500))
        self.assertEqual([r["text"] for r in got], ["person", "person+bench", "bench+"])
        both = m.points(img, ["person", "bench"], out_size=(375, 500), combined=True)[0]
        self.assertEqual(got[1]["points"], both["points"])
        self.assertEqual(got[1]["labels"], both["labels"])
        single = m.points(img, ["bench"], out_size=(375, 500))[0]
        self.assertEqual(got[2]["points"], single["points"])
        self.assertEqual(got[0]["points"], m.points(img, ["person"], out_size=(375, 500))[0]["points"])
        with self.assertRaises(ValueError):
            m.points(img, ["+"])

    @needs("cs_overlay_jet", "cs_png_write")
    def test_heatmaps_write_overlays_as_the_cli(self):
        import subprocess
        import tempfile
        m = text_model(self, "openai-f32")
        img = os.path.join(FIXTURES, "images", "chelsea.png")
        with tempfile.TemporaryDirectory() as tmp:
            paths = m.heatmaps(img, ["cat", "a b", "a_b"], out_dir=os.path.join(tmp, "py"), size=64)
            self.assertEqual([os.path.basename(p) for p in paths],
                             ["chelsea_cat.png", "chelsea_a_b.png", "chelsea_a_b_2.png"])
            for p in paths:  # RGB PNGs at the photo's size (451 x 300)
                with open(p, "rb") as f:
                    head = f.read(26)
                self.assertEqual(head[:8], b"\x89PNG\r\n\x1a\n")
                self.assertEqual(struct.unpack(">II", head[16:24]), (451, 300))
                self.assertEqual(head[25], 2)
            # the maps behind them are the CLI's (its --maps file), to float rounding
            cli = os.path.join(BUILD, "clipsurgery")
            if os.path.exists(cli):
                out = os.path.join(tmp, "m.safetensors")
                subprocess.run([cli, "heatmap", MODELS["openai-f32"], "--vocab", VOCAB, img, "--size",
                                "64", "--out-dir", os.path.join(tmp, "cli"), "--maps", out,
                                "--no-cache", "--", "cat", "a b", "a_b"], check=True,
                               capture_output=True)
                want = read_safetensors(out)["maps"]
                got = m.similarity_maps(img, ["cat", "a b", "a_b"], size=64)
                self.assertLess(max_abs_diff(flat(got), want.values), 1e-5)

    @needs("cs_segment")
    def test_segment(self):
        g = gold()
        classes = manifest()["classes"]
        m = text_model(self, "openai-f32")
        for b in range(2):
            # at the grid's own size the bilinear resize is the identity: per cell, the argmax of
            # the golden label-set similarity
            seg = self.run_or_skip(m.segment, g["input.x64"].row(b).nested(), classes,
                                   out_size=(4, 4))
            self.assertEqual(tuple(seg.shape), (4, 4))
            sim = g["surgery.similarity"].row(b).values
            want = []
            for n in range(1, 17):
                row = sim[n * 12:(n + 1) * 12]
                want.append(row.index(max(row)))
            self.assertEqual([int(v) for v in flat(seg)], want)
            big = m.segment(g["input.x64"].row(b).nested(), classes, out_size=(75, 100))
            self.assertEqual(tuple(big.shape), (75, 100))
            self.assertTrue(all(0 <= int(v) < 12 for v in flat(big)))

    @needs("cs_class_probabilities", "cs_similarity_peaks")
    def test_labels(self):
        g = gold()
        classes = manifest()["classes"]
        for key in sorted(MODELS):
            m = text_model(self, key)
            for b in range(2):
                with self.subTest(model=key, image=b):
                    got = self.run_or_skip(m.labels, g["input.x64"].row(b).nested(), classes)
                    self.assertEqual([r["text"] for r in got], classes)
                    scores = [r["probability"] for r in got]
                    self.assertLess(max_abs_diff(scores, g["raw.cls_probs"].row(b)), TOL)
                    self.assertAlmostEqual(sum(scores), 1.0, places=5)
                    sim = g["surgery.similarity"].row(b).values
                    peaks = [max(sim[n * 12 + t] for n in range(1, 17)) for t in range(12)]
                    self.assertLess(max_abs_diff([r["peak"] for r in got], peaks), TOL)


def main():
    if not os.path.isdir(GOLDEN):
        print("error: fixtures folder %s is missing (set CS_FIXTURES)" % FIXTURES,
              file=sys.stderr)
        return 1
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    result = unittest.TextTestRunner(verbosity=1).run(suite)
    for test, reason in result.skipped:
        print("skipped: %s: %s" % (test.id(), reason))
    for m in _TEXT_MODELS.values():
        m.close()
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
