"""Installed state from the rpm database, shared by dnf, yum and zypper.

`rpm -q --whatprovides` rather than a plain name query: `python3-devel` is a real package on
Fedora but only a capability on openSUSE Tumbleweed (provided by `python313-devel`), and a
plain `rpm -q` would call an installed capability missing.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

from fixenv.runner import Runner

QUERYFORMAT = "%{NAME}\\t%{VERSION}-%{RELEASE}\\n"


def query_argv(name: str) -> List[str]:
    return ["rpm", "-q", "--whatprovides", "--queryformat", QUERYFORMAT, name]


def parse_query(rc: int, stdout: str) -> Optional[str]:
    """`NAME\\tVERSION-RELEASE` lines → "VERSION-RELEASE (NAME)" of the first provider, or
    None ("no package provides X" / "package X is not installed", rc != 0)."""
    if rc != 0:
        return None
    for line in stdout.splitlines():
        parts = line.split("\t")
        if len(parts) == 2 and parts[0] and parts[1]:
            return "%s (%s)" % (parts[1], parts[0])
    return None


def query(names: Sequence[str], runner: Runner) -> Dict[str, Optional[str]]:
    # One query per name: rpm prints providers without saying which argument they answer.
    out: Dict[str, Optional[str]] = {}
    for name in names:
        res = runner.run(query_argv(name), timeout=60)
        out[name] = parse_query(res.rc, res.stdout)
    return out
