"""Issue 6: `fixenv plan --format shell` does what `fixenv apply` does, in a real Debian root.

Two identical fresh roots (python3 only: no headers, no compiler, and no package lists, like a
fresh container image). In one, `fixenv apply --yes`; in the other, the script printed by
`fixenv plan --format shell`, run with plain `sh` and without fixenv on PATH (so the script's
own verification runs, not `fixenv verify`). Afterwards both roots must have the same packages
installed and pass `fixenv verify`, and `fixenv doctor` must go from naming the fix to all
good.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from . import rootfs

pytestmark = pytest.mark.e2e

PY_H = "/usr/include/python3.11/Python.h"


def fixenv(root: rootfs.Root, *args: str, env=None) -> subprocess.CompletedProcess:
    assert root.fixenv
    return root.run([root.fixenv, *args], check=False, timeout=1800, env=env)


def describe(res: subprocess.CompletedProcess) -> str:
    return f"exit {res.returncode}\n--- stdout\n{res.stdout[-6000:]}\n--- stderr\n{res.stderr[-6000:]}"


def test_shell_script_has_the_same_effect_as_apply(make_root):
    by_apply, by_script = make_root("base"), make_root("base")
    for root in (by_apply, by_script):
        root.wipe_apt_lists()
    before = by_script.installed_packages()
    assert before == by_apply.installed_packages()

    # doctor in the fresh root: fails, names the planned fix for each problem
    doc = fixenv(by_script, "doctor", "--json")
    assert doc.returncode == 1, describe(doc)
    report = json.loads(doc.stdout)
    assert report["failed"] == ["headers", "c-compiler", "cxx-compiler"]
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["headers"]["fix"] == "fixenv apply --yes --python /usr/bin/python3"
    assert any(c.endswith("python3.11-dev") for c in checks["headers"]["fix_commands"])
    assert any(c.endswith("build-essential") for c in checks["cxx-compiler"]["fix_commands"])
    text = fixenv(by_script, "doctor")
    assert "FAIL    headers" in text.stdout and "fix them all with: fixenv apply --yes" \
        in text.stdout, describe(text)

    res = fixenv(by_script, "plan", "--format", "shell")
    assert res.returncode == 0, describe(res)
    script = res.stdout
    assert script.startswith("#!/bin/sh\n") and "\nset -eu\n" in script
    assert "apt-get -o DPkg::Lock::Timeout=120 update" in script  # no lists: refresh first
    by_script.write("/tmp/fix.sh", script)
    syntax = by_script.run(["sh", "-n", "/tmp/fix.sh"], check=False)
    assert syntax.returncode == 0, describe(syntax)
    assert by_script.installed_packages() == before  # planning changed nothing

    ran = by_script.run(["sh", "/tmp/fix.sh"], check=False, timeout=1800)
    assert ran.returncode == 0, describe(ran)
    assert "verification passed" in ran.stderr  # the script's own check (no fixenv on PATH)

    applied = fixenv(by_apply, "apply", "--yes", "--json")
    assert applied.returncode == 0, describe(applied)
    assert json.loads(applied.stdout)["verify"]["ok"] is True

    # the same effect: the same packages, the headers, a passing verification
    after_script, after_apply = by_script.installed_packages(), by_apply.installed_packages()
    assert after_script == after_apply
    assert {"python3.11-dev", "build-essential"} <= after_script - before
    for root in (by_apply, by_script):
        assert root.exists(PY_H)
        ver = fixenv(root, "verify", "--json")
        assert ver.returncode == 0 and json.loads(ver.stdout)["ok"] is True, describe(ver)
        plan = json.loads(fixenv(root, "plan", "--json").stdout)
        assert plan["changes_pending"] is False, plan
    doc = fixenv(by_script, "doctor")
    assert doc.returncode == 0, describe(doc)
    assert "all good" in doc.stdout

    # nothing left to change: the script only verifies, through fixenv when it is on PATH
    again = fixenv(by_script, "plan", "--format", "shell")
    by_script.write("/tmp/again.sh", again.stdout)
    assert "apt-get" not in "\n".join(ln for ln in again.stdout.splitlines()
                                      if not ln.startswith("#"))
    ran = by_script.run(["sh", "/tmp/again.sh"], check=False,
                        env={"PATH": "/opt/fixenv/bin:" + rootfs.CHROOT_PATH})
    assert ran.returncode == 0, describe(ran)
    assert "verification passed" in ran.stdout  # `fixenv verify`'s own report
