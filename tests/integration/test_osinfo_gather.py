"""Detection and planning on every release shape of tests/resources/distros, with the real
interpreter probed (fixenv/facts/osinfo.py); the parsers are in tests/unit/test_osinfo.py."""
from __future__ import annotations

import os

import pytest

from fixenv.facts import validate

from tests.unit.test_osinfo import CASES, DISTROS


def test_a_hostile_os_version_runs_nothing(tmp_path):
    """`plan --facts` with a shell-looking os.version: not refused (a version reaches no
    argv), described as null with a note; no mutating program runs, nothing is created."""
    from tests.robust_helpers import (build_traps, load_facts, run_fixenv, trap_lines,
                                           write_facts)

    trap_dir, log, marker = tmp_path / "trap-bin", tmp_path / "trap.log", tmp_path / "PWNED"
    build_traps(trap_dir, log, os.environ.get("PATH", "/usr/bin:/bin"))
    facts = load_facts()
    facts["os"]["version"] = "12 $(touch %s)" % marker
    path = write_facts(tmp_path / "hostile.json", facts)
    described = validate(load_facts(path), str(path))["os"]
    assert described["version"] is None and "not a release number" in described["version_note"]
    res = run_fixenv(["plan", "--facts", str(path)], path_prefix=trap_dir)
    assert res.returncode in (0, 10), res.stderr
    assert "Traceback" not in res.stderr
    assert trap_lines(log) == [] and not marker.exists()


@pytest.mark.parametrize("name", sorted(CASES))
def test_gather_and_plan_on_every_release_shape(name):
    """The whole detection (the real probe of a real interpreter) over each real os-release
    tree, then a plan: no release shape makes fixenv refuse (exit 3) or crash."""
    import sys

    from fixenv.engine import load_playbook, make_plan
    from fixenv.facts import gather
    from fixenv.runner import RecordingRunner, Runner

    facts = gather(Runner(), sys.executable, root_dir=os.path.join(DISTROS, name))
    assert facts["os"]["id"] == CASES[name][0] and facts["os"]["family"] == CASES[name][3]
    plan = make_plan(load_playbook(), facts, RecordingRunner(), probe=False)
    assert {s.id for s in plan.steps} >= {"python-headers", "compiler", "verify"}
