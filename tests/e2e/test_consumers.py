"""Issue 14, end to end: the programs that failed are run the way they build.

A throwaway Debian 12 root with build-essential but no python3.11-dev, a venv over Debian's
python3.11 holding torch 2.13.0 (CPU), Triton, cffi and Cython:

* `fixenv verify --consumers` fails, naming each consumer; `fixenv apply --yes --consumers`
  installs the headers and then every consumer check passes (torch.compile included);
* a noexec tmpfs as TMPDIR: detected (buildenv.noexec), every consumer fails to load what it
  built, `apply --yes --consumers` persists an exec-capable TMPDIR and they all pass, also
  in a new login shell that still starts with the noexec TMPDIR.

Downloads (~480 MB of wheels, once; CI keeps them under FIXENV_TEST_CACHE): made on the HOST
with its pip and CA store (`pip download`), never inside the root. torch and Triton are
installed once on the host into a cached --target dir of the same Python version (3.11) and
bind-mounted read-only into the root's venv through a .pth file (copying 1.5 GB into every
root would cost more than the test); cffi, Cython, setuptools and wheel are pip-installed
into the venv inside the root with --no-index from the same wheelhouse.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Dict, List

import pytest

from . import rootfs

pytestmark = [pytest.mark.e2e, pytest.mark.large_download]

VENV = "/opt/venv"
SITE_IN_ROOT = "/opt/consumer-site"
WHEELS_IN_ROOT = "/root/consumer-wheels"
SCRATCH = "/scratch"  # the noexec tmpfs, inside the root
TORCH = "torch==2.13.0"
TRITON = "triton==3.9.0"
SMALL = ("cffi", "Cython", "setuptools", "wheel")
ALL = ["consumer:torch", "consumer:triton", "consumer:pip", "consumer:cffi", "consumer:cython"]


def _cache() -> Path:
    return rootfs.cache_dir() / "consumers"


def wheelhouse() -> Path:
    """torch (the CPU wheel this machine's pip finds), Triton, cffi, Cython, setuptools,
    wheel and their dependencies, for CPython 3.11 on this architecture."""
    final = _cache() / "wheelhouse-py311"
    if (final / ".complete").exists():
        return final
    _cache().mkdir(parents=True, exist_ok=True)
    with rootfs._locked("consumers-wheelhouse"):
        if (final / ".complete").exists():
            return final
        rootfs._log("downloading torch, triton, cffi, Cython on the host (one-off, ~480 MB)")
        final.mkdir(exist_ok=True)
        rootfs._check(["/usr/bin/python3.11", "-m", "pip", "download", "--only-binary=:all:",
                       "--disable-pip-version-check", "--dest", str(final), TORCH, TRITON,
                       *SMALL], timeout=1800)
        (final / ".complete").write_text("")
    return final


def site() -> Path:
    """torch + Triton installed (host-side, --target) for Python 3.11: bind-mounted."""
    final = _cache() / "site-py311"
    if (final / ".complete").exists():
        return final
    wheels = wheelhouse()
    with rootfs._locked("consumers-site"):
        if (final / ".complete").exists():
            return final
        tmp = Path(tempfile.mkdtemp(prefix=".site-", dir=_cache()))
        try:
            rootfs._check(["/usr/bin/python3.11", "-m", "pip", "install", "--no-index",
                           "--no-compile", "--disable-pip-version-check", "--find-links",
                           str(wheels), "--target", str(tmp / "site"), TORCH, TRITON],
                          timeout=1800)
            if final.exists():
                shutil.rmtree(final)
            os.rename(tmp / "site", final)
            (final / ".complete").write_text("")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def consumer_venv(root: rootfs.Root) -> None:
    """The user's venv: Debian's python3.11, cffi/Cython/setuptools/wheel pip-installed
    offline, torch and Triton through a read-only bind mount + .pth."""
    wheels = wheelhouse()
    dest = root.path(WHEELS_IN_ROOT)
    dest.mkdir(parents=True)
    for whl in wheels.glob("*.whl"):
        if not whl.name.startswith(("torch-", "triton-")):
            shutil.copy(whl, dest)
    root.run(["python3", "-m", "venv", VENV])
    root.run([VENV + "/bin/pip", "install", "--no-index", "--find-links", WHEELS_IN_ROOT,
              *SMALL], env={"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_CACHE_DIR": "1"})
    mnt = root.path(SITE_IN_ROOT)
    mnt.mkdir(parents=True)
    rootfs._check(["mount", "--bind", str(site()), str(mnt)])
    rootfs._check(["mount", "-o", "remount,bind,ro", str(mnt)])
    root.write(VENV + "/lib/python3.11/site-packages/consumer-site.pth", SITE_IN_ROOT + "\n")


def fixenv(root: rootfs.Root, *args: str, env: Dict[str, str] = None,
           login: bool = False) -> subprocess.CompletedProcess:
    """fixenv as the user in the venv runs it (a login shell: what a new terminal gets)."""
    base = {"VIRTUAL_ENV": VENV, "PATH": VENV + "/bin:" + rootfs.CHROOT_PATH}
    base.update(env or {})
    argv: List[str] = [root.fixenv, *args]
    if login:
        argv = ["bash", "-l", "-c", 'PATH="%s/bin:$PATH" exec "$@"' % VENV, "bash", *argv]
    return root.run(argv, check=False, env=base, timeout=1800)


def checks(res: subprocess.CompletedProcess, key: str = "") -> Dict[str, dict]:
    data = json.loads(res.stdout)
    if key:
        data = data[key]
    return {c["name"]: c for c in data["checks"]}


def test_consumers_fail_without_headers_and_pass_after_apply(make_root):
    root = make_root("compiler")
    consumer_venv(root)
    before = fixenv(root, "verify", "--consumers", "--json")
    assert before.returncode == 1, before.stderr[-3000:]
    got = checks(before)
    assert got["headers"]["ok"] is False
    for name in ALL:  # each consumer named, failed, timed
        assert got[name]["ok"] is False, (name, got[name])
        assert got[name]["seconds"] > 0
        assert "fixenv's own checks fail too" in got[name]["detail"], got[name]
    assert "Python.h" in got["consumer:torch"]["detail"]

    applied = fixenv(root, "apply", "--yes", "--consumers", "--json")
    assert applied.returncode == 0, applied.stdout[-6000:] + applied.stderr[-3000:]
    recap = json.loads(applied.stdout)
    assert recap["summary"]["failed"] == 0 and recap["summary"]["changed"] >= 1
    after = checks(applied, "verify")
    for name in ALL:
        assert after[name]["ok"] is True, (name, after[name])
        assert after[name]["seconds"] > 0
    assert "torch.compile (Inductor, CPU) built and ran a kernel" in \
        after["consumer:torch"]["detail"]
    assert "python3.11-dev" in root.installed_packages()
    # only some, by name; one that is not installed is a failure saying so
    some = fixenv(root, "verify", "--consumers=cffi,cython", "--json")
    assert some.returncode == 0, some.stdout[-3000:]
    names = [n for n in checks(some) if n.startswith("consumer:")]
    assert names == ["consumer:cffi", "consumer:cython"]


def test_a_noexec_tmpdir_is_detected_and_fixed(make_root):
    root = make_root("compiler")
    root.apt_install("python3.11-dev")
    consumer_venv(root)
    scratch = root.path(SCRATCH)
    scratch.mkdir()
    rootfs._check(["mount", "-t", "tmpfs", "-o", "noexec,nosuid,size=512m,mode=1777", "tmpfs",
                   str(scratch)])
    try:
        noexec = {"TMPDIR": SCRATCH}
        facts = json.loads(fixenv(root, "detect", "--json", env=noexec).stdout)
        assert facts["buildenv"]["noexec"] == [{"what": "TMPDIR", "path": SCRATCH}]
        assert facts["buildenv"]["fix_env"]["TMPDIR"]["to"] == "/var/tmp"

        before = fixenv(root, "verify", "--consumers", "--json", env=noexec)
        assert before.returncode == 1
        got = checks(before)
        assert got["build-env"]["ok"] is False and SCRATCH in got["build-env"]["detail"]
        for name in ("consumer:torch", "consumer:triton", "consumer:cffi"):
            assert got[name]["ok"] is False, (name, got[name])
            assert "mounted noexec" in got[name]["detail"], got[name]["detail"]

        plan = json.loads(fixenv(root, "plan", "--json", env=noexec).stdout)
        step = next(s for s in plan["steps"] if s["id"] == "build-env")
        assert step["status"] == "change" and "TMPDIR=/var/tmp" in step["reason"]

        applied = fixenv(root, "apply", "--yes", "--consumers", "--json", env=noexec)
        assert applied.returncode == 0, applied.stdout[-6000:] + applied.stderr[-3000:]
        after = checks(applied, "verify")
        for name in ALL:
            assert after[name]["ok"] is True, (name, after[name])
        assert "TMPDIR" in root.path("/etc/profile.d/fixenv-buildenv.sh").read_text()

        # a new login shell that starts with the noexec TMPDIR gets the exec-capable one
        shell = fixenv(root, "verify", "--consumers=triton,cffi,cython", "--json",
                       env=noexec, login=True)
        assert shell.returncode == 0, shell.stdout[-4000:] + shell.stderr[-2000:]
        assert all(c["ok"] for c in checks(shell).values())
        # and plan finds nothing left to change there
        replan = json.loads(fixenv(root, "plan", "--json", env=noexec, login=True).stdout)
        assert replan["changes_pending"] is False
    finally:
        subprocess.run(["umount", "-l", str(scratch)], check=False)
