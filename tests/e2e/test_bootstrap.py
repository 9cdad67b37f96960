"""Issue 6: scripts/bootstrap.sh takes a fresh Debian 12 root from nothing to a passing verify.

The root is the cached debootstrap minbase with only python3 + python3-venv (no headers, no
compiler, no fixenv). A snapshot of this checkout is copied in and bootstrap.sh runs from it
the way the README says (`bash scripts/bootstrap.sh`), offline: pip gets fixenv's
dependencies and the build backend from a wheelhouse built on the host
(FIXENV_PIP_ARGS="--no-index --find-links /wheels"); apt inside the root uses the mirror
debootstrap wrote into its sources.list.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

from . import rootfs
from .fixenvrun import describe

pytestmark = pytest.mark.e2e

REPO = rootfs.REPO
WHEELS = "/wheels"
SRC = "/src/fixenv"
OFFLINE = {"FIXENV_PIP_ARGS": f"--no-index --find-links {WHEELS}"}
PY_H = "/usr/include/python3.11/Python.h"


def _describe(res: subprocess.CompletedProcess) -> str:
    return describe(res, tail=5000, words=6)


def build_backend_wheels() -> Path:
    """setuptools as a wheel, so pip can build fixenv from a checkout offline (cached)."""
    final = rootfs.cache_dir() / "wheels-build-backend"
    if any(final.glob("setuptools-*.whl")):
        return final
    with rootfs._locked("wheels-build-backend"):
        if any(final.glob("setuptools-*.whl")):
            return final
        tmp = Path(tempfile.mkdtemp(prefix=".build-backend-", dir=rootfs.cache_dir()))
        try:
            rootfs._check([rootfs._wheel_python(), "-m", "pip", "download", "-q",
                           "--disable-pip-version-check", "--only-binary=:all:", "--no-deps",
                           "--dest", str(tmp), "setuptools>=61"], timeout=600)
            os.rename(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return final


@pytest.fixture(scope="module")
def wheels(fixenv_wheelhouse) -> list[Path]:
    return [fixenv_wheelhouse, build_backend_wheels()]


def put_wheels(root: rootfs.Root, sources: list[Path]) -> str:
    dest = root.path(WHEELS)
    dest.mkdir(parents=True, exist_ok=True)
    for src in sources:
        for whl in src.glob("*.whl"):
            shutil.copy2(whl, dest / whl.name)
    return WHEELS


def put_checkout(root: rootfs.Root) -> str:
    """A snapshot of this checkout at /src/fixenv (what a `git clone` would hold)."""
    dest = root.path(SRC)
    dest.mkdir(parents=True)
    for item in ("pyproject.toml", "README.md", "fixenv", "playbooks", "scripts"):
        src = REPO / item
        if src.is_dir():
            shutil.copytree(src, dest / item, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            shutil.copy2(src, dest / item)
    return SRC


def bootstrap(root: rootfs.Root, *args: str, user: str | None = None,
              env: dict | None = None) -> subprocess.CompletedProcess:
    return root.run(["bash", f"{SRC}/scripts/bootstrap.sh", *args], user=user,
                    env={**OFFLINE, **(env or {})}, check=False)


def test_bootstrap_takes_a_fresh_root_to_a_passing_verify_and_reruns_cleanly(make_root, wheels):
    root = make_root("base", fixenv=False)
    assert not root.exists(PY_H)
    assert not root.exists("/usr/bin/gcc")
    put_wheels(root, wheels)
    put_checkout(root)

    res = bootstrap(root, "--json")
    assert res.returncode == 0, _describe(res)
    assert "installing fixenv from /src/fixenv" in res.stderr, _describe(res)
    report = json.loads(res.stdout)  # fixenv apply's own JSON, passed through untouched
    assert report["summary"]["changed"] >= 1 and report["summary"]["failed"] == 0, report
    assert report["verify"]["ok"] is True, report

    # Isolated: a venv under ~/.local/share/fixenv, nothing in the system Python.
    venv = "/root/.local/share/fixenv/venv"
    assert root.exists(f"{venv}/bin/fixenv")
    assert root.run(["python3", "-c", "import fixenv"], check=False).returncode != 0
    assert os.readlink(root.path("/usr/local/bin/fixenv")) == f"{venv}/bin/fixenv"
    # The checkout stays clean (the build ran on a copy).
    assert not list(root.path(SRC).glob("*.egg-info")) and not root.exists(f"{SRC}/build")

    assert root.exists(PY_H)
    assert "python3.11-dev" in root.installed_packages()
    ver = root.run(["fixenv", "verify", "--json"], check=False)
    assert ver.returncode == 0, _describe(ver)
    assert json.loads(ver.stdout)["ok"] is True

    # Re-run: no re-install (same source), nothing to change, still exit 0.
    status = root.dpkg_status_bytes()
    again = bootstrap(root, "--json")
    assert again.returncode == 0, _describe(again)
    assert "fixenv is up to date" in again.stderr and "installing fixenv" not in again.stderr
    assert json.loads(again.stdout)["summary"]["changed"] == 0
    assert root.dpkg_status_bytes() == status

    # A changed source is re-installed.
    init = root.path(f"{SRC}/fixenv/__init__.py")
    init.write_text(init.read_text() + "\n# changed\n")
    third = bootstrap(root, "--install-only")
    assert third.returncode == 0, _describe(third)
    assert "installing fixenv from /src/fixenv" in third.stderr, _describe(third)
    assert "# changed" in root.run(
        [f"{venv}/bin/python", "-c",
         "import fixenv, inspect; print(inspect.getsource(fixenv))"]).stdout

    # fixenv's exit code is passed through (3: a --python target that does not exist).
    bad = bootstrap(root, "--python", "/nonexistent/python3")
    assert bad.returncode == 3, _describe(bad)
    assert "fixenv: error:" in bad.stderr


def test_bootstrap_without_python3_venv_installs_it_as_root_and_says_what_to_run_otherwise(
        make_root, wheels):
    root = make_root("base", fixenv=False)
    put_wheels(root, wheels)
    put_checkout(root)
    wheel = next(p.name for p in root.path(WHEELS).glob("fixenv-*.whl"))
    env = {"FIXENV_SOURCE": f"{WHEELS}/{wheel}"}
    # A Debian image with python3 but without venv/ensurepip.
    root.run(["dpkg", "--purge", "python3-venv", "python3.11-venv"],
             env={"DEBIAN_FRONTEND": "noninteractive"})
    assert root.run(["python3", "-c", "import ensurepip"], check=False).returncode != 0
    root.add_user("alice")

    # Not root: exit 4 and the exact command.
    res = bootstrap(root, "--install-only", user="alice", env=env)
    assert res.returncode == 4, _describe(res)
    assert "sudo apt-get install python3-venv" in res.stderr, _describe(res)
    assert not root.exists("/home/alice/.local/share/fixenv/venv")

    # Root: installs python3-venv with apt-get, then fixenv from the wheel.
    res = bootstrap(root, "--install-only", env=env)
    assert res.returncode == 0, _describe(res)
    assert "installing python3-venv with apt-get" in res.stderr
    assert "python3-venv" in root.installed_packages()
    assert root.run(["fixenv", "--version"]).stdout.startswith("fixenv ")

    # Now a user installs their own copy: venv in their home, link in ~/.local/bin.
    res = bootstrap(root, "--install-only", user="alice", env=env)
    assert res.returncode == 0, _describe(res)
    link = root.path("/home/alice/.local/bin/fixenv")
    assert os.readlink(link) == "/home/alice/.local/share/fixenv/venv/bin/fixenv"
    out = root.run(["/home/alice/.local/bin/fixenv", "plan", "--json"], user="alice").stdout
    assert json.loads(out)["changes_pending"] is True  # no headers, no compiler yet

    # A URL source (served on the loopback address, which the chroot shares with the host).
    handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                directory=str(root.path(WHEELS)))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{wheel}"
        res = bootstrap(root, "--install-only", user="alice",
                        env={"FIXENV_SOURCE": url, "FIXENV_HOME": "/home/alice/fx-url",
                             "FIXENV_BIN_DIR": "/home/alice/bin"})
    finally:
        server.shutdown()
        server.server_close()
    assert res.returncode == 0, _describe(res)
    assert f"installing fixenv from {url}" in res.stderr, _describe(res)
    assert root.run(["/home/alice/bin/fixenv", "--version"], user="alice").returncode == 0

    # A source that does not exist is bad input, before anything is installed.
    res = bootstrap(root, "--install-only", user="alice",
                    env={"FIXENV_SOURCE": "/nowhere/fixenv.whl", "FIXENV_HOME": "/tmp/fx"})
    assert res.returncode == 3, _describe(res)
    assert "no such file or directory" in res.stderr
    assert not root.exists("/tmp/fx")
