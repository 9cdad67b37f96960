"""Downloads from PyPI for the release tests, made on the HOST and cached (see rootfs.py).

Inside a throwaway root nothing is fetched from PyPI: the wheels and the sdist are
downloaded here once, with the host's pip and CA store, into the e2e cache, copied into the
root and installed with ``--no-index``.

Cache layout (under ``rootfs.cache_dir()``)::

    wheels-cffi-py<X.Y>/     cffi (+ pycparser), setuptools, wheel for CPython X.Y, manylinux
    sdist-<name>-<version>/  the sdist only (``--no-binary :all: --no-deps``)
"""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
from pathlib import Path

from . import rootfs

# A real sdist whose C extensions are not optional (no pure-Python fallback): without
# Python.h or a compiler, `pip install` fails.  setuptools is its only build requirement.
SDIST_NAME = "bitarray"
SDIST_VERSION = "3.12.3"

# cffi >= 1.17 has wheels for CPython 3.9 ... 3.14; setuptools gives cffi's compile() its
# build_ext on Pythons without distutils (3.12+), and is the sdist's build backend.
BUILD_TOOLS = ("cffi>=1.17", "setuptools", "wheel")


def _pip(*args: str, timeout: float = 600) -> None:
    rootfs._check([rootfs._wheel_python(), "-m", "pip", "--disable-pip-version-check",
                   *args], timeout=timeout,
                  env=dict(os.environ, PIP_NO_INPUT="1", PIP_NO_CACHE_DIR="1"))


def _cached(name: str, fill) -> Path:
    final = rootfs.cache_dir() / name
    if final.is_dir() and any(final.iterdir()):
        return final
    with rootfs._locked(name):
        if final.is_dir() and any(final.iterdir()):
            return final
        rootfs._log(f"downloading {name} from PyPI on the host (one-off)")
        tmp = Path(tempfile.mkdtemp(prefix=f".build-{name}-", dir=rootfs.cache_dir()))
        try:
            out = tmp / "out"
            out.mkdir()
            fill(out)
            if final.exists():
                shutil.rmtree(final)
            os.rename(out, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def build_wheels(python_xy: str) -> Path:
    """Binary wheels of :data:`BUILD_TOOLS` for CPython ``python_xy`` on this architecture."""
    nodot = python_xy.replace(".", "")
    machine = platform.machine()

    def fill(out: Path) -> None:
        _pip("download", "-q", "--only-binary", ":all:", "--python-version", python_xy,
             "--implementation", "cp", "--abi", f"cp{nodot}", "--abi", "none", "--abi", "abi3",
             "--platform", f"manylinux_2_17_{machine}",
             "--platform", f"manylinux2014_{machine}", "--platform", "any",
             "--dest", str(out), *BUILD_TOOLS)
        if not list(out.glob("cffi-*.whl")):
            raise rootfs.RootError(f"no cffi wheel for CPython {python_xy} was downloaded")

    return _cached(f"wheels-cffi-py{python_xy}", fill)


def sdist() -> Path:
    """The sdist file of :data:`SDIST_NAME` :data:`SDIST_VERSION`."""

    def fill(out: Path) -> None:
        _pip("download", "-q", "--no-binary", ":all:", "--no-deps", "--dest", str(out),
             f"{SDIST_NAME}=={SDIST_VERSION}")

    d = _cached(f"sdist-{SDIST_NAME}-{SDIST_VERSION}", fill)
    found = sorted(d.glob(f"{SDIST_NAME}-{SDIST_VERSION}.tar.gz"))
    if not found:
        raise rootfs.RootError(f"no {SDIST_NAME} sdist in {d}")
    return found[0]
