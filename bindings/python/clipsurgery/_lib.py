"""Finds and loads libclipsurgery.so with ctypes, checks the major version and declares the
prototype (argtypes/restype) of every public function the library exports. The search order is
in _find.py (CLIPSURGERY_LIBRARY; the installed prefix; the system loader; a source-tree build).

ctypes.CDLL releases the GIL around every foreign call, so library calls from several Python
threads run in parallel (tests/test_python_gil.py).
"""
import ctypes
import os
import threading

from ._find import SONAME, candidates
from ._version import MAJOR

_lib = None
_lock = threading.Lock()

c_float_p = ctypes.POINTER(ctypes.c_float)
c_int32_p = ctypes.POINTER(ctypes.c_int32)
c_int_p = ctypes.POINTER(ctypes.c_int)
c_uint8_p = ctypes.POINTER(ctypes.c_uint8)
c_size_t_p = ctypes.POINTER(ctypes.c_size_t)
c_char_p_p = ctypes.POINTER(ctypes.c_char_p)
c_void_p = ctypes.c_void_p
c_status = ctypes.c_int  # enum cs_status


# --- structs of the public header (layouts must match include/clipsurgery.h) ----------------
MODEL_PRECISION_BF16 = 2  # cs_model_params.flags CS_MODEL_PRECISION_BF16 (since 0.3)


class ModelParams(ctypes.Structure):
    _fields_ = [("size", ctypes.c_size_t),
                ("vocab_path", ctypes.c_char_p),
                ("require_vocabulary", ctypes.c_int),
                # since 0.2
                ("vocab_data", ctypes.c_void_p),
                ("vocab_size", ctypes.c_size_t),
                ("flags", ctypes.c_uint32)]


class Image(ctypes.Structure):
    _fields_ = [("width", ctypes.c_int),
                ("height", ctypes.c_int),
                ("stride", ctypes.c_size_t),
                ("data", c_uint8_p)]


class DecodeParams(ctypes.Structure):
    _fields_ = [("size", ctypes.c_size_t),
                ("max_pixels", ctypes.c_uint64),
                ("flags", ctypes.c_uint32)]


class ContextParams(ctypes.Structure):
    _fields_ = [("size", ctypes.c_size_t),
                ("n_threads", ctypes.c_int)]


class SurgeryParams(ctypes.Structure):
    _fields_ = [("size", ctypes.c_size_t),
                ("n_blocks", ctypes.c_int),
                ("attention", ctypes.c_int),
                ("new_path_ffn", ctypes.c_int),
                ("cls_from_new_path", ctypes.c_int)]


class MethodParams(ctypes.Structure):
    _fields_ = [("size", ctypes.c_size_t),
                ("method", ctypes.c_int),
                ("n_blocks", ctypes.c_int),
                ("attention", ctypes.c_int),
                ("parallel_path", ctypes.c_int),
                ("keep_residual", ctypes.c_int),
                ("keep_ffn", ctypes.c_int),
                ("cls_from_new_path", ctypes.c_int),
                ("pos_resize", ctypes.c_int),
                ("gaussian_sigma", ctypes.c_float),
                ("gem_iterations", ctypes.c_int),
                ("gem_temperature", ctypes.c_float),
                ("templates", ctypes.c_int)]
class ThresholdParams(ctypes.Structure):
    _fields_ = [("size", ctypes.c_size_t),
                ("kind", ctypes.c_int),
                ("value", ctypes.c_double)]


class Component(ctypes.Structure):
    _fields_ = [("x", ctypes.c_int),
                ("y", ctypes.c_int),
                ("width", ctypes.c_int),
                ("height", ctypes.c_int),
                ("area", ctypes.c_int64),
                ("mean_map", ctypes.c_double),
                ("peak_map", ctypes.c_double)]


Image_p = ctypes.POINTER(Image)

# name -> (restype, [argtypes]). Functions absent from the loaded library (an older build, or a
# piece not merged yet) are skipped here; has() tells, and calling one raises a clear error.
_PROTOTYPES = {
    "cs_status_string": (ctypes.c_char_p, [c_status]),
    "cs_last_error": (ctypes.c_char_p, []),
    "cs_version": (ctypes.c_uint, []),
    "cs_version_string": (ctypes.c_char_p, []),
    # models
    "cs_model_params_default": (None, [ctypes.POINTER(ModelParams)]),
    "cs_model_load": (c_status, [ctypes.c_char_p, ctypes.POINTER(ModelParams),
                                 ctypes.POINTER(c_void_p)]),
    "cs_model_free": (None, [c_void_p]),
    "cs_model_embed_dim": (ctypes.c_int, [c_void_p]),
    "cs_model_precision": (ctypes.c_int, [c_void_p]),
    "cs_gemm_engine": (ctypes.c_char_p, []),
    "cs_context_flops": (ctypes.c_double, [c_void_p]),
    "cs_model_patch_size": (ctypes.c_int, [c_void_p]),
    "cs_model_vision_width": (ctypes.c_int, [c_void_p]),
    "cs_model_vision_layers": (ctypes.c_int, [c_void_p]),
    "cs_model_image_size": (ctypes.c_int, [c_void_p]),
    "cs_model_text_width": (ctypes.c_int, [c_void_p]),
    "cs_model_text_layers": (ctypes.c_int, [c_void_p]),
    "cs_model_context_length": (ctypes.c_int, [c_void_p]),
    "cs_model_tokenizer": (c_void_p, [c_void_p]),
    "cs_model_image_tokens": (ctypes.c_int, [c_void_p, ctypes.c_int, ctypes.c_int]),
    "cs_model_backbone": (ctypes.c_int, [c_void_p]),
    "cs_model_image_grid": (c_status, [c_void_p, ctypes.c_int, ctypes.c_int,
                                       ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int)]),
    # tokenizer
    "cs_tokenize_context": (c_status, [c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int,
                                       c_int32_p, c_size_t_p]),
    "cs_detokenize": (c_status, [c_void_p, c_int32_p, ctypes.c_size_t, ctypes.c_char_p,
                                 ctypes.c_size_t, c_size_t_p]),
    # images
    "cs_decode_params_default": (None, [ctypes.POINTER(DecodeParams)]),
    "cs_image_decode_file": (c_status, [ctypes.c_char_p, ctypes.POINTER(DecodeParams),
                                        ctypes.POINTER(Image_p)]),
    "cs_image_free": (None, [Image_p]),
    "cs_image_preprocess": (c_status, [Image_p, ctypes.c_int, c_float_p, ctypes.c_size_t]),
    "cs_overlay_jet": (c_status, [Image_p, c_float_p, ctypes.c_size_t, c_uint8_p,
                                  ctypes.c_size_t]),
    "cs_png_write": (c_status, [ctypes.c_char_p, c_uint8_p, ctypes.c_int, ctypes.c_int,
                                ctypes.c_size_t, ctypes.c_int, c_uint8_p, ctypes.c_int]),
    # contexts and encoders
    "cs_context_params_default": (None, [ctypes.POINTER(ContextParams)]),
    "cs_context_create": (c_status, [c_void_p, ctypes.POINTER(ContextParams),
                                     ctypes.POINTER(c_void_p)]),
    "cs_context_free": (None, [c_void_p]),
    "cs_surgery_params_default": (None, [ctypes.POINTER(SurgeryParams)]),
    "cs_encode_images": (c_status, [c_void_p, c_float_p, ctypes.c_int, ctypes.c_int,
                                    ctypes.c_int, c_float_p, ctypes.c_size_t]),
    "cs_surgery_apply": (c_status, [c_void_p, ctypes.POINTER(SurgeryParams), c_float_p,
                                    ctypes.c_int, ctypes.c_int, ctypes.c_int, c_float_p,
                                    ctypes.c_size_t]),
    "cs_method_params_default": (c_status, [ctypes.POINTER(MethodParams), ctypes.c_int]),
    "cs_method_from_name": (c_status, [ctypes.c_char_p, c_int_p]),
    "cs_method_apply": (c_status, [c_void_p, ctypes.POINTER(MethodParams), c_float_p,
                                   ctypes.c_int, ctypes.c_int, ctypes.c_int, c_float_p,
                                   ctypes.c_size_t]),
    "cs_encode_token_ids": (c_status, [c_void_p, c_int32_p, ctypes.c_int, c_float_p,
                                       ctypes.c_size_t]),
    "cs_encode_texts": (c_status, [c_void_p, c_char_p_p, ctypes.c_int, c_float_p,
                                   ctypes.c_size_t]),
    "cs_prompt_ensemble": (c_status, [c_void_p, c_char_p_p, ctypes.c_int, c_float_p,
                                      ctypes.c_size_t]),
    "cs_redundant_feature": (c_status, [c_void_p, c_float_p, ctypes.c_size_t]),
    "cs_l2_normalize": (None, [c_float_p, ctypes.c_size_t, ctypes.c_size_t]),
    # feature surgery, maps, points
    "cs_similarity": (c_status, [c_float_p, ctypes.c_int, ctypes.c_int, c_float_p, ctypes.c_int,
                                 ctypes.c_int, c_float_p, ctypes.c_size_t]),
    "cs_feature_surgery_label_set": (c_status, [c_float_p, ctypes.c_int, ctypes.c_int, c_float_p,
                                                ctypes.c_int, ctypes.c_int, c_float_p,
                                                ctypes.c_size_t]),
    "cs_feature_surgery_empty_text": (c_status, [c_float_p, ctypes.c_int, ctypes.c_int,
                                                 c_float_p, ctypes.c_int, c_float_p,
                                                 ctypes.c_int, c_float_p, ctypes.c_size_t]),
    "cs_similarity_maps": (c_status, [c_float_p, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                      ctypes.c_int, ctypes.c_int, c_float_p, ctypes.c_size_t]),
    "cs_similarity_to_points": (c_status, [c_float_p, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                           ctypes.c_int, ctypes.c_float, ctypes.c_int, c_int_p,
                                           c_int_p, ctypes.c_size_t, c_size_t_p]),
    "cs_segment": (c_status, [c_float_p, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                              ctypes.c_int, c_uint8_p, ctypes.c_size_t]),
    "cs_similarity_to_points_multi": (c_status, [c_float_p, ctypes.c_int, ctypes.c_int,
                                                 ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                                 ctypes.c_float, ctypes.c_int, c_int_p, c_int_p,
                                                 ctypes.c_size_t, c_size_t_p]),
    "cs_class_probabilities": (c_status, [c_float_p, ctypes.c_int, ctypes.c_int, c_float_p,
                                          ctypes.c_int, ctypes.c_int, ctypes.c_float, c_float_p,
                                          ctypes.c_size_t]),
    "cs_similarity_peaks": (c_status, [c_float_p, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                       c_float_p, ctypes.c_size_t]),
    # explanations: token maps, masks, boxes
    "cs_encode_token_features": (c_status, [c_void_p, c_int32_p, c_float_p, ctypes.c_size_t,
                                            c_int_p]),
    "cs_text_token_features": (c_status, [c_void_p, ctypes.c_char_p, c_int32_p, ctypes.c_size_t,
                                          c_float_p, ctypes.c_size_t, c_int_p]),
    "cs_threshold_params_default": (None, [ctypes.POINTER(ThresholdParams)]),
    "cs_map_threshold": (c_status, [c_float_p, ctypes.c_int, ctypes.c_int, ctypes.c_size_t,
                                    ctypes.POINTER(ThresholdParams), c_uint8_p, ctypes.c_size_t,
                                    ctypes.POINTER(ctypes.c_double), c_size_t_p]),
    "cs_mask_components": (c_status, [c_uint8_p, c_float_p, ctypes.c_int, ctypes.c_int,
                                      ctypes.c_size_t, ctypes.c_int64,
                                      ctypes.POINTER(Component), ctypes.c_size_t, c_size_t_p]),
    "cs_map_boxes": (c_status, [c_float_p, ctypes.c_int, ctypes.c_int, ctypes.c_size_t,
                                ctypes.POINTER(ThresholdParams), ctypes.c_int64,
                                ctypes.POINTER(Component), ctypes.c_size_t, c_size_t_p,
                                ctypes.POINTER(ctypes.c_double), c_size_t_p]),
}


def _declare(lib):
    for name, (restype, argtypes) in _PROTOTYPES.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            continue
        fn.restype = restype
        fn.argtypes = argtypes


def load_library():
    """Returns the loaded ctypes library; raises OSError naming every place tried."""
    global _lib
    with _lock:
        if _lib is not None:
            return _lib
        tried = []
        for path, origin in candidates():
            if os.sep in path and not os.path.exists(path):
                tried.append("%s [%s] (no such file)" % (path, origin))
                continue
            try:
                lib = ctypes.CDLL(path)
            except OSError as exc:
                tried.append("%s [%s] (%s)" % (path, origin, exc))
                continue
            try:
                version_fn = lib.cs_version
            except AttributeError:
                tried.append("%s [%s] (not libclipsurgery: no cs_version)" % (path, origin))
                continue
            version_fn.restype = ctypes.c_uint
            version_fn.argtypes = []
            number = version_fn()
            got = number // 10000
            if got != MAJOR:
                tried.append("%s [%s] (major version %d (%d.%d.%d), this package needs %d)"
                             % (path, origin, got, got, number // 100 % 100, number % 100,
                                MAJOR))
                continue
            _declare(lib)
            _lib = lib
            return lib
        raise OSError("libclipsurgery shared library not found or unusable; build it with `make` "
                      "(gives build/%s), install it with `make install`, or set "
                      "CLIPSURGERY_LIBRARY to its path. Tried: %s" % (SONAME, "; ".join(tried)))


def has(name):
    """True when the loaded library exports the function `name`."""
    return hasattr(load_library(), name)


def version():
    """The loaded library's version string, e.g. "0.3.0"."""
    return load_library().cs_version_string().decode()


def gemm_engine():
    """The loaded library's GEMM engine: "openblas" or "onednn" (cs_gemm_engine; a library
    older than 0.3 gives "openblas", its only engine)."""
    lib = load_library()
    if not hasattr(lib, "cs_gemm_engine"):
        return "openblas"
    return lib.cs_gemm_engine().decode()
