#!/usr/bin/env python3
"""The Python package as users get it: the static version equals include/clipsurgery.h's,
`make install PREFIX=<tmp>` gives an importable package that finds its library, and in a fresh
virtual environment (python3 -m venv --system-site-packages) `pip install bindings/python`
(offline: --no-build-isolation --no-index) then `python -c "import clipsurgery"` works against
that install. Also: the library search says what it tried. Environment as tests/test_python.py."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.abspath(os.path.join(ROOT, os.environ.get("BUILD", "build")))
PKG = os.path.join(ROOT, "bindings", "python")
sys.path.insert(0, PKG)

from clipsurgery import _version  # noqa: E402


def header_version():
    with open(os.path.join(ROOT, "include", "clipsurgery.h")) as f:
        text = f.read()
    return ".".join(re.search(r"#define CS_VERSION_%s (\d+)" % w, text).group(1)
                    for w in ("MAJOR", "MINOR", "PATCH"))


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("CLIPSURGERY_LIBRARY", "PYTHONPATH", "LD_LIBRARY_PATH", "PYTHONHOME")}
    env.update(extra)
    return env


def can_venv_pip(python):
    """True when `python` can make a venv with pip and build a setuptools package offline."""
    code = "import venv, ensurepip, setuptools, wheel, pip"
    return subprocess.run([python, "-c", code], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


class PackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="cs-pkg-")
        cls.prefix = os.path.join(cls.tmp, "prefix")
        r = subprocess.run(["make", "--no-print-directory", "-s", "-C", ROOT, "install",
                            "BUILD=" + os.path.relpath(BUILD, ROOT), "PREFIX=" + cls.prefix,
                            "PYTHON=" + sys.executable],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if r.returncode != 0:
            raise AssertionError("make install failed: %s" % r.stderr.decode())

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_static_version_equals_header(self):
        self.assertEqual(_version.__version__, header_version())
        self.assertEqual(_version.MAJOR, int(header_version().split(".")[0]))
        with open(os.path.join(PKG, "pyproject.toml")) as f:
            self.assertIn('version = {attr = "clipsurgery._version.__version__"}', f.read())

    def installed_package_dir(self):
        found = [d for d, _, files in os.walk(self.prefix)
                 if os.path.basename(d) == "clipsurgery" and "__init__.py" in files]
        self.assertEqual(len(found), 1, found)
        return found[0]

    def test_make_install_package_finds_its_library(self):
        pkg = self.installed_package_dir()
        self.assertTrue(os.path.isfile(os.path.join(pkg, "_config.py")))
        self.assertTrue(os.path.isfile(os.path.join(pkg, "dask", "__main__.py")))
        code = ("import clipsurgery, clipsurgery._lib as L; print(clipsurgery.version()); "
                "print(L.load_library()._name)")
        r = subprocess.run([sys.executable, "-c", code], cwd=self.tmp, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True,
                           env=clean_env(PYTHONPATH=os.path.dirname(pkg)))
        self.assertEqual(r.returncode, 0, r.stderr)
        version, path = r.stdout.split()
        self.assertEqual(version, header_version())
        self.assertEqual(os.path.dirname(path), os.path.join(self.prefix, "lib"))

    def test_pip_install_into_fresh_venv(self):
        python = next((p for p in (sys.executable, "/usr/bin/python3")
                       if os.path.exists(p) and can_venv_pip(p)), None)
        if python is None:
            self.skipTest("no python3 with venv, ensurepip, pip, setuptools and wheel "
                          "(Debian: python3-venv python3-pip python3-setuptools python3-wheel)")
        venv = os.path.join(self.tmp, "venv")
        # pip comes from the system site-packages (Debian's python3-pip): no ensurepip copy
        subprocess.run([python, "-m", "venv", "--system-site-packages", "--without-pip", venv],
                       check=True, env=clean_env())
        src = os.path.join(self.tmp, "src")  # a copy: pip builds in the source folder
        shutil.copytree(PKG, src, ignore=shutil.ignore_patterns("__pycache__", "build",
                                                                "*.egg-info"))
        vpy = os.path.join(venv, "bin", "python")
        r = subprocess.run([vpy, "-m", "pip", "install", "--no-build-isolation", "--no-index",
                            "--no-deps", "--disable-pip-version-check", "-q", src],
                           cwd=self.tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, env=clean_env())
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        code = ("import clipsurgery, os; print(clipsurgery.__version__, clipsurgery.version(), "
                "os.path.dirname(clipsurgery.__file__))")
        # against the make install: the system loader path points at PREFIX/lib
        r = subprocess.run([vpy, "-c", code], cwd=self.tmp, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True,
                           env=clean_env(LD_LIBRARY_PATH=os.path.join(self.prefix, "lib")))
        self.assertEqual(r.returncode, 0, r.stderr)
        pkg_version, lib_version, where = r.stdout.split()
        self.assertEqual(pkg_version, header_version())
        self.assertEqual(lib_version, header_version())
        self.assertTrue(where.startswith(venv), where)
        r = subprocess.run([vpy, "-m", "pip", "show", "clipsurgery"], stdout=subprocess.PIPE,
                           universal_newlines=True, env=clean_env())
        self.assertIn("Version: " + header_version(), r.stdout)
        # and without any library in reach: a clear error that lists every place tried
        code = "import clipsurgery; clipsurgery.version()"
        r = subprocess.run([vpy, "-c", code], cwd=self.tmp, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True, env=clean_env())
        if r.returncode == 0:
            self.skipTest("a libclipsurgery is installed system-wide; not-found case not tested")
        for part in ("OSError", "CLIPSURGERY_LIBRARY", "the system loader",
                     "the prefix the package is installed in", "the source tree's build folder"):
            self.assertIn(part, r.stderr)

    def test_environment_variable_wins_and_is_the_only_place(self):
        code = "import clipsurgery; clipsurgery.version()"
        bogus = os.path.join(self.tmp, "nowhere", "libclipsurgery.so.0")
        r = subprocess.run([sys.executable, "-c", code], cwd=self.tmp, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True,
                           env=clean_env(PYTHONPATH=PKG, CLIPSURGERY_LIBRARY=bogus))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(bogus + " [CLIPSURGERY_LIBRARY] (no such file)", r.stderr)
        self.assertNotIn("the system loader", r.stderr)


if __name__ == "__main__":
    unittest.main()
