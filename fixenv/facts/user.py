"""The `user` facts: whose machine state planning describes (HOME, XDG dirs, login shell,
where rootless headers go, which shell start-up files exist).

Planning reads these facts only, never `os.environ`, so `plan --facts other.json` plans for
the user that file describes, not for whoever runs fixenv here. A facts file without a `user`
group gets the documented defaults of `defaults()`: root → /root, anyone else →
/home/<name> (name "user" unless given), login shell sh, the XDG defaults under HOME.

Shape::

    user: {name, uid, home, shell, xdg_data_home, xdg_config_home, zdotdir, sysroot,
           files: {".bash_profile": bool, ".bash_login": bool, ".bashrc": bool,
                   ".zshenv": bool, "fish": bool},     # exist now (fish: its config dir)
           shells: {"zsh": bool, "fish": bool},         # installed (on PATH)
           system: {"zsh": bool, "fish": bool}}         # /etc/zsh, /etc/fish exist
"""
from __future__ import annotations

import os
import shutil
from typing import Any, Dict, Mapping, Optional

SYSROOT_ENV = "FIXENV_SYSROOT"
SYSTEM_SYSROOT = "/var/lib/fixenv/sysroot"
SYSTEM_ZSH_DIR = "/etc/zsh"
SYSTEM_FISH_DIR = "/etc/fish"


def _login_shell(environ: Mapping[str, str]) -> str:
    shell = environ.get("SHELL") or ""
    if not shell:
        try:
            import pwd
            shell = pwd.getpwuid(os.getuid()).pw_shell
        except (ImportError, KeyError):
            shell = ""
    return os.path.basename(shell) or "sh"


def _name(environ: Mapping[str, str]) -> str:
    try:
        import pwd
        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):
        return environ.get("USER") or environ.get("LOGNAME") or "user"


def sysroot_for(home: str, xdg_data_home: Optional[str], root: bool,
                override: Optional[str] = None) -> str:
    """Where rootless header packages are unpacked (FIXENV_SYSROOT overrides)."""
    if override:
        return os.path.abspath(override).rstrip("/") or "/"
    if root:
        return SYSTEM_SYSROOT
    return os.path.join(xdg_data_home or os.path.join(home, ".local", "share"), "fixenv",
                        "sysroot")


def detect(environ: Optional[Mapping[str, str]] = None, root: bool = False) -> Dict[str, Any]:
    """This machine's user facts (detection: the one place besides the executor that reads
    the environment; `environ` defaults to this process's)."""
    if environ is None:
        environ = os.environ
    home = environ.get("HOME") or os.path.expanduser("~")
    xdg_data = environ.get("XDG_DATA_HOME") or None
    xdg_config = environ.get("XDG_CONFIG_HOME") or None
    zdotdir = environ.get("ZDOTDIR") or None
    config = xdg_config or os.path.join(home, ".config")
    path = environ.get("PATH", os.defpath)
    return {
        "name": _name(environ),
        "uid": os.getuid() if hasattr(os, "getuid") else -1,
        "home": home,
        "shell": _login_shell(environ),
        "xdg_data_home": xdg_data,
        "xdg_config_home": xdg_config,
        "zdotdir": zdotdir,
        "sysroot": sysroot_for(home, xdg_data, root, environ.get(SYSROOT_ENV)),
        "files": {
            ".bash_profile": os.path.exists(os.path.join(home, ".bash_profile")),
            ".bash_login": os.path.exists(os.path.join(home, ".bash_login")),
            ".bashrc": os.path.exists(os.path.join(home, ".bashrc")),
            ".zshenv": os.path.exists(os.path.join(zdotdir or home, ".zshenv")),
            "fish": os.path.isdir(os.path.join(config, "fish")),
        },
        "shells": {"zsh": bool(shutil.which("zsh", path=path)),
                   "fish": bool(shutil.which("fish", path=path))},
        "system": {"zsh": os.path.isdir(SYSTEM_ZSH_DIR), "fish": os.path.isdir(SYSTEM_FISH_DIR)},
    }


def variable(name: str) -> Optional[str]:
    """A variable of this process's environment, for commands that act on this machine now
    (`fixenv env`, `exec`, `reset`): read here, in detection."""
    return os.environ.get(name)


def defaults(user: Mapping[str, Any], root: bool) -> Dict[str, Any]:
    """A facts file's `user` group with every field filled (never overwrites given ones)."""
    out = dict(user)
    name = str(out.get("name") or ("root" if root else "user"))
    out["name"] = name
    out.setdefault("uid", 0 if root else 1000)
    out.setdefault("home", "/root" if root else "/home/" + name)
    out.setdefault("shell", "sh")
    out.setdefault("xdg_data_home", None)
    out.setdefault("xdg_config_home", None)
    out.setdefault("zdotdir", None)
    out.setdefault("sysroot", sysroot_for(str(out["home"]), out["xdg_data_home"], root))
    files = dict(out.get("files") or {})
    for key in (".bash_profile", ".bash_login", ".bashrc", ".zshenv", "fish"):
        files.setdefault(key, False)
    out["files"] = files
    out["shells"] = dict({"zsh": False, "fish": False}, **(out.get("shells") or {}))
    out["system"] = dict({"zsh": False, "fish": False}, **(out.get("system") or {}))
    return out
