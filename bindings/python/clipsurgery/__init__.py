"""Python binding of libclipsurgery (ctypes; numpy optional). See docs/python.md.

    import clipsurgery
    with clipsurgery.Model("models/clip-vit-base-patch16") as m:
        maps = m.similarity_maps("photo.jpg", ["person", "bench", "sky"])   # [H, W, 3]

Results are numpy arrays when numpy is importable, else clipsurgery.Array (.shape, .tolist()).
Errors from the library raise ClipSurgeryError; a missing library raises OSError.
clipsurgery.__version__ is the package's version, clipsurgery.version() the loaded library's (same
MAJOR, checked at load). clipsurgery.dask (Dask installed) runs jobs on a cluster.
"""
from ._version import __version__  # noqa: F401
from ._lib import load_library, version, has, gemm_engine  # noqa: F401

# The library (and the OpenMP build of OpenBLAS it links) is loaded before numpy: numpy also
# needs a libopenblas.so.0, and the first one a process loads serves both. With OpenBLAS's OpenMP
# build the attention heads run side by side (docs/ENGINES.md); after a pthread OpenBLAS (numpy
# imported first) the results are the same, the attention slower. A missing library is reported
# by the first call that needs it, as before.
try:
    load_library()
except OSError:
    pass

from ._array import Array, have_numpy  # noqa: F401,E402
from ._model import (ClipSurgeryError, Model, preprocess, similarity_to_points,  # noqa: F401,E402
                     STATUS_NAMES, mask, boxes)

__all__ = ["__version__", "Model", "ClipSurgeryError", "Array", "preprocess", "similarity_to_points",
           "version", "gemm_engine", "load_library", "have_numpy", "has", "STATUS_NAMES", "mask", "boxes"]
