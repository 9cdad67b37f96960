"""The CLI contracts of the core commands, through Typer's test runner and the real entry."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from fixenv.cli import app, run
from tests.factsfix import make_facts
from fixenv.errors import CHANGES_PENDING, INPUT, USAGE

# Ubuntu 24.04, its python3.12 without headers, a sudo-capable user
FACTS = make_facts(root=False, sudo=True, os={"id": "ubuntu", "version": "24.04",
                                              "like": ["debian"]},
                   python={"executable": "/usr/bin/python3.12", "version": "3.12.3",
                           "include": "/usr/include/python3.12"})


@pytest.fixture
def facts_file(tmp_path):
    p = tmp_path / "facts.json"
    p.write_text(json.dumps(FACTS))
    return str(p)


def test_plan_from_facts_json_contract(facts_file):
    res = CliRunner().invoke(app, ["plan", "--dry-run", "--facts", facts_file, "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["changes_pending"] is True
    steps = {s["id"]: s for s in data["steps"]}
    assert set(steps["python-headers"]) >= {"id", "status", "commands", "reason"}
    assert steps["python-headers"]["status"] == "change"
    # the exact argv apply starts: this user is not root, so through `sudo -n env ...`
    assert ["sudo", "-n", "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-o",
            "DPkg::Lock::Timeout=120", "install", "-y", "--no-install-recommends",
            "python3.12-dev"] in steps["python-headers"]["commands"]
    acts = [a for a in steps["python-headers"]["actions"] if a["kind"] == "exec"]
    assert [a["argv"] for a in acts] == steps["python-headers"]["commands"]
    assert all(a["sudo"] and a["root"] for a in acts)
    assert acts[-1]["env"] == {"DEBIAN_FRONTEND": "noninteractive"}
    assert steps["compiler"]["commands"][-1][-1] == "build-essential"


def test_plan_exit_code_flag(facts_file, capsys):
    assert run(["plan", "--facts", facts_file, "--exit-code"]) == CHANGES_PENDING
    out = capsys.readouterr().out
    assert "sudo -n env DEBIAN_FRONTEND=noninteractive apt-get" in out


def test_plan_text_names_every_step(facts_file, capsys):
    assert run(["plan", "--facts", facts_file]) == 0
    out = capsys.readouterr().out
    for step in ("python-headers", "compiler", "verify"):
        assert step in out


def test_conflicting_options_are_a_usage_error(facts_file, capsys):
    assert run(["plan", "--facts", facts_file, "--python", sys.executable]) == USAGE
    err = capsys.readouterr().err
    assert err.splitlines()[0].startswith("fixenv: error: --facts and --python conflict")


def test_facts_file_missing_key_names_it(tmp_path, capsys):
    broken = json.loads(json.dumps(FACTS))
    del broken["compilers"]["cxx"]
    p = tmp_path / "f.json"
    p.write_text(json.dumps(broken))
    assert run(["plan", "--facts", str(p)]) == INPUT
    assert "compilers.cxx: missing" in capsys.readouterr().err


def test_apply_without_tty_or_yes_fails_at_once(tmp_path):
    """A provisioning script must never hang: no --yes and no TTY is exit 5, nothing run."""
    fake = tmp_path / "python3"
    fake.write_text("#!/bin/sh\nexec %s \"$@\"\n" % sys.executable)
    fake.chmod(0o755)
    res = subprocess.run([sys.executable, "-m", "fixenv", "apply", "--playbook",
                          str(tmp_path / "pb.yaml")], capture_output=True, text=True,
                         stdin=subprocess.DEVNULL)
    # the playbook does not exist: bad input wins before any question
    assert res.returncode == INPUT and "no such file" in res.stderr
    (tmp_path / "pb.yaml").write_text(
        "name: t\nsteps:\n  - id: touch\n    kind: command\n    argv: [touch, %s]\n"
        % (tmp_path / "made"))
    res = subprocess.run([sys.executable, "-m", "fixenv", "apply", "--playbook",
                          str(tmp_path / "pb.yaml")], capture_output=True, text=True,
                         stdin=subprocess.DEVNULL)
    assert res.returncode == 5, res.stderr
    assert "pass --yes" in res.stderr
    assert not (tmp_path / "made").exists()


def test_apply_runs_a_command_step_then_verifies(tmp_path):
    pb = tmp_path / "pb.yaml"
    pb.write_text("name: t\nsteps:\n  - id: touch\n    kind: command\n    argv: [touch, %s]\n"
                  "    creates: %s\n  - id: verify\n    kind: verify\n"
                  % (tmp_path / "made", tmp_path / "made"))
    cmd = [sys.executable, "-m", "fixenv", "apply", "--yes", "--json", "--playbook", str(pb),
           "--python", "/usr/bin/python3.11"]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["summary"]["changed"] == 1 and data["verify"]["ok"] is True
    assert (tmp_path / "made").exists()
    again = json.loads(subprocess.run(cmd, capture_output=True, text=True).stdout)
    assert again["summary"]["changed"] == 0 and again["summary"]["ok"] == 2


def test_apply_verifies_only_where_the_plan_says(tmp_path):
    """The verify step is an action like any other: a playbook without one does not verify,
    and its options reach the check (cxx: false leaves out the C++ builds)."""
    pb = tmp_path / "pb.yaml"
    pb.write_text("name: t\nsteps:\n  - id: touch\n    kind: command\n    argv: [touch, %s]\n"
                  % (tmp_path / "made"))
    cmd = [sys.executable, "-m", "fixenv", "apply", "--yes", "--json", "--playbook", str(pb),
           "--python", "/usr/bin/python3.11"]
    data = json.loads(subprocess.run(cmd, capture_output=True, text=True).stdout)
    assert data["summary"]["changed"] == 1
    assert data["verify"] == {"ok": False, "skipped": True, "checks": []}
    pb.write_text(pb.read_text() + "  - id: proof\n    kind: verify\n    cxx: false\n")
    data = json.loads(subprocess.run(cmd, capture_output=True, text=True).stdout)
    names = [c["name"] for c in data["verify"]["checks"]]
    assert data["verify"]["ok"] is True and "build-c" in names
    assert not any(n in names for n in ("build-cxx", "cxx-compiler", "inductor")), names


def test_playbooks_lists_the_bundled_set():
    res = CliRunner().invoke(app, ["playbooks", "--json"])
    assert res.exit_code == 0
    names = [r["name"] for r in json.loads(res.stdout)]
    assert "python-headers" in names


def test_version_flag():
    res = subprocess.run([sys.executable, "-m", "fixenv", "--version"], capture_output=True,
                         text=True)
    assert res.returncode == 0 and res.stdout.startswith("fixenv ")


def test_a_plan_for_another_machine_names_its_user_not_this_one(tmp_path, make_facts):
    """Facts are the whole machine: a facts file for an unprivileged user elsewhere gets that
    user's sysroot and start-up files (the documented defaults, or its `user` group), never
    this machine's HOME (/root here)."""
    f = make_facts(root=False, sudo=False)
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(f))
    res = CliRunner().invoke(app, ["plan", "--facts", str(path), "--json"],
                             env={"HOME": "/root", "XDG_DATA_HOME": "/root/.local/share"})
    assert res.exit_code == 0, res.output
    assert "/root" not in res.stdout
    plan = json.loads(res.stdout)
    files = [a["path"] for s in plan["steps"] for a in s["actions"] if a["kind"] == "file"]
    assert "/home/user/.profile" in files
    assert "/home/user/.local/share/fixenv/sysroot" in res.stdout
    f["user"] = {"name": "ana", "home": "/srv/ana", "shell": "zsh"}
    path.write_text(json.dumps(f))
    plan = json.loads(CliRunner().invoke(app, ["plan", "--facts", str(path), "--json"]).stdout)
    files = [a["path"] for s in plan["steps"] for a in s["actions"] if a["kind"] == "file"]
    assert {"/srv/ana/.profile", "/srv/ana/.zshenv"} <= set(files)
