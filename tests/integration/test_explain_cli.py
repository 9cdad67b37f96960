"""`fixenv explain` as a process: exit codes of the real command."""
from __future__ import annotations

import os
import subprocess
import sys

from fixenv import errors

from tests.unit.test_explain_edges import ROOT


def test_dev_null_is_exit_3():
    """The exact case of the issue: `fixenv explain - </dev/null`, a real process."""
    with open(os.devnull, "rb") as null:
        p = subprocess.run([sys.executable, "-m", "fixenv", "explain", "-"], stdin=null,
                           capture_output=True, text=True, cwd=str(ROOT), timeout=60)
    assert p.returncode == errors.INPUT, p.stderr
    assert p.stderr.startswith("fixenv: error: no log") and p.stdout == ""
