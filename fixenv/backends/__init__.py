"""Package-manager backends: one module each, a literal registry."""
from __future__ import annotations

from types import ModuleType
from typing import Dict

from fixenv.backends import apt
from fixenv.errors import InputError

REGISTRY: Dict[str, ModuleType] = {
    "apt": apt,
}


def get_backend(name: str) -> ModuleType:
    try:
        return REGISTRY[name]
    except KeyError:
        raise InputError("no backend for package manager %r; known: %s"
                         % (name, ", ".join(sorted(REGISTRY))))
