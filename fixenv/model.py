"""Results: frozen dataclasses with a JSON rendering. Only the CLI prints them."""
from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

CHANGE = "change"
OK = "ok"
SKIP = "skip"
# No known fix here (e.g. no package provides these headers): not "nothing to do".
BLOCKED = "blocked"


@dataclass(frozen=True)
class Command:
    """One process apply would start. `root`: needs root (sudo -n is prefixed when not root)."""

    argv: Tuple[str, ...]
    root: bool = False
    env: Tuple[Tuple[str, str], ...] = ()
    # What the command is for, e.g. "refresh package lists" (shown in text output).
    purpose: str = ""

    def display(self, sudo: bool = False) -> str:
        words: List[str] = []
        if sudo and self.root:
            words += ["sudo", "-n"]
        if self.env:
            if sudo and self.root:
                words.append("env")
            words += ["%s=%s" % kv for kv in self.env]
        words += list(self.argv)
        return " ".join(shlex.quote(w) for w in words)


@dataclass(frozen=True)
class FileEdit:
    """A file apply would write (atomically, with a backup). `content` is the whole
    managed block; `action` is "write" or "remove"."""

    path: str
    content: str
    action: str = "write"
    root: bool = False


@dataclass(frozen=True)
class PlannedStep:
    id: str
    kind: str
    name: str
    status: str  # change | ok | skip | blocked
    reason: str
    commands: Tuple[Command, ...] = ()
    files: Tuple[FileEdit, ...] = ()
    # kind-specific data apply needs (e.g. the env var's new value)
    data: Tuple[Tuple[str, Any], ...] = ()

    def to_json(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {
            "id": self.id, "kind": self.kind, "name": self.name, "status": self.status,
            "reason": self.reason, "commands": [list(c.argv) for c in self.commands],
        }
        if any(c.env for c in self.commands):
            out["command_env"] = [dict(c.env) for c in self.commands]
        out["files"] = [{"path": f.path, "action": f.action, "content": f.content}
                        for f in self.files]
        return out


@dataclass(frozen=True)
class Plan:
    playbook: str
    steps: Tuple[PlannedStep, ...]
    target: str = ""
    facts_source: str = "probed"

    @property
    def changes_pending(self) -> bool:
        return any(s.status == CHANGE for s in self.steps)

    def to_json(self) -> Dict[str, Any]:
        return {"changes_pending": self.changes_pending, "playbook": self.playbook,
                "target": self.target, "facts_source": self.facts_source,
                "steps": [s.to_json() for s in self.steps]}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: Optional[str] = None

    def to_json(self) -> Dict[str, Any]:
        d: Dict[str, Any] = {"name": self.name, "ok": self.ok, "detail": self.detail}
        if self.fix:
            d["fix"] = self.fix
        return d


@dataclass(frozen=True)
class VerifyResult:
    python: str
    checks: Tuple[Check, ...]
    skipped: bool = False

    @property
    def ok(self) -> bool:
        return not self.skipped and all(c.ok for c in self.checks)

    def to_json(self) -> Dict[str, Any]:
        return {"ok": self.ok, "python": self.python, "skipped": self.skipped,
                "checks": [c.to_json() for c in self.checks]}


@dataclass(frozen=True)
class StepOutcome:
    id: str
    status: str  # ok | changed | failed | skipped | not_run
    reason: str
    commands: Tuple[Tuple[str, ...], ...] = ()
    output: str = ""

    def to_json(self) -> Dict[str, Any]:
        return {"id": self.id, "status": self.status, "reason": self.reason,
                "commands": [list(c) for c in self.commands], "output": self.output}


@dataclass(frozen=True)
class Recap:
    steps: Tuple[StepOutcome, ...]
    verify: Optional[VerifyResult] = None
    interrupted: bool = False

    def count(self, status: str) -> int:
        return sum(1 for s in self.steps if s.status == status)

    @property
    def failed(self) -> bool:
        return self.count("failed") > 0 or self.interrupted

    @property
    def ok(self) -> bool:
        return not self.failed and (self.verify is None or self.verify.ok)

    def to_json(self) -> Dict[str, Any]:
        return {
            "summary": {"ok": self.count("ok"), "changed": self.count("changed"),
                        "failed": self.count("failed"), "skipped": self.count("skipped"),
                        "not_run": self.count("not_run")},
            "verify": self.verify.to_json() if self.verify else {"ok": False, "skipped": True,
                                                                  "checks": []},
            "interrupted": self.interrupted,
            "steps": [s.to_json() for s in self.steps],
        }
