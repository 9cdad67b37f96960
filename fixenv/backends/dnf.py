"""dnf (Fedora, RHEL/Rocky/Alma 8+, Amazon Linux 2023): rpm for state, dnf for changes.

dnf refreshes expired metadata by itself before an install, so no refresh is planned after a
probe; a plan made from a facts file still lists `dnf makecache` (harmless, and the state of
that machine's cache is unknown).
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

from fixenv.backends import _rpm
from fixenv.backends import base
from fixenv.backends.base import Facts
from fixenv.model import Command
from fixenv.runner import Runner

NAME = "dnf"
NEEDS_ROOT = True


def query(names: Sequence[str], runner: Runner, facts: Facts) -> Dict[str, Optional[str]]:
    return _rpm.query(names, runner)


needs_refresh = base.never_refresh


def refresh(facts: Optional[Facts] = None, program: str = NAME) -> Optional[Command]:
    return Command((program, "makecache"), root=True, purpose="refresh package lists")


def install(names: Sequence[str], *, reinstall: bool = False, prefix: Optional[str] = None,
            facts: Optional[Facts] = None, program: str = NAME) -> List[Command]:
    verb = "reinstall" if reinstall else "install"
    return [Command((program, verb, "-y") + tuple(names), root=True,
                    purpose="%s %s" % (verb, " ".join(names)))]
