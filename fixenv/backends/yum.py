"""yum (Amazon Linux 2, CentOS 7, older RHEL): rpm for state, yum for changes.

Same command line as dnf (`yum install -y`, `yum makecache`). On Amazon Linux 2 the
python3.8 packages come from amazon-linux-extras; a target Python from there means the topic
is already enabled, so `python38-devel` is installable as is.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

from fixenv.backends import _rpm
from fixenv.backends.base import Facts
from fixenv.model import Command
from fixenv.runner import Runner

NAME = "yum"
NEEDS_ROOT = True


def query(names: Sequence[str], runner: Runner, facts: Facts) -> Dict[str, Optional[str]]:
    return _rpm.query(names, runner)


def needs_refresh(names: Sequence[str], runner: Runner, facts: Facts) -> bool:
    return False


def refresh() -> Optional[Command]:
    return Command((NAME, "makecache"), root=True, purpose="refresh package lists")


def install(names: Sequence[str], *, reinstall: bool = False, prefix: Optional[str] = None,
            facts: Optional[Facts] = None) -> List[Command]:
    verb = "reinstall" if reinstall else "install"
    return [Command((NAME, verb, "-y") + tuple(names), root=True,
                    purpose="%s %s" % (verb, " ".join(names)))]
