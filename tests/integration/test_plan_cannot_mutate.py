"""`plan` cannot change the machine: proven with every changing program booby-trapped.

Each run puts a directory first on PATH in which apt-get, apt, dpkg, dnf, yum, rpm, zypper,
apk, pacman, brew, conda, mamba, micromamba, pyenv, uv, pip, sudo, xcode-select, ... are
trap scripts. A trap logs its argv and exits 99, except the read-only queries a plan needs
(dpkg-query, `dpkg -S`, `apt-cache policy`, `rpm -q`, ...), which it hands to the real
program. The test fails when any trap fired with anything else, and when a file fixenv
could write (the profile snippet, the dpkg database, the lock file) changed.

The plans are real ones with changes pending: a playbook that needs a package this machine
lacks (so apt-get update + install are planned), a command step naming apt-get, and every
stored facts case under tests/cases/ (all package managers).
"""
from __future__ import annotations

import glob
import hashlib
import json
import os
import sys
from pathlib import Path

import pytest

from tests.robust_helpers import REPO, build_traps, run_fixenv, trap_lines

# (/run/fixenv.lock is not watched: other suites may run `apply` meanwhile; the lock test
# below points FIXENV_LOCK_FILE at a file of its own.)
WATCHED = ["/etc/profile.d/fixenv.sh", "/var/lib/dpkg/status",
           os.path.expanduser("~/.bashrc"), os.path.expanduser("~/.profile"),
           os.path.expanduser("~/.zshenv"), os.path.expanduser("~/.bash_profile")]


def _snapshot():
    out = {}
    for p in WATCHED:
        try:
            st = os.stat(p)
            with open(p, "rb") as fh:
                out[p] = (hashlib.sha256(fh.read()).hexdigest(), st.st_mtime_ns)
        except OSError:
            out[p] = None
    return out


@pytest.fixture
def trapped(tmp_path):
    trap_dir, log = tmp_path / "trap-bin", tmp_path / "trap.log"
    build_traps(trap_dir, log, os.environ.get("PATH", "/usr/bin:/bin"))
    before = _snapshot()
    yield trap_dir, log
    assert _snapshot() == before, "a file changed while only planning"


NEEDS_A_PACKAGE = """\
name: needs-a-package
steps:
  - id: missing-package
    kind: packages
    manager: apt
    packages: [fixenv-test-no-such-package]
  - id: named-apt-get
    kind: command
    argv: [apt-get, install, -y, fixenv-test-no-such-package]
    root: true
  - id: cpath
    kind: env
"""


# Runs many CLI invocations in one trapped interpreter (start-up is most of a plan's cost):
# the same fixenv.cli.run the console script calls, with the trapped PATH inherited by every
# probe and query it starts.
_DRIVER = """
import contextlib, io, json, sys
from fixenv.cli import run
results = []
for args in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = run(args)
    results.append([rc, out.getvalue(), err.getvalue()])
sys.__stdout__.write(json.dumps(results))
"""


def _run_many(runs, trap_dir):
    import subprocess
    import sys

    env = dict(os.environ, PATH="%s:%s" % (trap_dir, os.environ.get("PATH", "")))
    res = subprocess.run([sys.executable, "-c", _DRIVER, json.dumps(runs)], env=env,
                         capture_output=True, text=True, timeout=600, cwd=str(REPO))
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def _real_python() -> str:
    for p in ("/usr/bin/python3.11", "/usr/bin/python3"):
        if os.path.exists(p):
            return p
    pytest.skip("no system python3")


def test_plan_with_changes_pending_runs_only_read_only_queries(tmp_path, trapped):
    trap_dir, log = trapped
    if not os.path.exists("/usr/bin/dpkg-query"):
        pytest.skip("needs dpkg (Debian/Ubuntu) for a real apt plan")
    pb = tmp_path / "pb.yaml"
    pb.write_text(NEEDS_A_PACKAGE)
    for extra in ([], ["--json"], ["--dry-run"], ["--exit-code"]):
        res = run_fixenv(["plan", "--python", _real_python(), "--playbook", str(pb)] + extra,
                         path_prefix=trap_dir)
        assert res.returncode == (10 if extra == ["--exit-code"] else 0), res.stderr
        assert "Traceback" not in res.stderr
        if extra == ["--json"]:
            plan = json.loads(res.stdout)
            assert plan["changes_pending"] is True
            steps = {s["id"]: s for s in plan["steps"]}
            argvs = [c for c in steps["missing-package"]["commands"]]
            assert any("install" in c and "fixenv-test-no-such-package" in c for c in argvs)
            assert steps["named-apt-get"]["status"] == "change"
    fired = trap_lines(log)
    assert fired == [], fired
    # and the read-only queries really went through the traps (the test is not vacuous)
    reads = log.read_text()
    assert "READ dpkg-query" in reads and "READ apt-cache policy" in reads


def test_detect_and_plan_for_every_real_python_run_only_read_only_queries(trapped):
    trap_dir, log = trapped
    pythons = [p for p in ["/usr/bin/python3.11"] +
               sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/*/bin/python")))
               if os.path.exists(p)]
    if not pythons:
        pytest.skip("no real interpreters here")
    runs = [cmd + ["--python", py] for py in pythons
            for cmd in (["detect", "--json"], ["plan", "--json"])]
    for args, (rc, out, err) in zip(runs, _run_many(runs, trap_dir)):
        assert rc == 0, (args, err)
        json.loads(out)
    assert trap_lines(log) == []


def test_plan_from_every_stored_facts_case_runs_nothing_changing(trapped):
    trap_dir, log = trapped
    cases = sorted(glob.glob(str(REPO / "tests" / "cases" / "plan" / "*.json")))
    if not cases:
        pytest.skip("no stored cases")
    runs = []
    for i, case in enumerate(cases):
        facts = json.loads(Path(case).read_text()).get("facts")
        if facts is None:
            continue
        fpath = trap_dir.parent / ("facts-%d.json" % i)
        fpath.write_text(json.dumps(facts))
        runs.append(["plan", "--json", "--facts", str(fpath)])
    changing = 0
    for rc, out, err in _run_many(runs, trap_dir):
        assert "Traceback" not in err
        if rc == 0:  # (a case meant to be refused is not this test's business)
            changing += json.loads(out)["changes_pending"]
    assert changing >= 10  # many plans with dnf/apk/pacman/brew/conda/pyenv/uv changes
    assert trap_lines(log) == []


def test_the_traps_do_fire_on_a_mutating_call(tmp_path):
    """The trap itself works: apply (which may change things) trips it at once."""
    trap_dir, log = tmp_path / "trap-bin", tmp_path / "trap.log"
    build_traps(trap_dir, log, os.environ.get("PATH", "/usr/bin:/bin"))
    pb = tmp_path / "pb.yaml"
    pb.write_text("name: t\nsteps:\n  - id: a\n    kind: command\n"
                  "    argv: [apt-get, install, -y, fixenv-test-no-such-package]\n")
    res = run_fixenv(["apply", "--yes", "--python", _real_python(), "--playbook", str(pb)],
                     path_prefix=trap_dir, env={"FIXENV_LOCK_FILE": str(tmp_path / "lock")})
    assert res.returncode == 1
    assert trap_lines(log) == ["TRAP apt-get install -y fixenv-test-no-such-package"]


def test_plan_takes_no_lock_and_writes_no_file(tmp_path, trapped):
    trap_dir, log = trapped
    lock = tmp_path / "fixenv.lock"
    res = run_fixenv(["plan", "--python", _real_python()], path_prefix=trap_dir,
                     env={"FIXENV_LOCK_FILE": str(lock)})
    assert res.returncode == 0, res.stderr
    assert not lock.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trap-bin", "trap.log"] or \
        sorted(p.name for p in tmp_path.iterdir()) == ["trap-bin"]


def _runners_used_by_plan(monkeypatch, capsys):
    """Run `plan` and `detect` in-process; the runner class behind every process they start."""
    from fixenv import runner as runner_mod
    from fixenv.commands import core

    used = []
    real_start, real_run = runner_mod.Runner.start, runner_mod.Runner.run

    def start(self, argv, **kw):
        used.append(type(self))
        return real_start(self, argv, **kw)

    def run(self, argv, **kw):
        used.append(type(self))
        return real_run(self, argv, **kw)

    monkeypatch.setattr(runner_mod.Runner, "start", start)
    monkeypatch.setattr(runner_mod.Runner, "run", run)
    assert core.plan(python=sys.executable, as_json=True) in (0, 10)
    assert core.detect(python=sys.executable, as_json=True) == 0
    capsys.readouterr()
    return used


def test_planning_starts_processes_only_through_a_refusing_runner(monkeypatch, capsys):
    """Behavioural: every process plan/detect start goes through a RecordingRunner (which
    raises on mutating=True), so nothing planning runs can change the machine."""
    from fixenv.runner import RecordingRunner

    used = _runners_used_by_plan(monkeypatch, capsys)
    assert used, "planning started no process at all: the check would be vacuous"
    assert all(issubclass(t, RecordingRunner) for t in used), used


def test_the_check_fails_when_planning_is_handed_a_mutating_runner(monkeypatch, capsys):
    """The test above is real: hand planning a plain Runner and it sees it."""
    from fixenv import runner as runner_mod

    refusing = runner_mod.RecordingRunner
    monkeypatch.setattr(runner_mod, "RecordingRunner", runner_mod.Runner)
    used = _runners_used_by_plan(monkeypatch, capsys)
    assert not all(issubclass(t, refusing) for t in used)  # the check above would fail
