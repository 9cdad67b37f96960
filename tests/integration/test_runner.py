"""The process seam itself (fixenv/runner.py) starting real programs."""
from __future__ import annotations

from fixenv.runner import Runner


def test_runner_reports_missing_programs_as_rc_127():
    res = Runner().run(["/nonexistent/program-fixenv"])
    assert res.rc == 127 and "No such file" in res.stderr
