"""fixenv's own settings (fixenv/facts/invocation.py): read from the environment in detection
only; planning takes them from facts, the executor from its own environment."""
from __future__ import annotations

import pytest

from tests.factsfix import make_facts

from fixenv.engine import load_playbook, make_plan
from fixenv.errors import UsageError
from fixenv.facts import invocation
from fixenv.runner import RecordingRunner


def test_the_lock_timeout_setting_is_parsed_and_checked():
    assert invocation.lock_timeout({}) == 120.0
    assert invocation.lock_timeout({"FIXENV_LOCK_TIMEOUT": " "}) == 120.0
    assert invocation.lock_timeout({"FIXENV_LOCK_TIMEOUT": "0.5"}) == 0.5
    assert invocation.detect({"FIXENV_LOCK_TIMEOUT": "44.6"}) == {"lock_timeout": 45}
    for bad in ("soon", "-1", "nan"):
        with pytest.raises(UsageError, match="FIXENV_LOCK_TIMEOUT"):
            invocation.lock_timeout({"FIXENV_LOCK_TIMEOUT": bad})


def test_the_lock_file_setting_wins_over_the_defaults(tmp_path):
    assert invocation.lock_file({"FIXENV_LOCK_FILE": "/x/l"}) == "/x/l"
    # root with /run gets /run/fixenv.lock; anyone else an existing runtime dir, else tmp
    path = invocation.lock_file({"XDG_RUNTIME_DIR": str(tmp_path)})
    assert path in ("/run/fixenv.lock", str(tmp_path / "fixenv.lock"))


def test_terminal_settings_follow_no_color_org_and_columns():
    assert invocation.terminal({}) == invocation.Terminal()
    t = invocation.terminal({"NO_COLOR": "1", "FORCE_COLOR": "", "TERM": "dumb",
                             "COLUMNS": "77"})
    assert (t.no_color, t.force_color, t.dumb, t.columns) == (True, False, True, 77)
    assert invocation.terminal({"NO_COLOR": "", "COLUMNS": "0"}).no_color is False
    assert invocation.terminal({"COLUMNS": "wide"}).columns is None


def test_a_facts_document_gets_this_runs_settings(monkeypatch):
    monkeypatch.setenv("FIXENV_LOCK_TIMEOUT", "30")
    facts = make_facts(invocation={"lock_timeout": 999}, validated=True)
    assert facts["invocation"] == {"lock_timeout": 30}  # a file's value is never used


def test_planning_reads_the_lock_timeout_from_facts_not_the_environment(monkeypatch):
    monkeypatch.delenv("FIXENV_LOCK_TIMEOUT", raising=False)
    facts = make_facts(validated=True)
    facts["invocation"] = {"lock_timeout": 45}
    monkeypatch.setenv("FIXENV_LOCK_TIMEOUT", "7")  # after detection: planning must not see it
    plan = make_plan(load_playbook(None), facts, RecordingRunner(), probe=False)
    argvs = [list(a.argv) for s in plan.steps for a in s.execs]
    apt = [a for a in argvs if "apt-get" in a]
    assert apt, argvs
    assert all("DPkg::Lock::Timeout=45" in a for a in apt), apt
