#!/usr/bin/env python3
"""ctypes releases the GIL around library calls: two threads sharing one Model run in parallel
and give the single thread's results bit for bit. Environment as tests/test_python.py (BUILD,
CS_FIXTURES; CLIPSURGERY_NO_NUMPY=1 hides numpy)."""
import os
import sys
import threading
import time
import unittest

# one thread per call inside the library and OpenBLAS, so that two Python threads are the only
# parallelism (set before the library loads OpenBLAS; the OpenMP build reads OMP_NUM_THREADS)
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.abspath(os.path.join(ROOT, os.environ.get("BUILD", "build")))
FIXTURES = os.path.abspath(os.environ.get("CS_FIXTURES") or os.path.join(ROOT, "..", "shared",
                                                                          "fixtures"))
MODEL = os.path.join(FIXTURES, "golden", "tiny-openai-f32.safetensors")
os.environ.setdefault("CLIPSURGERY_LIBRARY", os.path.join(BUILD, "libclipsurgery.so.0"))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))

import clipsurgery  # noqa: E402


def n_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def flat(x):
    return list(x.reshape(-1)) if hasattr(x, "reshape") else list(x.data)


class GilTest(unittest.TestCase):
    SIZE = 224  # 14 x 14 patches of the tiny model: enough work per call to time

    @classmethod
    def setUpClass(cls):
        cls.model = clipsurgery.Model(MODEL, threads=1)
        cls.pixels = clipsurgery.preprocess(os.path.join(FIXTURES, "images", "bench-park.jpg"),
                                            cls.SIZE)

    @classmethod
    def tearDownClass(cls):
        cls.model.close()

    def work(self, n, out, spans=None):
        for _ in range(n):
            t0 = time.perf_counter()
            r = self.model.encode_image(self.pixels)
            if spans is not None:
                spans.append((t0, time.perf_counter()))
            out.append(flat(r))

    def timed_single(self, n):
        out = []
        t0 = time.perf_counter()
        self.work(n, out)
        return time.perf_counter() - t0, out

    def timed_pair(self, n, spans=None):
        outs = [[], []]
        spans = spans if spans is not None else [[], []]
        threads = [threading.Thread(target=self.work, args=(n, o, s)) for o, s in zip(outs, spans)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return time.perf_counter() - t0, outs

    def test_calls_overlap_in_time(self):
        """Load-independent proof: were the GIL held inside a C call, no call of the other
        thread could start or end during it, and the two threads' call spans would be disjoint."""
        spans = [[], []]
        self.timed_pair(4, spans)
        overlap = 0.0
        for a0, a1 in spans[0]:
            for b0, b1 in spans[1]:
                overlap += max(0.0, min(a1, b1) - max(a0, b0))
        busy = sum(b - a for a, b in spans[0])
        sys.stderr.write("GIL: the threads' calls overlapped for %.0f%% of thread 1's call time\n"
                         % (100 * overlap / busy))
        self.assertGreater(overlap, 0.25 * busy)

    def test_two_threads_one_model_identical_results(self):
        _, ref = self.timed_single(1)
        _, outs = self.timed_pair(3)
        for o in outs:
            self.assertEqual(len(o), 3)
            for r in o:
                self.assertEqual(r, ref[0])  # bit for bit

    def test_two_threads_run_in_parallel(self):
        if n_cores() < 2:
            self.skipTest("needs 2 cores (this process may use %d)" % n_cores())
        self.model.encode_image(self.pixels)  # both threads' contexts warm below
        n = 1
        while True:  # enough calls for ~0.5 s in one thread
            t1, _ = self.timed_single(n)
            if t1 > 0.5 or n >= 256:
                break
            n *= 2
        # the cores are shared with other jobs: best of up to 5 rounds against 2 x t1 less a 5%
        # margin (serialised threads take 2 x t1, parallel ones ~t1 on an idle machine; the
        # overlap test above is the load-independent check)
        ratios = []
        for _ in range(5):
            t1, _ = self.timed_single(n)
            t2, _ = self.timed_pair(n)
            ratios.append(t2 / t1)
            if t2 / t1 < 1.6:
                break
        sys.stderr.write("GIL: %d calls: one thread %.3f s, two threads %.3f s (ratios %s)\n"
                         % (n, t1, t2, ", ".join("%.2f" % r for r in ratios)))
        load = os.getloadavg()[0]
        if min(ratios) >= 1.9 and load > n_cores():
            self.skipTest("machine busy (load average %.1f on %d cores): two threads took %.2f x "
                          "one thread's time; timing not conclusive (the overlap test still "
                          "ran)" % (load, n_cores(), min(ratios)))
        self.assertLess(min(ratios), 1.9, "two threads took %.2f x one thread's time: calls "
                        "are serialised (GIL held or context lock)" % min(ratios))


class Bf16SharedModelTest(unittest.TestCase):
    """bf16 precision (oneDNN build, a CPU with AVX512_BF16 or AMX): two Python threads sharing
    one Model whose contexts run the attention heads side by side (threads=2: each OpenMP thread
    of a context on its own oneDNN engine state, core/heads.c) give the single thread's bits,
    for images (196 patches, v-v and q-k attention) and texts (causal attention; an empty prompt
    and a long one). Skipped where bf16 is unsupported."""

    @classmethod
    def setUpClass(cls):
        try:
            cls.model = clipsurgery.Model(MODEL, vocab=os.path.join(FIXTURES, "vocab"),
                                          threads=2, precision="bf16")
        except clipsurgery.ClipSurgeryError as exc:
            if exc.name != "CS_ERR_UNSUPPORTED":
                raise
            raise unittest.SkipTest("bf16 unsupported here: %s" % exc)
        cls.pixels = clipsurgery.preprocess(os.path.join(FIXTURES, "images", "bench-park.jpg"),
                                            224)
        cls.texts = ["", "a photo of a bench in a park.", " ".join(["word"] * 70)]

    @classmethod
    def tearDownClass(cls):
        cls.model.close()

    def once(self):
        return (flat(self.model.encode_image(self.pixels)),
                flat(self.model.encode_text(self.texts)))

    def test_two_threads_bf16_identical_results(self):
        ref = self.once()
        outs, errors = [[], []], []

        def work(out):
            try:
                for _ in range(3):
                    out.append(self.once())
            except Exception as exc:  # reported below, not lost in the thread
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(o,)) for o in outs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        for o in outs:
            self.assertEqual(len(o), 3)
            for r in o:
                self.assertEqual(r, ref)  # bit for bit


if __name__ == "__main__":
    unittest.main()
