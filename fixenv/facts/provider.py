"""Who installed the target interpreter: that decides the fix.

Path-based owners first (conda, pyenv, uv, brew, Apple's CLT: cheap and unambiguous), then
the system package database's ownership query, then `source` for a self-built prefix.
Always judged on the *base* interpreter's real path: a venv is never the owner.
"""
from __future__ import annotations

import os
from typing import Dict, List, Mapping, Optional, Tuple

from fixenv.runner import Pending, Runner

BREW_PREFIXES = ("/opt/homebrew/", "/usr/local/Cellar/", "/usr/local/opt/",
                 "/home/linuxbrew/.linuxbrew/")
XCODE_PREFIXES = ("/Library/Developer/CommandLineTools/", "/Applications/Xcode.app/",
                  "/Applications/Xcode-beta.app/")
SOURCE_PREFIXES = ("/usr/local/", "/opt/")


def pyenv_root(env: Mapping[str, str]) -> str:
    return env.get("PYENV_ROOT") or os.path.join(os.path.expanduser("~"), ".pyenv")


def uv_python_dir(env: Mapping[str, str]) -> str:
    if env.get("UV_PYTHON_INSTALL_DIR"):
        return env["UV_PYTHON_INSTALL_DIR"]
    data = env.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(data, "uv", "python")


def _under(path: str, root: str) -> bool:
    root = root.rstrip("/") + "/"
    return path.startswith(root)


def path_owner(real: str, base_prefix: str, env: Mapping[str, str],
               platform: str = "linux") -> Optional[Tuple[str, str]]:
    """Owners that the path alone tells. Returns (provider, detail) or None."""
    if os.path.isdir(os.path.join(base_prefix, "conda-meta")):
        return "conda", base_prefix
    root = pyenv_root(env)
    if _under(real, os.path.join(root, "versions")):
        version = real[len(os.path.join(root, "versions")) + 1:].split("/")[0]
        return "pyenv", version
    if _under(real, uv_python_dir(env)):
        return "uv", real[len(uv_python_dir(env)) + 1:].split("/")[0]
    brew = env.get("HOMEBREW_PREFIX")
    if (brew and _under(real, brew)) or real.startswith(BREW_PREFIXES):
        return "brew", real
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


def parse_owner(manager: str, rc: int, stdout: str) -> Optional[str]:
    """Package name from the ownership query's output, or None when nobody owns the file."""
    if rc != 0:
        return None
    text = stdout.strip()
    if not text:
        return None
    first = text.splitlines()[0]
    if manager == "apt":
        # "python3.11-minimal: /usr/bin/python3.11" (diversions: "diversion by ...")
        if first.startswith("diversion by"):
            return None
        return first.split(":", 1)[0].split(",")[0].strip() or None
    if manager == "apk":
        # "/usr/bin/python3.12 is owned by python3-3.12.3-r1"
        if " is owned by " in first:
            return first.split(" is owned by ", 1)[1].strip()
        return None
    if "not owned" in first or "No such file" in first:
        return None
    return first.strip()


def start_ownership(runner: Runner, managers: List[str], real: str) -> Optional[Tuple[str, Pending]]:
    for manager in managers:
        argv = ownership_argv(manager, real)
        if argv:
            return manager, runner.start(argv, timeout=30)
    return None


def decide(real: str, base_prefix: str, env: Mapping[str, str], platform: str,
           owner: Optional[Tuple[str, Optional[str]]]) -> Dict[str, Optional[str]]:
    """Combine the path-based guess and the package database's answer."""
    by_path = path_owner(real, base_prefix, env, platform)
    if by_path:
        return {"provider": by_path[0], "provider_detail": by_path[1]}
    if owner and owner[1]:
        return {"provider": owner[0], "provider_detail": owner[1]}
    if real.startswith(SOURCE_PREFIXES) or _under(real, os.path.expanduser("~")):
        return {"provider": "source", "provider_detail": base_prefix}
    return {"provider": "unknown", "provider_detail": None}
