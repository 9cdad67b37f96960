"""Issue 2, end to end: fixenv fixes a real (throwaway) Debian 12 root.

Each test gets a fresh overlay on top of a cached debootstrapped bookworm root (python3 +
python3-venv only: no headers, no compiler) and installs fixenv into it the way the README
tells a user to (a venv + pip install of this checkout, offline from a wheelhouse built on the
host).  Then it drives the real CLI inside the root with chroot and checks the root's files.

CLI contract exercised here:
  fixenv plan --dry-run [--python P] [--json] [--exit-code]
      -> {"changes_pending": bool, "steps": [{"id","status","commands","reason"}]}
         exit 0 (with --exit-code: 0 nothing to do, 10 changes pending)
  fixenv apply --yes [--python P] [--json]
      -> {"summary": {"ok","changed","failed","skipped"}, "verify": {"ok","checks"}, "steps"}
  fixenv verify [--python P] [--json] -> {"ok": bool, "checks": [...]}, non-zero when not ok
"""

from __future__ import annotations

import json
import os

import pytest

from . import rootfs
from .fixenvrun import all_commands, fixenv, fixenv_json
from .fixenvrun import apt_words as _apt_words
from .fixenvrun import describe as _describe

pytestmark = pytest.mark.e2e

PY_H = "/usr/include/python3.11/Python.h"
HEADER_PKG = "python3.11-dev"
COMPILER_PKGS = {"build-essential", "gcc", "g++", "cc", "gcc-12", "g++-12"}
EXIT_CHANGES_PENDING = 10

EXT_C = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#if PY_MAJOR_VERSION != 3 || PY_MINOR_VERSION != 11
#error "compiled against the headers of another Python"
#endif
static PyObject *answer(PyObject *self, PyObject *unused) { return PyLong_FromLong(42); }
static PyMethodDef methods[] = {{"answer", answer, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "e2emod", NULL, -1, methods};
PyMODINIT_FUNC PyInit_e2emod(void) { return PyModule_Create(&def); }
"""


# --------------------------------------------------------------------------- helpers


def installed_by(plan: dict) -> list[str]:
    """Package names that the plan's apt install commands install, in order."""
    names = []
    for argv in all_commands(plan):
        words = _apt_words(argv)
        if "install" in words:
            after = words[words.index("install") + 1:]
            names += [w.split("=")[0] for w in after if not w.startswith("-")]
    return names


def index_of(plan: dict, pred) -> int:
    for i, argv in enumerate(all_commands(plan)):
        if pred(argv):
            return i
    return -1


def is_apt_update(argv: list[str]) -> bool:
    return "update" in _apt_words(argv)


def is_install_of(pkg: str):
    return lambda argv: "install" in _apt_words(argv) and pkg in _apt_words(argv)


def assert_plans_headers_and_compiler(plan: dict) -> None:
    assert plan["changes_pending"] is True, plan
    pkgs = installed_by(plan)
    assert HEADER_PKG in pkgs, f"no apt install of {HEADER_PKG} in {all_commands(plan)}"
    assert COMPILER_PKGS & set(pkgs), f"no compiler install in {all_commands(plan)}"
    statuses = {s["status"] for s in plan["steps"]}
    assert statuses <= {"change", "ok", "skip"}, statuses
    for step in plan["steps"]:
        if step.get("commands") and any(is_install_of(HEADER_PKG)(c) for c in step["commands"]):
            assert step["status"] == "change", step


def compile_and_import(root: rootfs.Root, python: str) -> None:
    """Independent of fixenv: build a tiny extension with gcc and import it with ``python``."""
    root.write("/tmp/e2eext/e2emod.c", EXT_C)
    suffix = root.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX'))"]
    ).stdout.strip()
    assert suffix.endswith(".so"), suffix
    root.run(["gcc", "-shared", "-fPIC", "-I/usr/include/python3.11",
              "-o", f"/tmp/e2eext/e2emod{suffix}", "/tmp/e2eext/e2emod.c"])
    out = root.run([python, "-c",
                    "import sys; sys.path.insert(0, '/tmp/e2eext'); import e2emod; "
                    "print(e2emod.answer()); print(e2emod.__file__)"]).stdout.split()
    assert out[0] == "42", out
    assert out[1] == f"/tmp/e2eext/e2emod{suffix}", out


def assert_unfixed(root: rootfs.Root) -> None:
    assert not root.exists(PY_H)
    assert not root.exists("/usr/bin/gcc")
    assert HEADER_PKG not in root.installed_packages()


# --------------------------------------------------------------------------- the harness itself


def test_deb822_parser_finds_the_suite_stanza():
    text = (
        "Types: deb\n# comment\nURIs: http://mirror.invalid/debian\n"
        "Suites: bookworm bookworm-updates\nComponents: main\n\n"
        "Types: deb\nURIs: http://mirror.invalid/debian-security\n"
        "Suites: bookworm-security\n"
    )
    stanzas = rootfs._deb822_stanzas(text)
    assert len(stanzas) == 2
    assert stanzas[0]["uris"] == "http://mirror.invalid/debian"
    assert stanzas[1]["suites"] == "bookworm-security"


def test_harness_root_boots_and_is_throwaway(make_root, base_lowers):
    root = make_root(fixenv=False)
    res = root.run(["python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
    assert res.stdout.strip() == "3.11"
    status = root.dpkg_status_bytes()
    assert b"Package: python3.11\n" in status
    assert_unfixed(root)
    assert root.apt_lists(), "debootstrap should leave package lists in the base root"
    # The environment inside is clean (nothing of pytest's leaks in).
    env = root.run(["env"]).stdout
    assert "PYTEST_CURRENT_TEST" not in env and "HOME=/root" in env
    # Writes land in the overlay only.
    root.write("/etc/e2e-marker", "x")
    root.wipe_apt_lists()
    assert root.apt_lists() == []
    assert not (base_lowers[0] / "etc" / "e2e-marker").exists()
    assert any((base_lowers[0] / "var/lib/apt/lists").iterdir())
    # A user can run things too.
    root.add_user("tester")
    assert root.run(["id", "-un"], user="tester").stdout.strip() == "tester"
    # Closing unmounts everything (also /dev and /proc) and deletes the scratch dir.
    scratch = root.scratch
    assert rootfs._mounts_under(scratch)
    root.close()
    assert rootfs._mounts_under(scratch) == []
    assert not scratch.exists()
    assert os.path.exists("/dev/null")  # the host's /dev is intact


def test_harness_installs_fixenv_the_readme_way(debian_root):
    res = debian_root.run([rootfs.FIXENV_VENV + "/bin/python", "-c",
                           "import fixenv; print(fixenv.__file__)"])
    assert res.stdout.strip().startswith(rootfs.FIXENV_VENV + "/lib/python3.11/site-packages/")
    res = fixenv(debian_root, "--help")
    assert res.returncode == 0, _describe(res)
    for cmd in ("plan", "apply", "verify"):
        assert cmd in res.stdout
    assert_unfixed(debian_root)  # installing fixenv itself brought neither headers nor gcc


# --------------------------------------------------------------------------- issue 2 scenarios


def test_a_plan_dry_run_lists_headers_and_compiler_and_changes_nothing(debian_root):
    root = debian_root
    status, lists = root.dpkg_status_bytes(), root.apt_lists()

    plan = fixenv_json(root, "plan", "--dry-run")
    assert_plans_headers_and_compiler(plan)
    res = fixenv(root, "plan", "--dry-run", "--exit-code")

    assert root.dpkg_status_bytes() == status
    assert root.apt_lists() == lists
    assert_unfixed(root)
    assert res.returncode == EXIT_CHANGES_PENDING, _describe(res)


def test_verify_on_the_unfixed_root_fails_with_a_nonzero_exit(debian_root):
    res = fixenv(debian_root, "verify", "--json")
    before = json.loads(res.stdout)
    assert before["ok"] is False, before
    failed = {c["name"] for c in before["checks"] if not c["ok"]}
    assert failed, before
    assert res.returncode != 0, "verify must exit non-zero when not ok\n" + _describe(res)


def test_a_plan_dry_run_in_a_root_without_package_lists(debian_root):
    root = debian_root
    root.wipe_apt_lists()  # like a fresh container image: rm -rf /var/lib/apt/lists/*
    status = root.dpkg_status_bytes()

    plan = fixenv_json(root, "plan", "--dry-run")
    assert_plans_headers_and_compiler(plan)
    update = index_of(plan, is_apt_update)
    assert update >= 0, f"no apt-get update planned although lists are empty: {all_commands(plan)}"
    assert update < index_of(plan, is_install_of(HEADER_PKG)), all_commands(plan)
    updates = [c for c in all_commands(plan) if is_apt_update(c)]
    assert len(updates) == 1, f"package lists refreshed more than once: {all_commands(plan)}"

    assert root.dpkg_status_bytes() == status
    assert root.apt_lists() == [], "a dry run must not fetch package lists"
    assert_unfixed(root)


def test_b_c_apply_fixes_the_root_verifies_and_is_idempotent(debian_root):
    root = debian_root
    assert_unfixed(root)

    # (b) apply fixes it
    result = fixenv_json(root, "apply", "--yes")
    assert result["summary"]["failed"] == 0, result
    assert result["summary"]["changed"] >= 1, result
    assert result["verify"]["ok"] is True, result["verify"]
    assert root.exists(PY_H)
    assert root.exists("/usr/bin/gcc")
    assert HEADER_PKG in root.installed_packages()

    verify = fixenv_json(root, "verify")
    assert verify["ok"] is True, verify
    assert verify["checks"] and all(c["ok"] for c in verify["checks"]), verify
    compile_and_import(root, "/usr/bin/python3")

    # (c) a second apply changes nothing and installs nothing
    status, pkgs = root.dpkg_status_bytes(), root.installed_packages()
    again = fixenv_json(root, "apply", "--yes")
    assert again["summary"]["changed"] == 0, again
    assert again["summary"]["failed"] == 0, again
    assert again["verify"]["ok"] is True, again["verify"]
    assert root.dpkg_status_bytes() == status
    assert root.installed_packages() == pkgs

    plan = fixenv_json(root, "plan", "--dry-run", "--exit-code")
    assert plan["changes_pending"] is False, plan


def test_d_venv_target_is_fixed_through_its_base_interpreter(debian_root):
    root = debian_root
    root.run(["python3", "-m", "venv", "/tmp/v"])
    assert_unfixed(root)

    plan = fixenv_json(root, "plan", "--dry-run", "--python", "/tmp/v/bin/python")
    assert_plans_headers_and_compiler(plan)

    result = fixenv_json(root, "apply", "--yes", "--python", "/tmp/v/bin/python")
    assert result["summary"]["failed"] == 0, result
    assert result["verify"]["ok"] is True, result["verify"]
    assert root.exists(PY_H)

    verify = fixenv_json(root, "verify", "--python", "/tmp/v/bin/python")
    assert verify["ok"] is True, verify
    compile_and_import(root, "/tmp/v/bin/python")


def test_e_root_with_headers_and_compiler_plans_nothing(compiler_root):
    root = compiler_root
    root.apt_install(HEADER_PKG)  # set-up: an already fixed machine
    assert root.exists(PY_H) and root.exists("/usr/bin/gcc")
    status = root.dpkg_status_bytes()

    res = fixenv(root, "plan", "--dry-run", "--json", "--exit-code")
    assert res.returncode == 0, _describe(res)
    plan = json.loads(res.stdout)
    assert plan["changes_pending"] is False, plan
    assert all(s["status"] != "change" for s in plan["steps"]), plan
    assert installed_by(plan) == [], plan

    verify = fixenv_json(root, "verify")
    assert verify["ok"] is True, verify
    assert root.dpkg_status_bytes() == status
