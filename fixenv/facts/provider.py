"""Who installed the target interpreter: that decides the fix.

Path-based owners first (conda, pyenv, uv, brew, Apple's CLT: cheap and unambiguous), then
the system package database's ownership query, then `source` for a self-built prefix.
Always judged on the *base* interpreter's real path: a venv is never the owner.

Result merged into the `python` facts::

    {"provider": "apt" | "dnf" | "yum" | "zypper" | "apk" | "pacman" | "brew" | "conda"
                 | "pyenv" | "uv" | "xcode" | "source" | "unknown",
     "provider_detail": "python3.11-minimal"   # package, pyenv version, uv dir, formula,
                                               # conda env prefix, or the prefix for source
    }

The ownership query runs concurrently with the interpreter probe (see `start` / `finish`)
and is skipped when the path alone names the owner.
"""
from __future__ import annotations

import os
import re
import sys
from typing import Dict, List, Mapping, Optional, Tuple

from fixenv.runner import Pending, Result, Runner

PROVIDERS = ("apt", "dnf", "yum", "zypper", "apk", "pacman", "brew", "conda", "pyenv", "uv",
             "xcode", "source", "unknown")

# Homebrew's default prefixes: Apple silicon, Intel macOS, Linux.
BREW_PREFIXES = ("/opt/homebrew/", "/usr/local/Cellar/", "/usr/local/opt/",
                 "/home/linuxbrew/.linuxbrew/")
XCODE_PREFIXES = ("/Library/Developer/CommandLineTools/", "/Applications/Xcode.app/",
                  "/Applications/Xcode-beta.app/")
# Where people (and the official Docker images) put a Python built from source.
SOURCE_PREFIXES = ("/usr/local/", "/opt/")
# Managers whose package database answers "who owns this file".
OWNERSHIP_MANAGERS = ("apt", "dnf", "yum", "zypper", "apk", "pacman")


def _home(env: Mapping[str, str]) -> str:
    return env.get("HOME") or os.path.expanduser("~")


def pyenv_root(env: Mapping[str, str]) -> str:
    """$PYENV_ROOT, else ~/.pyenv (what `pyenv root` prints)."""
    return env.get("PYENV_ROOT") or os.path.join(_home(env), ".pyenv")


def uv_python_dirs(env: Mapping[str, str]) -> List[str]:
    """Where uv keeps the Pythons it manages: $UV_PYTHON_INSTALL_DIR, else
    $XDG_DATA_HOME/uv/python, else ~/.local/share/uv/python (uv's own order)."""
    dirs: List[str] = []
    if env.get("UV_PYTHON_INSTALL_DIR"):
        dirs.append(env["UV_PYTHON_INSTALL_DIR"])
    if env.get("XDG_DATA_HOME"):
        dirs.append(os.path.join(env["XDG_DATA_HOME"], "uv", "python"))
    dirs.append(os.path.join(_home(env), ".local", "share", "uv", "python"))
    return dirs


def brew_prefixes(env: Mapping[str, str]) -> List[str]:
    """Paths only Homebrew installs under. With $HOMEBREW_PREFIX=/usr/local (Intel macOS)
    only its Cellar counts: a source build in /usr/local is not brew's."""
    out: List[str] = []
    if env.get("HOMEBREW_CELLAR"):
        out.append(env["HOMEBREW_CELLAR"].rstrip("/") + "/")
    if env.get("HOMEBREW_PREFIX"):
        out.append(os.path.join(env["HOMEBREW_PREFIX"], "Cellar") + "/")
    return out + list(BREW_PREFIXES)


def _under(path: str, root: str) -> bool:
    if not root:
        return False
    root = root.rstrip("/") + "/"
    return path.startswith(root)


def _first_component(path: str, root: str) -> str:
    return path[len(root.rstrip("/")) + 1:].split("/")[0]


def _brew_formula(real: str) -> str:
    """.../Cellar/python@3.12/3.12.3/... -> python@3.12 (else the path itself)."""
    parts = real.split("/")
    if "Cellar" in parts:
        i = parts.index("Cellar")
        if i + 1 < len(parts) and parts[i + 1]:
            return parts[i + 1]
    if "opt" in parts:
        i = parts.index("opt")
        if i + 1 < len(parts) and parts[i + 1].startswith("python"):
            return parts[i + 1]
    return real


def path_owner(real: str, base_prefix: str, env: Mapping[str, str],
               platform: str = "linux") -> Optional[Tuple[str, str]]:
    """Owners that the path alone tells. Returns (provider, detail) or None.

    `real` is the base interpreter's real path; `base_prefix` its sys.base_prefix (checked
    too, so an interpreter copied into a venv still counts as its base's)."""
    if base_prefix and os.path.isdir(os.path.join(base_prefix, "conda-meta")):
        return "conda", base_prefix
    versions = os.path.join(pyenv_root(env), "versions")
    for path in (real, base_prefix):
        if _under(path, versions):
            return "pyenv", _first_component(path, versions)
    for uvdir in uv_python_dirs(env):
        for path in (real, base_prefix):
            if _under(path, uvdir):
                return "uv", _first_component(path, uvdir)
    for prefix in brew_prefixes(env):
        if real.startswith(prefix):
            return "brew", _brew_formula(real)
    if platform == "darwin" and (real.startswith(XCODE_PREFIXES) or real == "/usr/bin/python3"):
        return "xcode", real
    return None


def ownership_argv(manager: str, path: str) -> Optional[List[str]]:
    """The read-only query that asks a system package database who owns `path`."""
    if manager == "apt":
        return ["dpkg-query", "-S", path]
    if manager in ("dnf", "yum", "zypper"):
        return ["rpm", "-qf", "--queryformat", "%{NAME}\n", path]
    if manager == "apk":
        return ["apk", "info", "--who-owns", path]
    if manager == "pacman":
        return ["pacman", "-Qqo", path]
    return None


_APK_NAME = re.compile(r"^(?P<name>.+?)-(?P<ver>[0-9][^-]*)-r(?P<rel>[0-9]+)$")


def parse_owner(manager: str, rc: int, stdout: str) -> Optional[str]:
    """Package name from the ownership query's output, or None when nobody owns the file.

    apt:    "python3.11-minimal: /usr/bin/python3.11"          (rc 1 + stderr when unowned)
    rpm:    "python3.12"  (--queryformat %{NAME})    unowned: "file X is not owned by any package"
    apk:    "/usr/bin/python3.12 is owned by python3-3.12.8-r1"   -> "python3"
    pacman: "python"      (-Qqo)                     unowned: "error: No package owns X"
    """
    if rc != 0:
        return None
    text = stdout.strip()
    if not text:
        return None
    first = text.splitlines()[0].strip()
    if manager == "apt":
        if first.startswith("diversion by"):
            lines = [ln for ln in text.splitlines() if not ln.startswith("diversion by")]
            if not lines:
                return None
            first = lines[0]
        # "pkg-a, pkg-b: /path" when several packages own it: the first names it.
        return first.split(":", 1)[0].split(",")[0].strip() or None
    if manager == "apk":
        if " is owned by " not in first:
            return None
        full = first.split(" is owned by ", 1)[1].strip()
        m = _APK_NAME.match(full)
        return m.group("name") if m else full
    if "not owned" in first or "No such file" in first or first.startswith("error:"):
        return None
    if manager == "pacman" and " is owned by " in first:
        # without -q: "/usr/bin/python3.12 is owned by python 3.12.7-1"
        return first.split(" is owned by ", 1)[1].split()[0]
    return first


def ownership_manager(managers: List[str]) -> Optional[str]:
    """The first detected manager that can answer an ownership query."""
    return next((m for m in managers if m in OWNERSHIP_MANAGERS), None)


DPKG_INFO = "/var/lib/dpkg/info"
_INTERPRETER = re.compile(r"^(python[23](?:\.[0-9]+)?|pypy[23]?(?:\.[0-9]+)?)(?:d|t|m|dm|td)?$")


def dpkg_list_owner(path: str, info_dir: Optional[str] = None) -> Optional[str]:
    """Which package's dpkg file list holds `path`, looking only at the packages that ship
    Debian's interpreters (python3.X-minimal, python3.X, python3.X-dbg, ...).

    Same answer as `dpkg-query -S` (these lists are what it reads), in a fraction of a
    millisecond instead of ~40 ms, because dpkg-query loads every package's list. None
    means "not among those": ask dpkg-query."""
    m = _INTERPRETER.match(os.path.basename(path))
    if m is None:
        return None
    stem = m.group(1)
    info_dir = info_dir or DPKG_INFO
    names: Optional[List[str]] = None
    for pkg in (stem + "-minimal", stem, stem + "-dbg", stem + "-nopie"):
        found = _list_has(os.path.join(info_dir, pkg + ".list"), path)
        if found is None:  # no plain list: maybe an arch-qualified one (pkg:amd64.list)
            if names is None:
                try:
                    names = os.listdir(info_dir)
                except OSError:
                    return None
            found = any(_list_has(os.path.join(info_dir, n), path) for n in names
                        if n.startswith(pkg + ":") and n.endswith(".list"))
        if found:
            return pkg
    return None


def _list_has(list_file: str, path: str) -> Optional[bool]:
    """Does a dpkg .list name `path`? None when the list does not exist."""
    try:
        with open(list_file, encoding="utf-8", errors="replace") as fh:
            return any(line.rstrip("\n") == path for line in fh)
    except OSError:
        return None


def start_ownership(runner: Runner, managers: List[str], real: str
                    ) -> Optional[Tuple[str, Pending]]:
    manager = ownership_manager(managers)
    if manager is None:
        return None
    argv = ownership_argv(manager, real)
    assert argv is not None
    if manager == "apt":
        pkg = dpkg_list_owner(real)
        if pkg is not None:  # answered from dpkg's own lists, as dpkg-query -S would
            return manager, Pending(None, tuple(argv), 0.0, None, immediate=Result(
                tuple(argv), 0, "%s: %s\n" % (pkg, real), ""))
    return manager, runner.start(argv, timeout=30)


def decide(real: str, base_prefix: str, env: Mapping[str, str], platform: str,
           owner: Optional[Tuple[str, Optional[str]]]) -> Dict[str, Optional[str]]:
    """Combine the path-based guess and the package database's answer."""
    by_path = path_owner(real, base_prefix, env, platform)
    if by_path:
        return {"provider": by_path[0], "provider_detail": by_path[1]}
    if owner and owner[1]:
        return {"provider": owner[0], "provider_detail": owner[1]}
    if real.startswith(SOURCE_PREFIXES) or _under(real, _home(env)):
        return {"provider": "source", "provider_detail": base_prefix}
    return {"provider": "unknown", "provider_detail": None}


# -- concurrent use from facts.gather() ------------------------------------------------------

Started = Optional[Tuple[str, str, Pending]]  # (manager, path asked about, pending query)


def start(runner: Runner, managers: List[str], guess_real: str,
          env: Mapping[str, str]) -> Started:
    """Before the probe answers: start the ownership query for the target's real path,
    unless the path alone already names the owner (pyenv, uv, conda, brew, CLT)."""
    guess_prefix = os.path.dirname(os.path.dirname(guess_real))
    if path_owner(guess_real, guess_prefix, env, sys.platform) is not None:
        return None
    if _under(guess_real, pyenv_root(env)):
        return None  # a pyenv shim: the probe names the real binary, finish() decides
    started = start_ownership(runner, managers, guess_real)
    if started is None:
        return None
    return started[0], guess_real, started[1]


def finish(runner: Runner, managers: List[str], started: Started, py: Mapping[str, object],
           env: Mapping[str, str]) -> Dict[str, Optional[str]]:
    """After the probe: the provider facts for the probed interpreter. Reuses the query
    started by `start` when it asked about the right file; asks again only when the probe
    revealed another base interpreter (a venv) that the path does not decide."""
    real = str(py.get("base_executable") or py.get("realpath") or py["executable"])
    base_prefix = str(py.get("base_prefix") or "")
    platform = str(py.get("platform") or sys.platform)
    owner: Optional[Tuple[str, Optional[str]]] = None
    pending: Optional[Tuple[str, Pending]] = None
    if started is not None:
        manager, asked, first = started
        if asked == real:
            pending = (manager, first)
        else:
            first.result()  # reap it; it asked about another file
    if path_owner(real, base_prefix, env, platform) is None:
        if pending is None:
            pending = start_ownership(runner, managers, real)
        if pending is not None:
            res = pending[1].result()
            owner = (pending[0], parse_owner(pending[0], res.rc, res.stdout))
    elif pending is not None:
        pending[1].result()
    return decide(real, base_prefix, env, platform, owner)
