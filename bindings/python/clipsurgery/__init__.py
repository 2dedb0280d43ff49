"""Python binding of libclipsurgery (ctypes). See README.md."""
from ._lib import load_library, version  # noqa: F401
