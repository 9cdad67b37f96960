"""Are the target's Python headers there, for its version? — the one answer.

verify, doctor and the CPATH rules all ask this module (plan reads the probe's
`python.has_headers`, which the target interpreter itself computed): one patchlevel.h parser,
one check.

`check(facts)` is the `headers` check:
* Python.h in the target's include dir, and patchlevel.h says the target's X.Y → ok;
* Python.h there but for another version → not ok (builds would compile against the wrong
  ABI without complaint);
* not there, but the CPATH in `facts["env"]` reaches this version's Python.h → ok
  ("through CPATH");
* not reached, but on disk where fixenv put it (a rootless sysroot, a -dev package's dir)
  → not ok, with what to do in this shell (it predates the profile edit);
* nowhere → not ok, fix: `fixenv apply`.
"""
from __future__ import annotations

import os
import re
from typing import Any, List, Mapping, Optional, Tuple

from fixenv.model import Check

_PY_VERSION = re.compile(r'^\s*#\s*define\s+PY_VERSION\s+"([^"]+)"', re.M)
_LEVEL = re.compile(r"^\s*#\s*define\s+PY_(MAJOR|MINOR)_VERSION\s+(\d+)", re.M)
_PYDIR = re.compile(r"^python(\d+)\.(\d+)")


def patchlevel(d: str) -> Optional[Tuple[int, int, str]]:
    """(major, minor, PY_VERSION) of the headers in `d` from its patchlevel.h, or None."""
    try:
        with open(os.path.join(d, "patchlevel.h"), errors="replace") as fh:
            text = fh.read(20000)
    except OSError:
        return None
    found = dict(_LEVEL.findall(text))
    if "MAJOR" not in found or "MINOR" not in found:
        return None
    m = _PY_VERSION.search(text)
    major, minor = int(found["MAJOR"]), int(found["MINOR"])
    return major, minor, m.group(1) if m else "%d.%d" % (major, minor)


def version_of_dir(d: str) -> Optional[Tuple[int, int]]:
    """The Python version whose headers `d` holds (patchlevel.h), else what its name says
    (`python3.9`), else None."""
    got = patchlevel(d) if os.path.isfile(os.path.join(d, "Python.h")) else None
    if got is not None:
        return got[0], got[1]
    m = _PYDIR.match(os.path.basename(d.rstrip("/")))
    return (int(m.group(1)), int(m.group(2))) if m else None


def target_version(facts: Mapping[str, Any]) -> Tuple[int, int]:
    py = facts["python"]
    return int(py.get("major") or 0), int(py.get("minor") or 0)


def via_cpath(facts: Mapping[str, Any]) -> Optional[str]:
    """The Python.h of the target's version that `facts["env"]["CPATH"]` reaches, or None."""
    want = target_version(facts)
    for d in [p for p in str(facts.get("env", {}).get("CPATH") or "").split(":") if p]:
        if os.path.isfile(os.path.join(d, "Python.h")) and version_of_dir(d) in (want, None):
            return os.path.join(d, "Python.h")
    return None


def _unreached_hint(facts: Mapping[str, Any]) -> Optional[str]:
    """When the headers are on disk where fixenv put them but this CPATH does not reach
    them (a shell started before `fixenv apply`): what to do."""
    from fixenv import cpath, profile

    group = facts.get("cpath") or cpath.compute(facts)
    hdir = group.get("headers_dir")
    if not hdir or not os.path.isfile(os.path.join(hdir, "Python.h")):
        return None
    _, done = profile.plan_edits(cpath.VAR, group["dirs"], group["stale"],
                                 root=bool(facts["privilege"].get("root")), user=facts["user"])
    if done:
        return ("fixenv set CPATH for new shells; this one predates it: start a new login "
                "shell, or run `eval \"$(fixenv env)\"`, or `fixenv exec -- <command>`")
    return "run `fixenv apply --yes --python %s` to set CPATH" % facts["python"]["executable"]


def check(facts: Mapping[str, Any], fix: Optional[str] = None) -> Check:
    """The `headers` check (see the module docstring). `fix`: the advice when nothing
    better is known (default: `fixenv apply --yes --python P`)."""
    py = facts["python"]
    include = str(py.get("include") or "")
    fix = fix or "run `fixenv apply --yes --python %s`" % py["executable"]
    header = os.path.join(include, "Python.h")
    if include and os.path.isfile(header):
        got = patchlevel(include)
        if got is not None and (got[0], got[1]) != target_version(facts):
            return Check("headers", False, "%s is for Python %s, but the target is %s"
                         % (header, got[2], py["version"]), fix)
        return Check("headers", True, "%s%s" % (header, " (%s)" % got[2] if got else ""))
    reached = via_cpath(facts)
    if reached:
        return Check("headers", True, "%s (through CPATH)" % reached)
    hint = _unreached_hint(facts)
    if hint is not None:
        group = facts.get("cpath") or {}
        return Check("headers", False, "Python.h is in %s, but CPATH (%s) does not reach it"
                     % (group.get("headers_dir"), facts.get("env", {}).get("CPATH") or "unset"),
                     hint)
    return Check("headers", False, "no Python.h in %s (the include dir of %s %s)"
                 % (include or "(none reported)", py["executable"], py["version"]), fix)


def other_version_dirs(dirs: List[str], facts: Mapping[str, Any]) -> List[str]:
    """The dirs among `dirs` that hold (or name) another Python version's headers."""
    want = target_version(facts)
    return [d for d in dirs if version_of_dir(d) not in (want, None)]
