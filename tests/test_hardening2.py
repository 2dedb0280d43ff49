"""Python binding hardening, second round: wrong text types, NUL characters, use after close,
several threads. Runs against build/libclipsurgery.so.0 (like tests/test_python.py)."""
import os
import sys
import tempfile
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "bindings", "python"))
import clipsurgery as cs  # noqa: E402

FIX = os.path.abspath(os.environ.get("CS_FIXTURES") or os.path.join(HERE, "..", "..", "shared", "fixtures"))
MODEL = os.path.join(FIX, "golden", "tiny-openai-f32.safetensors")
VOCAB = os.path.join(FIX, "vocab", "bpe_simple_vocab_16e6.txt.gz")


class TextTypes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.m = cs.Model(MODEL, vocab=VOCAB)

    @classmethod
    def tearDownClass(cls):
        cls.m.close()

    def test_non_text_items_are_type_errors(self):
        # regression: ints went through bytes(n): n NUL bytes, i.e. an empty text (and
        # bytes(10**12) tried to allocate a terabyte)
        for bad in ([1, 2], [10 ** 12], [None], [3.5], [["cat"]]):
            with self.assertRaises(TypeError, msg=repr(bad)):
                self.m.encode_text(bad)

    def test_nul_in_text_is_refused(self):
        # regression: "a\\0b" was cut to "a" at the C boundary without a word
        with self.assertRaises(ValueError):
            self.m.encode_text(["a\0b"])
        with self.assertRaises(ValueError):
            self.m.encode_text([b"a\0b"])

    def test_str_bytes_and_non_ascii(self):
        a = self.m.encode_text(["cat"]).tolist()
        b = self.m.encode_text([b"cat"]).tolist()
        self.assertEqual(a, b)
        self.m.encode_text(["\u732b", "caf\u00e9"])
        with self.assertRaises(UnicodeEncodeError):
            self.m.encode_text(["\ud800"])
        with self.assertRaises(ValueError):
            self.m.encode_text([])


class Threads(unittest.TestCase):
    def test_one_model_from_several_threads(self):
        with cs.Model(MODEL, vocab=VOCAB) as m:
            want = m.encode_text(["a cat", "a dog"]).tolist()
            got, errors = [], []

            def work():
                try:
                    for _ in range(5):
                        got.append(m.encode_text(["a cat", "a dog"]).tolist())
                except Exception as e:  # reported below
                    errors.append(e)

            ts = [threading.Thread(target=work) for _ in range(4)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            self.assertEqual(errors, [])
            self.assertEqual(len(got), 20)
            for g in got:
                self.assertEqual(g, want)


if __name__ == "__main__":
    unittest.main()
