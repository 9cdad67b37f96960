"""Running fixenv inside a throwaway root and reading its answers: shared by the e2e files."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from . import rootfs


def describe(res: subprocess.CompletedProcess, tail: int = 5000, words: int = 8) -> str:
    """A failed command for an assertion message: exit code, argv's end, output's ends."""
    return (f"exit {res.returncode}: {res.args[-words:]}\n--- stdout\n{res.stdout[-tail:]}"
            f"\n--- stderr\n{res.stderr[-tail:]}")


def fixenv(root: rootfs.Root, *args: str, user=None) -> subprocess.CompletedProcess:
    assert root.fixenv, "fixenv is not installed in this root"
    return root.run([root.fixenv, *args], check=False, user=user)


def fixenv_json(root: rootfs.Root, *args: str, rc: int = 0, user=None) -> dict:
    res = fixenv(root, *args, "--json", user=user)
    assert res.returncode == rc, describe(res)
    try:
        data = json.loads(res.stdout)
    except ValueError:
        pytest.fail("--json output is not JSON\n" + describe(res))
    assert isinstance(data, dict), describe(res)
    return data


def all_commands(plan: dict) -> list[list[str]]:
    return [list(argv) for step in plan["steps"] for argv in step.get("commands") or []]


def apt_words(argv: list[str]) -> list[str]:
    """argv from the apt program on (drops sudo / env / VAR=value prefixes)."""
    for i, word in enumerate(argv):
        if os.path.basename(word) in ("apt-get", "apt", "aptitude"):
            return argv[i:]
    return []
