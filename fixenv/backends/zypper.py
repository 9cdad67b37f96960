"""zypper (openSUSE Leap/Tumbleweed, SLES): rpm for state, zypper for changes.

Repositories with autorefresh (the default) are refreshed by zypper itself; a plan made from
a facts file still lists `zypper --non-interactive refresh`.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

from fixenv.backends import _rpm
from fixenv.backends import base
from fixenv.backends.base import Facts
from fixenv.model import Command
from fixenv.runner import Runner

NAME = "zypper"
NEEDS_ROOT = True


def query(names: Sequence[str], runner: Runner, facts: Facts) -> Dict[str, Optional[str]]:
    return _rpm.query(names, runner)


needs_refresh = base.never_refresh


def refresh(facts: Optional[Facts] = None) -> Optional[Command]:
    return Command(("zypper", "--non-interactive", "refresh"), root=True,
                   purpose="refresh package lists")


def install(names: Sequence[str], *, reinstall: bool = False, prefix: Optional[str] = None,
            facts: Optional[Facts] = None) -> List[Command]:
    argv = ["zypper", "--non-interactive", "install"]
    if reinstall:
        argv.append("--force")  # zypper's way to reinstall an installed package
    return [Command(tuple(argv + list(names)), root=True,
                    purpose=("reinstall " if reinstall else "install ") + " ".join(names))]
