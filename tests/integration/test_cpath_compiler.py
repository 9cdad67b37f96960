"""CPATH as the real g++ reads it, and verify's Inductor-style check run for real
(fixenv/cpath.py, fixenv/verify.py); the pure rules are in tests/unit/test_cpath.py."""
from __future__ import annotations

import os
import shutil
import subprocess
from typing import Dict

from fixenv import verify
from fixenv.runner import Runner

from tests.unit.test_cpath import GXX, HOST_INC, HOST_MULTI, SRC, facts, group, needs_gxx


def _gxx(tmp_path, env_extra: Dict[str, str], *args: str) -> subprocess.CompletedProcess:
    src = tmp_path / "t.cpp"
    src.write_text(SRC)
    env = {k: v for k, v in os.environ.items()
           if k not in ("CPATH", "C_INCLUDE_PATH", "CPLUS_INCLUDE_PATH")}
    env.update(env_extra)
    return subprocess.run([GXX, *args, "-fsyntax-only", str(src)], env=env, cwd=str(tmp_path),
                          capture_output=True, text=True)


def _relocated(tmp_path):
    """A copy of the host's 3.11 headers in a Debian layout under tmp_path (a sysroot)."""
    root = tmp_path / "sysroot"
    shutil.copytree(HOST_INC, root / "usr/include/python3.11")
    shutil.copytree(HOST_MULTI, root / "usr/include/x86_64-linux-gnu/python3.11")
    return root


@needs_gxx
def test_gxx_finds_headers_through_cpath_despite_a_missing_dash_i(tmp_path):
    root = _relocated(tmp_path)
    f = facts(include=str(root / "usr/include/python3.11"),
              sysconfig="/nonexistent/include/python3.11")
    g = group(f)
    assert g["dirs"] == [str(root / "usr/include/python3.11"), str(root / "usr/include")]
    missing_i = "-I/nonexistent/include/python3.11"
    assert _gxx(tmp_path, {}, missing_i).returncode != 0
    # C_INCLUDE_PATH is C only: g++ ignores it, which is why fixenv never uses it
    assert _gxx(tmp_path, {"C_INCLUDE_PATH": g["value"]}, missing_i).returncode != 0
    ok = _gxx(tmp_path, {"CPATH": g["value"]}, missing_i)
    assert ok.returncode == 0, ok.stderr


@needs_gxx
def test_inductor_check_uses_only_cpath(tmp_path, monkeypatch):
    from fixenv.verify import SOURCE, _defines

    root = _relocated(tmp_path)
    f = facts(include=str(root / "usr/include/python3.11"),
              sysconfig="/nonexistent/include/python3.11")
    f["compilers"]["cxx"] = GXX
    monkeypatch.delenv("CPATH", raising=False)
    bad = verify.inductor_check(f, Runner(), SOURCE, str(tmp_path), _defines(f["python"]))
    assert bad is not None and not bad.ok and "(missing)" in bad.detail and bad.fix
    monkeypatch.setenv("CPATH", group(f)["value"])
    f["env"]["CPATH"] = group(f)["value"]  # the facts of a shell that has it
    good = verify.inductor_check(f, Runner(), SOURCE, str(tmp_path), _defines(f["python"]))
    assert good is not None and good.ok, good.detail
    from fixenv import headers
    assert headers.via_cpath(f) == str(root / "usr/include/python3.11/Python.h")
