"""apt (Debian, Ubuntu): dpkg-query for state, apt-get for changes.

Installed state comes from dpkg's database, never guesses. `apt-get update` is planned only
when it is needed: no package lists at all (fresh images), or no install candidate.
"""
from __future__ import annotations

import glob
import os
from typing import Dict, List, Optional, Sequence

from fixenv.backends.base import Facts
from fixenv.model import Command
from fixenv.runner import Runner

NAME = "apt"
NEEDS_ROOT = True
LISTS_DIR = "/var/lib/apt/lists"
ENV = (("DEBIAN_FRONTEND", "noninteractive"),)
LOCK_OPTION = "DPkg::Lock::Timeout="  # + seconds: how long apt-get waits for the dpkg lock


def lock_timeout(facts: Optional[Facts] = None) -> int:
    """Seconds apt-get waits for the dpkg lock: the `invocation.lock_timeout` fact (this run's
    $FIXENV_LOCK_TIMEOUT, fixenv/facts/invocation.py), 120 when facts do not say."""
    from fixenv.facts.invocation import DEFAULT_TIMEOUT

    value = ((facts or {}).get("invocation") or {}).get("lock_timeout")
    return value if isinstance(value, int) and not isinstance(value, bool) else DEFAULT_TIMEOUT


def parse_dpkg_query(text: str) -> Dict[str, Optional[str]]:
    """Lines "name\\tii \\tversion" → {name: version} for fully installed packages."""
    out: Dict[str, Optional[str]] = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) < 3:
            continue
        name, status, version = parts[0].split(":")[0], parts[1], parts[2]
        out[name] = version if status.startswith("ii") else out.get(name)
    return out


def query(names: Sequence[str], runner: Runner, facts: Facts) -> Dict[str, Optional[str]]:
    result = runner.run(["dpkg-query", "-W", "-f=${Package}\\t${db:Status-Abbrev}\\t${Version}\\n"]
                        + list(names), timeout=60)
    found = parse_dpkg_query(result.stdout)
    return {n: found.get(n) for n in names}


def have_lists(lists_dir: str = LISTS_DIR) -> bool:
    return bool(glob.glob(os.path.join(lists_dir, "*_Packages*")))


def parse_policy(text: str) -> Dict[str, Optional[str]]:
    """`apt-cache policy a b` → {name: candidate or None}."""
    out: Dict[str, Optional[str]] = {}
    current: Optional[str] = None
    for line in text.splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            current = line[:-1].split(":")[0]
            out[current] = None
        elif current and line.strip().startswith("Candidate:"):
            cand = line.split(":", 1)[1].strip()
            out[current] = None if cand in ("(none)", "") else cand
    return out


def needs_refresh(names: Sequence[str], runner: Runner, facts: Facts) -> bool:
    if not have_lists():
        return True
    result = runner.run(["apt-cache", "policy"] + list(names), timeout=60)
    candidates = parse_policy(result.stdout)
    return any(candidates.get(n) is None for n in names)


def refresh(facts: Optional[Facts] = None) -> Optional[Command]:
    return Command(("apt-get", "-o", LOCK_OPTION + "%d" % lock_timeout(facts), "update"),
                   root=True, env=ENV, purpose="refresh package lists")


def install(names: Sequence[str], *, reinstall: bool = False, prefix: Optional[str] = None,
            facts: Optional[Facts] = None) -> List[Command]:
    argv = ["apt-get", "-o", LOCK_OPTION + "%d" % lock_timeout(facts), "install", "-y",
            "--no-install-recommends"]
    if reinstall:
        argv.append("--reinstall")
    return [Command(tuple(argv + list(names)),
                    root=True, env=ENV, purpose="install " + " ".join(names))]
