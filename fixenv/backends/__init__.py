"""Package-manager backends: one module each, a literal registry.

mamba and micromamba are served by the conda module (same arguments; it picks the binary
present on the machine), so they are not separate entries.
"""
from __future__ import annotations

from typing import Dict

from fixenv.backends import apk, apt, brew, conda, dnf, pacman, pyenv, uv, xcode, yum, zypper
from fixenv.backends.base import Backend
from fixenv.errors import InputError

# mypy checks every module against the Backend protocol
REGISTRY: Dict[str, Backend] = {
    "apt": apt,
    "dnf": dnf,
    "yum": yum,
    "zypper": zypper,
    "apk": apk,
    "pacman": pacman,
    "brew": brew,
    "conda": conda,
    "pyenv": pyenv,
    "uv": uv,
    "xcode": xcode,
}


def get_backend(name: str) -> Backend:
    try:
        return REGISTRY[name]
    except KeyError:
        raise InputError("no backend for package manager %r; known: %s"
                         % (name, ", ".join(sorted(REGISTRY))))
