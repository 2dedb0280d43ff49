"""clipsurgery.dask: the CLI's main jobs over many images on a Dask cluster (docs/scale-out.md).

    from distributed import Client, LocalCluster
    from clipsurgery.dask import run
    with Client(LocalCluster(n_workers=2, threads_per_worker=1)) as client:
        records = run(client, "model.safetensors", "photos/*.jpg", ["person", "bench"],
                      task="heatmap", out_dir="out")

Tasks carry paths (the images and the model must be readable by every worker: shared storage);
each worker process loads the model once, the prompt ensembles are computed once per job, and
workers write every output atomically under the single-process CLI's names (see
_work.output_names). The client writes out_dir/manifest.jsonl: one object per image, in input
order: "image", "status" ("ok" or "error"), "outputs" (paths) or "error", and for labels, points
and segment the "results" the CLI prints. A rerun skips images whose outputs all exist; a corrupt
image is an error record; tasks of a worker that dies are run again elsewhere by Dask.
"""
import glob
import json
import os
import sys
import time

try:
    import distributed
except ImportError as exc:  # pragma: no cover - depends on the machine
    raise ImportError("clipsurgery.dask needs Dask's distributed scheduler (pip install "
                      "'dask[distributed]', or Debian: apt-get install python3-dask "
                      "python3-distributed): %s" % exc)

from ._blas import choose_blas_kernels  # noqa: F401
from ._work import (TASKS, compute_ensembles, output_names, read_results, run_batch,  # noqa: F401
                    unique_stems, write_atomic)

__all__ = ["run", "expand_images", "TASKS", "output_names", "choose_blas_kernels"]

_GLOB_CHARS = "*?["


def expand_images(images):
    """A path, a glob pattern or a list of them -> the list of image paths (patterns sorted)."""
    if isinstance(images, (str, bytes, os.PathLike)):
        images = [images]
    out = []
    for p in images:
        p = os.fsdecode(p)
        if not os.path.exists(p) and any(c in p for c in _GLOB_CHARS):
            out.extend(sorted(glob.glob(p)))
        else:
            out.append(p)
    return out


def _complete(paths):
    return all(os.path.isfile(p) for p in paths)


class _Progress(object):
    """A counted progress line on stderr ("clipsurgery.dask: [k/n] images, x images/s")."""

    def __init__(self, total, stream):
        self.total, self.done, self.stream, self.t0 = total, 0, stream, time.time()

    def add(self, n):
        self.done += n
        if self.stream is None:
            return
        dt = time.time() - self.t0
        self.stream.write("clipsurgery.dask: [%d/%d] images, %.2f images/s\n"
                          % (self.done, self.total, self.done / dt if dt > 0 else 0.0))
        self.stream.flush()


def run(client, model_path, images, texts=(), task="heatmap", out_dir=".", batch_size=8,
        vocab=None, size=224, threads=0, threshold=0.8, resume=True, retries=2, progress=True,
        manifest="manifest.jsonl"):
    """Runs `task` (heatmap, maps, points, labels, segment or encode) on every image with the
    workers of the distributed.Client `client`; returns the manifest records (input order) and
    writes them to out_dir/manifest.jsonl.

    model_path, vocab, images: paths every worker can read (absolute paths are recorded as
    given). texts: the class names (not needed for encode). size: encoder input size. threads:
    the library's own threads per worker thread (0 = all cores; with several worker processes
    per host, 1 and OMP_NUM_THREADS=1 avoid oversubscription). batch_size: images per Dask
    task. resume: skip images whose outputs all exist. retries: Dask retries of a task that
    raised (a worker that dies is handled by the scheduler itself). progress: Dask's progress
    bar on a terminal, else a counted line on stderr (False: silent)."""
    if task not in TASKS:
        raise ValueError("task must be one of %s, not %r" % (", ".join(TASKS), task))
    texts = [t if isinstance(t, str) else os.fsdecode(t) for t in
             ([texts] if isinstance(texts, (str, bytes)) else texts)]
    if task != "encode" and not texts:
        raise ValueError("task %s needs at least one text" % task)
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    paths = expand_images(images)
    if not paths:
        raise ValueError("no images (an empty list, or a pattern that matched nothing)")
    out_dir = os.path.abspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    job = {"model": os.path.abspath(model_path), "vocab": vocab and os.path.abspath(vocab),
           "size": int(size), "task": task, "texts": texts, "out_dir": out_dir,
           "threads": int(threads), "threshold": float(threshold)}
    stems = unique_stems(paths)
    records = [None] * len(paths)
    todo = []
    for i, (p, stem) in enumerate(zip(paths, stems)):
        outs = [os.path.join(out_dir, n) for n in output_names(task, stem, texts)]
        if resume and _complete(outs):
            rec = {"image": p, "status": "ok", "outputs": outs, "skipped": True}
            try:
                results = read_results(task, outs)
            except (OSError, ValueError):
                results = None
                todo.append(i)  # unreadable: do it again
                continue
            if results is not None:
                rec["results"] = results
            if task == "segment":
                todo.append(i)  # the legend is not stored: recompute (cheap next to a miss)
                continue
            records[i] = rec
        else:
            todo.append(i)

    stream = sys.stderr if progress else None
    meter = _Progress(len(paths), stream)
    meter.done = len(paths) - len(todo)
    if todo:
        prepared = client.submit(compute_ensembles, job, pure=False, retries=retries)
        batches = [todo[k:k + batch_size] for k in range(0, len(todo), batch_size)]
        futures = {}
        for b in batches:
            items = [(paths[i], stems[i]) for i in b]
            f = client.submit(run_batch, job, items, prepared, pure=False, retries=retries)
            futures[f] = b
        if progress and stream is not None and stream.isatty():
            try:
                distributed.progress(list(futures))
                stream = None
                meter.stream = None
            except Exception:
                pass
        for f in distributed.as_completed(list(futures)):
            b = futures[f]
            try:
                recs = f.result()
            except Exception as exc:  # every retry failed (e.g. KilledWorker)
                recs = [{"image": paths[i], "status": "error",
                         "error": "task failed: %s: %s" % (type(exc).__name__, exc)} for i in b]
            for i, rec in zip(b, recs):
                records[i] = rec
            meter.add(len(b))
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    if manifest:
        write_atomic(os.path.join(out_dir, manifest), text.encode("utf-8"))
    return records
