"""What a Dask worker runs: one model per worker process (cached), prompt ensembles handed in
once per job, one batch of image paths per task, every output written atomically under the
single-process CLI's names. Needs no Dask itself (tests call it directly too)."""
import array
import ctypes
import json
import os
import struct
import threading
import uuid

from .. import _lib as L
from .._model import ClipSurgeryError, Model, _call, _Decoded, _fn
from .._array import float_pointer, zeros

TASKS = ("heatmap", "maps", "points", "labels", "segment", "encode")
SURGERY_BLOCKS = 6  # cs_surgery_params_default, as the CLI's --surgery-blocks default

_MODELS = {}  # (model path, vocab, threads) -> Model: one per worker process
_MODELS_LOCK = threading.Lock()


def worker_model(model_path, vocab=None, threads=0):
    """This process's Model for (model_path, vocab, threads), loaded (memory-mapped) on first use
    and shared by the worker's threads."""
    key = (os.path.abspath(model_path), vocab and os.path.abspath(vocab), int(threads))
    with _MODELS_LOCK:
        m = _MODELS.get(key)
        if m is None:
            m = _MODELS[key] = Model(model_path, vocab=vocab, threads=threads)
        return m


# --- names ----------------------------------------------------------------------------------
def stem_of(path):
    """The CLI's stem: the file name without folder and last extension (a leading dot stays)."""
    base = os.fsdecode(path).rsplit("/", 1)[-1]
    dot = base.rfind(".")
    return base[:dot] if dot > 0 else base


def unique_stems(paths):
    """Stems made unique in order, as the CLI does within one run (_2, _3, ... on repeats)."""
    used, out = set(), []
    for p in paths:
        s = stem_of(p)
        if s in used:
            k = 2
            while "%s_%d" % (s, k) in used:
                k += 1
            s = "%s_%d" % (s, k)
        used.add(s)
        out.append(s)
    return out


def text_names(texts):
    """The CLI heatmap's file-name part of each text ('/', '\\', ' ', controls -> '_', at most
    199 bytes, "" -> "empty", "_<index>" when an earlier text took the name)."""
    names = []
    for t, text in enumerate(texts):
        raw = text.encode("utf-8")[:199]
        safe = bytes(0x5F if (c in b"/ \\" or c < 0x20) else c for c in raw)
        name = safe.decode("utf-8", "surrogateescape") or "empty"
        if name in names:
            name = "%s_%d" % (name, t)
        names.append(name)
    return names


def output_names(task, stem, texts):
    """Output file names (in out_dir) of one image, equal to the single-process CLI's:
    heatmap  <stem>_<text>.png per text          (clipsurgery heatmap --out-dir DIR)
    maps     <stem>.maps.safetensors             (heatmap --maps DIR/<stem>.maps.safetensors)
    points   <stem>.points.json                  (stdout of clipsurgery points, one image)
    labels   <stem>.labels.json                  (stdout of clipsurgery labels, one image)
    segment  segment_<stem>.png                  (segment --out DIR/segment.png, several images)
    encode   <stem>.features.safetensors         (encode-image --out DIR/<stem>.features.safetensors)"""
    if task == "heatmap":
        return ["%s_%s.png" % (stem, n) for n in text_names(texts)]
    if task == "maps":
        return [stem + ".maps.safetensors"]
    if task in ("points", "labels"):
        return ["%s.%s.json" % (stem, task)]
    if task == "segment":
        return ["segment_%s.png" % stem]
    if task == "encode":
        return [stem + ".features.safetensors"]
    raise ValueError("task must be one of %s, not %r" % (", ".join(TASKS), task))


# --- atomic writes --------------------------------------------------------------------------
def _tmp_path(path):
    d, b = os.path.split(path)
    return os.path.join(d, ".%s.tmp.%d.%s" % (b, os.getpid(), uuid.uuid4().hex[:8]))


def write_atomic(path, data):
    tmp = _tmp_path(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _png_atomic(path, pixels, w, h, stride, channels, palette=None, n_palette=0):
    tmp = _tmp_path(path)
    try:
        _call("cs_png_write", os.fsencode(tmp), pixels, w, h, stride, channels, palette, n_palette)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


# --- file formats as the CLI writes them ------------------------------------------------------
def json_string(s):
    """cli_json_string: \\" \\\\ \\n \\r \\t, other controls \\u00xx, UTF-8 kept."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif o < 0x20:
            out.append("\\u%04x" % o)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def json_number(v):
    """cli_json_number: %.6g, null when not finite; and the value JSON readers get from it."""
    v = float(v)
    if v != v or v in (float("inf"), float("-inf")):
        return "null", None
    text = "%.6g" % v
    return text, json.loads(text)


def safetensors_bytes(entries, metadata):
    """cs_st_write's layout: compact JSON header (metadata first, then the tensors in order),
    padded with spaces to 8 bytes. entries: (name, shape, float32 bytes)."""
    header = {}
    if metadata:
        header["__metadata__"] = dict(metadata)
    offset = 0
    for name, shape, data in entries:
        header[name] = {"dtype": "F32", "shape": list(shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    padded = (len(text) + 7) & ~7
    parts = [struct.pack("<Q", padded), text, b" " * (padded - len(text))]
    parts.extend(data for _, _, data in entries)
    return b"".join(parts)


def _f32_bytes(x):
    """Little-endian float32 bytes of a numpy array, Array or array.array."""
    if hasattr(x, "data") and isinstance(x.data, array.array):
        a = x.data
    elif isinstance(x, array.array):
        a = x
    else:
        return x.astype("<f4", copy=False).tobytes()
    if a.typecode != "f":
        a = array.array("f", a)
    return a.tobytes()


def _palette():
    """The CLI segment palette: index i gets a colour from the bits of i + 1 (as in VOC)."""
    pal = bytearray(256 * 3)
    for i in range(256):
        r = g = b = 0
        c = i + 1
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        pal[3 * i:3 * i + 3] = bytes((r, g, b))
    return bytes(pal)


PALETTE = _palette()


# --- prompt ensembles: computed once per job, seeded into every worker's model ----------------
def ensemble_parts(task, texts):
    """The class names whose prompt ensembles a job needs (points: the unique '+'-parts)."""
    if task == "encode":
        return []
    if task == "points":
        out = []
        for t in texts:
            for p in t.split("+"):
                if p and p not in out:
                    out.append(p)
        return out
    return list(texts)


def compute_ensembles(job):
    """{class name: float32 bytes} and the redundant feature's bytes (or None), computed on one
    worker; image tasks take the result, so a job encodes each text once."""
    parts = ensemble_parts(job["task"], job["texts"])
    if not parts:
        return {"ensembles": {}, "redundant": None, "key": None}
    m = worker_model(job["model"], job.get("vocab"), job.get("threads", 0))
    dim = m.embed_dim
    # one cs_prompt_ensemble call over the names in the job's order, as the CLI encodes them (the
    # batch's makeup changes the last bits of the features, so Model.ensemble's cache order is
    # not used here)
    enc = [p.encode("utf-8") for p in parts]
    got = zeros("f", len(enc) * dim)
    with m._lock:
        _call("cs_prompt_ensemble", m._context(), (ctypes.c_char_p * len(enc))(*enc), len(enc),
              ctypes.cast(got.buffer_info()[0], L.c_float_p), len(enc) * dim)
    raw = got.tobytes()
    ens = {p: raw[4 * dim * i:4 * dim * (i + 1)] for i, p in enumerate(parts)}
    red = None
    if job["task"] == "points" or len(job["texts"]) == 1:
        red = _f32_bytes(m.redundant_feature())
    return {"ensembles": ens, "redundant": red, "key": uuid.uuid4().hex}


class _JobModel(Model):
    """A job's view of a worker's Model: the same weights and context pool, but its own prompt
    ensembles (the job's, computed in one batch as the CLI does: features of one text differ in
    the last bits with the batch that encoded them, so jobs must not share them). Closing a view
    leaves the Model open."""

    def close(self):
        pass

    def __del__(self):
        pass


_VIEWS = {}  # (model key, ensembles id) -> _JobModel, a few per worker
_VIEWS_LIMIT = 8


def job_model(m, prepared):
    """The Model to run a job's images with: m itself when the job has no texts, else a view
    holding the job's ensembles (cached per worker process, so seeded once)."""
    if not prepared or not prepared["ensembles"]:
        return m
    key = (id(m), prepared["key"])
    with _MODELS_LOCK:
        v = _VIEWS.get(key)
        if v is None:
            v = object.__new__(_JobModel)
            v.__dict__.update(m.__dict__)
            v._ensembles = {}
            for name, raw in prepared["ensembles"].items():
                a = array.array("f")
                a.frombytes(raw)
                v._ensembles[name.encode("utf-8")] = a
            v._redundant = None
            if prepared.get("redundant") is not None:
                a = array.array("f")
                a.frombytes(prepared["redundant"])
                v._redundant = a
            if len(_VIEWS) >= _VIEWS_LIMIT:
                _VIEWS.clear()
            _VIEWS[key] = v
        return v


# --- one image --------------------------------------------------------------------------------
def _form(texts):
    return "label_set" if len(texts) > 1 else "empty_text"


def _heatmap(m, job, image, paths):
    texts, size = job["texts"], job["size"]
    maps = m.similarity_maps(image, texts, size=size)
    keep, mptr = float_pointer(maps)
    base = ctypes.cast(mptr, ctypes.c_void_p).value
    count = len(texts)
    with _Decoded(image) as img:
        w, h = img.width, img.height
        rgb = (ctypes.c_uint8 * (w * h * 3))()
        for t, path in enumerate(paths):
            ptr = ctypes.cast(base + 4 * t, ctypes.POINTER(ctypes.c_float))
            _call("cs_overlay_jet", img.ptr, ptr, count, rgb, len(rgb))
            _png_atomic(path, rgb, w, h, w * 3, 3)
    del keep
    return None


def _maps(m, job, image, paths):
    texts, size = job["texts"], job["size"]
    form = _form(texts)
    with m._lock:
        sim, n_tokens, count, gh, gw, orig = m._similarity_locked(image, texts, size, form)[:6]
        oh, ow = orig
        n = oh * ow * count
        maps = zeros("f", n)
        _call("cs_similarity_maps", ctypes.cast(sim.buffer_info()[0], L.c_float_p), gh, gw,
              count, oh, ow, ctypes.cast(maps.buffer_info()[0], L.c_float_p), n)
    names = json.dumps(list(texts), separators=(",", ":"), ensure_ascii=False)
    # as heatmap --maps writes them (src/cmd_heatmap.c): grid, form, method, texts
    meta = [("clipsurgery.grid", "%dx%d" % (gh, gw)),
            ("clipsurgery.form", "label-set" if form == "label_set" else "empty-text"),
            ("clipsurgery.method", "clip-surgery"),
            ("clipsurgery.texts", names)]
    data = safetensors_bytes([("similarity", (1, n_tokens, count), sim.tobytes()),
                              ("maps", (1, oh, ow, count), maps.tobytes())], meta)
    write_atomic(paths[0], data)
    return None


def _points(m, job, image, paths):
    res = m.points(image, job["texts"], size=job["size"], threshold=job.get("threshold", 0.8))
    items = []
    for r in res:
        pts = ", ".join("[%d, %d]" % (x, y) for x, y in r["points"])
        labs = ", ".join("%d" % v for v in r["labels"])
        items.append('{"text": %s, "points": [%s], "labels": [%s]}'
                     % (json_string(r["text"]), pts, labs))
    write_atomic(paths[0], ("[" + ", ".join(items) + "]\n").encode("utf-8"))
    return [{"text": r["text"], "points": r["points"], "labels": r["labels"]} for r in res]


def _labels(m, job, image, paths):
    res = m.labels(image, job["texts"], size=job["size"])
    items, results = [], []
    for r in res:
        p_text, p_val = json_number(r["probability"])
        k_text, k_val = json_number(r["peak"])
        items.append('{"text": %s, "probability": %s, "peak": %s}'
                     % (json_string(r["text"]), p_text, k_text))
        results.append({"text": r["text"], "probability": p_val, "peak": k_val})
    write_atomic(paths[0], ("[" + ", ".join(items) + "]\n").encode("utf-8"))
    return results


def _segment(m, job, image, paths):
    texts, size = job["texts"], job["size"]
    if len(texts) > 255:
        raise ValueError("at most 255 texts")
    with m._lock:
        # as the CLI's segment: plain similarity of the surgery features with the ensembles
        sim, n_tokens, count, gh, gw, orig = m._similarity_locked(image, texts, size, "raw",
                                                                  mode="surgery")[:6]
        oh, ow = orig
        mask = zeros("B", oh * ow)
        _call("cs_segment", ctypes.cast(sim.buffer_info()[0], L.c_float_p), gh, gw, count, oh,
              ow, ctypes.cast(mask.buffer_info()[0], L.c_uint8_p), oh * ow)
    pal = (ctypes.c_uint8 * len(PALETTE)).from_buffer_copy(PALETTE)
    _png_atomic(paths[0], ctypes.cast(mask.buffer_info()[0], L.c_uint8_p), ow, oh, ow, 1, pal,
                count)
    raw = mask.tobytes()
    return [{"index": t, "text": texts[t], "color": list(PALETTE[3 * t:3 * t + 3]),
             "pixels": raw.count(bytes((t,)))} for t in range(count)]


def _encode(m, job, image, paths):
    feats = m.encode_image(image, mode="surgery", size=job["size"])
    shape = tuple(feats.shape)
    data = safetensors_bytes([("image_features", shape, _f32_bytes(feats))],
                             [("mode", "surgery"), ("surgery_blocks", str(SURGERY_BLOCKS)),
                              ("method", "clip-surgery"), ("precision", m.precision),
                              ("gemm_engine", L.gemm_engine())])  # as encode-image writes them
    write_atomic(paths[0], data)
    return None


_RUN = {"heatmap": _heatmap, "maps": _maps, "points": _points, "labels": _labels,
        "segment": _segment, "encode": _encode}


def read_results(task, paths):
    """The results of a finished image (resume): labels/points from their JSON file."""
    if task in ("points", "labels"):
        with open(paths[0], encoding="utf-8") as f:
            return json.load(f)
    return None


def process_image(m, job, image, stem):
    """One image -> its manifest record; a failure (corrupt image, ...) is an error record."""
    names = output_names(job["task"], stem, job["texts"])
    paths = [os.path.join(job["out_dir"], n) for n in names]
    rec = {"image": image}
    try:
        results = _RUN[job["task"]](m, job, image, paths)
    except (ClipSurgeryError, ValueError, OSError) as exc:
        rec.update(status="error", error=str(exc))
        return rec
    rec.update(status="ok", outputs=paths)
    if results is not None and job["task"] in ("points", "labels", "segment"):
        rec["results"] = results
    return rec


def run_batch(job, items, prepared=None):
    """A Dask task: [(image path, stem)] -> manifest records, in order."""
    try:
        m = worker_model(job["model"], job.get("vocab"), job.get("threads", 0))
    except (ClipSurgeryError, OSError) as exc:
        return [{"image": image, "status": "error", "error": "model: %s" % exc}
                for image, _ in items]
    m = job_model(m, prepared)
    return [process_image(m, job, image, stem) for image, stem in items]
