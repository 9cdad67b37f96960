"""The real interpreters on this machine, through the real CLI (`python -m fixenv`).

* every pyenv build under $PYENV_ROOT/versions (default /root/.pyenv) is `pyenv`, has its
  headers, and `plan --python` for it has nothing to install;
* a relocated copy of one pyenv build whose include dir is moved aside plans exactly
  `pyenv install --force <version>` (and no system -dev package);
* Debian's /usr/bin/python3.11 is `apt` (dpkg owns it);
* a venv made from each (python -m venv) is `in_venv` and reports its base's provider.

Skipped, with the reason, where an interpreter is absent.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from typing import Any, Dict, List, Optional

import pytest

from tests.fakes.fakebin import relocated_copy

pytestmark = pytest.mark.realpython

PYENV_ROOT = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
VERSIONS = os.path.join(PYENV_ROOT, "versions")
DEBIAN_PY = "/usr/bin/python3.11"


def pyenv_versions() -> List[str]:
    if not os.path.isdir(VERSIONS):
        return []
    return sorted(v for v in os.listdir(VERSIONS)
                  if os.access(os.path.join(VERSIONS, v, "bin", "python"), os.X_OK)
                  and not os.path.islink(os.path.join(VERSIONS, v)))


PYENV = pyenv_versions()
NO_PYENV = "no pyenv builds under %s" % VERSIONS


def fixenv(*args: str, env: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    """Run the real CLI; return its JSON."""
    full = dict(os.environ)
    full.update(env or {})
    proc = subprocess.run([sys.executable, "-m", "fixenv"] + list(args), env=full,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=180)
    assert proc.returncode in (0, 10), "fixenv %s exited %d:\n%s" % (
        " ".join(args), proc.returncode, proc.stderr)
    return json.loads(proc.stdout)


_DETECTED: Dict[Any, str] = {}


def detect(python: str, env: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    return fixenv("detect", "--python", python, "--json", env=env)


def detect_base(python: str) -> Dict[str, Any]:
    """detect for an installed (unchanging) interpreter, once per session."""
    if python not in _DETECTED:
        _DETECTED[python] = json.dumps(detect(python, env={"PYENV_ROOT": PYENV_ROOT}))
    return json.loads(_DETECTED[python])


def interpreter(version: str) -> str:
    return os.path.join(VERSIONS, version, "bin", "python")


def steps(plan: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    return {s["id"]: s for s in plan["steps"]}


def need_compilers() -> None:
    if not (shutil.which("gcc") and shutil.which("g++")):
        pytest.skip("gcc/g++ absent: the plan would (rightly) install a compiler")


@pytest.mark.skipif(not PYENV, reason=NO_PYENV)
@pytest.mark.parametrize("version", PYENV)
def test_pyenv_build_is_pyenv_with_headers(version):
    py = detect_base(interpreter(version))["python"]
    assert py["provider"] == "pyenv"
    assert py["provider_detail"] == version
    assert py["has_headers"] is True
    assert py["in_venv"] is False
    assert py["include"].startswith(os.path.join(VERSIONS, version, "include") + "/")
    assert os.path.isfile(os.path.join(py["include"], "Python.h"))
    assert py["version"] == version.rstrip("t")


@pytest.mark.skipif(not PYENV, reason=NO_PYENV)
@pytest.mark.parametrize("version", PYENV)
def test_plan_for_a_pyenv_build_has_nothing_to_install(version):
    need_compilers()
    plan = fixenv("plan", "--python", interpreter(version), "--json",
                  env={"PYENV_ROOT": PYENV_ROOT})
    by_id = steps(plan)
    assert by_id["python-headers"]["status"] == "ok", by_id["python-headers"]
    assert [s["id"] for s in plan["steps"] if s["status"] == "change"] == []
    assert plan["changes_pending"] is False


def _pick_version() -> Optional[str]:
    for want in ("3.12", "3.11", "3.10", "3.9", "3.13", "3.8"):
        for v in reversed(PYENV):
            if v.startswith(want + "."):
                return v
    return None


@pytest.fixture(scope="module")
def moved_aside(tmp_path_factory):
    version = _pick_version()
    if version is None:
        pytest.skip(NO_PYENV)
    root = str(tmp_path_factory.mktemp("pyenv-root"))
    copy = os.path.join(root, "versions", version)
    # bin/ copied, stdlib symlinked, _sysconfigdata rewritten to the new prefix: without
    # the rewrite INCLUDEPY would still name the original's headers (tests/fakes/fakebin.py)
    relocated_copy(os.path.join(VERSIONS, version), copy)
    return version, root, copy


def test_relocated_copy_runs_from_its_new_prefix(moved_aside):
    version, root, copy = moved_aside
    py = detect(os.path.join(copy, "bin", "python3"), env={"PYENV_ROOT": root})["python"]
    assert py["prefix"] == copy and py["base_prefix"] == copy
    assert py["provider"] == "pyenv" and py["provider_detail"] == version
    assert all(c.startswith(copy + "/") for c in py["include_candidates"]), py
    assert py["has_headers"] is True  # its own (copied) include dir


def test_pyenv_build_without_headers_plans_pyenv_install_force(moved_aside):
    version, root, copy = moved_aside
    include = os.path.join(copy, "include")
    os.rename(include, include + ".aside")
    try:
        env = {"PYENV_ROOT": root}
        py = detect(os.path.join(copy, "bin", "python3"), env=env)["python"]
        assert (py["provider"], py["has_headers"]) == ("pyenv", False)
        plan = fixenv("plan", "--python", os.path.join(copy, "bin", "python3"), "--json",
                      env=env)
    finally:
        os.rename(include + ".aside", include)
    headers = steps(plan)["python-headers"]
    assert headers["status"] == "change"
    assert headers["commands"] == [["pyenv", "install", "--force", version]]
    assert plan["changes_pending"] is True
    # never the wrong fix: no distribution -dev/-devel package for a pyenv Python
    every = [w for s in plan["steps"] for c in s["commands"] for w in c]
    assert not [w for w in every if w.startswith("python") and ("-dev" in w)], every


@pytest.mark.skipif(not os.access(DEBIAN_PY, os.X_OK), reason="%s absent" % DEBIAN_PY)
def test_debian_python_is_apt():
    if not shutil.which("dpkg-query"):
        pytest.skip("no dpkg-query on this machine")
    py = detect_base(DEBIAN_PY)["python"]
    owner = subprocess.run(["dpkg-query", "-S", DEBIAN_PY], stdout=subprocess.PIPE,
                           universal_newlines=True).stdout.split(":")[0]
    assert py["provider"] == "apt"
    assert py["provider_detail"] == owner
    assert py["in_venv"] is False
    assert py["base_executable"] == DEBIAN_PY


def _venv_bases() -> List[str]:
    bases = [DEBIAN_PY] if os.access(DEBIAN_PY, os.X_OK) else []
    # python -m venv exists from 3.3 on; 2.7 has none
    return bases + [interpreter(v) for v in PYENV if not v.startswith("2.")]


VENV_BASES = _venv_bases()


@pytest.mark.skipif(not VENV_BASES, reason="no real interpreter to make a venv from")
@pytest.mark.parametrize("base", VENV_BASES)
def test_venv_reports_its_base_provider(base, tmp_path):
    env = {"PYENV_ROOT": PYENV_ROOT}
    base_facts = detect_base(base)["python"]
    venv = str(tmp_path / "venv")
    made = subprocess.run([base, "-m", "venv", "--without-pip", venv], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=120)
    if made.returncode != 0:
        pytest.skip("%s -m venv failed here: %s" % (base, made.stdout.strip()[-200:]))
    py = detect(os.path.join(venv, "bin", "python"), env=env)["python"]
    assert py["in_venv"] is True
    assert py["executable"].startswith(venv + "/")
    assert py["prefix"] == venv
    assert py["base_prefix"] == base_facts["base_prefix"]
    assert (py["provider"], py["provider_detail"]) == (base_facts["provider"],
                                                       base_facts["provider_detail"])
    assert py["provider"] in ("apt", "pyenv")
    assert py["include"] == base_facts["include"] and py["has_headers"] is True
