"""The validated playbook, as loaded from YAML."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple

from fixenv.playbook.expr import Expr
from fixenv.playbook.template import Template


@dataclass(frozen=True)
class Where:
    """A place in a playbook file, for error messages: file:line:col and the key path."""

    file: str
    line: int
    col: int
    keypath: str = ""

    def __str__(self) -> str:
        where = "%s:%d:%d" % (self.file, self.line, self.col)
        return "%s: %s" % (where, self.keypath) if self.keypath else where


@dataclass(frozen=True)
class Step:
    id: str
    kind: str
    name: str
    when: Optional[Expr]
    unless: Optional[Expr]
    ok_reason: Optional[Template]
    spec: Dict[str, Any]  # kind-specific, already validated/parsed by the kind module
    where: Where


@dataclass(frozen=True)
class Playbook:
    name: str
    description: str
    path: str
    steps: Tuple[Step, ...] = field(default_factory=tuple)
