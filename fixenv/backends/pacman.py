"""pacman (Arch, Manjaro): `pacman -Q` for state, `pacman -S --noconfirm` for changes.

Arch ships Python.h inside the `python` package itself, so missing headers mean a damaged
install: reinstall it (`-S` without `--needed`). No refresh is ever planned: `pacman -Sy`
followed by a single install is the partial upgrade Arch does not support; pacman installs
the version its sync database names, which is what the system was last upgraded against.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

from fixenv.backends import base
from fixenv.backends.base import Facts
from fixenv.model import Command
from fixenv.runner import Runner

NAME = "pacman"
NEEDS_ROOT = True


def parse_q(text: str) -> Dict[str, str]:
    """`pacman -Q a b` stdout lines "name version" (missing ones go to stderr)."""
    out: Dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            out[parts[0]] = parts[1]
    return out


def query(names: Sequence[str], runner: Runner, facts: Facts) -> Dict[str, Optional[str]]:
    res = runner.run(["pacman", "-Q"] + list(names), timeout=60)
    found = parse_q(res.stdout)
    return {n: found.get(n) for n in names}


needs_refresh = base.never_refresh
refresh = base.no_refresh


def install(names: Sequence[str], *, reinstall: bool = False, prefix: Optional[str] = None,
            facts: Optional[Facts] = None) -> List[Command]:
    argv = ["pacman", "-S", "--noconfirm"]
    if not reinstall:
        argv.append("--needed")  # skip what is already up to date
    return [Command(tuple(argv + list(names)), root=True,
                    purpose=("reinstall " if reinstall else "install ") + " ".join(names))]
