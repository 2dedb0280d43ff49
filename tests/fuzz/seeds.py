#!/usr/bin/env python3
"""Seed inputs for the fuzz targets that are derived from the fixtures (tests/fuzz/run.sh calls
this; the seeds made with the CLI are copied by run.sh itself).

    seeds.py FIXTURES OUT BUNDLE PIXEL_VALUES

FIXTURES: the fixtures folder; OUT: build/fuzz (writes OUT/corpus_<target>/seed_*); BUNDLE: a
bundle written by `clipsurgery convert`; PIXEL_VALUES: a file written by `clipsurgery preprocess`.
Standard library only.
"""
import json
import os
import struct
import sys


def read_st(path, with_data=True):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read() if with_data else b""
    return header, data


def st_bytes(entries, metadata=None):
    """safetensors bytes of [(name, dtype, shape, data)], data section in list order."""
    header, off = {}, 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, data in entries:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [off, off + len(data)]}
        off += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(e[3] for e in entries)


SIZES = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


def shrunk_model(path, limit=24):
    """The first `limit` tensors of a fixture model (names and dtypes) with every dimension 1:
    a small valid file (the whole header would make every run parse kilobytes of JSON)."""
    header, _ = read_st(path, with_data=False)
    entries = []
    for name, t in header.items():
        if name == "__metadata__":
            continue
        if len(entries) == limit:
            break
        shape = [1] * len(t["shape"])
        entries.append((name, t["dtype"], shape, b"\0" * SIZES[t["dtype"]]))
    return st_bytes(entries, header.get("__metadata__"))


def put(out, target, name, data):
    d = os.path.join(out, "corpus_" + target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed_" + name), "wb") as f:
        f.write(data)


def f32_to_f16(values):
    return struct.pack("<%de" % len(values), *values)


def main():
    fx, out, bundle, pixel_values = sys.argv[1:5]
    golden = os.path.join(fx, "golden")

    # --- fuzz_safetensors: small files with the real models' names, the bundle's metadata
    for m in ("tiny-openai-f32", "tiny-hf-f16", "rn-tiny-openai-f16"):
        put(out, "fuzz_safetensors", m, shrunk_model(os.path.join(golden, m + ".safetensors")))
    bh, bdata = read_st(bundle)
    meta = bh["__metadata__"]
    put(out, "fuzz_safetensors", "bundle_metadata",
        st_bytes([("logit_scale", "F32", [1], b"\0\0\0\0"), ("clipsurgery.vocab.merges", "U8", [4], b"a b\n")],
                 meta))
    with open(pixel_values, "rb") as f:
        px = f.read()
    put(out, "fuzz_safetensors", "pixel_values", px)
    put(out, "fuzz_safetensors", "dtypes",
        st_bytes([(d.lower(), d, [2], b"\x01" * (2 * SIZES[d])) for d in SIZES] + [("scalar", "F32", [], b"\0\0\x80\x3f")]))

    # --- fuzz_bundle: METADATA [\0 MODE MERGES] (see fuzz_bundle.c)
    mt = bh["clipsurgery.vocab.merges"]
    b, e = mt["data_offsets"]
    merges = bdata[b:e]
    head = b"".join(merges.splitlines(True)[:64])
    m = json.dumps(meta, separators=(",", ":")).encode()
    put(out, "fuzz_bundle", "metadata", m)
    put(out, "fuzz_bundle", "metadata_merges", m + b"\0\x00" + head)
    put(out, "fuzz_bundle", "merges_first_2d", m + b"\0\x0c" + head)
    put(out, "fuzz_bundle", "merges_f32", m + b"\0\x03" + head)
    gelu = dict(meta, **{"clipsurgery.activation": "gelu", "clipsurgery.layer_norm_eps": "1e-6"})
    put(out, "fuzz_bundle", "gelu", json.dumps(gelu, separators=(",", ":")).encode())
    put(out, "fuzz_bundle", "no_metadata", b"\0\x00" + head)

    # --- fuzz_config: the fixture config.json and variants
    with open(os.path.join(golden, "tiny-hf-config.json"), "rb") as f:
        cfg_text = f.read()
    put(out, "fuzz_config", "tiny-hf-config.json", cfg_text)
    cfg = json.loads(cfg_text)
    for part in ("vision_config", "text_config"):
        cfg[part]["hidden_act"] = "gelu"
        cfg[part]["layer_norm_eps"] = 1e-6
    put(out, "fuzz_config", "gelu.json", json.dumps(cfg).encode())
    put(out, "fuzz_config", "empty.json", b"{}")
    put(out, "fuzz_config", "heads.json",
        b'{"vision_config":{"num_attention_heads":4},"text_config":{"num_attention_heads":8},'
        b'"projection_dim":64}')

    # --- fuzz_tokenizer: prompts, classes, templates, merges text ('M')
    with open(os.path.join(golden, "manifest.json")) as f:
        man = json.load(f)
    texts = man["prompts"] + man["classes"]
    with open(os.path.join(fx, "templates.txt"), encoding="utf-8") as f:
        texts += [line.rstrip("\n") for line in f][:20]
    texts += ["caf\u00e9 \u00e0 la cr\u00e8me &amp; &#x41; &lt;", "\u3053\u3093\u306b\u3061\u306f \U0001F600 x\u0301",
              "it's 3.14 don't  WE'LL\t\n<|startoftext|>hi<|endoftext|>"]
    for i, t in enumerate(texts):
        put(out, "fuzz_tokenizer", "text_%03d" % i, t.encode("utf-8"))
    with open(os.path.join(fx, "vocab", "merges.txt"), "rb") as f:
        merges_txt = b"".join(f.read().splitlines(True)[:200])
    put(out, "fuzz_tokenizer", "merges", b"M" + merges_txt)

    # --- fuzz_pixel_values: the CLI's file, as F16 and BF16, and a batch [2, 3, H, W]
    ph, pdata = read_st(pixel_values)
    t = ph["pixel_values"]
    b, e = t["data_offsets"]
    vals = struct.unpack("<%df" % ((e - b) // 4), pdata[b:e])
    shape = t["shape"]
    put(out, "fuzz_pixel_values", "f32", px)
    put(out, "fuzz_pixel_values", "f16", st_bytes([("pixel_values", "F16", shape, f32_to_f16(vals))]))
    bf16 = b"".join(struct.pack("<f", v)[2:] for v in vals)
    put(out, "fuzz_pixel_values", "bf16", st_bytes([("pixel_values", "BF16", shape, bf16)]))
    put(out, "fuzz_pixel_values", "batch",
        st_bytes([("pixel_values", "F32", [2] + shape, pdata[b:e] * 2)], {"format": "pt"}))

    # --- fuzz_resnet: the visual.* tensors of the ResNet fixture as their own file
    rh, rdata = read_st(os.path.join(golden, "rn-tiny-openai-f16.safetensors"))
    vis = [(n, t) for n, t in rh.items() if n.startswith("visual.")]
    vis.sort(key=lambda nt: nt[1]["data_offsets"][0])
    put(out, "fuzz_resnet", "rn-tiny-visual",
        st_bytes([(n, t["dtype"], t["shape"], rdata[t["data_offsets"][0]:t["data_offsets"][1]])
                  for n, t in vis]))

    # --- fuzz_model_memory: whole fixture models and the bundle, as a caller buffer
    for m in ("tiny-openai-f32", "tiny-hf-f16"):
        with open(os.path.join(golden, m + ".safetensors"), "rb") as f:
            put(out, "fuzz_model_memory", m, f.read())
    with open(bundle, "rb") as f:
        put(out, "fuzz_model_memory", "bundle", f.read())
    put(out, "fuzz_model_memory", "shrunk", shrunk_model(os.path.join(golden, "tiny-openai-f32.safetensors")))

    # --- fuzz_maps: small maps tensors as heatmap --maps writes them
    ramp = [i / 47.0 for i in range(48)]
    put(out, "fuzz_maps", "ramp_hwt", st_bytes([("maps", "F32", [4, 6, 2], struct.pack("<48f", *ramp))],
                                                {"clipsurgery.texts": '["cat","dog"]'}))
    put(out, "fuzz_maps", "ramp_bhwt_f16", st_bytes([("maps", "F16", [1, 4, 6, 2], f32_to_f16(ramp))]))
    put(out, "fuzz_maps", "constant", st_bytes([("maps", "F32", [3, 3, 1], struct.pack("<9f", *([0.5] * 9)))]))
    put(out, "fuzz_maps", "pixel", st_bytes([("maps", "F32", [1, 1, 1], struct.pack("<f", 1.0))]))

    # --- fuzz_ftfy: 0x00 (arbitrary-bytes mode) + mojibake texts
    with open(os.path.join(golden, "tokenizer_mojibake.json"), encoding="utf-8") as f:
        moji = json.load(f)
    for i, c in enumerate(moji[::25]):
        put(out, "fuzz_ftfy", "m%03d" % i, b"\0" + c["text"].encode("utf-8"))

    # --- fuzz_voc_dataset: classes.txt + \0 + labels.tsv, and a split list
    voc = os.path.join(fx, "eval", "voc-tiny")
    with open(os.path.join(voc, "classes.txt"), "rb") as f:
        classes = f.read()
    with open(os.path.join(voc, "labels.tsv"), "rb") as f:
        labels = f.read()
    put(out, "fuzz_voc_dataset", "classes_labels", classes + b"\0" + labels)
    with open(os.path.join(voc, "ImageSets", "Segmentation", "val.txt"), "rb") as f:
        put(out, "fuzz_voc_dataset", "val", f.read())

    # --- fuzz_label_png: the ground-truth masks and predicted maps
    for sub in (os.path.join(voc, "SegmentationClass"),):
        for n in sorted(os.listdir(sub)):
            if n.endswith(".png"):
                with open(os.path.join(sub, n), "rb") as f:
                    put(out, "fuzz_label_png", n, f.read())


if __name__ == "__main__":
    main()
