"""The planner cases through the real `fixenv plan --facts FILE --json` (the documented
contract); in-process they are tests/unit/test_plan_cases.py."""
from __future__ import annotations

import json
import os

import pytest

from tests.unit.test_plan_cases import CASES_DIR, CLI_CASES, load_case, plan_case


@pytest.mark.parametrize("name", CLI_CASES)
def test_plan_facts_cli_gives_the_same_plan(name: str, tmp_path, monkeypatch) -> None:
    """The same facts through `fixenv plan --facts FILE --json` (the documented contract)."""
    import subprocess
    import sys

    case = load_case(os.path.join(CASES_DIR, name + ".json"))
    facts_file = tmp_path / "facts.json"
    facts_file.write_text(json.dumps(case["facts"]))
    _, inproc, _ = plan_case(case, name, monkeypatch)
    exact = {s.id: [list(a.argv) for a in s.execs] for s in inproc.steps}
    env = {k: v for k, v in os.environ.items() if k != "FIXENV_LOCK_TIMEOUT"}
    res = subprocess.run([sys.executable, "-m", "fixenv", "plan", "--facts", str(facts_file),
                          "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         universal_newlines=True, env=env, timeout=120)
    assert res.returncode in (0, 10), res.stderr
    out = json.loads(res.stdout)
    assert out["changes_pending"] is case["expect"]["changes_pending"]
    steps = {s["id"]: s for s in out["steps"]}
    for sid, want in case["expect"]["steps"].items():
        assert steps[sid]["status"] == want["status"], sid
        # JSON commands are the exact argv apply starts (`sudo -n env ...` included): the
        # in-process plan's actions, whose proposals test_plan_case checks against the case
        assert steps[sid]["commands"] == exact[sid], sid
