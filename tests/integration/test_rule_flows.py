"""Flows for the rules of issue 11 where the distribution's manager cannot run here.

* Rootless on an rpm distribution with a non-default Python (Fedora 42, default 3.13, target
  3.12/3.11): the plan's own commands run for real, except the download: a stand-in `dnf`
  copies a *real* rpm (built here with rpmbuild, holding the real headers of a real CPython)
  into --destdir; then the real `rpm2archive`, `find` and `tar` unpack it, and the real
  compiler builds an extension through the CPATH value the plan computed, which the real
  interpreter imports. The package it fetched is the rooted rule's (`python3.X-devel`).
* Rooted installs for the new rules (Fedora 3.13t / 3.14t / 3.14d, openSUSE 3.13t, deadsnakes
  nogil): planned with probing, every read-only query answered by the fake managers in the
  real tools' output format (tests/fakes), the planned argv executed by them, the header files
  land in the target's include dir, and a second plan says the step is ok.
"""
from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest

from fixenv.backends import apt
from fixenv.engine import load_playbook, make_plan, resolve
from fixenv.facts import osinfo, validate
from fixenv.runner import RecordingRunner, Runner
from tests.factsfix import make_facts
from tests.fakes.fakebin import FakeMachine, real_python, relocated_copy

R = real_python()
DISTROS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "resources", "distros")
REAL_BIN = os.environ.get("FAKEPM_REAL_BIN", "/usr/bin")

pytestmark = pytest.mark.skipif(R is None, reason="no pyenv CPython 3.9-3.12 with headers")


def _facts(tree: str, py: Dict[str, Any], managers: List[str], *, root: bool,
           home: str = "") -> Dict[str, Any]:
    f = make_facts(root=root, os=osinfo.detect_os(root_dir=os.path.join(DISTROS, tree)),
                   managers=managers, python=dict(py),
                   compilers={"cc": shutil.which("gcc"), "cxx": shutil.which("g++")})
    if home:
        f["user"] = {"name": "u", "home": home}
    return validate(json.loads(json.dumps(f)), "facts")


def _py(exe: str, version: str, include: str, provider: str, abiflags: str = "",
        detail: Any = None, prefix: str = "/usr") -> Dict[str, Any]:
    return {"executable": exe, "version": version, "implementation": "CPython",
            "abiflags": abiflags, "prefix": prefix, "base_prefix": prefix, "in_venv": False,
            "include": include, "has_headers": os.path.isfile(os.path.join(include, "Python.h")),
            "provider": provider, "provider_detail": detail, "multiarch": "x86_64-linux-gnu"}


def _steps(plan) -> Dict[str, Any]:
    return {s.id: s for s in plan.steps}


def _execute(step, facts) -> None:
    """Run the step's exact actions (what apply executes for it) with the real runner."""
    actions = getattr(step, "actions", ()) or resolve(step, facts).actions
    runner = Runner()
    for action in actions:
        argv = list(getattr(action, "argv", ()))
        assert argv, action
        res = runner.run(argv, mutating=True, timeout=300)
        assert res.ok, (argv, res.output)


# -- rootless on Fedora: the rooted rule's package, fetched and unpacked for real ----------

def _real_rpm(tmp: Path, name: str, headers: str, xy: str) -> Path:
    """A real noarch rpm named `name` whose payload is /usr/include/python<xy>/ = `headers`."""
    top = tmp / "rpmbuild"
    (top / "SPECS").mkdir(parents=True)
    spec = top / "SPECS" / (name + ".spec")
    spec.write_text(
        "Name: %s\nVersion: %s\nRelease: 1.fc42\nSummary: headers\nLicense: PSF-2.0\n"
        "BuildArch: noarch\n%%description\nheaders for the test\n%%install\n"
        "mkdir -p %%{buildroot}/usr/include\ncp -a %s %%{buildroot}/usr/include/python%s\n"
        "%%files\n/usr/include/python%s\n" % (name, R["version"], headers, xy, xy))
    res = subprocess.run(["rpmbuild", "--define", "_topdir %s" % top, "--define",
                          "_rpmdir %s" % (top / "RPMS"), "--define", "__os_install_post %{nil}",
                          "-bb", str(spec)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True, timeout=300)
    assert res.returncode == 0, res.stdout
    return next((top / "RPMS").rglob(name + "-*.rpm"))


STAND_IN_DNF = r'''#!%s -S
"""dnf's `download` (a dnf-plugins-core command, not installed here): copy the named rpms
from the test's repository dir into --destdir, as `dnf download` does; log the argv."""
import json, os, shutil, sys
args = sys.argv[1:]
with open(%r, "a") as fh:
    fh.write(json.dumps(args) + "\n")
words = [a for a in args if not a.startswith("-")]
if "download" not in words or "--destdir" not in args:
    sys.stderr.write("No such command: %%s\n" %% (words[:1] or [""])[0])
    sys.exit(1)
dest = args[args.index("--destdir") + 1]
names = [w for w in words[words.index("download") + 1:] if w != dest]
repo = %r
for n in names:
    hits = [f for f in os.listdir(repo) if f.startswith(n + "-") and f.endswith(".rpm")
            and f[len(n) + 1:len(n) + 2].isdigit()]
    if not hits:
        sys.stderr.write("No package %%s available.\nError: No packages available.\n" %% n)
        sys.exit(1)
    for h in hits:
        shutil.copy(os.path.join(repo, h), dest)
'''


@pytest.mark.skipif(not all(shutil.which(t) for t in ("rpmbuild", "rpm2archive", "tar", "gcc")),
                    reason="needs rpmbuild, rpm2archive, tar, gcc")
def test_rootless_fedora_non_default_python_fetches_the_rooted_rule_for_real(tmp_path,
                                                                            monkeypatch):
    xy = R["xy"]
    repo = tmp_path / "repo"
    repo.mkdir()
    want = "python%s-devel" % xy
    shutil.copy(str(_real_rpm(tmp_path, want, R["include"], xy)), str(repo))
    # a decoy: the default Python's package must not be what is fetched
    shutil.copy(str(_real_rpm(tmp_path / "decoy", "python3-devel", R["include"], "3.13")),
                str(repo))
    bin_dir, log = tmp_path / "bin", tmp_path / "dnf.log"
    bin_dir.mkdir()
    (bin_dir / "dnf").write_text(STAND_IN_DNF % (sys.executable, str(log), str(repo)))
    (bin_dir / "dnf").chmod(0o755)
    monkeypatch.setenv("PATH", "%s:%s" % (bin_dir, os.environ.get("PATH", "/usr/bin:/bin")))

    usr = tmp_path / "target" / "usr"
    relocated_copy(R["prefix"], str(usr), include=False)  # the real interpreter, no headers
    exe = str(usr / "bin" / ("python" + xy))
    home = tmp_path / "home"
    home.mkdir()
    py = _py(exe, R["version"], str(usr / "include" / ("python" + xy)), "dnf",
             detail="python" + xy, prefix=str(usr))
    facts = _facts("fedora42", py, ["dnf"], root=False, home=str(home))
    assert facts["os"]["default_python"] == "3.13" and facts["cpath"]["rootless"]

    plan = make_plan(load_playbook(), facts, RecordingRunner(), probe=True)
    steps = _steps(plan)
    assert steps["python-headers"].status == "skip"
    fetch = steps["rootless-headers"]
    assert fetch.status == "change", fetch.reason
    sysroot = facts["cpath"]["sysroot"]
    assert sysroot.startswith(str(home))
    dl = sysroot + ".downloads"
    assert [list(c.argv) for c in fetch.commands] == [
        ["mkdir", "-p", dl, sysroot],
        ["dnf", "-q", "download", "--destdir", dl, want],
        ["find", dl, "-name", "*.rpm", "-exec", "rpm2archive", "{}", ";"],
        ["find", dl, "-name", "*.rpm.tgz", "-exec", "tar", "-xzf", "{}", "-C", sysroot, ";"],
    ]
    assert not any(c.root for c in fetch.commands)
    # the rooted plan for the same machine installs the same package
    rooted = make_plan(load_playbook(), _facts("fedora42", py, ["dnf"], root=True),
                       RecordingRunner(), probe=False)
    assert list(_steps(rooted)["python-headers"].commands[-1].argv) == \
        ["dnf", "install", "-y", want]

    _execute(fetch, facts)
    assert [json.loads(x) for x in log.read_text().splitlines()] == [
        ["-q", "download", "--destdir", dl, want]]
    header = os.path.join(sysroot, "usr", "include", "python" + xy, "Python.h")
    assert os.path.isfile(header)
    assert not os.path.exists(os.path.join(sysroot, "usr", "include", "python3.13"))

    # CPATH as the plan computes it; the build finds Python.h only through it
    value = dict(_steps(plan)["cpath"].data)["value"]
    assert value.split(":")[0] == os.path.join(sysroot, "usr", "include", "python" + xy)
    src = tmp_path / "m.c"
    src.write_text('#include <Python.h>\nstatic struct PyModuleDef d = {PyModuleDef_HEAD_INIT, '
                   '"m", NULL, -1, NULL};\nPyMODINIT_FUNC PyInit_m(void) '
                   '{ return PyModule_Create(&d); }\n')
    env = dict(os.environ, CPATH=value)
    build = subprocess.run(["gcc", "-shared", "-fPIC", "-I" + py["include"], str(src), "-o",
                            str(tmp_path / "m.so")], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True, timeout=120)
    assert build.returncode == 0, build.stdout
    imp = subprocess.run([exe, "-c", "import sys; sys.path.insert(0, %r); import m; print(m)"
                          % str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True, timeout=60)
    assert imp.returncode == 0 and "<module 'm'" in imp.stdout, imp.stdout
    # and the plan now finds the unpacked headers
    again = make_plan(load_playbook(), facts, RecordingRunner(), probe=True)
    assert _steps(again)["rootless-headers"].status == "ok"


# -- rooted installs of the new rules through fake managers (real output formats) ----------

# name: (tree, managers, programs, version, abiflags, interpreter package, header packages,
#        expected queries' programs, expected changing argv)
ROOTED = {
    "fedora41-313t": ("fedora41", ["dnf"], ["dnf", "rpm"], "3.13.5", "t",
                      "python3.13-freethreading", ["python3.13-freethreading"],
                      [["dnf", "reinstall", "-y", "python3.13-freethreading"]]),
    "fedora43-314t": ("fedora42", ["dnf"], ["dnf", "rpm"], "3.14.0", "t",
                      "python3.14-freethreading", ["python3.14-freethreading-devel"],
                      [["dnf", "install", "-y", "python3.14-freethreading-devel"]]),
    "fedora42-313d": ("fedora42", ["dnf"], ["dnf", "rpm"], "3.13.5", "d", "python3-debug",
                      ["python3-debug"], [["dnf", "reinstall", "-y", "python3-debug"]]),
    "tumbleweed-313t": ("opensuse-tumbleweed", ["zypper"], ["zypper", "rpm"], "3.13.7", "t",
                        "python313-nogil-base", ["python313-nogil-devel"],
                        [["zypper", "--non-interactive", "install", "python313-nogil-devel"]]),
    "deadsnakes-313t": ("ubuntu2404", ["apt"], ["apt-get", "apt-cache", "dpkg-query"], "3.13.7",
                        "t", "python3.13-nogil", ["python3.13-dev"],
                        [["apt-get", "-o", "DPkg::Lock::Timeout=120", "install", "-y",
                          "--no-install-recommends", "python3.13-dev"]]),
}


@pytest.mark.parametrize("name", sorted(ROOTED))
def test_new_rule_installs_through_the_fake_manager(name, tmp_path, monkeypatch):
    tree, managers, programs, version, flags, owner, headers_pkgs, expected = ROOTED[name]
    xy = ".".join(version.split(".")[:2])
    m = FakeMachine(str(tmp_path / "machine")).programs(*programs)
    include = str(tmp_path / "usr" / "include" / ("python" + xy + flags))
    exe = "/usr/bin/python%s%s" % (xy, flags)
    m.installed(owner, version + "-1", files=[exe])
    for pkg in headers_pkgs:  # the real headers of a real CPython stand in for 3.1Xt's
        m.package(pkg, version + "-1", [(R["include"], include)])
    for key, value in m.env(path=[REAL_BIN, "/bin"]).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(apt, "have_lists", lambda *a, **k: True)
    facts = _facts(tree, _py(exe, version, include, managers[0], flags, detail=owner),
                   managers, root=True)
    if tree == "fedora42" and version.startswith("3.14"):
        facts["os"]["default_python"] = "3.14"  # as on Fedora 43 (fedora42 tree: 3.13)
    if name == "fedora42-313d":
        assert facts["os"]["default_python"] == "3.13"

    plan = make_plan(load_playbook(), facts, Runner(), probe=True)
    step = _steps(plan)["python-headers"]
    assert step.status == "change", step.reason
    assert [list(c.argv) for c in step.commands] == expected
    queries = [c for c in m.calls() if c[0] in ("rpm", "dpkg-query", "apt-cache")]
    # a reinstall (the interpreter's own package holds the headers) needs no query
    assert bool(queries) is (expected[0][1] != "reinstall"), m.calls()
    assert not [c for c in m.calls() if c[0] not in ("rpm", "dpkg-query", "apt-cache")], \
        "planning ran a mutating command: %s" % m.calls()

    _execute(step, facts)
    assert [c for c in m.calls() if c[0] in ("dnf", "zypper", "apt-get")] == expected
    assert os.path.isfile(os.path.join(include, "Python.h"))
    state = m.state()["installed"]
    assert all(p in state for p in headers_pkgs)

    again = copy.deepcopy(facts)
    again["python"]["has_headers"] = True  # what the probe reports now
    assert _steps(make_plan(load_playbook(), again, Runner(), probe=True))[
        "python-headers"].status == "ok"
