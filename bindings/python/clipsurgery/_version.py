"""The package's version: CS_VERSION_MAJOR.MINOR.PATCH of include/clipsurgery.h it was written
for (tests/test_python_package.py checks they agree). The loaded library's own version is
clipsurgery.version(); its MAJOR must equal MAJOR here."""
__version__ = "0.3.0"
MAJOR = int(__version__.split(".")[0])
