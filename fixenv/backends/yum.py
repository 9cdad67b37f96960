"""yum (Amazon Linux 2, CentOS 7, older RHEL): rpm for state, yum for changes.

Same command line as dnf (`yum install -y`, `yum makecache`). On Amazon Linux 2 the
python3.8 packages come from amazon-linux-extras; a target Python from there means the topic
is already enabled, so `python38-devel` is installable as is.
"""
from __future__ import annotations

from typing import List, Optional, Sequence

from fixenv.backends import dnf
from fixenv.backends.base import Facts
from fixenv.model import Command

NAME = "yum"
NEEDS_ROOT = True

# yum's state query and command line are dnf's (dnf was built as its successor).
query = dnf.query
needs_refresh = dnf.needs_refresh


def refresh(facts: Optional[Facts] = None) -> Optional[Command]:
    return dnf.refresh(facts, program=NAME)


def install(names: Sequence[str], *, reinstall: bool = False, prefix: Optional[str] = None,
            facts: Optional[Facts] = None) -> List[Command]:
    return dnf.install(names, reinstall=reinstall, prefix=prefix, facts=facts, program=NAME)
