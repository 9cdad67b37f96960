"""explain planning and applying for the Python a log names, with this machine's real
interpreter probed (fixenv/explain.py); the log reading is in tests/unit/test_explain*.py."""
from __future__ import annotations

import json
import os

import pytest

from fixenv import errors, explain as ex
from fixenv.cli import run

from tests.unit.test_explain import LOGS


def _facts_for(python: str):
    from fixenv.facts import gather
    from fixenv.runner import RecordingRunner

    return gather(RecordingRunner(), python)


@pytest.mark.realpython
def test_plans_for_the_logs_python_when_it_exists_here():
    """A log built for pyenv's 3.12.1 explained with another default target: fixenv finds
    that Python on this machine and plans for it."""
    exe = "/root/.pyenv/versions/3.12.1/bin/python3.12"
    other = "/usr/bin/python3.11"
    if not (os.access(exe, os.X_OK) and os.access(other, os.X_OK)):
        pytest.skip("needs pyenv's 3.12.1 and Debian's python3.11 on this machine")
    log = ("gcc -I/root/.pyenv/versions/3.12.1/include/python3.12 -c m.c -o m.o\n"
           "m.c:1:10: fatal error: Python.h: No such file or directory\n").encode()
    seen = []

    def gather_facts(p):
        seen.append(p)
        return _facts_for(p or other)

    e = ex.explain(log, gather_facts=gather_facts)
    assert seen[0] is None and seen[1] == exe
    assert e.match.same is False and "exists here as " + exe in e.match.reason
    assert e.planned_for == exe and e.plan is not None
    # pyenv builds ship headers: here they are present, so there is nothing to install
    headers = next(s for s in e.plan.steps if s.id == "python-headers")
    assert headers.status == "ok"
    assert any("nothing to change" in a for a in e.advice)


@pytest.mark.realpython
def test_explicit_python_wins_but_is_warned(capsys):
    if not os.access("/usr/bin/python3.11", os.X_OK):
        pytest.skip("needs Debian's python3.11")
    log = LOGS / "fedora-pip-no-python-h" / "log.txt"
    rc = run(["explain", str(log), "--python", "/usr/bin/python3.11", "--json"])
    got = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert got["match"]["same"] is False
    assert got["planned_for"] == "/usr/bin/python3.11"
    assert any("as asked" in a for a in got["advice"])


@pytest.mark.realpython
def test_apply_refuses_when_there_is_nothing_to_apply(capsys):
    """--apply on a recognised failure fixenv cannot fix (cuda.h) changes nothing: exit 1."""
    if not os.access("/usr/bin/python3.11", os.X_OK):
        pytest.skip("needs Debian's python3.11")
    log = LOGS / "conda-triton-cuda-h" / "log.txt"
    rc = run(["explain", str(log), "--python", "/usr/bin/python3.11", "--apply", "--yes"])
    captured = capsys.readouterr()
    assert rc == errors.FAILED
    assert "no plan for this failure" in captured.err
    assert "cuda.h" in captured.out
