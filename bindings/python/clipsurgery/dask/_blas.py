"""OpenBLAS kernels for the worker processes this client starts (LocalCluster).

OpenBLAS 0.3.21 (Debian 12) falls back to its generic Prescott kernels on CPUs it does not
recognise; those are slower and round differently from the Haswell/SkylakeX kernels that the
`clipsurgery` program picks for itself in that case. So that workers give the CLI's bytes (and
speed), choose_blas_kernels() makes the same choice for child processes: when
OPENBLAS_CORETYPE and CLIPSURGERY_KEEP_BLAS are unset, OpenBLAS says Prescott and the CPU has
AVX2, it sets OPENBLAS_CORETYPE (SkylakeX with AVX-512, else Haswell) in os.environ. Workers on
other hosts (dask-worker) need the variable in their own environment (docs/scale-out.md)."""
import ctypes
import os


def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def choose_blas_kernels():
    """Returns the OPENBLAS_CORETYPE now in force for child processes (or None)."""
    if os.environ.get("OPENBLAS_CORETYPE") or os.environ.get("CLIPSURGERY_KEEP_BLAS"):
        return os.environ.get("OPENBLAS_CORETYPE")
    try:
        fn = ctypes.CDLL("libopenblas.so.0").openblas_get_corename
    except (OSError, AttributeError):
        return None
    fn.restype = ctypes.c_char_p
    core = fn()
    if core is None or core.decode() != "Prescott":
        return None
    flags = _cpu_flags()
    pick = "SkylakeX" if "avx512f" in flags else "Haswell" if "avx2" in flags else None
    if pick:
        os.environ["OPENBLAS_CORETYPE"] = pick
    return pick
