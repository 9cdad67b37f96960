"""Apple Command Line Tools (macOS): the compilers and the CLT Python's headers.

`xcode-select --install` opens Apple's installer (the user confirms it in a dialog); it is
the only supported way to (re)install the CLT. Package names are ignored: the CLT is one
unit. Installed state: `xcode-select -p` succeeds when a developer directory is set.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

from fixenv.backends import base
from fixenv.backends.base import Facts
from fixenv.model import Command
from fixenv.runner import Runner

NAME = "xcode"
NEEDS_ROOT = False


def query(names: Sequence[str], runner: Runner, facts: Facts) -> Dict[str, Optional[str]]:
    res = runner.run(["xcode-select", "-p"], timeout=30)
    path = res.stdout.strip() if res.ok else ""
    return {n: (path or None) for n in names}


needs_refresh = base.never_refresh
refresh = base.no_refresh


def install(names: Sequence[str], *, reinstall: bool = False, prefix: Optional[str] = None,
            facts: Optional[Facts] = None) -> List[Command]:
    return [Command(("xcode-select", "--install"), root=False,
                    purpose="install the Apple Command Line Tools (confirm Apple's dialog)")]
