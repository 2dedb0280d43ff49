"""Where the package looks for libclipsurgery.so.MAJOR, in order (docs/python.md):

  1. $CLIPSURGERY_LIBRARY, when set, and nothing else (a wrong value is an error, not a silent
     fallback to another copy);
  2. the installed prefix: the LIBDIR that `make install` recorded in _config.py beside this
     file, else PREFIX/lib found from the package's own place
     (PREFIX/lib/python3.X/site-packages/clipsurgery or PREFIX/lib/python3/dist-packages/...);
  3. the system loader (LD_LIBRARY_PATH, the ld.so cache): libclipsurgery.so.MAJOR, then
     ctypes.util.find_library("clipsurgery");
  4. the build folder of a source checkout (bindings/python/clipsurgery -> ../../../build).
"""
import ctypes.util
import os

from ._version import MAJOR

SONAME = "libclipsurgery.so.%d" % MAJOR


def _installed_libdir():
    try:
        from . import _config  # written by `make install`; absent in a checkout or a pip install
    except ImportError:
        return None
    return getattr(_config, "LIBDIR", None)


def candidates(here=None):
    """(path or loader name, where it came from) in search order."""
    env = os.environ.get("CLIPSURGERY_LIBRARY")
    if env:
        return [(env, "CLIPSURGERY_LIBRARY")]
    here = here or os.path.dirname(os.path.abspath(__file__))
    out = []
    libdir = _installed_libdir()
    if libdir:
        out.append((os.path.join(libdir, SONAME), "the install's LIBDIR (_config.py)"))
    up = os.path.normpath(os.path.join(here, "..", "..", ".."))  # .../lib/python3*/*-packages/clipsurgery
    for d in (up, os.path.dirname(up)):
        p = os.path.join(d, SONAME)
        if all(p != c for c, _ in out):
            out.append((p, "the prefix the package is installed in"))
    out.append((SONAME, "the system loader"))
    found = ctypes.util.find_library("clipsurgery")
    if found and found != SONAME:
        out.append((found, "ctypes.util.find_library"))
    out.append((os.path.normpath(os.path.join(here, "..", "..", "..", "build", SONAME)),
                "the source tree's build folder"))
    return out
