"""Fixtures for the throwaway-Debian end-to-end tests (see rootfs.py).

* ``make_root(layer="base"|"compiler", fixenv=True, suite="bookworm", via=None)`` -> a fresh
  live :class:`Root` of that Debian suite (one of ``rootfs.SUITES``); every root it made is
  unmounted and deleted at teardown, also when the test fails.  ``via`` is how fixenv gets in:
  ``"wheel"`` (the README's venv + pip install from the cp311 wheelhouse; the default on
  bookworm) or ``"zipapp"`` (``/usr/local/bin/fixenv`` running ``/opt/fixenv.pyz`` with the
  root's python3; the default on every other suite).
* ``debian_root``   base root (python3 + python3-venv, no headers, no compiler), fixenv installed.
* ``compiler_root`` base + build-essential layer, fixenv installed (no python3.11-dev).

The tests skip with the reason when this machine cannot run them (not root, no debootstrap,
no overlayfs).  Set ``FIXENV_E2E_REQUIRED=1`` (CI) to make that a failure instead.
"""

from __future__ import annotations

import os
import time
from typing import Optional

import pytest

from . import rootfs


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("FIXENV_E2E_REQUIRED", "") not in ("", "0"):
        pytest.fail(f"e2e required but unavailable: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def e2e_available() -> None:
    reason = rootfs.unavailable_reason()
    if reason:
        _skip_or_fail(reason)
    for stale in rootfs.sweep_stale_runs():
        rootfs._log(f"cleaned up {stale} left by a dead test process")


@pytest.fixture(scope="session")
def base_lowers(e2e_available) -> list:
    return [rootfs.base_root()]


@pytest.fixture(scope="session")
def fixenv_wheelhouse(e2e_available):
    return rootfs.wheelhouse()


@pytest.fixture(scope="session")
def fixenv_zipapp(e2e_available):
    return rootfs.zipapp()


@pytest.fixture
def make_root(e2e_available, request):
    """Factory: make_root(layer="base"|"compiler", fixenv=True, suite="bookworm", via=None)
    -> Root (cleaned up after)."""
    made: list[rootfs.Root] = []

    def factory(layer: str = "base", fixenv: bool = True, suite: str = rootfs.SUITE,
                via: Optional[str] = None) -> rootfs.Root:
        if suite not in rootfs.SUITES:
            raise ValueError(f"unknown suite {suite!r}; one of {rootfs.SUITES}")
        if via is None:
            via = "wheel" if suite == rootfs.SUITE else "zipapp"
        if via not in ("wheel", "zipapp"):
            raise ValueError(f"unknown via {via!r}: 'wheel' or 'zipapp'")
        if layer == "base":
            if suite == rootfs.SUITE:
                lowers = list(request.getfixturevalue("base_lowers"))
            else:
                lowers = [rootfs.base_root(suite)]
        elif layer == "compiler":
            lowers = rootfs.compiler_layer(suite)
        else:
            raise ValueError(f"unknown layer {layer!r}")
        t0 = time.monotonic()
        root = rootfs.Root(lowers, name=request.node.name[:40])
        made.append(root)
        if fixenv:
            if via == "wheel":
                root.install_fixenv(request.getfixturevalue("fixenv_wheelhouse"))
            else:
                root.install_fixenv_zipapp(request.getfixturevalue("fixenv_zipapp"))
        rootfs._log(f"{request.node.name}: {suite} {layer} root ready "
                    f"in {time.monotonic() - t0:.1f}s")
        return root

    yield factory
    errors = []
    for root in reversed(made):
        try:
            root.close()
        except Exception as exc:  # keep closing the others
            errors.append(exc)
    if errors:
        raise errors[0]


@pytest.fixture
def debian_root(make_root) -> rootfs.Root:
    return make_root("base")


@pytest.fixture
def compiler_root(make_root) -> rootfs.Root:
    return make_root("compiler")
