"""Finds and loads libclipsurgery.so with ctypes, checking the major version."""
import ctypes
import ctypes.util
import os

MAJOR = 0
_lib = None


def _candidates():
    env = os.environ.get("CLIPSURGERY_LIBRARY")
    if env:
        yield env
    here = os.path.dirname(os.path.abspath(__file__))
    for rel in ("../../../build", "../../build", "../build"):
        yield os.path.normpath(os.path.join(here, rel, "libclipsurgery.so.%d" % MAJOR))
    yield "libclipsurgery.so.%d" % MAJOR
    found = ctypes.util.find_library("clipsurgery")
    if found:
        yield found


def load_library():
    """Returns the loaded ctypes library; raises OSError with the places tried."""
    global _lib
    if _lib is not None:
        return _lib
    tried = []
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError as exc:
            tried.append("%s (%s)" % (path, exc))
            continue
        lib.cs_version.restype = ctypes.c_uint
        got = lib.cs_version() // 10000
        if got != MAJOR:
            tried.append("%s (major version %d, need %d)" % (path, got, MAJOR))
            continue
        _lib = lib
        return lib
    raise OSError("libclipsurgery not found; build it with `make` or set CLIPSURGERY_LIBRARY. Tried: "
                  + "; ".join(tried))


def version():
    lib = load_library()
    lib.cs_version_string.restype = ctypes.c_char_p
    return lib.cs_version_string().decode()
