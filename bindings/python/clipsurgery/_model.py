"""Model: a loaded CLIP checkpoint with its own cs_context, and the CLIP Surgery pipelines."""
import array
import ctypes
import os
import threading
import weakref

from . import _lib as L
from ._array import as_float32, as_int32, cbuf, float_pointer, wrap, zeros

STATUS_NAMES = {
    0: "CS_OK",
    1: "CS_ERR_INVALID_ARGUMENT",
    2: "CS_ERR_OUT_OF_MEMORY",
    3: "CS_ERR_IO",
    4: "CS_ERR_FORMAT",
    5: "CS_ERR_UNSUPPORTED",
    6: "CS_ERR_MISSING_TENSOR",
    7: "CS_ERR_SHAPE",
    8: "CS_ERR_TOO_LARGE",
    9: "CS_ERR_TEXT_TOO_LONG",
    10: "CS_ERR_NO_VOCABULARY",
    11: "CS_ERR_BUFFER_TOO_SMALL",
    12: "CS_ERR_DEGENERATE",
    13: "CS_ERR_CORRUPT_DATA",
    14: "CS_ERR_INTERNAL",
}

CS_ATTN_VV = 1
_THRESHOLD_KINDS = {"fixed": 0, "quantile": 1, "otsu": 2}
_ENSEMBLE_CACHE_LIMIT = 4096  # class names whose prompt ensembles a Model keeps


class ClipSurgeryError(Exception):
    """A libclipsurgery call failed.

    status:  the cs_status value (int); name: its enum name ("CS_ERR_IO");
    function: the C function that failed; message: cs_last_error() at the time of failure."""

    def __init__(self, status, function, message):
        self.status = int(status)
        self.name = STATUS_NAMES.get(self.status, "CS_STATUS_%d" % self.status)
        self.function = function
        self.message = message
        text = "%s: %s" % (function, self.name)
        if message:
            text += ": " + message
        Exception.__init__(self, text)


def _fn(name):
    lib = L.load_library()
    try:
        return getattr(lib, name)
    except AttributeError:
        raise ClipSurgeryError(5, name, "the loaded libclipsurgery (%s) does not export %s"
                               % (L.version(), name))


def _call(name, *args):
    """Calls a cs_status function; raises ClipSurgeryError unless it returns CS_OK."""
    status = _fn(name)(*args)
    if status != 0:
        raise ClipSurgeryError(status, name, _fn("cs_last_error")().decode("utf-8", "replace"))
    return status


METHODS = ("clip-surgery", "raw", "maskclip", "sclip", "clearclip", "naclip", "gem")


def _check_method(method):
    if method == "surgery":
        method = "clip-surgery"
    if method not in METHODS:
        raise ValueError("method must be one of %s, not %r" % (", ".join(METHODS), method))
    return method


def _encode_texts(texts):
    """str or list of str -> (ctypes char* array, count)."""
    if isinstance(texts, (str, bytes)):
        texts = [texts]
    enc = []
    for t in texts:
        # only str (UTF-8) or bytes: bytes(5) would be five NUL bytes (bytes(10**12) a huge
        # allocation), and a NUL would silently cut the text short at the C boundary
        if isinstance(t, str):
            t = t.encode("utf-8")
        elif not isinstance(t, (bytes, bytearray)):
            raise TypeError("texts must be str or bytes, not %s" % type(t).__name__)
        if b"\0" in t:
            raise ValueError("a text holds a NUL character")
        enc.append(bytes(t))
    if not enc:
        raise ValueError("at least one text is needed")
    return (ctypes.c_char_p * len(enc))(*enc), len(enc), list(texts)


class _ContextLease(object):
    """`with model._lock:` lends the calling thread one of the Model's cs_contexts for the block
    (a context is one-thread-at-a-time; the model itself is shared). Threads that find no free
    context get a new one, so calls from several threads run in parallel: ctypes releases the GIL
    around each C call. Blocks may nest in one thread (they share its context)."""

    __slots__ = ("_model", "_local")

    def __init__(self, model):
        self._model = weakref.ref(model)  # no cycle: a dropped Model is freed at once
        self._local = threading.local()

    @property
    def context(self):
        return getattr(self._local, "ctx", None)

    @context.setter
    def context(self, ctx):
        self._local.ctx = ctx

    def __enter__(self):
        depth = getattr(self._local, "depth", 0)
        if depth == 0:
            self._local.ctx = self._model()._take_context()
        self._local.depth = depth + 1
        return self

    def __exit__(self, *exc):
        self._local.depth -= 1
        if self._local.depth == 0:
            ctx, self._local.ctx = self._local.ctx, None
            model = self._model()
            if model is not None:
                model._give_context(ctx)


class _Decoded(object):
    """A decoded cs_image (RGB8) released by close()."""

    def __init__(self, path):
        ptr = L.Image_p()
        _call("cs_image_decode_file", os.fsencode(path), None, ctypes.byref(ptr))
        self.ptr = ptr
        self.width = ptr.contents.width
        self.height = ptr.contents.height

    def close(self):
        if self.ptr:
            _fn("cs_image_free")(self.ptr)
            self.ptr = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _preprocess(image, size):
    n = 3 * size * size
    out = zeros("f", n)
    _call("cs_image_preprocess", image.ptr, int(size), cbuf(out), n)
    return out


def preprocess(path, size=224):
    """Decodes a PNG/JPEG and applies CLIP preprocessing: [3, size, size] float32."""
    with _Decoded(path) as img:
        return wrap(_preprocess(img, size), (3, size, size))


class Model(object):
    """A CLIP checkpoint loaded with cs_model_load, plus one cs_context (scratch memory).

    path:  a .safetensors file or a model folder (either naming, F32/F16/BF16).
    vocab: the vocabulary (bpe_simple_vocab_16e6.txt.gz, vocab.json or a folder); None looks
           beside the weights.
    threads: threads for the library's own loops (0 = all cores).
    precision: 'f32' (default) or 'bf16': matrix products in bfloat16 with f32 accumulation
           (CS_MODEL_PRECISION_BF16; needs a library built with make GEMM=onednn and a CPU with
           AVX512_BF16, else ClipSurgeryError with status CS_ERR_UNSUPPORTED). docs/PRECISION.md.
    method: the image encoder of the map calls (similarity, similarity_maps, heatmaps, points,
            segment, labels) and the default of encode_image: 'clip-surgery' (default), 'raw',
            'maskclip', 'sclip', 'clearclip', 'naclip' or 'gem' (docs/methods.md). Methods other
            than clip-surgery and raw give plain cosines (no feature surgery).

    A Model may be used from several Python threads at once: each call borrows one of the
    Model's cs_contexts (one per concurrently calling thread; the weights are shared), and the GIL
    is released inside the C calls, so threads run in parallel. Use `with Model(...) as m:` or
    call close() (not while other threads are inside a call)."""

    def __init__(self, path, vocab=None, threads=0, method="clip-surgery", precision="f32"):
        self._model = None
        self.method = _check_method(method)
        if precision not in ("f32", "bf16"):
            raise ValueError("precision must be 'f32' or 'bf16', not %r" % (precision,))
        self._pool_lock = threading.Lock()
        self._contexts = []  # every cs_context created (freed by close())
        self._free = []  # those not lent to a thread right now
        self._lock = _ContextLease(self)
        self._redundant = None
        self._ensembles = {}  # class name (UTF-8) -> array('f') of embed_dim, normalised
        params = L.ModelParams()
        _fn("cs_model_params_default")(ctypes.byref(params))
        self._vocab_bytes = os.fsencode(vocab) if vocab is not None else None
        params.vocab_path = self._vocab_bytes
        if precision == "bf16":
            params.flags |= L.MODEL_PRECISION_BF16
        handle = ctypes.c_void_p()
        try:
            _call("cs_model_load", os.fsencode(path), ctypes.byref(params), ctypes.byref(handle))
        except ClipSurgeryError as exc:
            if precision == "bf16" and exc.status == 5 and L.gemm_engine() == "openblas":
                # the loaded library is an OpenBLAS build: say how to load the oneDNN one
                raise ClipSurgeryError(exc.status, exc.function, exc.message + (
                    " [the loaded library %s is the OpenBLAS build; for bf16 set "
                    "CLIPSURGERY_LIBRARY to a GEMM=onednn build, e.g. "
                    "build/onednn/libclipsurgery.so.0]" % (L.load_library()._name,)))
            raise
        self._model = handle
        self._threads = int(threads)
        self.path = path
        self.embed_dim = _fn("cs_model_embed_dim")(handle)
        self.patch_size = _fn("cs_model_patch_size")(handle)
        self.image_size = _fn("cs_model_image_size")(handle)
        self.context_length = _fn("cs_model_context_length")(handle)
        # "vit" or "resnet" (cs_model_backbone; a ResNet's patch_size is its total stride, 32)
        self.backbone = "resnet" if _fn("cs_model_backbone")(handle) == 1 else "vit"
        # "f32" or "bf16" (cs_model_precision)
        self.precision = "f32"
        if L.has("cs_model_precision") and _fn("cs_model_precision")(handle) == 1:
            self.precision = "bf16"

    # --- lifetime -------------------------------------------------------------------------
    def close(self):
        """Frees the context and the model (cs_context_free, cs_model_free). Idempotent."""
        with self._pool_lock:
            for ctx in self._contexts:
                _fn("cs_context_free")(ctx)
            self._contexts = []
            self._free = []
            if self._model is not None:
                _fn("cs_model_free")(self._model)
                self._model = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def _take_context(self):
        with self._pool_lock:
            return self._free.pop() if self._free else None

    def _give_context(self, ctx):
        if ctx is None:
            return
        with self._pool_lock:
            if any(c is ctx for c in self._contexts):  # not freed by close() meanwhile
                self._free.append(ctx)

    def _context(self):
        """The cs_context lent to the calling thread (inside `with self._lock:`), created on
        first use."""
        if self._model is None:
            raise ValueError("Model is closed")
        ctx = self._lock.context
        if ctx is None:
            params = L.ContextParams()
            _fn("cs_context_params_default")(ctypes.byref(params))
            params.n_threads = self._threads
            ctx = ctypes.c_void_p()
            _call("cs_context_create", self._model, ctypes.byref(params), ctypes.byref(ctx))
            with self._pool_lock:
                self._contexts.append(ctx)
            self._lock.context = ctx
        return ctx

    def image_tokens(self, height, width):
        """1 + (height/patch)*(width/patch), or 0 when not a positive multiple of the patch."""
        if self._model is None:
            raise ValueError("Model is closed")
        return _fn("cs_model_image_tokens")(self._model, int(height), int(width))

    def image_grid(self, height, width):
        """(grid_h, grid_w) of an input of height x width (cs_model_image_grid): ViT height/patch
        x width/patch; ResNet the trunk's flooring chain (any side >= 31)."""
        gh, gw = ctypes.c_int(), ctypes.c_int()
        _call("cs_model_image_grid", self._model, int(height), int(width), ctypes.byref(gh),
              ctypes.byref(gw))
        return gh.value, gw.value

    # --- pixels ---------------------------------------------------------------------------
    def _pixels(self, pixels_or_path, size):
        """-> (float buffer, pointer, batch, height, width, original (h, w) or None)."""
        if isinstance(pixels_or_path, (str, bytes, os.PathLike)):
            with _Decoded(pixels_or_path) as img:
                buf = _preprocess(img, size)
                return buf, cbuf(buf), 1, size, size, (img.height, img.width)
        buf, shape, ptr = as_float32(pixels_or_path)
        if len(shape) == 1:
            plane = 3 * size * size
            if shape[0] == 0 or shape[0] % plane:
                raise ValueError("a flat pixel list must hold B*3*%d*%d floats (size=%d); got %d"
                                 % (size, size, size, shape[0]))
            return buf, ptr, shape[0] // plane, size, size, None
        if len(shape) == 3:
            shape = (1,) + tuple(shape)
        if len(shape) != 4 or shape[1] != 3 or shape[0] < 1:
            raise ValueError("pixels must be [B, 3, H, W] or [3, H, W]; got shape %r" % (shape,))
        return buf, ptr, shape[0], shape[2], shape[3], None

    def _features(self, ptr, batch, height, width, mode):
        """Image features [batch * n_tokens * D] flat, n_tokens. Caller holds the lock."""
        ctx = self._context()
        n_tokens = self.image_tokens(height, width)
        if n_tokens <= 0:
            if self.backbone == "resnet":
                raise ValueError("image height and width (%d x %d) must be at least 31 for a "
                                 "ResNet" % (height, width))
            raise ValueError("image height and width (%d x %d) must be positive multiples of the "
                             "patch size %d" % (height, width, self.patch_size))
        n = batch * n_tokens * self.embed_dim
        out = zeros("f", n)
        if mode == "surgery":
            params = L.SurgeryParams()
            _fn("cs_surgery_params_default")(ctypes.byref(params))
            _call("cs_surgery_apply", ctx, ctypes.byref(params), ptr, batch, height, width,
                  cbuf(out), n)
        elif mode == "raw":
            _call("cs_encode_images", ctx, ptr, batch, height, width, cbuf(out), n)
        elif mode in METHODS:
            kind = ctypes.c_int()
            _call("cs_method_from_name", mode.encode(), ctypes.byref(kind))
            params = L.MethodParams()
            _call("cs_method_params_default", ctypes.byref(params), kind.value)
            _call("cs_method_apply", ctx, ctypes.byref(params), ptr, batch, height, width,
                  cbuf(out), n)
        else:
            raise ValueError("mode must be 'surgery' or 'raw', not %r" % (mode,))
        return out, n_tokens

    def _mode(self):
        """The _features mode of the model's method."""
        return "surgery" if self.method == "clip-surgery" else self.method

    def encode_image(self, pixels_or_path, mode=None, size=224, method=None):
        """Image features [B, 1 + N, D] (class token first; not normalised).

        pixels_or_path: an image file (decoded and preprocessed to size x size, B = 1), or
        normalised pixels: numpy array / nested list [B, 3, H, W] or [3, H, W], or a flat list of
        B*3*size*size floats. method: 'clip-surgery', 'raw', 'maskclip', 'sclip', 'clearclip',
        'naclip' or 'gem' (the final tokens of that method after ln_post and proj; default the
        model's method). mode: the older alias, 'surgery' (= clip-surgery) or 'raw'."""
        if method is not None:
            mode = "surgery" if _check_method(method) == "clip-surgery" else method
        elif mode is None:
            mode = self._mode()
        with self._lock:
            buf, ptr, batch, h, w, _ = self._pixels(pixels_or_path, size)
            out, n_tokens = self._features(ptr, batch, h, w, mode)
            del buf
        return wrap(out, (batch, n_tokens, self.embed_dim))

    # --- text -----------------------------------------------------------------------------
    def tokenize(self, texts, truncate=False):
        """Token ids [T, context_length] int32 as clip.tokenize (SOT, ids, EOT, zero padding)."""
        arr, count, _ = _encode_texts(texts)
        with self._lock:
            if self._model is None:
                raise ValueError("Model is closed")
            tok = _fn("cs_model_tokenizer")(self._model)
            if not tok:
                raise ClipSurgeryError(10, "cs_model_tokenizer",
                                       "model loaded without a vocabulary (pass vocab=...)")
            ctxlen = 77
            out = zeros("i", count * ctxlen)
            row = (ctypes.c_int32 * ctxlen)()
            for i in range(count):
                text = arr[i]
                _call("cs_tokenize_context", tok, text, len(text), 1 if truncate else 0, row,
                      None)
                out[i * ctxlen:(i + 1) * ctxlen] = type(out)("i", row)
        return wrap(out, (count, ctxlen))

    def encode_tokens(self, ids):
        """Text features [T, D] from token ids [T, context_length] (raw, not normalised)."""
        buf, shape, ptr = as_int32(ids)
        ctxlen = self.context_length
        if len(shape) != 2 or shape[1] != ctxlen or shape[0] < 1:
            raise ValueError("ids must be [T, %d] (each id row must hold %d ids); got shape %r"
                             % (ctxlen, ctxlen, shape))
        n_rows = shape[0]
        n = n_rows * self.embed_dim
        out = zeros("f", n)
        with self._lock:
            _call("cs_encode_token_ids", self._context(), ptr, n_rows, cbuf(out), n)
        del buf
        return wrap(out, (n_rows, self.embed_dim))

    def _texts(self, name, texts):
        """Features of texts (flat [T * D]) from cs_encode_texts or cs_prompt_ensemble. Prompt
        ensembles are cached per class name for the Model's lifetime (85 encodes each)."""
        arr, count, _ = _encode_texts(texts)
        dim = self.embed_dim
        out = zeros("f", count * dim)
        if name != "cs_prompt_ensemble":
            _call(name, self._context(), arr, count, cbuf(out), count * dim)
            return out, count
        keys = [arr[i] for i in range(count)]
        missing = sorted(set(k for k in keys if k not in self._ensembles))
        fresh = {}
        if missing:
            got = zeros("f", len(missing) * dim)
            _call(name, self._context(), (ctypes.c_char_p * len(missing))(*missing),
                  len(missing), cbuf(got), len(missing) * dim)
            if len(self._ensembles) + len(missing) > _ENSEMBLE_CACHE_LIMIT:
                self._ensembles.clear()
            for i, k in enumerate(missing):
                fresh[k] = self._ensembles[k] = got[i * dim:(i + 1) * dim]
        for i, k in enumerate(keys):
            row = fresh.get(k)
            out[i * dim:(i + 1) * dim] = row if row is not None else self._ensembles[k]
        return out, count

    def encode_text(self, texts):
        """Text features [T, D] of the given strings (raw projection, not normalised)."""
        with self._lock:
            out, count = self._texts("cs_encode_texts", texts)
        return wrap(out, (count, self.embed_dim))

    def ensemble(self, class_names):
        """Prompt-ensemble features [T, D] (85 templates per class; L2-normalised rows)."""
        with self._lock:
            out, count = self._texts("cs_prompt_ensemble", class_names)
        return wrap(out, (count, self.embed_dim))

    def redundant_feature(self):
        """The redundant feature r (ensemble of ""), [D]; cached per Model."""
        with self._lock:
            r = self._redundant_locked()
        return wrap(type(r)("f", r), (self.embed_dim,))

    def _redundant_locked(self):
        if self._redundant is None:
            r = zeros("f", self.embed_dim)
            _call("cs_redundant_feature", self._context(), cbuf(r), self.embed_dim)
            self._redundant = r
        return self._redundant

    # --- the surgery pipeline -------------------------------------------------------------
    def _similarity_locked(self, image, texts, size, form, mode=None):
        """-> (similarity flat [n_tokens * T], n_tokens, T, grid_h, grid_w, (H, W) or None,
        normalised image features [n_tokens * D], text ensemble [T * D]).
        form: 'label_set', 'empty_text' or 'raw' (plain F G^T). mode None: the model's method
        (a method other than clip-surgery and raw always gives the plain cosines)."""
        if mode is None:
            mode = self._mode()
        if mode not in ("surgery", "raw"):
            form = "raw"
        buf, ptr, batch, h, w, orig = self._pixels(image, size)
        if batch != 1:
            raise ValueError("one image at a time (got a batch of %d)" % batch)
        feats, n_tokens = self._features(ptr, 1, h, w, mode)
        dim = self.embed_dim
        _fn("cs_l2_normalize")(cbuf(feats), n_tokens, dim)
        text, count = self._texts("cs_prompt_ensemble", texts)
        n = n_tokens * count
        sim = zeros("f", n)
        if form == "label_set":
            _call("cs_feature_surgery_label_set", cbuf(feats), 1, n_tokens, cbuf(text), count,
                  dim, cbuf(sim), n)
        elif form == "empty_text":
            red = self._redundant_locked()
            _call("cs_feature_surgery_empty_text", cbuf(feats), 1, n_tokens, cbuf(text), count,
                  cbuf(red), dim, cbuf(sim), n)
        elif form == "raw":
            _call("cs_similarity", cbuf(feats), 1, n_tokens, cbuf(text), count, dim, cbuf(sim), n)
        else:
            raise ValueError("form must be 'label_set', 'empty_text' or 'raw', not %r" % (form,))
        del buf
        gh, gw = self.image_grid(h, w)
        return sim, n_tokens, count, gh, gw, orig, feats, text

    @staticmethod
    def _form(count, empty_text):
        return "label_set" if count > 1 and not empty_text else "empty_text"

    def similarity(self, image, texts, size=224, form=None):
        """Token-text similarity [1 + N, T] of one image (path or pixels) against the prompt
        ensembles of `texts`. form: None (label-set feature surgery when T > 1, else the
        empty-text form), 'label_set', 'empty_text', or 'raw' (raw CLIP features, F G^T)."""
        count = _encode_texts(texts)[1]
        if form is None:
            form = self._form(count, False)
        mode = "raw" if form == "raw" and self.method == "clip-surgery" else self._mode()
        with self._lock:
            sim, n_tokens, count = self._similarity_locked(image, texts, size, form, mode)[:3]
        return wrap(sim, (n_tokens, count))

    def similarity_maps(self, image, texts, size=224, empty_text=False, out_size=None):
        """Similarity maps [H, W, T] in [0, 1] (min-max per text, bilinear to H x W).

        image: a path (H x W = the original image size) or pixels [1, 3, h, w] / [3, h, w]
        (H x W = h x w). out_size=(H, W) overrides. Label-set feature surgery when T > 1 and not
        empty_text, else the empty-text form with the redundant feature."""
        count = _encode_texts(texts)[1]
        with self._lock:
            sim, n_tokens, count, gh, gw, orig = self._similarity_locked(
                image, texts, size, self._form(count, empty_text))[:6]
            oh, ow = self._out_size(out_size, orig, gh, gw)
            n = oh * ow * count
            maps = zeros("f", n)
            _call("cs_similarity_maps", cbuf(sim), gh, gw, count, oh, ow, cbuf(maps), n)
        return wrap(maps, (oh, ow, count))

    def heatmaps(self, image_path, texts, out_dir=".", size=224, empty_text=False):
        """JET overlays as the CLI's heatmap: for each text, out_dir/<stem>_<text>.png at the
        photo's size (reference blend: 0.4 * image + 0.6 * JET(255 * map)). image_path: a PNG or
        JPEG. Returns the list of written paths, in the order of texts."""
        names = [n if isinstance(n, str) else n.decode("utf-8") for n in _encode_texts(texts)[2]]
        maps = self.similarity_maps(image_path, texts, size=size, empty_text=empty_text)
        keep, mptr = float_pointer(maps)  # the maps' own memory (numpy view or Array)
        count = len(names)
        stem = os.path.splitext(os.path.basename(os.fsdecode(image_path)))[0]
        os.makedirs(out_dir, exist_ok=True)
        paths, taken = [], set()
        with _Decoded(image_path) as img:
            w, h = img.width, img.height
            rgb = (ctypes.c_uint8 * (w * h * 3))()
            base = ctypes.cast(mptr, ctypes.c_void_p).value
            for t, name in enumerate(names):
                safe = "".join("_" if (c in "/\\ " or ord(c) < 32) else c for c in name) or "empty"
                if safe in taken:
                    safe = "%s_%d" % (safe, t)
                taken.add(safe)
                ptr = ctypes.cast(base + 4 * t, ctypes.POINTER(ctypes.c_float))
                _call("cs_overlay_jet", img.ptr, ptr, count, rgb, len(rgb))
                path = os.path.join(out_dir, "%s_%s.png" % (stem, safe))
                _call("cs_png_write", os.fsencode(path), rgb, w, h, w * 3, 3, None, 0)
                paths.append(path)
        return paths

    def _out_size(self, out_size, orig, gh, gw):
        if out_size is not None:
            oh, ow = int(out_size[0]), int(out_size[1])
        elif orig is not None:
            oh, ow = orig
        else:
            oh, ow = gh * self.patch_size, gw * self.patch_size
        if oh <= 0 or ow <= 0:
            raise ValueError("out_size must be positive, got %r" % ((oh, ow),))
        return oh, ow

    def points(self, image, texts, threshold=0.8, size=224, out_size=None, down_sample=2,
               combined=False):
        """SAM point prompts (reference similarity_map_to_points on the empty-text feature
        surgery), in pixels of the original image (or out_size=(H, W)).

        Returns a list of {"text", "points": [[x, y], ...], "labels": [1/0, ...]}: one entry per
        text (positives first). A text holding "+" ("person+bench", as the CLI) is the
        multi-target form of demo.py: negatives from the mean of the min-maxed maps first, then
        each part's positives. combined=True treats all texts as the parts of one target
        ("text" is the texts joined with "+")."""
        names = [n if isinstance(n, str) else n.decode("utf-8")
                 for n in _encode_texts(texts)[2]]
        if combined:
            targets = [("+".join(names), names)]
        else:
            targets = [(n, n.split("+")) for n in names]
        return self._points_of_targets(image, targets, threshold, size, out_size, down_sample)

    def _points_of_targets(self, image, targets, threshold, size, out_size, down_sample):
        """points() for (name, parts) targets: one encode for the unique parts, then per target
        the single form (one part) or the multi-target form (several parts)."""
        parts_of, uniq = [], []
        for name, parts in targets:
            ps = []
            for p in parts:
                if p and p not in ps:
                    ps.append(p)
            if not ps:
                raise ValueError("text %r has no part between its '+' signs" % name)
            parts_of.append(ps)
            uniq.extend(p for p in ps if p not in uniq)
        result = []
        with self._lock:
            sim, n_tokens, count, gh, gw, orig = self._similarity_locked(
                image, uniq, size, "empty_text")[:6]
            oh, ow = self._out_size(out_size, orig, gh, gw)
            cells = n_tokens - 1
            cap = (count + 1) * cells
            xy = (ctypes.c_int * (2 * cap))()
            labels = (ctypes.c_int * cap)()
            got = ctypes.c_size_t()
            for (name, _), ps in zip(targets, parts_of):
                cols = [uniq.index(p) for p in ps]
                body = zeros("f", cells * len(cols))
                for i in range(cells):
                    for j, c in enumerate(cols):
                        body[i * len(cols) + j] = sim[(i + 1) * count + c]
                if len(cols) == 1:
                    _call("cs_similarity_to_points", cbuf(body), gh, gw, ow, oh, float(threshold),
                          int(down_sample), xy, labels, cap, ctypes.byref(got))
                else:
                    _call("cs_similarity_to_points_multi", cbuf(body), gh, gw, len(cols), ow, oh,
                          float(threshold), int(down_sample), xy, labels, cap, ctypes.byref(got))
                k = got.value
                result.append({"text": name,
                               "points": [[xy[2 * j], xy[2 * j + 1]] for j in range(k)],
                               "labels": [labels[j] for j in range(k)]})
        return result

    def segment(self, image, texts, size=224, out_size=None):
        """Open-vocabulary segmentation: label map [H, W] (uint8 index into texts) of the
        highest upsampled feature-surgery similarity per pixel."""
        count = _encode_texts(texts)[1]
        if count > 255:
            raise ValueError("at most 255 texts")
        with self._lock:
            sim, n_tokens, count, gh, gw, orig = self._similarity_locked(
                image, texts, size, self._form(count, False))[:6]
            oh, ow = self._out_size(out_size, orig, gh, gw)
            n = oh * ow
            out = zeros("B", n)
            _call("cs_segment", cbuf(sim), gh, gw, count, oh, ow, cbuf(out), n)
        return wrap(out, (oh, ow))

    def labels(self, image, texts, size=224, scale=100.0):
        """Multi-label scores of one image: a list of {"text", "probability", "peak"} in the order of
        texts. probability: CLIP's zero-shot probability, softmax over texts of
        scale * cosine(class token, prompt ensemble) (cs_class_probabilities; the surgery
        encoder of a ViT keeps the original class token; on a ResNet, whose surgery pool changes
        it, the raw pool's class token is used); the scores sum to 1. peak: the largest
        feature-surgery similarity over the image tokens (cs_similarity_peaks; label-set form
        when T > 1, else empty-text), the height of the map before min-max."""
        names = [n if isinstance(n, str) else n.decode("utf-8")
                 for n in _encode_texts(texts)[2]]
        count = len(names)
        with self._lock:
            sim, n_tokens, count, _, _, _, feats, text = self._similarity_locked(
                image, texts, size, self._form(count, False))
            if self.backbone == "resnet":
                buf, ptr, _, h, w, _ = self._pixels(image, size)
                feats, _ = self._features(ptr, 1, h, w, "raw")
                del buf
            probs = zeros("f", count)
            _call("cs_class_probabilities", cbuf(feats), 1, n_tokens, cbuf(text), count,
                  self.embed_dim, float(scale), cbuf(probs), count)
            peaks = zeros("f", count)
            _call("cs_similarity_peaks", cbuf(sim), 1, n_tokens, count, cbuf(peaks), count)
        return [{"text": names[t], "probability": probs[t], "peak": peaks[t]} for t in range(count)]


    # --- explanations (docs/explain.md) --------------------------------------------------
    def token_features(self, caption):
        """Per-token text features of one caption (cs_text_token_features): (token ids [n_tok],
        features [n_tok, D]) for every position SOT..EOT, through ln_final and the projection,
        L2-normalised rows (the last row is the normalised ordinary text feature)."""
        arr = _encode_texts(caption)[0]
        if len(arr) != 1:
            raise ValueError("one caption at a time")
        with self._lock:
            ids, feats, n = self._token_features_locked(arr[0])
        return list(ids[:n]), wrap(feats[:n * self.embed_dim], (n, self.embed_dim))

    def _token_features_locked(self, text):
        cap = self.context_length
        ids = (ctypes.c_int32 * cap)()
        feats = zeros("f", cap * self.embed_dim)
        n = ctypes.c_int()
        _call("cs_text_token_features", self._context(), text, ids, cap, cbuf(feats),
              len(feats), ctypes.byref(n))
        return ids, feats, n.value

    def _token_texts(self, ids):
        tok = _fn("cs_model_tokenizer")(self._model)
        out = []
        buf = ctypes.create_string_buffer(256)
        got = ctypes.c_size_t()
        for i in ids:
            if i == 49406:
                out.append("<|startoftext|>")
            elif i == 49407:
                out.append("<|endoftext|>")
            else:
                one = (ctypes.c_int32 * 1)(i)
                _call("cs_detokenize", tok, one, 1, buf, len(buf), ctypes.byref(got))
                out.append(buf.value.decode("utf-8", "replace").rstrip(" "))
        return out

    def explain_text(self, image, caption, size=224, out_size=None):
        """A caption explained word by word (EXPLAIN.md 1): its per-token features are the label
        set of feature surgery on the surgery image features.

        Returns {"caption", "token_ids" [n_tok], "tokens" (decoded text of each token; SOT and
        EOT as "<|startoftext|>" / "<|endoftext|>"), "scores" [n_tok] (class-token row of the
        similarity), "similarity" [1 + N, n_tok], "maps" [H, W, n_tok] in [0, 1]}. image: a path
        (maps at the original size) or pixels [1, 3, h, w] / [3, h, w]; out_size=(H, W)
        overrides."""
        arr = _encode_texts(caption)[0]
        if len(arr) != 1:
            raise ValueError("one caption at a time")
        text = arr[0]
        with self._lock:
            buf, ptr, batch, h, w, orig = self._pixels(image, size)
            if batch != 1:
                raise ValueError("one image at a time (got a batch of %d)" % batch)
            feats, n_tokens = self._features(ptr, 1, h, w, "surgery")
            dim = self.embed_dim
            _fn("cs_l2_normalize")(cbuf(feats), n_tokens, dim)
            ids, tfeat, n = self._token_features_locked(text)
            sim = zeros("f", n_tokens * n)
            _call("cs_feature_surgery_label_set", cbuf(feats), 1, n_tokens, cbuf(tfeat), n, dim,
                  cbuf(sim), len(sim))
            gh, gw = h // self.patch_size, w // self.patch_size
            oh, ow = self._out_size(out_size, orig, gh, gw)
            maps = zeros("f", oh * ow * n)
            _call("cs_similarity_maps", cbuf(sim), gh, gw, n, oh, ow, cbuf(maps), len(maps))
            token_ids = list(ids[:n])
            tokens = self._token_texts(token_ids)
            del buf
        return {"caption": caption if isinstance(caption, str) else caption.decode("utf-8"),
                "token_ids": token_ids, "tokens": tokens,
                "scores": wrap(sim[:n], (n,)), "similarity": wrap(sim, (n_tokens, n)),
                "maps": wrap(maps, (oh, ow, n))}


def _threshold_params(threshold):
    """"otsu", "fixed:0.5", "quantile:0.9", a number (fixed) or (kind, value)."""
    p = L.ThresholdParams()
    _fn("cs_threshold_params_default")(ctypes.byref(p))
    if isinstance(threshold, (int, float)) and not isinstance(threshold, bool):
        kind, value = "fixed", float(threshold)
    elif isinstance(threshold, str):
        kind, _, v = threshold.partition(":")
        if kind == "otsu" and not v:
            value = 0.0
        elif kind in ("fixed", "quantile") and v:
            value = float(v)
        else:
            raise ValueError("threshold must be 'otsu', 'fixed:V' or 'quantile:Q', not %r"
                             % (threshold,))
    else:
        kind, value = threshold
    if kind not in _THRESHOLD_KINDS:
        raise ValueError("unknown threshold kind %r" % (kind,))
    p.kind = _THRESHOLD_KINDS[kind]
    p.value = float(value)
    return p


def _map_planes(map_):
    """[H, W] or [H, W, T] -> (flat float32 buffer, pointer, H, W, T, is_3d)."""
    buf, shape, ptr = as_float32(map_)
    if len(shape) == 2:
        return buf, ptr, shape[0], shape[1], 1, False
    if len(shape) == 3:
        return buf, ptr, shape[0], shape[1], shape[2], True
    raise ValueError("a map must be [H, W] or [H, W, T]; got shape %r" % (shape,))


def _plane(ptr, t):
    return ctypes.cast(ctypes.cast(ptr, ctypes.c_void_p).value + 4 * t,
                       ctypes.POINTER(ctypes.c_float))


def mask(map_, threshold="otsu"):
    """Binary mask (uint8 0/1) of a map [H, W] (or each map of [H, W, T]): map >= threshold
    (cs_map_threshold; a constant map gives an empty mask). threshold: 'otsu', 'fixed:V',
    'quantile:Q', a number (fixed) or (kind, value). Returns [H, W] (or [H, W, T]) uint8."""
    buf, ptr, h, w, count, is3d = _map_planes(map_)
    params = _threshold_params(threshold)
    out = zeros("B", h * w * count)
    one = (ctypes.c_uint8 * (h * w))()
    for t in range(count):
        _call("cs_map_threshold", _plane(ptr, t), h, w, count, ctypes.byref(params), one,
              len(one), None, None)
        out[t::count] = array.array("B", bytes(one))
    del buf
    return wrap(out, (h, w, count) if is3d else (h, w))


def boxes(map_, threshold="otsu", min_area=0):
    """Boxes of a map [H, W] (cs_map_boxes): {"threshold", "mask_pixels", "components":
    [{"box_xywh": [x, y, w, h], "area", "mean_map", "peak_map", "box_xyxy": [x0, y0, x1, y1]
    (inclusive; SAM's box-prompt form)}]}, components by area (largest first), then top, then
    left. A [H, W, T] map gives a list of T such dicts. threshold as mask()."""
    buf, ptr, h, w, count, is3d = _map_planes(map_)
    params = _threshold_params(threshold)
    results = []
    for t in range(count):
        cap = 64
        while True:
            comp = (L.Component * cap)()
            n, px, tau = ctypes.c_size_t(), ctypes.c_size_t(), ctypes.c_double()
            status = _fn("cs_map_boxes")(_plane(ptr, t), h, w, count, ctypes.byref(params),
                                         int(min_area), comp, cap, ctypes.byref(n),
                                         ctypes.byref(tau), ctypes.byref(px))
            if status == 11 and n.value > cap:  # CS_ERR_BUFFER_TOO_SMALL
                cap = n.value
                continue
            if status != 0:
                raise ClipSurgeryError(status, "cs_map_boxes",
                                       _fn("cs_last_error")().decode("utf-8", "replace"))
            break
        results.append({"threshold": tau.value, "mask_pixels": px.value, "components": [
            {"box_xywh": [c.x, c.y, c.width, c.height], "area": c.area, "mean_map": c.mean_map,
             "peak_map": c.peak_map,
             "box_xyxy": [c.x, c.y, c.x + c.width - 1, c.y + c.height - 1]}
            for c in comp[:n.value]]})
    del buf
    return results if is3d else results[0]


def similarity_to_points(similarity, grid_h, grid_w, image_w, image_h, threshold=0.8,
                         down_sample=2):
    """SAM points from raw similarity over the grid (no class token), in pixels of an
    image_w x image_h image. Returns (points [[x, y], ...], labels [1/0, ...]).

    similarity: grid_h * grid_w floats of one text (cs_similarity_to_points: positives first),
    or a 2-D [grid_h * grid_w, T] tensor of the empty-text similarity of T texts
    (cs_similarity_to_points_multi: negatives from the mean of the min-maxed columns first, then
    each text's positives)."""
    buf, shape, ptr = as_float32(similarity)
    cells = grid_h * grid_w
    if len(shape) == 2:
        if shape[0] != cells:
            raise ValueError("similarity has %d rows, grid is %d x %d" % (shape[0], grid_h, grid_w))
        count = shape[1]
    else:
        total = 1
        for d in shape:
            total *= d
        if total != cells:
            raise ValueError("similarity holds %d values, grid is %d x %d"
                             % (total, grid_h, grid_w))
        count = 0
    cap = max((count + 1) * cells, 1)
    xy = (ctypes.c_int * (2 * cap))()
    labels = (ctypes.c_int * cap)()
    got = ctypes.c_size_t()
    if count:
        _call("cs_similarity_to_points_multi", ptr, int(grid_h), int(grid_w), count, int(image_w),
              int(image_h), float(threshold), int(down_sample), xy, labels, cap,
              ctypes.byref(got))
    else:
        _call("cs_similarity_to_points", ptr, int(grid_h), int(grid_w), int(image_w),
              int(image_h), float(threshold), int(down_sample), xy, labels, cap,
              ctypes.byref(got))
    k = got.value
    return [[xy[2 * j], xy[2 * j + 1]] for j in range(k)], [labels[j] for j in range(k)]
