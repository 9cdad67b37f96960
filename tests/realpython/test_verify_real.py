"""detect + verify against the real interpreters on this machine (skipped where absent)."""
from __future__ import annotations

import glob
import json
import os
import subprocess
import sys

import pytest

from fixenv.facts import gather
from fixenv.runner import RecordingRunner, Runner
from fixenv.verify import verify

pytestmark = pytest.mark.realpython

PYENV = sorted(glob.glob("/root/.pyenv/versions/*/bin/python"))
DEBIAN = "/usr/bin/python3.11"
FIXENV = [sys.executable, "-m", "fixenv"]


def _need(path: str) -> None:
    if not os.access(path, os.X_OK):
        pytest.skip("%s is not on this machine" % path)


def _expected_xy(path: str) -> str:
    out = subprocess.run([path, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


@pytest.mark.parametrize("python", PYENV + [DEBIAN])
def test_detect_and_verify_real_interpreters(python):
    _need(python)
    facts = gather(RecordingRunner(), python)
    py = facts["python"]
    assert py["xy"] == _expected_xy(python)
    assert py["has_headers"] is True
    assert os.path.isfile(os.path.join(py["include"], "Python.h"))
    assert py["provider"] == ("apt" if python == DEBIAN else "pyenv")
    result = verify(facts, Runner())
    assert result.ok, result.to_json()
    names = [c.name for c in result.checks]
    assert names == ["headers", "c-compiler", "cxx-compiler", "build-c", "import", "build-cxx",
                     "inductor"]  # issue 4: -I<sysconfig include> + CPATH, as Inductor


def test_venv_reports_its_base_and_verifies(tmp_path):
    _need(DEBIAN)
    venv = tmp_path / "v"
    subprocess.run([DEBIAN, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    facts = gather(RecordingRunner(), py)
    assert facts["python"]["in_venv"] is True
    assert facts["python"]["base_prefix"] == "/usr"
    assert facts["python"]["provider"] == "apt"
    assert facts["python"]["include"] == "/usr/include/python3.11"
    assert verify(facts, Runner()).ok


def test_virtual_env_variable_selects_the_target(tmp_path):
    _need(DEBIAN)
    venv = tmp_path / "v"
    subprocess.run([DEBIAN, "-m", "venv", "--without-pip", str(venv)], check=True)
    env = dict(os.environ, VIRTUAL_ENV=str(venv))
    out = subprocess.run(FIXENV + ["detect", "--json"], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    facts = json.loads(out.stdout)
    assert facts["python"]["executable"].startswith(str(venv))
    assert facts["python"]["in_venv"] is True


def test_verify_fails_when_headers_are_for_another_version(tmp_path):
    """A target whose include dir holds another version's headers must fail the guard."""
    _need(DEBIAN)
    other = [p for p in PYENV if "/3.12" in p or "/3.10" in p]
    if not other:
        pytest.skip("no second Python version to borrow headers from")
    facts = gather(RecordingRunner(), DEBIAN)
    wrong = gather(RecordingRunner(), other[0])["python"]["include"]
    facts["python"]["include"] = wrong
    result = verify(facts, Runner())
    assert not result.ok
    build = [c for c in result.checks if c.name == "build-c"][0]
    assert "not for the target Python version" in build.detail


def test_verify_cli_json_contract_and_exit_code():
    _need(DEBIAN)
    out = subprocess.run(FIXENV + ["verify", "--python", DEBIAN, "--json"], capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["ok"] is True
    assert {"name", "ok", "detail"} <= set(data["checks"][0])


def test_verify_exits_nonzero_without_headers(tmp_path):
    """A copy of a pyenv tree with include/ moved aside: headers check and build fail."""
    src = [p for p in PYENV if "/3.12" in p]
    if not src:
        pytest.skip("no pyenv 3.12")
    facts = gather(RecordingRunner(), src[0])
    facts["python"]["include"] = str(tmp_path / "missing" / "python3.12")
    facts["python"]["has_headers"] = False
    result = verify(facts, Runner())
    assert not result.ok
    assert [c.ok for c in result.checks if c.name == "headers"] == [False]
