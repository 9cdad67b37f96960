"""Issue 11 (2): every Debian release, for real.

For each of bullseye (python3 3.9), bookworm (3.11), trixie (3.13) and unstable (sid: 3.13 or
3.14), a fresh overlay on that release's cached debootstrapped root (python3 + python3-venv:
no headers, no compiler), fixenv inside it (bookworm: the README's venv + wheel; elsewhere the
zipapp run by the root's own python3), and a venv over the system python3 holding two real
consumers that need Python.h and a compiler:

  (a) a cffi API-mode build (``ffibuilder.set_source`` + ``compile``), and
  (b) a real sdist from PyPI with non-optional C extensions (downloaded on the host, installed
      offline inside the root with ``--no-index``).

Both fail before; ``fixenv plan`` changes nothing (dpkg status byte-identical) and lists
``python3.X-dev`` for that release's X and a compiler; ``fixenv apply --yes`` fixes it; both
consumers then build and import; a second apply changes nothing (``changed == 0``).

Plus, on bookworm: the debug interpreter (``python3.11-dbg`` alone) and a non-root user with
passwordless sudo running apply.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import time

import pytest

from . import pypi_cache, rootfs
from .fixenvrun import all_commands, fixenv, fixenv_json
from .fixenvrun import apt_words as _apt_words
from .fixenvrun import describe as _describe

pytestmark = pytest.mark.e2e

EXPECTED_PY = {"bullseye": {"3.9"}, "bookworm": {"3.11"}, "trixie": {"3.13"},
               "unstable": {"3.13", "3.14"}}
COMPILER_PKGS = {"build-essential", "gcc", "g++", "cc", "c-compiler"}
VENV = "/opt/consumer"
WHEELS_IN_ROOT = "/opt/consumer-wheels"
PIP_ENV = {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_CACHE_DIR": "1",
           "PIP_ROOT_USER_ACTION": "ignore"}

CFFI_BUILD = r'''
import sys
from cffi import FFI

ffibuilder = FFI()
ffibuilder.cdef("int fx_add(int a, int b); int fx_py_minor(void);")
# API mode: C source compiled into a CPython extension module (needs Python.h and a compiler).
ffibuilder.set_source("_fx_cffi", """
#include <Python.h>
static int fx_add(int a, int b) { return a + b; }
static int fx_py_minor(void) { return PY_MINOR_VERSION; }
""")
if __name__ == "__main__":
    print(ffibuilder.compile(tmpdir=sys.argv[1], verbose=True))
'''

CFFI_IMPORT = (
    "import sys; sys.path.insert(0, sys.argv[1]); import _fx_cffi; "
    "print(_fx_cffi.lib.fx_add(40, 2), _fx_cffi.lib.fx_py_minor(), _fx_cffi.__file__)"
)
SDIST_IMPORT = (
    "import sys, bitarray, bitarray._bitarray as c; a = bitarray.bitarray('1011001'); "
    "print(a.count(1), c.__file__)"
)

EXT_C = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>
static PyObject *answer(PyObject *self, PyObject *unused) { return PyLong_FromLong(42); }
static PyMethodDef methods[] = {{"answer", answer, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "dbgmod", NULL, -1, methods};
PyMODINIT_FUNC PyInit_dbgmod(void) { return PyModule_Create(&def); }
"""


# --------------------------------------------------------------------------- helpers


def installed_by(plan: dict) -> list[str]:
    """Package names the plan's apt install commands install, in order."""
    names: list[str] = []
    for argv in all_commands(plan):
        words = _apt_words(argv)
        if "install" in words:
            after = words[words.index("install") + 1:]
            names += [w.split("=")[0] for w in after if not w.startswith("-")
                      and not re.fullmatch(r"[A-Za-z:]+::[A-Za-z:]+=.*", w)]
    return names


def _pip(root: rootfs.Root, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return root.run([f"{VENV}/bin/python", "-m", "pip", *args], env=PIP_ENV, check=check,
                    timeout=900)


def make_consumer_venv(root: rootfs.Root, xy: str) -> None:
    """A venv over the system python3 with cffi + setuptools, and the sdist, all offline."""
    wheels = pypi_cache.build_wheels(xy)
    dest = root.path(WHEELS_IN_ROOT)
    dest.mkdir(parents=True)
    for p in list(wheels.iterdir()) + [pypi_cache.sdist()]:
        (dest / p.name).write_bytes(p.read_bytes())
    root.run(["python3", "-m", "venv", VENV])
    _pip(root, "install", "-q", "--no-index", "--find-links", WHEELS_IN_ROOT,
         *pypi_cache.BUILD_TOOLS)
    root.write("/opt/cffi-consumer/build_fx.py", CFFI_BUILD)


def build_cffi(root: rootfs.Root, check: bool) -> subprocess.CompletedProcess:
    return root.run([f"{VENV}/bin/python", "/opt/cffi-consumer/build_fx.py", "/tmp/cffi-out"],
                    check=check, timeout=600)


def install_sdist(root: rootfs.Root, check: bool) -> subprocess.CompletedProcess:
    sdist = f"{WHEELS_IN_ROOT}/{pypi_cache.sdist().name}"
    # build isolation as a user would get it: setuptools comes from the offline wheel dir.
    return _pip(root, "install", "--no-index", "--find-links", WHEELS_IN_ROOT, sdist,
                check=check)


def assert_consumers_fail(root: rootfs.Root) -> None:
    res = build_cffi(root, check=False)
    assert res.returncode != 0, "the cffi build passed before fixenv\n" + _describe(res)
    assert re.search(r"gcc|Python\.h|CompileError|compiler", res.stdout + res.stderr), \
        _describe(res)
    res = install_sdist(root, check=False)
    assert res.returncode != 0, "the sdist installed before fixenv\n" + _describe(res)
    assert re.search(r"gcc|Python\.h|compiler", res.stdout + res.stderr), _describe(res)
    res = root.run([f"{VENV}/bin/python", "-c", "import bitarray"], check=False)
    assert res.returncode != 0, "bitarray is importable although its build failed"


def assert_consumers_work(root: rootfs.Root, xy: str) -> None:
    suffix = root.run([f"{VENV}/bin/python", "-c", "import sysconfig; "
                       "print(sysconfig.get_config_var('EXT_SUFFIX'))"]).stdout.strip()
    assert suffix.startswith(f".cpython-{xy.replace('.', '')}") and suffix.endswith(".so"), \
        suffix
    build_cffi(root, check=True)
    out = root.run([f"{VENV}/bin/python", "-c", CFFI_IMPORT, "/tmp/cffi-out"]).stdout.split()
    assert out[:2] == ["42", xy.split(".")[1]], out
    assert out[2].startswith("/tmp/cffi-out/_fx_cffi") and out[2].endswith(suffix), out

    install_sdist(root, check=True)
    out = root.run([f"{VENV}/bin/python", "-c", SDIST_IMPORT]).stdout.split()
    assert out[0] == "4", out
    assert out[1].startswith(f"{VENV}/lib/python{xy}/site-packages/bitarray/_bitarray"), out
    assert out[1].endswith(suffix), out


def assert_plan_lists_headers_and_compiler(plan: dict, header_pkg: str) -> list[str]:
    assert plan["changes_pending"] is True, plan
    assert not plan.get("blocked"), plan
    pkgs = installed_by(plan)
    assert header_pkg in pkgs, f"no apt install of {header_pkg} in {all_commands(plan)}"
    compilers = COMPILER_PKGS | {p for p in pkgs if re.fullmatch(r"(gcc|g\+\+)-\d+", p)}
    assert compilers & set(pkgs), f"no compiler install in {all_commands(plan)}"
    assert {s["status"] for s in plan["steps"]} <= {"change", "ok", "skip"}, plan
    return pkgs


def assert_detected_as_this_release(root: rootfs.Root, suite: str, xy: str) -> None:
    """detect reads the root's real os-release: never refused, the release's own facts."""
    os_release = dict(
        ln.split("=", 1) for ln in root.path("/etc/os-release").read_text().splitlines()
        if "=" in ln and not ln.startswith("#"))
    os_release = {k: v.strip().strip('"') for k, v in os_release.items()}
    debian_version = root.path("/etc/debian_version").read_text().strip()
    facts = fixenv_json(root, "detect")["os"]
    assert facts["id"] == "debian" and facts["family"] == "debian", facts
    assert facts["default_python"] == xy, facts  # python3 of a release is its default
    assert facts["codename"] == os_release["VERSION_CODENAME"], (facts, os_release)
    if suite == "unstable":
        # testing/unstable: no VERSION_ID, /etc/debian_version a codename pair ("forky/sid")
        assert "VERSION_ID" not in os_release and "/" in debian_version, debian_version
        assert facts["version"] is None and facts["major"] is None, facts
        assert debian_version in facts.get("version_note", ""), facts
    else:
        assert facts["version"] == os_release["VERSION_ID"], (facts, os_release)
        assert facts["major"] == debian_version.split(".")[0], (facts, debian_version)


def _apply(root: rootfs.Root, *args: str, user=None) -> tuple[dict, float]:
    t0 = time.monotonic()
    result = fixenv_json(root, "apply", "--yes", *args, user=user)
    return result, time.monotonic() - t0


def assert_second_apply_changes_nothing(root: rootfs.Root, *args: str, user=None) -> None:
    status, pkgs = root.dpkg_status_bytes(), root.installed_packages()
    again, _ = _apply(root, *args, user=user)
    assert again["summary"]["changed"] == 0, again
    assert again["summary"]["failed"] == 0, again
    assert again["verify"]["ok"] is True, again["verify"]
    assert root.dpkg_status_bytes() == status
    assert root.installed_packages() == pkgs


# --------------------------------------------------------------------------- every release


@pytest.fixture(scope="module", autouse=True)
def _release_roots(e2e_available, request) -> None:
    """Build the selected releases' missing base roots side by side, before the first test."""
    wanted = set()
    for item in request.session.items:
        if item.module is not request.module:
            continue
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "suite" in callspec.params:
            wanted.add(callspec.params["suite"])
        else:  # the tests named for a release use that one, the others bookworm
            wanted.add(next((s for s in rootfs.SUITES if s in item.name), rootfs.SUITE))
    rootfs.base_roots([s for s in rootfs.SUITES if s in wanted])


def test_unstable_root_relaxes_only_valid_until(make_root):
    """The frozen mirror's unstable Release is past Valid-Until: only that check is off, only
    inside the throwaway root; signatures are still verified."""
    root = make_root("base", suite="unstable", fixenv=False)
    conf = root.path(rootfs.VALID_UNTIL_CONF)
    assert conf.read_text() == 'Acquire::Check-Valid-Until "false";\n'
    apt_config = root.run(["apt-config", "dump"]).stdout
    assert 'Acquire::Check-Valid-Until "false";' in apt_config, apt_config
    relaxed = re.findall(r'^\S*(?:Allow(?:Insecure|Weak|DowngradeToInsecure)Repositories|'
                         r'AllowUnauthenticated|Check-Date)\S* "(?!0|false|no).*";$',
                         apt_config, flags=re.M)
    assert relaxed == [], relaxed
    sources = root.run(["sh", "-c", "cat /etc/apt/sources.list /etc/apt/sources.list.d/* "
                        "2>/dev/null || true"]).stdout
    assert "trusted=" not in sources and " sid " in sources, sources

    res = root.run(["apt-get", "update"], check=False)
    assert res.returncode == 0 and not re.search(r"^(W|E):", res.stderr, flags=re.M), \
        _describe(res)
    # The relaxation is needed, and it is the only one: without it apt refuses the Release.
    conf.unlink()
    res = root.run(["apt-get", "update"], check=False)
    assert re.search(r"Release file .* is expired", res.stderr), _describe(res)


@pytest.mark.parametrize("suite", rootfs.SUITES)
def test_release_venv_consumers_fail_then_plan_apply_fix_them_idempotently(make_root, suite):
    root = make_root("base", suite=suite)
    xy = root.python_xy()
    assert xy in EXPECTED_PY[suite], f"{suite}'s python3 is {xy}"
    header_pkg = f"python{xy}-dev"
    assert not root.exists(f"/usr/include/python{xy}/Python.h")
    assert not root.exists("/usr/bin/gcc")

    assert_detected_as_this_release(root, suite, xy)

    make_consumer_venv(root, xy)
    assert_consumers_fail(root)

    # plan: lists python3.X-dev for THIS release's X and a compiler, and changes nothing.
    status, lists = root.dpkg_status_bytes(), root.apt_lists()
    plan = fixenv_json(root, "plan", "--dry-run", "--python", f"{VENV}/bin/python")
    planned = assert_plan_lists_headers_and_compiler(plan, header_pkg)
    assert plan["target"] in (f"{VENV}/bin/python", "/usr/bin/python3", f"/usr/bin/python{xy}"), \
        plan["target"]
    assert root.dpkg_status_bytes() == status
    assert root.apt_lists() == lists
    assert header_pkg not in root.installed_packages()

    # apply fixes it.
    result, seconds = _apply(root, "--python", f"{VENV}/bin/python")
    assert result["summary"]["failed"] == 0, result
    assert result["summary"]["changed"] >= 1, result
    assert result["verify"]["ok"] is True, result["verify"]
    assert header_pkg in root.installed_packages()
    assert root.exists(f"/usr/include/python{xy}/Python.h")
    rootfs._log(f"RELEASE {suite}: python3 {xy}; planned apt install {' '.join(planned)}; "
                f"apply --yes took {seconds:.1f}s")

    verify = fixenv_json(root, "verify", "--python", f"{VENV}/bin/python")
    assert verify["ok"] is True and all(c["ok"] for c in verify["checks"]), verify

    assert_consumers_work(root, xy)
    assert_second_apply_changes_nothing(root, "--python", f"{VENV}/bin/python")


# --------------------------------------------------------------------------- bookworm extras


def test_bookworm_debug_interpreter_alone_is_planned_fixed_and_verified(make_root):
    root = make_root("base")
    root.apt_install("python3.11-dbg")  # set-up: the debug interpreter alone, no -dev
    dbg = "/usr/bin/python3.11d"
    assert root.exists(dbg)
    assert root.run([dbg, "-c", "import sys; print(sys.abiflags)"]).stdout.strip() == "d"
    include = root.run([dbg, "-c", "import sysconfig; print(sysconfig.get_paths()['include'])"]
                       ).stdout.strip()
    assert include == "/usr/include/python3.11d", include
    assert not root.exists(f"{include}/Python.h")
    assert "python3.11-dev" not in root.installed_packages()

    res = fixenv(root, "verify", "--python", dbg, "--json")
    assert res.returncode != 0 and json.loads(res.stdout)["ok"] is False, _describe(res)

    status = root.dpkg_status_bytes()
    plan = fixenv_json(root, "plan", "--dry-run", "--python", dbg)
    assert root.dpkg_status_bytes() == status
    planned = assert_plan_lists_headers_and_compiler(plan, "python3.11-dev")
    # The playbook's apt debug rule is -dbg (for /usr/include/python3.11d) + -dev (whose
    # /usr/include/python3.11 the -dbg headers are symlinks into): -dbg is installed already,
    # so only -dev is installed, and the headers step says why -dbg is not.
    assert "python3.11-dbg" not in planned, planned
    header_step = [s for s in plan["steps"] if s["id"] == "python-headers"]
    assert header_step and header_step[0]["status"] == "change", plan
    assert "python3.11-dbg" in header_step[0]["reason"], header_step
    assert root.path(f"{include}/Python.h").is_symlink()  # dangling: into python3.11-dev

    result, seconds = _apply(root, "--python", dbg)
    assert result["summary"]["failed"] == 0, result
    assert result["verify"]["ok"] is True, result["verify"]
    rootfs._log(f"RELEASE bookworm python3.11d: planned apt install {' '.join(planned)}; "
                f"apply --yes took {seconds:.1f}s")
    assert root.exists(f"{include}/Python.h")
    verify = fixenv_json(root, "verify", "--python", dbg)
    assert verify["ok"] is True, verify

    # Independent of fixenv: a C extension for the d interpreter builds and imports.
    suffix = root.run([dbg, "-c", "import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX'))"]
                      ).stdout.strip()
    assert suffix.startswith(".cpython-311d-"), suffix
    root.write("/tmp/dbgext/dbgmod.c", EXT_C)
    root.run(["gcc", "-shared", "-fPIC", f"-I{include}", "-o", f"/tmp/dbgext/dbgmod{suffix}",
              "/tmp/dbgext/dbgmod.c"])
    out = root.run([dbg, "-c", "import sys; sys.path.insert(0, '/tmp/dbgext'); import dbgmod; "
                    "print(dbgmod.answer(), dbgmod.__file__)"]).stdout.split()
    assert out == ["42", f"/tmp/dbgext/dbgmod{suffix}"], out

    assert_second_apply_changes_nothing(root, "--python", dbg)


def test_bookworm_non_root_user_with_passwordless_sudo_applies(make_root):
    root = make_root("base")
    root.apt_install("sudo")  # set-up
    root.add_user("dev")
    # sudo's own log of every command it runs for dev (one line per command, unwrapped).
    root.write("/etc/sudoers.d/dev",
               "Defaults:dev logfile=/var/log/sudo-dev.log, loglinelen=0\n"
               "dev ALL=(ALL) NOPASSWD: ALL\n", mode=0o440)
    root.run(["visudo", "-c"])
    root.run(["sudo", "-n", "true"], user="dev")  # the set-up works: sudo without a password

    status = root.dpkg_status_bytes()
    plan = fixenv_json(root, "plan", "--dry-run", user="dev")
    text = fixenv(root, "plan", "--dry-run", user="dev")
    assert text.returncode == 0, _describe(text)
    assert root.dpkg_status_bytes() == status
    planned = assert_plan_lists_headers_and_compiler(plan, "python3.11-dev")
    # The JSON argv is the exact argv apply runs: as a non-root user that is through sudo -n,
    # and it is what the text plan shows.
    installs = [c for c in all_commands(plan) if "install" in _apt_words(c)]
    assert installs, all_commands(plan)
    for argv in installs:
        assert argv[:2] == ["sudo", "-n"], f"not the argv apply runs as 'dev': {argv}"
    shown = [shlex.split(ln.strip()[2:]) for ln in text.stdout.splitlines()
             if ln.strip().startswith("$ ")]
    assert shown == all_commands(plan), (shown, all_commands(plan))

    result, seconds = _apply(root, user="dev")
    assert result["summary"]["failed"] == 0, result
    assert result["verify"]["ok"] is True, result["verify"]
    rootfs._log(f"RELEASE bookworm as sudo user: planned apt install {' '.join(planned)}; "
                f"apply --yes took {seconds:.1f}s; JSON argv {installs}")
    assert "python3.11-dev" in root.installed_packages()
    ran = [list(c) for st in result["steps"] if st["status"] == "changed"
           for c in st.get("commands") or []]
    assert ran == all_commands(plan), (ran, all_commands(plan))
    # sudo itself ran exactly those commands (its log has the resolved program path).
    log = root.path("/var/log/sudo-dev.log").read_text()
    commands = re.findall(r"; COMMAND=(.*)$", log, flags=re.M)
    for argv in ran:
        assert argv[:2] == ["sudo", "-n"], argv
        program = root.run(["sh", "-c", 'command -v "$1"', "sh", argv[2]]).stdout.strip()
        assert " ".join([program, *argv[3:]]) in commands, (argv, commands)
    verify = fixenv_json(root, "verify", user="dev")
    assert verify["ok"] is True, verify
    assert_second_apply_changes_nothing(root, user="dev")
