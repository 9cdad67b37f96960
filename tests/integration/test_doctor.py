"""`fixenv doctor`: one line per check, the fix for each failure from the planner, and an exit
code that only counts what breaks builds for the target.

The report logic is tested with real plans and real verification for described machines, and
the command end to end on this machine (no compiler: a PATH without one, since the host's
compilers must not be removed). tests/e2e/test_shell_format.py runs it in a fresh Debian root.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.factsfix import make_facts

from fixenv.commands.doctor import (FAIL, OK, ORDER, SKIP, WARN, build_report, cpath_check,
                                    header_version, headers_check)
from fixenv.engine import load_playbook, make_plan
from fixenv.errors import FAILED
from fixenv.facts import normalize
from fixenv.runner import RecordingRunner, Runner
from fixenv.verify import verify

SYSTEM_PY = "/usr/bin/python3.11"
SYSTEM_INC = "/usr/include/python3.11"
FIXENV = os.path.join(os.path.dirname(sys.executable), "fixenv")
needs_headers = pytest.mark.skipif(not os.path.isfile(SYSTEM_INC + "/Python.h"),
                                   reason="needs python3.11-dev on the host")


def described(**python) -> dict:
    """A Debian 12 machine, not root, sudo allowed, Python 3.12 from apt without headers and
    no compilers (nothing on this host is at those paths)."""
    py = {"executable": "/usr/bin/python3.12", "version": "3.12.3",
          "include": "/usr/include/python3.12"}
    py.update(python)
    return normalize(make_facts(root=False, sudo=True, python=py))


def report_for(facts):
    plan = make_plan(load_playbook(), facts, RecordingRunner(), probe=False)
    return build_report(facts, verify(facts, Runner()), plan)


def test_report_names_the_planned_fix_for_each_failure():
    if os.path.exists("/usr/include/python3.12/Python.h"):
        pytest.skip("this host has python3.12 headers")
    r = report_for(described())
    assert [c.name for c in r.checks] == list(ORDER)
    assert not r.ok
    assert [c.name for c in r.failures] == ["headers", "c-compiler", "cxx-compiler"]
    checks = {c.name: c for c in r.checks}
    assert r.fix == "fixenv apply --yes --python /usr/bin/python3.12"
    headers = checks["headers"]
    assert headers.fix == r.fix
    assert any(cmd.startswith("sudo -n env DEBIAN_FRONTEND=noninteractive apt-get")
               and cmd.endswith(" python3.12-dev") for cmd in headers.fix_commands)
    assert not any("build-essential" in c for c in headers.fix_commands)
    for name in ("c-compiler", "cxx-compiler"):
        assert checks[name].fix == r.fix
        assert any(c.endswith(" build-essential") for c in checks[name].fix_commands)
        assert not any("python3.12-dev" in c for c in checks[name].fix_commands)
    assert "Inductor" in checks["cxx-compiler"].detail
    # the builds could not run: reported, but not counted twice
    for name in ("build-c", "import", "build-cxx"):
        assert checks[name].status == SKIP and not checks[name].matters
    assert checks["CPATH"].status == OK
    data = r.to_json()
    json.dumps(data)
    assert data["ok"] is False and data["failed"] == ["headers", "c-compiler", "cxx-compiler"]
    assert data["changes_pending"] is True


@needs_headers
def test_report_for_a_working_python_is_all_ok():
    from fixenv.facts import gather

    facts = gather(RecordingRunner(), SYSTEM_PY)
    if not facts["compilers"]["cc"] or not facts["compilers"]["cxx"]:
        pytest.skip("needs compilers")
    r = report_for(facts)
    assert r.ok and not r.failures
    assert all(c.status in (OK, WARN) for c in r.checks), [c.to_json() for c in r.checks]
    assert r.fix is None


def test_headers_of_another_version_fail_the_headers_check():
    if not os.path.isfile(SYSTEM_INC + "/patchlevel.h"):
        pytest.skip("needs python3.11-dev")
    c = headers_check(described(include=SYSTEM_INC))
    assert c.status == FAIL
    assert "is for Python 3.11" in c.detail and "3.12.3" in c.detail
    assert header_version(SYSTEM_INC).startswith("3.11.")


def test_cpath_sanity(tmp_path):
    py = described()["python"]  # target 3.12
    assert cpath_check(None, py).status == OK
    assert cpath_check("", py).status == OK
    good = str(tmp_path)
    assert cpath_check(good, py).status == OK
    c = cpath_check(good + ":", py)
    assert c.status == WARN and "current directory" in c.detail
    assert c.fix == "export CPATH=%s" % good
    c = cpath_check("/no/such/dir", py)
    assert c.status == WARN and "/no/such/dir does not exist" in c.detail
    assert c.fix == "unset CPATH"
    assert not c.matters  # never fails the report
    if os.path.isfile(SYSTEM_INC + "/Python.h"):
        c = cpath_check(SYSTEM_INC + ":" + good, py)
        assert c.status == WARN and "holds Python 3.11's headers" in c.detail
        assert c.fix == "export CPATH=%s" % good
        # the target's own version is fine
        assert cpath_check(SYSTEM_INC, described(version="3.11.2",
                                                 include=SYSTEM_INC)["python"]).status == OK


def test_a_bad_cpath_warns_but_does_not_fail():
    facts = described()
    facts["env"]["CPATH"] = "/no/such:"
    r = report_for(facts)
    cp = [c for c in r.checks if c.name == "CPATH"][0]
    assert cp.status == WARN and cp.ok
    assert "CPATH" not in [c.name for c in r.failures]


def doctor(*args, env=None):
    return subprocess.run([FIXENV, *args], capture_output=True, text=True, timeout=120,
                          env=env)


@needs_headers
def test_doctor_cli_on_this_machine():
    res = doctor("doctor", "--python", SYSTEM_PY)
    if res.returncode != 0:
        pytest.skip("the host itself cannot build extensions:\n" + res.stdout)
    lines = res.stdout.splitlines()
    assert lines[0] == "fixenv doctor " + SYSTEM_PY
    for name in ORDER:
        assert any(ln.split()[:2] == ["ok", name] for ln in lines), (name, res.stdout)
    assert lines[-1] == "all good: %s can build C and C++ extensions" % SYSTEM_PY
    data = json.loads(doctor("doctor", "--python", SYSTEM_PY, "--json").stdout)
    assert data["ok"] is True and data["python"] == SYSTEM_PY
    names = [c["name"] for c in data["checks"]]
    assert names[:len(ORDER)] == list(ORDER)
    # every check verify makes is in the report too
    ver = json.loads(doctor("verify", "--python", SYSTEM_PY, "--json").stdout)
    assert {c["name"] for c in ver["checks"]} <= set(names)
    for c in data["checks"]:
        assert set(c) >= {"name", "ok", "status", "detail", "fix", "matters"}


def _path_without_compilers(tmp_path) -> str:
    """A PATH with the tools planning needs and no compiler (the host keeps its gcc)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("dpkg-query", "dpkg", "apt-get", "apt-cache", "python3", "sudo", "id", "sh"):
        found = shutil.which(tool)
        if found:
            os.symlink(found, bindir / tool)
    return str(bindir)


@needs_headers
def test_doctor_without_a_compiler_fails_and_skips_the_builds(tmp_path):
    env = {"PATH": _path_without_compilers(tmp_path), "HOME": str(tmp_path)}
    res = doctor("doctor", "--python", SYSTEM_PY, "--json", env=env)
    assert res.returncode == FAILED, res.stderr
    data = json.loads(res.stdout)
    assert data["failed"] == ["c-compiler", "cxx-compiler"]
    st = {c["name"]: c["status"] for c in data["checks"]}
    assert st["headers"] == "ok"
    assert st["build-c"] == st["build-cxx"] == st["import"] == "skip"
    text = doctor("doctor", "--python", SYSTEM_PY, env=env)
    assert text.returncode == FAILED
    assert "FAIL    c-compiler" in text.stdout and "FAIL    cxx-compiler" in text.stdout
    assert "fix: " in text.stdout  # a planned command, or why there is none
    assert "2 problems (c-compiler, cxx-compiler)" in text.stdout


@needs_headers
def test_doctor_quiet_and_verbose(tmp_path):
    env = dict(os.environ, CPATH="/no/such/dir")
    quiet = doctor("-q", "doctor", "--python", SYSTEM_PY, env=env)
    assert quiet.returncode == 0, quiet.stdout
    body = [ln for ln in quiet.stdout.splitlines()[1:] if ln.strip()]
    assert body[0].split()[:2] == ["warn", "CPATH"]  # only the problem is listed
    assert not any(ln.split()[:1] == ["ok"] and "all good" not in ln for ln in body)
    assert "fix: unset CPATH" in quiet.stdout
    assert "(1 warning)" in body[-1]
    verbose = doctor("--verbose", "doctor", "--python", SYSTEM_PY)
    assert "executable " + SYSTEM_PY in verbose.stdout
    assert "include dir " + SYSTEM_INC in verbose.stdout
    normal = doctor("doctor", "--python", SYSTEM_PY)
    assert "include dir" not in normal.stdout


def test_in_a_shell_older_than_a_rootless_apply_doctor_says_what_verify_says():
    """Nothing left to install (the plan is done), but this shell predates the CPATH fixenv
    persisted: the failing checks' fix is verify's ("start a new login shell, or eval ...")
    rather than "none planned (pyenv-build-deps: not needed here ...)"."""
    from fixenv.model import Check, Plan, PlannedStep, VerifyResult

    shell_fix = ('start a new login shell, or run `eval "$(fixenv env)"` in this one')
    facts = described(include="/nonexistent/include/python3.12")
    facts["compilers"] = {"cc": "/usr/bin/gcc", "cxx": "/usr/bin/g++"}
    headers_dir = "/home/u/.local/share/fixenv/sysroot/usr/include/python3.12"
    result = VerifyResult("/usr/bin/python3.12", (
        Check("headers", False, "Python.h is in %s, but CPATH (unset) does not reach it"
              % headers_dir, shell_fix),
        Check("c-compiler", True, "/usr/bin/gcc"),
        Check("build-c", False, "gcc failed: Python.h: No such file or directory", shell_fix)))
    plan = Plan("python-headers", (
        PlannedStep("pyenv-build-deps", "packages", "x", "skip",
                    "not needed here: `python.provider == 'pyenv'` is false"),
        PlannedStep("cpath", "env", "CPATH", "ok", "persisted in /home/u/.profile; this shell "
                    "predates it: start a new login shell or run `eval \"$(fixenv env)\"`")),
        "/usr/bin/python3.12")
    r = build_report(facts, result, plan)
    fails = [c for c in r.checks if c.status == FAIL]
    assert [c.name for c in fails] == ["headers", "build-c"]
    assert all(c.fix == shell_fix for c in fails), [c.fix for c in fails]
    assert "CPATH" in fails[0].detail and headers_dir in fails[0].detail
    assert r.fix == shell_fix
    assert "none planned" not in json.dumps(r.to_json())
