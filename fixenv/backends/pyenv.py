"""pyenv: Pythons built from source under `$(pyenv root)/versions/V`.

A pyenv build always installs its headers; when they are gone, rebuild that version in
place with `pyenv install --force V` (the OS build dependencies are a separate playbook step).
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

from fixenv.backends import base
from fixenv.backends.base import Facts
from fixenv.model import Command
from fixenv.runner import Runner

NAME = "pyenv"
NEEDS_ROOT = False


def parse_versions(text: str) -> List[str]:
    """`pyenv versions --bare` → version names (one a line)."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def query(names: Sequence[str], runner: Runner, facts: Facts) -> Dict[str, Optional[str]]:
    res = runner.run(["pyenv", "versions", "--bare"], timeout=60)
    have = set(parse_versions(res.stdout)) if res.ok else set()
    return {n: (n if n in have else None) for n in names}


needs_refresh = base.never_refresh
refresh = base.no_refresh


def install(names: Sequence[str], *, reinstall: bool = False, prefix: Optional[str] = None,
            facts: Optional[Facts] = None) -> List[Command]:
    # One version per command: older pyenv releases take only one.
    flag = "--force" if reinstall else "--skip-existing"
    return [Command(("pyenv", "install", flag, n), root=False,
                    purpose=("rebuild " if reinstall else "build ") + n) for n in names]
