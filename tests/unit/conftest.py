"""tests/unit is pure and in-process: a test here that starts a process fails, naming what it
started. Process-level tests (the fixenv script, compilers, shells, fakes on PATH, the real
interpreters) belong in tests/integration, tests/realpython or tests/e2e."""
from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest


class ProcessStarted(AssertionError):
    pass


def _refuse(what: str) -> Any:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        argv = args[0] if args else kwargs.get("args")
        raise ProcessStarted("tests/unit is in-process only, but this test started a process "
                             "(%s %r): move it to tests/integration" % (what, argv))
    return refuse


@pytest.fixture(autouse=True)
def _no_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subprocess, "Popen", _refuse("subprocess.Popen"))  # run(), the runner
    for name in ("system", "fork", "forkpty", "posix_spawn", "posix_spawnp", "execv", "execve",
                 "execvp", "execvpe"):
        if hasattr(os, name):
            monkeypatch.setattr(os, name, _refuse("os." + name))
