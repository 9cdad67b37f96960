"""Homebrew (macOS, Linuxbrew): `brew list --versions` for state, `brew install/reinstall`.

Never as root: Homebrew refuses to run as root, and its prefix belongs to the user. Headers
ship inside `python@3.X` itself, so missing headers mean `brew reinstall python@3.X`.
`brew install` updates its own metadata when it needs to: no refresh is planned.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

from fixenv.backends import base
from fixenv.backends.base import Facts
from fixenv.model import Command
from fixenv.runner import Runner

NAME = "brew"
NEEDS_ROOT = False


def parse_list_versions(text: str) -> Dict[str, str]:
    """`brew list --versions a b` lines "name v1 [v2 ...]" → {name: newest listed}."""
    out: Dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            out[parts[0]] = parts[-1]
    return out


def query(names: Sequence[str], runner: Runner, facts: Facts) -> Dict[str, Optional[str]]:
    res = runner.run(["brew", "list", "--versions"] + list(names), timeout=120)
    found = parse_list_versions(res.stdout)
    return {n: found.get(n) for n in names}


needs_refresh = base.never_refresh
refresh = base.no_refresh


def install(names: Sequence[str], *, reinstall: bool = False, prefix: Optional[str] = None,
            facts: Optional[Facts] = None) -> List[Command]:
    verb = "reinstall" if reinstall else "install"
    return [Command(("brew", verb) + tuple(names), root=False,
                    purpose="%s %s" % (verb, " ".join(names)))]
