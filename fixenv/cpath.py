"""When CPATH must point at the target's headers, and what it must hold (KNOWLEDGE.md §1, §3).

Builds that fail with "Python.h: No such file" (Torch Inductor, Triton, pip) pass the
target's *sysconfig* include dir as `-I`. GCC skips a missing `-I` dir silently and then
searches CPATH (for C and C++ alike; C_INCLUDE_PATH is C only and does not help g++), so
CPATH is the fallback when the headers live somewhere else: a rootless sysroot, a
deadsnakes-style Python whose sysconfig names an empty /usr/local/include/python3.X, a
prefix the compiler does not search.

The rules, all pure (facts in, a `cpath` facts group out):
- CPATH only when needed: never when the sysconfig include holds Python.h, never for a dir
  the compiler searches anyway.
- Debian multiarch: `pyconfig.h` is a wrapper including `<x86_64-linux-gnu/python3.X/...>`,
  so a relocated tree needs `<root>/usr/include/python3.X` *and* `<root>/usr/include`.
- No empty elements (an empty element means "the current directory"), no duplicates, the
  existing value kept after ours, elements naming another Python version's headers dropped
  (reported as `stale`).

Shape of the `cpath` group (also in `fixenv detect --json`)::

    {"needed": true, "dirs": ["/home/u/.local/share/fixenv/sysroot/usr/include/python3.11",
                              "/home/u/.local/share/fixenv/sysroot/usr/include"],
     "value": "<new CPATH or null>", "current": "<CPATH now or null>",
     "stale": ["/usr/include/python3.9"], "empty_elements": false,
     "headers_dir": "...", "rootless": true, "sysroot": "...", "reason": "..."}
"""
from __future__ import annotations

import os
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple


VAR = "CPATH"
SEP = ":"
# Providers whose headers come from a system package manager that needs root, and for which
# fixenv knows how to fetch the packages without root.
ROOTLESS_PROVIDERS = ("apt", "dnf", "yum")
_PYDIR = re.compile(r"^python(\d+)\.(\d+)")
_LEVEL = re.compile(r"^\s*#\s*define\s+PY_(MAJOR|MINOR)_VERSION\s+(\d+)", re.M)
_WRAPPER = re.compile(r'^\s*#\s*include\s*<([^>]+)>', re.M)


def split(value: Optional[str]) -> Tuple[List[str], int]:
    """CPATH -> (non-empty elements in order, number of empty elements)."""
    if not value:
        return [], 0
    parts = value.split(SEP)
    return [p for p in parts if p], sum(1 for p in parts if not p)


def merge(wanted: Sequence[str], current: Optional[str], drop: Sequence[str] = ()) -> str:
    """Our dirs first, then the existing ones; no empties, no duplicates, `drop` removed."""
    out: List[str] = []
    have, _ = split(current)
    for d in list(wanted) + have:
        d = _norm(d)
        if d and d not in out and d not in drop:
            out.append(d)
    return SEP.join(out)


def remove(ours: Sequence[str], current: Optional[str]) -> Optional[str]:
    """CPATH without our dirs (and without empties); None when nothing is left."""
    have, _ = split(current)
    left = [d for d in have if _norm(d) not in [_norm(o) for o in ours]]
    return SEP.join(left) or None


def _norm(d: str) -> str:
    return d.rstrip("/") or "/" if d else d


def default_dirs(multiarch: Optional[str]) -> List[str]:
    dirs = ["/usr/local/include"]
    if multiarch:
        dirs.append("/usr/include/" + multiarch)
    dirs.append("/usr/include")
    return dirs


def needs_include_root(headers_dir: str, multiarch: Optional[str], family: str) -> bool:
    """Does `headers_dir`'s pyconfig.h include a multiarch header found through its parent?"""
    try:
        with open(os.path.join(headers_dir, "pyconfig.h"), errors="replace") as fh:
            text = fh.read(20000)
    except OSError:
        # Not unpacked yet (rootless plan): Debian's layout is known.
        return family == "debian" and bool(multiarch) and \
            _norm(headers_dir).rsplit("/", 1)[0].endswith("/usr/include")
    if not multiarch:
        return False
    return any(inc.startswith(multiarch + "/") for inc in _WRAPPER.findall(text))


def pydir_name(py: Mapping[str, Any]) -> str:
    """`python3.11`, `python3.13t`, `python3.11d`: the name of the include dir."""
    flags = str(py.get("abiflags") or "")
    return "python%s%s" % (py.get("xy") or "", "".join(c for c in flags if c in "dt"))


def compute(facts: Mapping[str, Any], force_rootless: bool = False) -> Dict[str, Any]:
    """The `cpath` facts group (see the module docstring). Reads facts and header files,
    never the environment, never runs anything."""
    py = facts["python"]
    osf = facts.get("os", {})
    priv = facts.get("privilege", {})
    current = facts.get("env", {}).get(VAR)
    multiarch = py.get("multiarch")
    defaults = default_dirs(multiarch)
    sysconfig_inc = _norm(str(py.get("sysconfig_include") or py.get("include") or ""))
    include = _norm(str(py.get("include") or ""))
    has = bool(py.get("has_headers"))
    provider = str(py.get("provider") or "")
    unprivileged = not priv.get("root") and not priv.get("sudo")
    rootless = (provider in ROOTLESS_PROVIDERS and not has
                and (force_rootless or unprivileged))
    sysroot = str(facts["user"]["sysroot"])
    headers_dir: Optional[str] = None
    if has and include == sysconfig_inc:
        reason = ("not needed: Python.h is in %s, the include dir builds pass as -I "
                  "(sysconfig)" % include)
    elif has:
        headers_dir = include
        reason = ("needed: Python.h is in %s, but builds pass -I%s (sysconfig), which has no "
                  "Python.h" % (include, sysconfig_inc))
    elif rootless:
        headers_dir = os.path.join(sysroot, "usr", "include", pydir_name(py))
        reason = ("needed: no root, so the headers are unpacked into %s and the compiler "
                  "finds them only through CPATH" % sysroot)
    elif provider == "apt" and sysconfig_inc and not sysconfig_inc.startswith("/usr/include/"):
        # deadsnakes/older Debian builds: sysconfig names /usr/local/include/python3.X, the
        # -dev package installs /usr/include/python3.X.
        headers_dir = "/usr/include/" + pydir_name(py)
        reason = ("needed: the -dev package installs %s, but builds pass -I%s (sysconfig)"
                  % (headers_dir, sysconfig_inc))
    else:
        reason = ("not needed: the headers step installs Python.h into %s, the include dir "
                  "builds pass as -I" % (sysconfig_inc or include))
    dirs: List[str] = []
    if headers_dir is not None:
        if headers_dir in defaults:
            reason = "not needed: %s is searched by the compiler anyway" % headers_dir
        else:
            dirs.append(headers_dir)
            parent = headers_dir.rsplit("/", 1)[0]
            if parent not in defaults and needs_include_root(headers_dir, multiarch,
                                                              str(osf.get("family") or "")):
                dirs.append(parent)
    have, empties = split(current)
    from fixenv.headers import other_version_dirs

    stale = [d for d in other_version_dirs(have, facts) if d not in dirs]
    value = merge(dirs, current, stale) or None
    return {
        "needed": bool(dirs),
        "dirs": dirs,
        "value": value,
        "current": current,
        "stale": stale,
        "empty_elements": empties > 0,
        "headers_dir": headers_dir,
        "rootless": rootless,
        "rootless_forced": bool(force_rootless),
        "sysroot": sysroot,
        "reason": reason,
    }


def problems(group: Mapping[str, Any]) -> List[str]:
    """What is wrong with the CPATH the user has now, in words."""
    from fixenv.headers import version_of_dir

    out: List[str] = []
    for d in group.get("stale") or []:
        v = version_of_dir(d)
        out.append("%s holds %s headers" % (d, "Python %d.%d's" % v if v else "another Python's"))
    if group.get("empty_elements"):
        out.append("CPATH has an empty element (the compiler reads it as the current directory)")
    have, _ = split(group.get("current"))
    dups = sorted({d for d in have if have.count(d) > 1})
    if dups:
        out.append("CPATH repeats %s" % ", ".join(dups))
    return out


def update_facts(facts: Dict[str, Any], *, force_rootless: bool = False) -> Dict[str, Any]:
    """(Re)compute the `cpath` group in place (the CLI calls this for --rootless)."""
    facts["cpath"] = compute(facts, force_rootless)
    return facts

