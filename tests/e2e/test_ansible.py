"""Issue 6 (issue 13): the Ansible role (contrib/ansible) with real ansible-core, in one root.

ansible-core comes from PyPI as wheels downloaded once on the host (cached under the e2e
cache dir) and installed offline into a venv inside a Debian 12 root that has a compiler
but no Python headers. The role ships fixenv as the zipapp built from this checkout, put
where the README builds it (roles/fixenv/files/fixenv.pyz). ansible-playbook runs inside
the root against localhost (`-c local`) with the repository's example site.yml (the SSH
fleet of three releases is tests/e2e/test_fleet.py):

* check mode reports the pending change (the fixenv task is `changed`, the report says
  "pending"), sets the verify fact to false, changes no package (dpkg status
  byte-identical) and copies nothing;
* a real run reports `changed`, installs the headers, and the verify fact is true;
* a second run reports `ok` everywhere (changed=0), in check mode too;
* a fixenv error fails the task with fixenv's own message.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from . import rootfs

pytestmark = pytest.mark.e2e

ANSIBLE_CORE = "ansible-core>=2.16,<2.20"
PY_H = "/usr/include/python3.11/Python.h"
SRC = "/src/fixenv"
ANSIBLE_WHEELS = "/ansible-wheels"
ANSIBLE_VENV = "/opt/ansible"
FIXENV_TASK = "fixenv : Run fixenv"
COPY_TASK = "fixenv : Copy the fixenv zipapp (only when its checksum differs)"
PYZ = "/usr/local/bin/fixenv"


def _describe(res: subprocess.CompletedProcess) -> str:
    return (f"exit {res.returncode}: {res.args[-8:]}\n--- stdout\n{res.stdout[-8000:]}"
            f"\n--- stderr\n{res.stderr[-4000:]}")


def ansible_wheels() -> Path:
    """ansible-core and its dependencies as wheels for the root's Python (cached)."""
    tag = re.sub(r"[^A-Za-z0-9.]+", "_", ANSIBLE_CORE)
    final = rootfs.cache_dir() / f"wheels-{tag}-py{rootfs.TARGET_PY}"
    if any(final.glob("ansible_core-*.whl")):
        return final
    with rootfs._locked("wheels-ansible"):
        if any(final.glob("ansible_core-*.whl")):
            return final
        tmp = Path(tempfile.mkdtemp(prefix=".build-ansible-", dir=rootfs.cache_dir()))
        try:
            rootfs._check([rootfs._wheel_python(), "-m", "pip", "download", "-q",
                           "--disable-pip-version-check", "--only-binary=:all:",
                           "--dest", str(tmp), ANSIBLE_CORE], timeout=900)
            os.rename(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def copy_wheels(root: rootfs.Root, src: Path, dest: str) -> None:
    d = root.path(dest)
    d.mkdir(parents=True, exist_ok=True)
    for whl in src.glob("*.whl"):
        shutil.copy2(whl, d / whl.name)


def put_checkout(root: rootfs.Root, pyz: Path) -> None:
    dest = root.path(SRC)
    dest.mkdir(parents=True)
    for item in ("scripts", "contrib"):
        # symlinks=True: a link out of the role would break here (the role is self-contained);
        # a zipapp someone built in the checkout is not this checkout's.
        shutil.copytree(rootfs.REPO / item, dest / item, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyz"))
    shutil.copyfile(pyz, dest / "contrib/ansible/roles/fixenv/files/fixenv.pyz")


def task_results(out: str) -> dict[str, tuple[str, dict]]:
    """TASK name -> (status, result dict) from the default callback at -v."""
    results: dict[str, tuple[str, dict]] = {}
    task = None
    for line in out.splitlines():
        m = re.match(r"TASK \[(.*)\]", line)
        if m:
            task = m.group(1)
            continue
        m = re.match(r"(ok|changed|failed|fatal|skipping): \[localhost\](?:: \w+!)?"
                     r"(?: => (\{.*\}))?$", line)
        if m and task:
            results[task] = (m.group(1), json.loads(m.group(2)) if m.group(2) else {})
    return results


def recap(out: str) -> dict[str, int]:
    m = re.search(r"^localhost\s+:\s+(.*)$", out, re.M)
    assert m, out[-3000:]
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(1))}


@pytest.fixture(scope="module")
def wheels(e2e_available) -> dict[str, Path]:
    return {"zipapp": rootfs.zipapp(), "ansible": ansible_wheels()}


def test_role_check_mode_then_apply_then_idempotent(make_root, wheels):
    root = make_root("compiler", fixenv=False)
    assert not root.exists(PY_H)
    copy_wheels(root, wheels["ansible"], ANSIBLE_WHEELS)
    put_checkout(root, wheels["zipapp"])
    pip_env = {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_CACHE_DIR": "1"}
    root.run(["python3", "-m", "venv", ANSIBLE_VENV])
    root.run([f"{ANSIBLE_VENV}/bin/pip", "install", "-q", "--no-index", "--find-links",
              ANSIBLE_WHEELS, ANSIBLE_CORE], env=pip_env, timeout=900)

    def playbook(*extra: str) -> subprocess.CompletedProcess:
        res = root.run(
            [f"{ANSIBLE_VENV}/bin/ansible-playbook", "-v", "-i", "localhost,", "-c", "local",
             f"{SRC}/contrib/ansible/site.yml", *extra],
            env={"ANSIBLE_NOCOLOR": "1", "ANSIBLE_PYTHON_INTERPRETER": "/usr/bin/python3",
                 "ANSIBLE_CALLBACK_RESULT_FORMAT": "json", "ANSIBLE_PIPELINING": "1"},
            check=False, timeout=1800)
        return res

    # 1. Check mode: the pending change is reported, nothing is changed.
    status = root.dpkg_status_bytes()
    res = playbook("--check", "--diff")
    assert res.returncode == 0, _describe(res)
    tasks = task_results(res.stdout)
    state, result = tasks[FIXENV_TASK]
    assert state == "changed", _describe(res)
    assert result["plan"]["changes_pending"] is True
    assert result["pending"], result
    assert result["ansible_facts"]["fixenv_verify_ok"] is False
    assert result["ansible_facts"]["fixenv_plan"]["changes_pending"] is True
    assert ("fixenv on localhost: pending: " + ", ".join(result["pending"])) in res.stdout
    assert "FAILED" not in res.stdout
    assert "python3.11-dev" in res.stdout  # the --diff shows the planned command
    assert root.dpkg_status_bytes() == status, "check mode changed the packages"
    assert not root.exists(PY_H)
    assert not root.exists(PYZ), "check mode copied the zipapp"

    # 2. A real run: changed, the headers are there, the fact says verify passed.
    res = playbook()
    assert res.returncode == 0, _describe(res)
    state, result = task_results(res.stdout)[FIXENV_TASK]
    assert state == "changed", _describe(res)
    summary = result["apply"]["summary"]
    assert summary["changed"] >= 1 and summary["failed"] == 0
    assert result["verify"]["ok"] is True
    assert "fixenv on localhost: verify ok" in res.stdout
    assert task_results(res.stdout)[COPY_TASK][0] == "changed"
    assert root.exists(PY_H) and "python3.11-dev" in root.installed_packages()
    assert root.exists(PYZ)

    # 3. Again: ok, nothing changed anywhere; in check mode as well.
    for extra in ((), ("--check",)):
        res = playbook(*extra)
        assert res.returncode == 0, _describe(res)
        state, result = task_results(res.stdout)[FIXENV_TASK]
        assert state == "ok", _describe(res)
        assert recap(res.stdout)["changed"] == 0, _describe(res)
        assert "fixenv on localhost: verify ok" in res.stdout

    # 4. A failure is fixenv's: its error line, and the play fails (exit 2).
    res = playbook("--check", "-e", "fixenv_python=/nonexistent/python3")
    assert res.returncode == 2, _describe(res)
    state, result = task_results(res.stdout)[FIXENV_TASK]
    assert state == "fatal", _describe(res)
    assert result["rc"] == 3 and "fixenv: error: --python /nonexistent/python3" in result["msg"]


def _readme_fleet_block() -> str:
    text = (rootfs.REPO / "README.md").read_text()
    m = re.search(r"\*\*Across a fleet.*?```sh\n(.*?)```", text, re.S)
    assert m, "README has no fleet quick start"
    return m.group(1)


def test_readme_fleet_quick_start_runs_as_written(make_root):
    """The README's fleet quick start, verbatim, on a machine with only this checkout: a
    bookworm root with python3 + python3-venv and the committed tree (`git archive HEAD`),
    no compiler, no headers. ansible-core and the zipapp's dependencies come from PyPI; the
    shipped inventory.ini targets the machine itself (connection local)."""
    root = make_root("base", fixenv=False)
    assert not root.exists(PY_H) and not root.exists("/usr/bin/gcc")
    dest = root.path(SRC)
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(rootfs.REPO), "archive", "HEAD"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    # A real machine has a CA bundle; the minbase root gets the host's.
    shutil.copyfile("/etc/ssl/certs/ca-certificates.crt",
                    root.path("/etc/ssl/certs/ca-certificates.crt"))
    block = _readme_fleet_block()
    res = root.run(["bash", "-c", f"set -ex\ncd {SRC}\n{block}"],
                   env={"PIP_CERT": "/etc/ssl/certs/ca-certificates.crt",
                        "ANSIBLE_NOCOLOR": "1", "DEBIAN_FRONTEND": "noninteractive"},
                   check=False, timeout=1800)
    assert res.returncode == 0, _describe(res)
    runs = res.stdout.split("PLAY RECAP")
    assert len(runs) == 3, _describe(res)  # --check, then the real run
    assert "fixenv on localhost: pending: python-headers, compiler" in runs[0], _describe(res)
    assert "fixenv on localhost: verify ok" in runs[1], _describe(res)
    assert re.search(r"localhost\s+:.*failed=0", runs[2]), _describe(res)
    assert root.exists(PY_H) and root.exists("/usr/bin/gcc")
    # The zipapp the quick start built went where the role ships it from, and to the host.
    assert (dest / "contrib/ansible/roles/fixenv/files/fixenv.pyz").is_file()
    assert root.exists(PYZ)
