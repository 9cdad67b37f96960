"""What a package-manager backend provides. Each backend is a module with these names."""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Protocol, Sequence

from fixenv.model import Command
from fixenv.runner import Runner

Facts = Mapping[str, Any]


class Backend(Protocol):  # pragma: no cover - a typing description; REGISTRY is checked against it
    NAME: str
    NEEDS_ROOT: bool  # installs need root (sudo -n is prefixed when not root)

    def query(self, names: Sequence[str], runner: Runner, facts: Facts) -> Dict[str, Optional[str]]:
        """Read-only: installed version of each name, or None when not installed."""

    def install(self, names: Sequence[str], *, reinstall: bool, prefix: Optional[str],
                facts: Facts) -> List[Command]:
        """The commands that install (or reinstall) `names`."""

    def needs_refresh(self, names: Sequence[str], runner: Runner, facts: Facts) -> bool:
        """Read-only: must the metadata be refreshed before installing `names`?"""

    def refresh(self, facts: Optional[Facts] = None) -> Optional[Command]:
        """The metadata refresh command, or None when the manager has none."""


def never_refresh(names: Sequence[str], runner: Runner, facts: Facts) -> bool:
    """`needs_refresh` of a manager with no separate metadata refresh (the module docstring
    says why: it fetches fresh metadata itself, or must not refresh partially)."""
    return False


def no_refresh(facts: Optional[Facts] = None) -> Optional[Command]:
    """`refresh` of a manager with no separate metadata refresh command."""
    return None
