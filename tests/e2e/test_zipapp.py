"""Issue 6: `bash scripts/build-zipapp.sh` -> dist/fixenv.pyz, one file that runs with any
Python >= 3.9 and no pip.

Built once per module on the host (pip resolves pure-Python dependencies for 3.9). Then:
on the host it runs, read-only, with every real Python >= 3.9 found here; in a throwaway
Debian root that has python3 and a compiler but no pip and no headers it takes the root to a
passing `verify` on its own.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from . import rootfs
from .fixenvrun import describe

pytestmark = pytest.mark.e2e

REPO = rootfs.REPO
PY_H = "/usr/include/python3.11/Python.h"
IN_ROOT = "/opt/fixenv.pyz"


def _describe(res: subprocess.CompletedProcess) -> str:
    return describe(res, tail=5000, words=6)


@pytest.fixture(scope="module")
def pyz(tmp_path_factory, e2e_available) -> Path:
    out = tmp_path_factory.mktemp("zipapp") / "fixenv.pyz"
    env = dict(os.environ, PYTHON=rootfs._wheel_python())
    res = subprocess.run(["bash", str(REPO / "scripts" / "build-zipapp.sh"), str(out)],
                         capture_output=True, text=True, env=env, timeout=900)
    assert res.returncode == 0, _describe(res)
    assert out.is_file()
    return out


def host_pythons() -> list[str]:
    found = ["/usr/bin/python3.11"]
    pyenv = os.path.expanduser("~/.pyenv/versions")
    for minor in ("3.9", "3.13"):
        found += sorted(glob.glob(f"{pyenv}/{minor}.*/bin/python"))[:1]
    return [p for p in found if os.access(p, os.X_OK)]


def test_the_archive_is_pure_python_and_carries_playbooks_and_data(pyz):
    names = zipfile.ZipFile(pyz).namelist()
    assert "__main__.py" in names
    assert "fixenv/playbooks/python-headers.yaml" in names
    assert "fixenv/data/probe_ext.c" in names
    for dep in ("typer/", "click/", "rich/", "yaml/", "distro/"):
        assert any(n.startswith(dep) for n in names), f"{dep} is not vendored"
    assert not [n for n in names if n.endswith((".so", ".pyd", ".dylib"))]
    assert not [n for n in names if n.startswith("pydantic")], "typer must be a pure one"


@pytest.mark.parametrize("python", host_pythons())
def test_it_runs_with_each_python_from_3_9(pyz, python):
    res = subprocess.run([python, "-I", str(pyz), "--version"], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.startswith("fixenv "), _describe(res)
    res = subprocess.run([python, "-I", str(pyz), "playbooks", "--json"],
                         capture_output=True, text=True)
    assert res.returncode == 0, _describe(res)
    rows = json.loads(res.stdout)
    assert [r["name"] for r in rows] == ["python-headers"]
    # The playbook was read from a copy extracted for this process, removed at exit.
    assert not os.path.exists(rows[0]["path"])
    res = subprocess.run([python, "-I", str(pyz), "plan", "--python", python, "--json"],
                         capture_output=True, text=True)
    assert res.returncode == 0, _describe(res)
    assert {s["id"] for s in json.loads(res.stdout)["steps"]}


def test_verify_from_the_archive_compiles_the_bundled_probe(pyz):
    if not (os.path.exists(PY_H) and shutil.which("gcc") and shutil.which("g++")):
        pytest.skip("the host lacks python3.11-dev or gcc/g++")
    res = subprocess.run(["/usr/bin/python3.11", str(pyz), "verify", "--json",
                          "--python", "/usr/bin/python3.11"], capture_output=True, text=True)
    assert res.returncode == 0, _describe(res)
    checks = {c["name"]: c["ok"] for c in json.loads(res.stdout)["checks"]}
    assert checks.get("build-c") and checks.get("import") and checks.get("build-cxx"), checks


def test_the_zipapp_fixes_a_root_that_has_no_pip(make_root, pyz):
    root = make_root("compiler", fixenv=False)
    assert root.run(["python3", "-m", "pip", "--version"], check=False).returncode != 0
    assert not root.exists(PY_H)
    shutil.copy2(pyz, root.path(IN_ROOT))

    before = root.run(["python3", IN_ROOT, "verify", "--json"], check=False)
    assert before.returncode == 1, _describe(before)
    assert json.loads(before.stdout)["ok"] is False

    res = root.run(["python3", IN_ROOT, "apply", "--yes", "--json"], check=False)
    assert res.returncode == 0, _describe(res)
    report = json.loads(res.stdout)
    assert report["summary"]["changed"] >= 1 and report["verify"]["ok"] is True, report
    assert root.exists(PY_H)

    # Executable on its own through its shebang, like a downloaded tool.
    after = root.run([IN_ROOT, "verify", "--json"], check=False)
    assert after.returncode == 0, _describe(after)
    assert json.loads(after.stdout)["ok"] is True
    # Nothing extracted is left behind in the root's /tmp.
    assert not list(root.path("/tmp").glob("fixenv-zipapp-*"))
