#!/usr/bin/env python3
"""make bench's last step: reads the JSON lines of one `make bench` run (bench/run.sh for each
engine, then bench/ort/run.sh) and prints, for every ViT surgery encode line (engine, precision,
size), its time against ONNX Runtime's in the same run ("ratio_to_onnxruntime": our best_s / ORT
best_s; below 1.0 is faster), and ORT's own GFLOP/s and efficiency against the in-run f32 roof.
One JSON object per line; prints nothing when ORT was skipped.

    python3 bench/compare.py RUN.jsonl
"""
import json
import sys


def lines(path):
    with open(path) as f:
        for raw in f:
            raw = raw.strip()
            if not raw.startswith("{"):
                continue
            try:
                yield json.loads(raw)
            except ValueError:
                continue


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: compare.py RUN.jsonl\n")
        return 2
    ort, ours, roof = {}, [], {}
    for d in lines(argv[1]):
        if d.get("bench") == "gemm_roof_summary":
            roof[(d.get("engine"), d.get("precision"))] = d.get("roof_gflops")
        if d.get("bench") == "ort_encode_image" and not d.get("skipped"):
            ort[d["size"]] = d
        elif (d.get("bench") == "encode_image" and d.get("backbone") == "vit" and
              d.get("mode") == "surgery"):
            ours.append(d)
    # ORT's own GFLOP/s (the official computation's FLOPs, export_onnx.py) against the f32 roof
    # of the default engine measured in the same run
    r32 = roof.get(("openblas", "f32")) or roof.get(("onednn", "f32"))
    for size in sorted(ort):
        o = ort[size]
        if o.get("gflops") and r32:
            print(json.dumps({"bench": "onnxruntime_efficiency", "size": size,
                              "gflop": o["gflop"], "gflops": o["gflops"], "roof_gflops": r32,
                              "efficiency": round(o["gflops"] / r32, 3)}))
    for d in ours:
        o = ort.get(d["size"])
        if not o:
            continue
        print(json.dumps({
            "bench": "vs_onnxruntime", "engine": d["engine"], "precision": d["precision"],
            "size": d["size"], "best_s": d["best_s"], "onnxruntime_best_s": o["best_s"],
            "ratio_to_onnxruntime": round(d["best_s"] / o["best_s"], 3),
            "onnxruntime_version": o.get("version", "")}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
