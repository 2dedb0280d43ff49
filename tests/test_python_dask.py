#!/usr/bin/env python3
"""clipsurgery.dask on a LocalCluster of 2 worker processes over the fixture photos: outputs
byte for byte equal to the single-process CLI's (build/clipsurgery), manifest records, resume,
a corrupt image, and a worker killed mid-run. Tiny fixture model at --size 64.

Environment as tests/test_python.py (BUILD, CS_FIXTURES; CLIPSURGERY_NO_NUMPY=1 hides numpy
from the binding). Skipped when Dask's distributed is not importable."""
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.abspath(os.path.join(ROOT, os.environ.get("BUILD", "build")))
FIXTURES = os.path.abspath(os.environ.get("CS_FIXTURES") or os.path.join(ROOT, "..", "shared",
                                                                          "fixtures"))
MODEL = os.path.join(FIXTURES, "golden", "tiny-openai-f32.safetensors")
VOCAB = os.path.join(FIXTURES, "vocab", "bpe_simple_vocab_16e6.txt.gz")
CLI = os.path.join(BUILD, "clipsurgery")
SIZE = 64
os.environ.setdefault("CLIPSURGERY_LIBRARY", os.path.join(BUILD, "libclipsurgery.so.0"))
os.environ["OPENBLAS_NUM_THREADS"] = "1"  # two one-thread workers on 2 cores
os.environ["OMP_NUM_THREADS"] = "1"  # (OpenBLAS's OpenMP build, the default, reads this one)
PYPATH = os.path.join(ROOT, "bindings", "python")
sys.path.insert(0, PYPATH)
os.environ["PYTHONPATH"] = PYPATH + (os.pathsep + os.environ["PYTHONPATH"]
                                     if os.environ.get("PYTHONPATH") else "")

try:
    import distributed
    from distributed import Client, LocalCluster
    import clipsurgery.dask as csd
except ImportError as exc:  # pragma: no cover
    distributed = None
    IMPORT_ERROR = exc

PHOTOS = sorted(glob.glob(os.path.join(FIXTURES, "images", "*")))
TEXTS = ["person", "bench"]


def cli(*args):
    r = subprocess.run([CLI] + list(args) + ["--no-cache"] if "--" not in args else
                       [CLI] + list(args[:args.index("--")]) + ["--no-cache"] +
                       list(args[args.index("--"):]),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise AssertionError("clipsurgery %s failed: %s" % (" ".join(args), r.stderr.decode()))
    return r.stdout


def read(path):
    with open(path, "rb") as f:
        return f.read()


def manifest(out_dir):
    with open(os.path.join(out_dir, "manifest.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@unittest.skipIf(distributed is None, "Dask's distributed is not importable: %s"
                 % (None if distributed else IMPORT_ERROR))
class DaskTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        csd.choose_blas_kernels()  # the CLI's OpenBLAS kernels for the workers (same bytes)
        cls.tmp = tempfile.mkdtemp(prefix="cs-dask-")
        cls.cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                   dashboard_address=None)
        cls.client = Client(cls.cluster)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.cluster.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def run_task(self, task, texts, out, images=None, **kw):
        return csd.run(self.client, MODEL, images or PHOTOS, texts, task=task, out_dir=out,
                       vocab=VOCAB, size=SIZE, threads=1, batch_size=kw.pop("batch_size", 3),
                       progress=False, **kw)

    def assert_all_ok(self, records, n):
        self.assertEqual(len(records), n)
        for r in records:
            self.assertEqual(r["status"], "ok", r)

    def test_heatmap_equals_cli_and_resumes(self):
        out = os.path.join(self.tmp, "heatmap")
        ref = os.path.join(self.tmp, "heatmap-cli")
        records = self.run_task("heatmap", TEXTS, out)
        self.assert_all_ok(records, len(PHOTOS))
        self.assertEqual(records, manifest(out))
        cli("heatmap", MODEL, *PHOTOS, "--vocab", VOCAB, "--size", str(SIZE), "--out-dir", ref,
            "--", *TEXTS)
        names = sorted(os.listdir(ref))
        self.assertEqual(len(names), len(PHOTOS) * len(TEXTS))
        for n in names:
            self.assertEqual(read(os.path.join(out, n)), read(os.path.join(ref, n)), n)
        self.assertEqual(sorted(p for r in records for p in r["outputs"]),
                         sorted(os.path.join(out, n) for n in names))
        # resume: nothing recomputed; then one output removed -> only that image again
        stamp = {n: os.stat(os.path.join(out, n)).st_mtime_ns for n in names}
        again = self.run_task("heatmap", TEXTS, out)
        self.assertTrue(all(r.get("skipped") for r in again), again)
        gone = os.path.join(out, names[0])
        os.remove(gone)
        third = self.run_task("heatmap", TEXTS, out)
        redone = [r["image"] for r in third if not r.get("skipped")]
        self.assertEqual(len(redone), 1)
        self.assertIn(gone, next(r for r in third if not r.get("skipped"))["outputs"])
        self.assertEqual(read(gone), read(os.path.join(ref, names[0])))
        first = os.path.basename(third[0]["image"]).rsplit(".", 1)[0] + "_"
        self.assertTrue(names[0].startswith(first))  # PHOTOS and names are both sorted
        for n in names:
            if not n.startswith(first):  # other images' outputs untouched
                self.assertEqual(os.stat(os.path.join(out, n)).st_mtime_ns, stamp[n], n)
        self.assertEqual([f for f in os.listdir(out) if ".tmp." in f], [])

    def test_maps_and_encode_equal_cli(self):
        images = PHOTOS[:4]
        out = os.path.join(self.tmp, "maps")
        ref = os.path.join(self.tmp, "maps-cli")
        self.assert_all_ok(self.run_task("maps", TEXTS, out, images), len(images))
        enc = os.path.join(self.tmp, "encode")
        self.assert_all_ok(self.run_task("encode", [], enc, images), len(images))
        for p in images:
            stem = os.path.splitext(os.path.basename(p))[0]
            name = stem + ".maps.safetensors"
            cli("heatmap", MODEL, p, "--vocab", VOCAB, "--size", str(SIZE), "--out-dir", ref,
                "--maps", os.path.join(ref, name), "--", *TEXTS)
            self.assertEqual(read(os.path.join(out, name)), read(os.path.join(ref, name)), name)
            name = stem + ".features.safetensors"
            subprocess.run([CLI, "encode-image", MODEL, p, "--size", str(SIZE), "--out",
                            os.path.join(ref, name)], check=True, stdout=subprocess.PIPE)
            self.assertEqual(read(os.path.join(enc, name)), read(os.path.join(ref, name)), name)

    def test_points_labels_segment_equal_cli(self):
        for task, texts in (("points", ["person", "bench", "person+bench"]),
                            ("labels", ["person", "bench", "sky"])):
            out = os.path.join(self.tmp, task)
            records = self.run_task(task, texts, out, PHOTOS[:5])
            self.assert_all_ok(records, 5)
            lines = cli(task, MODEL, *PHOTOS[:5], "--vocab", VOCAB, "--size", str(SIZE), "--",
                        *texts).decode().splitlines()
            self.assertEqual(len(lines), 5)
            for r, line in zip(records, lines):
                want = json.loads(line)
                self.assertEqual(r["image"], want["image"])
                self.assertEqual(r["results"], want["results"], task)
            for p in PHOTOS[:2]:  # the file holds what the CLI prints for that image alone
                stem = os.path.splitext(os.path.basename(p))[0]
                alone = cli(task, MODEL, p, "--vocab", VOCAB, "--size", str(SIZE), "--", *texts)
                self.assertEqual(read(os.path.join(out, "%s.%s.json" % (stem, task))), alone)
        out = os.path.join(self.tmp, "segment")
        ref = os.path.join(self.tmp, "segment-cli")
        texts = ["person", "bench", "sky", "tree"]
        records = self.run_task("segment", texts, out)
        self.assert_all_ok(records, len(PHOTOS))
        lines = cli("segment", MODEL, *PHOTOS, "--vocab", VOCAB, "--size", str(SIZE), "--out",
                    os.path.join(ref, "segment.png"), "--", *texts).decode().splitlines()
        for r, line in zip(records, lines):
            want = json.loads(line)
            name = os.path.basename(want["mask"])
            self.assertEqual([os.path.basename(p) for p in r["outputs"]], [name])
            self.assertEqual(read(r["outputs"][0]), read(want["mask"]), name)
            self.assertEqual(r["results"], want["labels"])

    def test_cli_module_corrupt_image_is_an_error_record(self):
        bad = os.path.join(self.tmp, "broken.png")
        with open(bad, "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n" + b"\0garbage" * 20)
        out = os.path.join(self.tmp, "corrupt")
        args = [sys.executable, "-m", "clipsurgery.dask", "--scheduler",
                self.cluster.scheduler_address, "--task", "labels", "--model", MODEL,
                "--vocab", VOCAB, "--size", str(SIZE), "--threads", "1", "--quiet",
                "--out-dir", out, PHOTOS[0], bad, PHOTOS[1], "--", "person", "bench"]
        r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.assertEqual(r.returncode, 1, r.stderr.decode())
        recs = manifest(out)
        self.assertEqual([x["status"] for x in recs], ["ok", "error", "ok"])
        self.assertEqual(recs[1]["image"], bad)
        self.assertIn("cs_image_decode_file", recs[1]["error"])
        self.assertNotIn("outputs", recs[1])
        self.assertIn("broken.png", r.stderr.decode())
        # all good -> exit 0 (and the two finished images are skipped)
        args2 = [a for a in args if a != bad]
        r = subprocess.run(args2, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertTrue(all(x.get("skipped") for x in manifest(out)))

    def test_killed_worker_loses_nothing(self):
        images = PHOTOS * 2  # 16 inputs (stems made unique as the CLI does: x, x_2)
        out = os.path.join(self.tmp, "killed")
        ref = os.path.join(self.tmp, "killed-cli")
        done = {}

        def go():
            done["records"] = self.run_task("heatmap", TEXTS, out, images, batch_size=1)

        pids = list(self.client.run(os.getpid).values())
        self.assertEqual(len(pids), 2)
        t = threading.Thread(target=go)
        t.start()
        deadline = time.time() + 60
        while time.time() < deadline and not (os.path.isdir(out) and
                                              any(f.endswith(".png") for f in os.listdir(out))):
            time.sleep(0.01)
        n_before = len([f for f in os.listdir(out) if f.endswith(".png")])
        os.kill(pids[0], signal.SIGKILL)
        t.join(240)
        self.assertFalse(t.is_alive())
        self.assertLess(n_before, len(images) * len(TEXTS), "the run ended before the kill")
        records = done["records"]
        self.assert_all_ok(records, len(images))
        cli("heatmap", MODEL, *images, "--vocab", VOCAB, "--size", str(SIZE), "--out-dir", ref,
            "--", *TEXTS)
        names = sorted(os.listdir(ref))
        self.assertEqual(len(names), len(images) * len(TEXTS))
        for n in names:
            self.assertEqual(read(os.path.join(out, n)), read(os.path.join(ref, n)), n)
        sys.stderr.write("dask: killed worker %d after %d of %d overlays; all redone\n"
                         % (pids[0], n_before, len(names)))


if __name__ == "__main__":
    unittest.main()
