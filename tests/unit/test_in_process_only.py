"""The guard of tests/unit/conftest.py is on: no test here can start a process."""
from __future__ import annotations

import os
import subprocess

import pytest

from fixenv.runner import Runner

from tests.unit.conftest import ProcessStarted


def test_starting_a_process_in_a_unit_test_fails_naming_it():
    with pytest.raises(ProcessStarted, match=r"\['true'\].*tests/integration"):
        subprocess.run(["true"])
    with pytest.raises(ProcessStarted):
        Runner().run(["true"])  # fixenv's own seam is refused too
    with pytest.raises(ProcessStarted):
        os.system("true")
