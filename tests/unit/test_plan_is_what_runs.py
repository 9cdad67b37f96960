"""The plan is, structurally, exactly what apply runs.

For every bundled planner case (tests/cases/plan/*.json): make the plan, take what
`plan --json` prints, then run the same plan through the executor with every effect recorded
instead of done (a runner that records and succeeds, file edits, environment and the
verification captured). The actions the executor carried out must equal, in order, the
actions the JSON listed for the steps that change things (plus every Verify action), and the
JSON `commands` must be exactly the argv the runner was asked to start.
"""
from __future__ import annotations

import json
import os
from typing import Any, Dict, List

import pytest

from fixenv import executor as executor_mod
from fixenv import profile
from fixenv.errors import PrivilegeError
from fixenv.facts import validate
from fixenv.model import Check, VerifyResult
from fixenv.runner import Result, Runner
from tests.unit.test_plan_cases import CASE_FILES, load_case, plan_case


class RecordingExecRunner(Runner):
    """Accepts mutating commands, records them, starts nothing, answers success."""

    def __init__(self) -> None:
        super().__init__()
        self.ran: List[List[str]] = []

    def run(self, argv, *, mutating=False, env=None, timeout=120, input=None, cwd=None,
            on_line=None) -> Result:
        assert mutating, "the executor ran a command not marked mutating: %r" % (argv,)
        self.ran.append(list(argv))
        return Result(tuple(argv), 0, "", "")


def _planned(plan_json: Dict[str, Any]) -> List[Any]:
    out: List[Any] = []
    for s in plan_json["steps"]:
        for a in s["actions"]:
            if s["status"] == "change" or a["kind"] == "verify":
                out.append(_key(a))
    return out


def _key(a: Dict[str, Any]) -> Any:
    kind = a["kind"]
    if kind == "exec":
        return ("exec", tuple(a["argv"]))
    if kind == "file":
        return ("file", a["path"], a["action"], a["content"])
    if kind == "setenv":
        return ("setenv", a["name"], a["value"])
    return ("verify", a["python"], a["cxx"])


@pytest.mark.parametrize("path", CASE_FILES, ids=[os.path.basename(p)[:-5] for p in CASE_FILES])
def test_apply_runs_exactly_the_actions_plan_printed(path, monkeypatch, tmp_path):
    case = load_case(path)
    _, plan, _ = plan_case(case, path, monkeypatch)
    printed = json.loads(json.dumps(plan.to_json()))  # what `plan --json` prints
    facts = validate(json.loads(json.dumps(case["facts"])), path)

    done: List[Any] = []
    monkeypatch.setenv("FIXENV_LOCK_FILE", str(tmp_path / "lock"))
    monkeypatch.setattr(profile, "apply_edit",
                        lambda e: done.append(("file", e.path, e.action, e.content)))

    def fake_verify(f, runner, *, cxx=True, keep=None):
        done.append(("verify", f["python"]["executable"], cxx))
        return VerifyResult(f["python"]["executable"], (Check("headers", True, "recorded"),))

    import fixenv.verify

    monkeypatch.setattr(fixenv.verify, "verify", fake_verify)
    runner = RecordingExecRunner()
    environ: Dict[str, str] = {}
    ex = executor_mod.Executor(runner, environ=environ,
                               on_event=lambda n, d: done.append(("exec", tuple(d["argv"])))
                               if n == "command" else None)
    try:
        recap = ex.run(plan, facts)
    except PrivilegeError:
        # not root, no sudo: apply refuses before doing anything (and says what to ask for)
        assert runner.ran == [] and done == []
        assert any(a.root for s in plan.steps if s.status == "change" for a in s.execs) or \
            any(f.root for s in plan.steps for f in s.actions if hasattr(f, "path"))
        return
    want = _planned(printed)
    got_order = [d for d in done if d[0] != "setenv"]
    assert got_order == [k for k in want if k[0] != "setenv"]
    assert [tuple(r) for r in runner.ran] == [k[1] for k in want if k[0] == "exec"]
    # SetEnv actions are seen in the environment the executor left
    assert {k[1]: k[2] for k in want if k[0] == "setenv"} == environ
    assert not recap.failed
    # JSON commands are exactly the argv started, step by step
    for s in printed["steps"]:
        assert s["commands"] == [a["argv"] for a in s["actions"] if a["kind"] == "exec"]


def test_the_comparison_sees_a_command_apply_would_add(monkeypatch, tmp_path):
    """Not vacuous: an executor that runs one more command than the plan lists is caught."""
    path = [p for p in CASE_FILES if p.endswith("debian12-system-311.json")][0]
    real = executor_mod.Executor._action

    def extra(self, s, a, facts, ran, outputs):
        if getattr(a, "argv", None) and not getattr(self, "_added", False):
            self._added = True
            self.runner.run(["true", "not-in-the-plan"], mutating=True)
        return real(self, s, a, facts, ran, outputs)

    monkeypatch.setattr(executor_mod.Executor, "_action", extra)
    with pytest.raises(AssertionError):
        test_apply_runs_exactly_the_actions_plan_printed(path, monkeypatch, tmp_path)
