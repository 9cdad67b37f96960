"""uv-managed Pythons (python-build-standalone) under uv's Python directory.

The distribution ships `include/python3.X[t]`; when it is missing, `uv python install
--reinstall V` fetches the same build again. Version requests: `3.12.4`, `3.13.1t`
(free-threaded), `3.12.4d` (debug).
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

from fixenv.backends import base
from fixenv.backends.base import Facts
from fixenv.model import Command
from fixenv.runner import Runner

NAME = "uv"
NEEDS_ROOT = False
_VARIANTS = {"freethreaded": "t", "debug": "d", "freethreaded+debug": "td"}


def parse_list(text: str) -> List[str]:
    """`uv python list --only-installed` lines "cpython-3.13.1+freethreaded-linux-x86_64-gnu
    /path" → requests they answer: ["3.13.1t"]."""
    out: List[str] = []
    for line in text.splitlines():
        key = line.split()[0] if line.split() else ""
        parts = key.split("-")
        if len(parts) < 2 or not parts[1][:1].isdigit():
            continue
        version, _, variant = parts[1].partition("+")
        out.append(version + _VARIANTS.get(variant, ""))
    return out


def query(names: Sequence[str], runner: Runner, facts: Facts) -> Dict[str, Optional[str]]:
    res = runner.run(["uv", "python", "list", "--only-installed"], timeout=60)
    have = set(parse_list(res.stdout)) if res.ok else set()
    return {n: (n if n in have else None) for n in names}


needs_refresh = base.never_refresh
refresh = base.no_refresh


def install(names: Sequence[str], *, reinstall: bool = False, prefix: Optional[str] = None,
            facts: Optional[Facts] = None) -> List[Command]:
    argv = ["uv", "python", "install"]
    if reinstall:
        argv.append("--reinstall")
    return [Command(tuple(argv + list(names)), root=False,
                    purpose=("reinstall Python " if reinstall else "install Python ")
                    + " ".join(names))]
