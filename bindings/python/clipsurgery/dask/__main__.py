"""python3 -m clipsurgery.dask (--scheduler ADDR | --local N) --task TASK --model MODEL
       [--vocab V] [--size S] [--batch-size B] [--threads N] [--no-resume] --out-dir DIR
       IMAGE... [--] TEXT...

Runs TASK (heatmap, maps, points, labels, segment, encode) over the images on a Dask cluster
and writes DIR/manifest.jsonl. Images: existing files (or glob patterns) up to the first
argument that is neither, or up to '--'; the rest are texts. Exit status 0 when every image
succeeded, 1 when any failed, 2 on a usage error."""
import argparse
import os
import sys


def _split(args):
    if "--" in args:
        k = args.index("--")
        return args[:k], args[k + 1:]
    images = []
    for i, a in enumerate(args):
        if os.path.exists(a) or any(c in a for c in "*?["):
            images.append(a)
        else:
            return images, args[i:]
    return images, []


def main(argv=None):
    p = argparse.ArgumentParser(prog="python3 -m clipsurgery.dask",
                                description="libclipsurgery jobs on a Dask cluster")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--scheduler", metavar="ADDR", help="address of a running dask scheduler")
    where.add_argument("--local", metavar="N", type=int,
                       help="start a LocalCluster of N worker processes (one thread each)")
    p.add_argument("--task", required=True,
                   choices=["heatmap", "maps", "points", "labels", "segment", "encode"])
    p.add_argument("--model", required=True)
    p.add_argument("--vocab")
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--threshold", type=float, default=0.8, help="points: threshold (0.8)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--threads", type=int, default=None,
                   help="library threads per worker (default: 1 with --local, else all cores)")
    p.add_argument("--no-resume", action="store_true", help="redo images whose outputs exist")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument("--out-dir", required=True)
    p.add_argument("rest", nargs=argparse.REMAINDER, metavar="IMAGE... [--] TEXT...")
    args = p.parse_args(argv)
    images, texts = _split(args.rest)
    if not images:
        p.error("no IMAGE given (images must exist before the texts)")
    if args.task != "encode" and not texts:
        p.error("task %s needs at least one TEXT" % args.task)
    if args.local is not None and args.local < 1:
        p.error("--local needs at least 1 worker")

    from distributed import Client, LocalCluster
    from . import run

    cluster = None
    threads = args.threads
    if args.local is not None:
        if threads is None:
            threads = 1
        from ._blas import choose_blas_kernels
        choose_blas_kernels()  # the kernels the clipsurgery program would pick, for the workers
        cluster = LocalCluster(n_workers=args.local, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    else:
        client = Client(args.scheduler)
    try:
        records = run(client, args.model, images, texts, task=args.task, out_dir=args.out_dir,
                      batch_size=args.batch_size, vocab=args.vocab, size=args.size,
                      threads=threads or 0, threshold=args.threshold,
                      resume=not args.no_resume, progress=not args.quiet)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    failed = [r for r in records if r["status"] != "ok"]
    for r in failed:
        sys.stderr.write("clipsurgery.dask: %s: %s\n" % (r["image"], r.get("error")))
    sys.stderr.write("clipsurgery.dask: %d images, %d ok, %d failed; manifest %s\n"
                     % (len(records), len(records) - len(failed), len(failed),
                        os.path.join(os.path.abspath(args.out_dir), "manifest.jsonl")))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
