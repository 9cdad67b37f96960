"""Fixtures for the throwaway-Debian end-to-end tests (see rootfs.py).

* ``make_root(layer="base"|"compiler", fixenv=True)`` -> a fresh live :class:`Root`; every
  root it made is unmounted and deleted at teardown, also when the test fails.
* ``debian_root``   base root (python3 + python3-venv, no headers, no compiler), fixenv installed.
* ``compiler_root`` base + build-essential layer, fixenv installed (no python3.11-dev).

The tests skip with the reason when this machine cannot run them (not root, no debootstrap,
no overlayfs).  Set ``FIXENV_E2E_REQUIRED=1`` (CI) to make that a failure instead.
"""

from __future__ import annotations

import os
import time

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


@pytest.fixture
def make_root(base_lowers, request):
    """Factory: make_root(layer="base"|"compiler", fixenv=True) -> Root (cleaned up after)."""
    made: list[rootfs.Root] = []

    def factory(layer: str = "base", fixenv: bool = True) -> rootfs.Root:
        if layer == "base":
            lowers = list(base_lowers)
        elif layer == "compiler":
            lowers = rootfs.compiler_layer()
        else:
            raise ValueError(f"unknown layer {layer!r}")
        t0 = time.monotonic()
        root = rootfs.Root(lowers, name=request.node.name[:40])
        made.append(root)
        if fixenv:
            root.install_fixenv(request.getfixturevalue("fixenv_wheelhouse"))
        rootfs._log(f"{request.node.name}: {layer} root ready in {time.monotonic() - t0:.1f}s")
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
