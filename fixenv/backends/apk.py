"""apk (Alpine): `apk info -e` for state, `apk add --no-cache` for changes.

`--no-cache` fetches a fresh index for the one command and leaves no cache behind (the usual
container idiom), so no separate `apk update` is ever needed.
"""
from __future__ import annotations

import re
from typing import Dict, List, Optional, Sequence

from fixenv.backends import base
from fixenv.backends.base import Facts
from fixenv.model import Command
from fixenv.runner import Runner

NAME = "apk"
NEEDS_ROOT = True
_VERSIONED = re.compile(r"^(?P<name>.+?)-(?P<version>[0-9][^-]*-r[0-9]+)$")


def parse_info_exists(text: str, names: Sequence[str]) -> Dict[str, Optional[str]]:
    """`apk info -e a b` prints the installed ones (bare names, or name-version with -v)."""
    out: Dict[str, Optional[str]] = {n: None for n in names}
    for line in text.splitlines():
        word = line.strip()
        m = _VERSIONED.match(word)
        if m and m.group("name") in out:
            out[m.group("name")] = m.group("version")
        elif word in out:
            out[word] = "(installed)"
    return out


def query(names: Sequence[str], runner: Runner, facts: Facts) -> Dict[str, Optional[str]]:
    res = runner.run(["apk", "info", "-e"] + list(names), timeout=60)
    return parse_info_exists(res.stdout, names)


needs_refresh = base.never_refresh
refresh = base.no_refresh


def install(names: Sequence[str], *, reinstall: bool = False, prefix: Optional[str] = None,
            facts: Optional[Facts] = None) -> List[Command]:
    if reinstall:
        # apk has no `add --reinstall`; `apk fix --reinstall` re-extracts installed packages.
        return [Command(("apk", "fix", "--no-cache", "--reinstall") + tuple(names), root=True,
                        purpose="reinstall " + " ".join(names))]
    return [Command(("apk", "add", "--no-cache") + tuple(names), root=True,
                    purpose="install " + " ".join(names))]
