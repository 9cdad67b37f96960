"""Results: frozen dataclasses with a JSON rendering. Only the CLI prints them."""
from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any, ClassVar, Dict, List, Optional, Tuple, Union

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
    """An action: a file apply writes (atomically, with a backup). `content` is the whole
    file ("write") or fixenv's marked block ("block"/"unblock"); "remove" deletes a file that
    is wholly fixenv's."""

    path: str
    content: str
    action: str = "write"
    root: bool = False
    # A settled edit (planned on this machine) is a whole-file "write" made from the file as
    # it was when planned: `guarded` = apply and the shell script write it only while the
    # file still holds `before` (None: absent); `backup` = copy the old file aside first.
    before: Optional[str] = None
    guarded: bool = False
    backup: bool = True
    kind: ClassVar[str] = "file"

    def to_json(self) -> Dict[str, Any]:
        return {"kind": self.kind, "path": self.path, "action": self.action,
                "content": self.content, "root": self.root, "guarded": self.guarded,
                "backup": self.backup}


# ----------------------------------------------------------------------------- actions
# A planned step is a list of typed, frozen actions. The plan holds them, `apply` executes
# exactly them (fixenv/executor.py), `plan --json`, the text plan, `--format shell` and the
# event stream render them. Nothing happens in apply that the plan does not list.


@dataclass(frozen=True)
class Exec:
    """An action: start exactly `argv`. Variables it sets are already in argv (`env K=V`,
    behind `sudo -n` when it runs through sudo); `env` repeats them for JSON readers."""

    argv: Tuple[str, ...]
    env: Tuple[Tuple[str, str], ...] = ()
    root: bool = False  # needs root
    sudo: bool = False  # runs through `sudo -n` (root needed, and fixenv is not root)
    purpose: str = ""
    kind: ClassVar[str] = "exec"

    def display(self, sudo: bool = False) -> str:
        """The command line, shell-quoted (`sudo` and `env` are already in argv)."""
        return " ".join(shlex.quote(w) for w in self.argv)

    @property
    def program(self) -> str:
        """The program doing the work, past `sudo -n` and `env K=V` (for messages)."""
        words = list(self.argv)
        if words[:2] == ["sudo", "-n"]:
            words = words[2:]
        if words[:1] == ["env"]:
            words = words[1:]
            while words and "=" in words[0] and not words[0].startswith("/"):
                words = words[1:]
        return words[0] if words else ""

    def to_json(self) -> Dict[str, Any]:
        return {"kind": self.kind, "argv": list(self.argv), "env": dict(self.env),
                "root": self.root, "sudo": self.sudo, "purpose": self.purpose}


@dataclass(frozen=True)
class SetEnv:
    """An action: set (value) or unset (None) a variable for the rest of this apply, so the
    verification after it sees what a new shell will see."""

    name: str
    value: Optional[str]
    kind: ClassVar[str] = "setenv"

    def to_json(self) -> Dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "value": self.value}


@dataclass(frozen=True)
class Verify:
    """An action: build and import a C (and C++) extension with `python` (fixenv/verify.py),
    after the changes before it. Changes nothing."""

    python: str
    cxx: bool = True
    consumers: Tuple[str, ...] = ()
    kind: ClassVar[str] = "verify"

    def to_json(self) -> Dict[str, Any]:
        return {"kind": self.kind, "python": self.python, "cxx": self.cxx,
                "consumers": list(self.consumers)}


Action = Union[Exec, FileEdit, SetEnv, Verify]


@dataclass(frozen=True)
class PlannedStep:
    """One step of the plan. Kinds propose `commands` (Command: what to run, and whether it
    needs root), `files` and `data`; the planner resolves them into `actions`, which is what
    apply executes and every output renders."""

    id: str
    kind: str
    name: str
    status: str  # change | ok | skip | blocked
    reason: str
    commands: Tuple[Command, ...] = ()
    files: Tuple[FileEdit, ...] = ()
    # kind-specific data the planner turns into actions (e.g. the env var's new value)
    data: Tuple[Tuple[str, Any], ...] = ()
    actions: Tuple[Action, ...] = ()
    # ways out when status is blocked (commands or steps a person can take)
    ways_out: Tuple[str, ...] = ()
    # the condition that decided a skip/ok (for -v and --json; the reason says it in words)
    condition: Optional[str] = None

    @property
    def execs(self) -> Tuple[Exec, ...]:
        return tuple(a for a in self.actions if isinstance(a, Exec))

    def to_json(self) -> Dict[str, Any]:
        execs = self.execs
        out: Dict[str, Any] = {
            "id": self.id, "kind": self.kind, "name": self.name, "status": self.status,
            "reason": self.reason,
            # exactly the argv apply starts (with `sudo -n env ...` when it runs through sudo)
            "commands": [list(a.argv) for a in execs],
        }
        if any(a.env for a in execs):
            out["command_env"] = [dict(a.env) for a in execs]
        out["files"] = [{"path": f.path, "action": f.action, "content": f.content}
                        for f in self.actions if isinstance(f, FileEdit)]
        out["actions"] = [a.to_json() for a in self.actions]
        if self.ways_out:
            out["ways_out"] = list(self.ways_out)
        if self.condition:
            out["condition"] = self.condition
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

    @property
    def blocked(self) -> Tuple[str, ...]:
        """Ids of the steps with no known fix here (the machine is not fixable as is)."""
        return tuple(s.id for s in self.steps if s.status == BLOCKED)

    def to_json(self) -> Dict[str, Any]:
        return {"changes_pending": self.changes_pending, "blocked": list(self.blocked),
                "playbook": self.playbook,
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
    """How one step of the plan ended (fixenv/outcome.py classifies failures).

    status: ok | changed | failed | skipped | not_run | blocked
    cause (failed only): lock | privilege | sudo-refused | interrupted | network |
        package-missing | dpkg-interrupted | file | command"""

    id: str
    status: str
    reason: str
    commands: Tuple[Tuple[str, ...], ...] = ()
    output: str = ""
    cause: Optional[str] = None
    # the actions that ran to completion (an interrupted step may have finished some)
    done: int = 0

    def to_json(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"id": self.id, "status": self.status, "reason": self.reason,
                               "commands": [list(c) for c in self.commands],
                               "output": self.output}
        if self.cause:
            out["cause"] = self.cause
        return out


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
    def blocked(self) -> bool:
        return self.count("blocked") > 0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.blocked and (self.verify is None or self.verify.ok)

    def to_json(self) -> Dict[str, Any]:
        return {
            "summary": {"ok": self.count("ok"), "changed": self.count("changed"),
                        "failed": self.count("failed"), "skipped": self.count("skipped"),
                        "not_run": self.count("not_run"), "blocked": self.count("blocked")},
            "verify": self.verify.to_json() if self.verify else {"ok": False, "skipped": True,
                                                                  "checks": []},
            "interrupted": self.interrupted,
            "steps": [s.to_json() for s in self.steps],
        }
