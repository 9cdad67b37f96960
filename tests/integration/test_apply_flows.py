"""Full apply flows for dnf, yum, zypper, apk, pacman, brew, conda, pyenv and uv, through
fake package managers on PATH (tests/fakes) and real processes (the real Runner).

The target is a real CPython (a pyenv build) copied to where that manager would have put it,
*without* its headers; the fake manager's install copies the real headers into place, so the
verification at the end really compiles and imports an extension.

* rpm/apk/pacman systems: facts from the real gather() over a fake root tree
  (tests/resources/distros) with the fake's ownership query naming the provider, then
  make_plan / apply_plan / verify, in the order `fixenv apply` uses them.
* brew, conda, pyenv, uv (owner known from the path): the real CLI,
  `python -m fixenv apply --yes --json --python <target>`.

Each asserts the exact argv in order, that no command runs twice, that a failing manager
stops the run with its own error shown and nothing after it runs, and that verification
(the compiler calls, logged by wrappers) comes last.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any, Dict, List, Tuple

import pytest

from fixenv.engine import apply_plan, load_playbook, make_plan
from fixenv.facts import gather
from fixenv.runner import RecordingRunner, Runner
from fixenv.verify import verify
from tests.fakes.fakebin import FakeMachine, real_python, relocated_copy

R = real_python()
DISTROS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "resources", "distros")
REAL_BIN = os.environ.get("FAKEPM_REAL_BIN", "/usr/bin")

pytestmark = [
    pytest.mark.skipif(R is None, reason="no pyenv CPython 3.9-3.12 with headers to stand in "
                                         "for the managed Python"),
    pytest.mark.skipif(not all(os.access(os.path.join(REAL_BIN, t), os.X_OK)
                               for t in ("gcc", "g++", "as", "ld")),
                       reason="no real gcc/g++/as/ld in %s for the verification" % REAL_BIN),
]

COMPILERS = ("gcc", "g++")
CHANGING = {"install", "reinstall", "add", "fix", "-S", "makecache", "refresh", "update"}


def changes(calls: List[List[str]], manager: str) -> List[List[str]]:
    """The manager's changing calls (queries left out), in order."""
    return [c for c in calls if c[0] == manager and CHANGING & set(c[1:])]


def assert_verification_last(calls: List[List[str]], manager: str) -> None:
    idx_changes = [i for i, c in enumerate(calls) if c[0] == manager and CHANGING & set(c[1:])]
    idx_compile = [i for i, c in enumerate(calls) if c[0] in COMPILERS]
    assert idx_compile, "verification never compiled anything: %s" % calls
    assert max(idx_changes) < min(idx_compile), calls
    assert not [c for c in calls[min(idx_compile):] if c[0] == manager], calls
    # the C build and the C++ build (how many checks verify makes is verify's business)
    assert {c[0] for c in calls if c[0] in COMPILERS} == {"gcc", "g++"}


def assert_once(cmds: List[List[str]]) -> None:
    assert len({tuple(c) for c in cmds}) == len(cmds), "a command ran twice: %s" % cmds


# -- rpm, apk, pacman systems: gather over a fake root, then the engine -------------------

# name: (tree, programs, the interpreter's package, its version,
#        headers package, compiler packages (C, C++ or None), expected changing argv)
def _system_cases() -> Dict[str, Tuple]:
    if R is None:
        return {}
    xy, nodot = R["xy"], R["xy"].replace(".", "")
    return {
        "dnf": ("fedora41", ["dnf", "rpm"], "python" + xy, R["version"] + "-1.fc41",
                "python%s-devel" % xy, ("gcc", "gcc-c++"),
                [["dnf", "install", "-y", "python%s-devel" % xy],
                 ["dnf", "install", "-y", "gcc", "gcc-c++"]]),
        "yum": ("amazon2", ["yum", "rpm"], "python" + nodot, R["version"] + "-1.amzn2",
                "python%s-devel" % nodot, ("gcc", "gcc-c++"),
                [["yum", "install", "-y", "python%s-devel" % nodot],
                 ["yum", "install", "-y", "gcc", "gcc-c++"]]),
        "zypper": ("opensuse-leap156", ["zypper", "rpm"], "python%s-base" % nodot,
                   R["version"] + "-150600.1.1", "python%s-devel" % nodot, ("gcc", "gcc-c++"),
                   [["zypper", "--non-interactive", "install", "python%s-devel" % nodot],
                    ["zypper", "--non-interactive", "install", "gcc", "gcc-c++"]]),
        "apk": ("alpine320", ["apk"], "python3", R["version"] + "-r0", "python3-dev",
                ("build-base", None),
                [["apk", "add", "--no-cache", "python3-dev"],
                 ["apk", "add", "--no-cache", "build-base"]]),
        # Arch ships the headers inside `python`: the fix reinstalls it
        "pacman": ("arch", ["pacman"], "python", R["version"] + "-1", "python",
                   ("base-devel", None),
                   [["pacman", "-S", "--noconfirm", "python"],
                    ["pacman", "-S", "--noconfirm", "--needed", "base-devel"]]),
    }


SYSTEM = _system_cases()
SYSTEM_ERRORS = {
    "dnf": "Failed to download metadata for repo 'fedora'",
    "yum": "Cannot find a valid baseurl for repo: amzn2-core/2/x86_64",
    "zypper": "System management is locked by the application with pid 4242 (zypper).",
    "apk": "ERROR: Unable to lock database: Resource temporarily unavailable",
    "pacman": "error: failed to init transaction (unable to lock database)",
}


def system_machine(tmp_path, monkeypatch, manager: str, fail: Tuple[str, ...] = ()):
    tree, programs, py_pkg, py_ver, hdr_pkg, (c_pkg, cxx_pkg), _ = SYSTEM[manager]
    m = FakeMachine(str(tmp_path / "machine")).programs(*programs)
    usr = str(tmp_path / "root" / "usr")
    relocated_copy(R["prefix"], usr, include=False)
    exe = os.path.join(usr, "bin", "python" + R["xy"])
    headers = os.path.join(usr, "include", "python" + R["xy"])
    m.installed(py_pkg, py_ver, files=[exe])
    # (pacman: hdr_pkg is the interpreter's own package; reinstalling it brings the headers)
    m.package(hdr_pkg, py_ver, [(R["include"], headers)])
    m.compiler_packages(c_pkg, cxx_pkg, where=os.path.join(usr, "bin"))
    for key, value in m.env(fail=fail, path=[os.path.join(usr, "bin")]).items():
        monkeypatch.setenv(key, value)
    return m, exe, headers, os.path.join(DISTROS, tree)


def run_like_apply(exe: str, tree: str):
    """What `fixenv apply --yes` does, with the OS read from a fake root: gather, plan
    (read-only runner), apply, re-gather after changes, verify (same runner as apply)."""
    facts = first = gather(RecordingRunner(), exe, environ=dict(os.environ), root_dir=tree)
    plan = make_plan(load_playbook(), facts, RecordingRunner())
    runner = Runner()
    recap = apply_plan(plan, facts, runner)
    applied = [list(c) for c in runner.calls]
    result = None
    if not recap.failed:
        if recap.count("changed"):
            facts = gather(RecordingRunner(), exe, environ=dict(os.environ), root_dir=tree)
        result = verify(facts, runner)
    return first, facts, plan, recap, applied, result


@pytest.mark.parametrize("manager", sorted(SYSTEM))
def test_system_manager_flow(manager, tmp_path, monkeypatch):
    m, exe, headers, tree = system_machine(tmp_path, monkeypatch, manager)
    expected = SYSTEM[manager][-1]
    first, facts, plan, recap, applied, result = run_like_apply(exe, tree)
    # detected from the machine: the fake database owns the interpreter
    assert first["python"]["provider"] == manager, first["python"]
    assert first["python"]["has_headers"] is False
    planned = [list(c.argv) for s in plan.steps if s.status == "change" for c in s.commands]
    assert planned == expected
    assert applied == expected  # exactly these, in this order, nothing else
    assert changes(m.calls(), manager) == expected
    assert_once(changes(m.calls(), manager))
    assert recap.count("changed") == 2 and recap.count("failed") == 0
    assert os.path.isfile(os.path.join(headers, "Python.h"))
    assert facts["python"]["has_headers"] is True
    assert result is not None and result.ok, result.to_json()
    assert {c.name for c in result.checks} >= {"headers", "build-c", "import", "build-cxx"}
    assert_verification_last(m.calls(), manager)


@pytest.mark.parametrize("manager", sorted(SYSTEM))
def test_system_manager_failure_stops_the_run(manager, tmp_path, monkeypatch):
    m, exe, headers, tree = system_machine(tmp_path, monkeypatch, manager, fail=(manager,))
    expected = SYSTEM[manager][-1]
    first, facts, plan, recap, applied, result = run_like_apply(exe, tree)
    assert recap.failed
    by_id = {o.id: o for o in recap.steps}
    failed = [o for o in recap.steps if o.status == "failed"]
    assert [o.id for o in failed] == ["python-headers"]
    assert SYSTEM_ERRORS[manager] in failed[0].reason  # the manager's own words
    assert by_id["compiler"].status == "not_run"
    assert applied == expected[:1]
    assert changes(m.calls(), manager) == expected[:1]
    assert result is None  # no verification after a failed step
    assert not [c for c in m.calls() if c[0] in COMPILERS]
    assert not os.path.exists(headers)


def test_unknown_package_is_the_managers_error_not_a_crash(tmp_path, monkeypatch):
    # the catalog lacks the -devel package: dnf says so in its own words
    m, exe, headers, tree = system_machine(tmp_path, monkeypatch, "dnf")
    m.catalog.pop("python%s-devel" % R["xy"])
    m.save()
    first, facts, plan, recap, applied, result = run_like_apply(exe, tree)
    failed = [o for o in recap.steps if o.status == "failed"]
    assert len(failed) == 1
    assert "Error: Unable to find a match: python%s-devel" % R["xy"] in failed[0].reason
    assert "exited 1" in failed[0].reason


# -- brew, conda, pyenv, uv: the real CLI -------------------------------------------------

def _path_cases(tmp_root: str) -> Dict[str, Dict[str, Any]]:
    v, xy = R["version"], R["xy"]
    conda_prefix = os.path.join(tmp_root, "miniforge3", "envs", "torch")
    pyenv_root = os.path.join(tmp_root, "pyenv")
    uv_dir = os.path.join(tmp_root, "uv-python")
    brew = os.path.join(tmp_root, "brew")
    return {
        "conda": {"prefix": conda_prefix, "package": "python", "env": {},
                  "expected": [["conda", "install", "-y", "-p", conda_prefix,
                                "--force-reinstall", "python=" + v]],
                  "error": "CondaHTTPError: HTTP 000 CONNECTION FAILED"},
        "pyenv": {"prefix": os.path.join(pyenv_root, "versions", v), "package": v,
                  "env": {"PYENV_ROOT": pyenv_root},
                  "expected": [["pyenv", "install", "--force", v]],
                  "error": "BUILD FAILED (Debian 12 using python-build"},
        "uv": {"prefix": os.path.join(uv_dir, "cpython-%s-linux-x86_64-gnu" % v), "package": v,
               "env": {"UV_PYTHON_INSTALL_DIR": uv_dir},
               "expected": [["uv", "python", "install", "--reinstall", v]],
               "error": "error: Failed to install cpython-%s-linux-x86_64-gnu" % v},
        "brew": {"prefix": os.path.join(brew, "Cellar", "python@" + xy, v),
                 "package": "python@" + xy, "env": {"HOMEBREW_PREFIX": brew},
                 "expected": [["brew", "reinstall", "python@" + xy]],
                 "error": "Failed to download resource \"python@%s\"" % xy},
    }


def path_machine(tmp_path, manager: str, fail: Tuple[str, ...] = ()):
    case = _path_cases(str(tmp_path))[manager]
    m = FakeMachine(str(tmp_path / "machine")).programs(manager)
    prefix = case["prefix"]
    relocated_copy(R["prefix"], prefix, include=False)
    if manager == "conda":
        os.makedirs(os.path.join(prefix, "conda-meta"))
    headers = os.path.join(prefix, "include", "python" + R["xy"])
    m.installed(case["package"], R["version"])
    m.package(case["package"], R["version"], [(R["include"], headers)])
    # The host's compilers, behind logging wrappers; no /usr/bin on PATH, so no real
    # package manager of this machine can be reached.
    sysbin = str(tmp_path / "sysbin")
    os.makedirs(sysbin)
    m.compiler_packages("gcc", None, where=sysbin)
    m.db["installed"].pop("gcc", None)
    for src, dst in m.catalog.pop("gcc")["files"]:
        os.symlink(src, dst)
    m.save()
    env = dict(os.environ)
    env.update(m.env(fail=fail, path=[sysbin]))
    env.update(case["env"])
    for var in ("CC", "CXX", "CPATH", "VIRTUAL_ENV", "CONDA_PREFIX"):
        env.pop(var, None)
    return m, case, os.path.join(prefix, "bin", "python3"), headers, env


def cli_apply(exe: str, env: Dict[str, str]) -> Tuple[int, Dict[str, Any], str]:
    proc = subprocess.run([sys.executable, "-m", "fixenv", "apply", "--yes", "--json",
                           "--python", exe], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=300)
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError("apply printed no JSON (exit %d):\n%s\n%s"
                             % (proc.returncode, proc.stdout, proc.stderr))
    return proc.returncode, data, proc.stderr


PATH_MANAGERS = ["brew", "conda", "pyenv", "uv"]


@pytest.mark.parametrize("manager", PATH_MANAGERS)
def test_path_provider_flow_through_the_cli(manager, tmp_path):
    m, case, exe, headers, env = path_machine(tmp_path, manager)
    detected = subprocess.run([sys.executable, "-m", "fixenv", "detect", "--json", "--python",
                               exe], env=env, stdout=subprocess.PIPE, universal_newlines=True)
    py = json.loads(detected.stdout)["python"]
    assert (py["provider"], py["has_headers"]) == (manager, False)
    rc, data, err = cli_apply(exe, env)
    assert rc == 0, (data, err)
    steps = {s["id"]: s for s in data["steps"]}
    assert steps["python-headers"]["status"] == "changed"
    assert steps["python-headers"]["commands"] == case["expected"]
    ran = [c for s in data["steps"] for c in s["commands"]]
    assert ran == case["expected"]
    assert data["summary"]["changed"] == 1 and data["summary"]["failed"] == 0
    assert data["verify"]["ok"] is True, data["verify"]
    assert changes(m.calls(), manager) == case["expected"]
    assert_once(changes(m.calls(), manager))
    assert os.path.isfile(os.path.join(headers, "Python.h"))
    assert_verification_last(m.calls(), manager)


@pytest.mark.parametrize("manager", PATH_MANAGERS)
def test_path_provider_failure_through_the_cli(manager, tmp_path):
    m, case, exe, headers, env = path_machine(tmp_path, manager, fail=(manager,))
    rc, data, err = cli_apply(exe, env)
    assert rc == 1
    steps = {s["id"]: s for s in data["steps"]}
    assert steps["python-headers"]["status"] == "failed"
    assert case["error"] in steps["python-headers"]["reason"]
    assert data["summary"]["failed"] == 1
    assert data["verify"]["ok"] is False
    assert data["verify"].get("checks", []) == []  # verification did not run
    assert changes(m.calls(), manager) == case["expected"]
    assert not [c for c in m.calls() if c[0] in COMPILERS]
    assert not os.path.exists(headers)


# -- the argv these fakes accept, the real tools accept too ----------------------------------
# Debian ships real dnf, zypper and pacman. Each planned argv runs against an empty sandbox
# root (no repositories): the tool must get as far as "nothing by that name", never to a
# usage error, which a fake could not catch.

def _sandbox(tool: str, root: str) -> List[str]:
    if tool == "dnf":
        os.makedirs(os.path.join(root, "repos"), exist_ok=True)
        return ["--installroot", root, "--setopt=reposdir=" + os.path.join(root, "repos"),
                "--releasever=41"]
    if tool == "zypper":
        return ["--root", root]
    os.makedirs(os.path.join(root, "var", "lib", "pacman", "local"), exist_ok=True)
    return ["--root", root, "--dbpath", os.path.join(root, "var", "lib", "pacman")]


# manager -> (real tool that runs its argv, exit code for "nothing installable by that name")
REAL_TOOLS = {"dnf": ("dnf", 1), "yum": ("dnf", 1),  # RHEL 8+/AL2023 yum is dnf
              "zypper": ("zypper", 104), "pacman": ("pacman", 1)}
USAGE_WORDS = ("unrecognized", "Unknown command", "unknown option", "invalid option",
               "usage:", "Unknown option")


@pytest.mark.parametrize("manager", sorted(REAL_TOOLS))
def test_real_tool_accepts_the_planned_argv(manager, tmp_path):
    import shutil

    tool, not_found_rc = REAL_TOOLS[manager]
    if not shutil.which(tool):
        pytest.skip("the real %s is not installed here" % tool)
    for argv in SYSTEM[manager][-1]:
        root = str(tmp_path / ("root%d" % len(os.listdir(str(tmp_path)))))
        os.makedirs(root)
        real = [tool] + _sandbox(tool, root) + argv[1:]
        proc = subprocess.run(real, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, timeout=120,
                              env=dict(os.environ, LC_ALL="C"))
        assert not [w for w in USAGE_WORDS if w in proc.stdout], (real, proc.stdout)
        assert proc.returncode == not_found_rc, (real, proc.returncode, proc.stdout)


def test_not_root_runs_the_same_commands_through_sudo_n(tmp_path, monkeypatch):
    m, exe, headers, tree = system_machine(tmp_path, monkeypatch, "dnf")
    m.programs("sudo")
    expected = SYSTEM["dnf"][-1]
    facts = gather(RecordingRunner(), exe, environ=dict(os.environ), root_dir=tree)
    facts["privilege"] = {"root": False, "sudo": True}  # a user allowed `sudo -n`
    plan = make_plan(load_playbook(), facts, RecordingRunner())
    runner = Runner()
    recap = apply_plan(plan, facts, runner)
    assert recap.count("changed") == 2 and not recap.failed
    assert [list(c) for c in runner.calls] == [["sudo", "-n"] + a for a in expected]
    # sudo ran each once, and each ran the manager once
    assert [c for c in m.calls() if c[0] == "sudo"] == [["sudo", "-n"] + a for a in expected]
    assert changes(m.calls(), "dnf") == expected
    assert os.path.isfile(os.path.join(headers, "Python.h"))


def test_not_root_and_no_sudo_changes_nothing(tmp_path, monkeypatch):
    from fixenv.errors import PrivilegeError

    m, exe, headers, tree = system_machine(tmp_path, monkeypatch, "dnf")
    facts = gather(RecordingRunner(), exe, environ=dict(os.environ), root_dir=tree)
    facts["privilege"] = {"root": False, "sudo": False}
    plan = make_plan(load_playbook(), facts, RecordingRunner())
    with pytest.raises(PrivilegeError) as info:
        apply_plan(plan, facts, Runner())
    assert "dnf install -y python%s-devel" % R["xy"] in str(info.value.hint)
    assert changes(m.calls(), "dnf") == []


# -- pyenv on Debian: the OS build dependencies first, then the rebuild -------------------

PYENV_DEBIAN_DEPS = ["make", "build-essential", "libssl-dev", "zlib1g-dev", "libbz2-dev",
                     "libreadline-dev", "libsqlite3-dev", "libncurses-dev", "xz-utils",
                     "tk-dev", "libffi-dev", "liblzma-dev"]


def pyenv_debian_machine(tmp_path, monkeypatch, fail: Tuple[str, ...] = ()):
    m = FakeMachine(str(tmp_path / "machine")).programs("pyenv", "apt-get", "apt-cache",
                                                        "dpkg-query")
    root = str(tmp_path / "pyenv")
    prefix = os.path.join(root, "versions", R["version"])
    relocated_copy(R["prefix"], prefix, include=False)
    headers = os.path.join(prefix, "include", "python" + R["xy"])
    m.package(R["version"], R["version"], [(R["include"], headers)])
    sysbin = str(tmp_path / "sysbin")
    os.makedirs(sysbin)
    os.symlink(os.path.join(REAL_BIN, "env"), os.path.join(sysbin, "env"))
    for name in PYENV_DEBIAN_DEPS:
        m.package(name, "1.0-1")
    m.compiler_packages("build-essential", None, where=sysbin)  # it brings gcc and g++
    m.installed("make", "4.3-4.1").installed("xz-utils", "5.4.1-1")
    for key, value in m.env(fail=fail, path=[sysbin]).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PYENV_ROOT", root)
    return m, os.path.join(prefix, "bin", "python3"), headers


def test_pyenv_on_debian_installs_missing_build_deps_then_rebuilds(tmp_path, monkeypatch):
    from fixenv.backends import apt

    m, exe, headers = pyenv_debian_machine(tmp_path, monkeypatch)
    first, facts, plan, recap, applied, result = run_like_apply(
        exe, os.path.join(DISTROS, "debian12"))
    assert (first["python"]["provider"], first["os"]["id"]) == ("pyenv", "debian")
    missing = [n for n in PYENV_DEBIAN_DEPS if n not in ("make", "xz-utils")]
    apt_install = ["apt-get", "-o", "DPkg::Lock::Timeout=%d" % apt.lock_timeout(facts), "install",
                   "-y", "--no-install-recommends"]
    refresh = [] if apt.have_lists() else [["env", "DEBIAN_FRONTEND=noninteractive", "apt-get",
                                            "-o", "DPkg::Lock::Timeout=%d" % apt.lock_timeout(facts),
                                            "update"]]
    expected = refresh + [["env", "DEBIAN_FRONTEND=noninteractive"] + apt_install + missing,
                          ["pyenv", "install", "--force", R["version"]]]
    # build deps first, then the rebuild; then (see below) the compiler step
    assert applied[:len(expected)] == expected
    assert_once([c for c in m.calls() if CHANGING & set(c[1:])][:len(expected)])
    assert not recap.failed
    assert result is not None and result.ok, result.to_json()
    assert os.path.isfile(os.path.join(headers, "Python.h"))
    assert_verification_last(m.calls(), "pyenv")


def test_pyenv_on_debian_installs_build_essential_once(tmp_path, monkeypatch):
    m, exe, headers = pyenv_debian_machine(tmp_path, monkeypatch)
    first, facts, plan, recap, applied, result = run_like_apply(
        exe, os.path.join(DISTROS, "debian12"))
    installs = [c for c in applied if "build-essential" in c]
    assert len(installs) == 1, applied


def test_pyenv_on_debian_build_deps_failure_stops_before_the_rebuild(tmp_path, monkeypatch):
    m, exe, headers = pyenv_debian_machine(tmp_path, monkeypatch, fail=("apt-get",))
    monkeypatch.setenv("FIXENV_LOCK_TIMEOUT", "0")
    first, facts, plan, recap, applied, result = run_like_apply(
        exe, os.path.join(DISTROS, "debian12"))
    by_id = {o.id: o for o in recap.steps}
    assert by_id["pyenv-build-deps"].status == "failed"
    assert "Could not get lock /var/lib/dpkg/lock-frontend" in by_id["pyenv-build-deps"].reason
    assert by_id["python-headers"].status == "not_run"
    assert not [c for c in m.calls() if c[0] == "pyenv"]
    assert result is None and not os.path.exists(headers)
