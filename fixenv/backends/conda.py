"""conda / mamba / micromamba: the target's own environment, never a system package.

A conda Python's headers ship in its `python` package (`$PREFIX/include/python3.X[t]`), so
the fix is to reinstall `python` *in that env*, pinned to the exact version so the
interpreter does not change under the user: `conda install -y -p PREFIX --force-reinstall
python=X.Y.Z`. The three front ends take the same arguments for this; the first one present
on the machine (facts `managers`) is used.
"""
from __future__ import annotations

import json
from typing import Dict, List, Optional, Sequence

from fixenv.backends import base
from fixenv.backends.base import Facts
from fixenv.errors import InputError
from fixenv.model import Command
from fixenv.runner import Runner

NAME = "conda"
NEEDS_ROOT = False
BINARIES = ("conda", "mamba", "micromamba")


def binary(facts: Optional[Facts]) -> str:
    managers = list((facts or {}).get("managers") or [])
    return next((b for b in BINARIES if b in managers), "conda")


def env_prefix(prefix: Optional[str], facts: Optional[Facts]) -> str:
    value = prefix or ((facts or {}).get("python") or {}).get("base_prefix")
    if not value:
        raise InputError("conda: no environment prefix to install into",
                         hint="give the rule a `prefix:` (e.g. \"{{ python.base_prefix }}\")")
    return str(value)


def split_spec(spec: str) -> tuple:
    """"python=3.11.9" → ("python", "3.11.9"); "python" → ("python", None)."""
    name, _, version = spec.partition("=")
    return name, (version.lstrip("=") or None)


def parse_list_json(text: str) -> Dict[str, str]:
    """`conda list -p P --json` → {name: version}. Garbage → {} (treated as not installed)."""
    try:
        rows = json.loads(text or "[]")
    except ValueError:
        return {}
    out: Dict[str, str] = {}
    if isinstance(rows, list):
        for row in rows:
            if isinstance(row, dict) and row.get("name") and row.get("version"):
                out[str(row["name"])] = str(row["version"])
    return out


def query(names: Sequence[str], runner: Runner, facts: Facts) -> Dict[str, Optional[str]]:
    res = runner.run([binary(facts), "list", "-p", env_prefix(None, facts), "--json"],
                     timeout=120)
    found = parse_list_json(res.stdout) if res.ok else {}
    out: Dict[str, Optional[str]] = {}
    for spec in names:
        name, version = split_spec(spec)
        have = found.get(name)
        out[spec] = have if have and (version is None or have == version) else None
    return out


needs_refresh = base.never_refresh
refresh = base.no_refresh


def install(names: Sequence[str], *, reinstall: bool = False, prefix: Optional[str] = None,
            facts: Optional[Facts] = None) -> List[Command]:
    argv = [binary(facts), "install", "-y", "-p", env_prefix(prefix, facts)]
    if reinstall:
        argv.append("--force-reinstall")
    return [Command(tuple(argv + list(names)), root=False,
                    purpose="%s %s in that environment" % (
                        "reinstall" if reinstall else "install", " ".join(names)))]
