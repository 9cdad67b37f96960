"""A JSON-lines event stream for CI logs: `fixenv apply --events FILE|-` (or `--jsonl`).

One JSON object per line, written and flushed as things happen. Every event has

    event   what happened (below)
    step    the step id, or null for run-level events
    time    UTC wall clock, ISO 8601 with milliseconds ("2026-11-27T15:04:05.123Z")
    elapsed seconds since the stream was opened

Events, in order:

    run_start      schema, target, playbook, changes_pending, blocked,
                   steps: [{id, status, actions}]           (the plan, its actions included)
    step_start     reason, actions                          (only steps that change things)
    command_start  argv                                     (exactly as run: sudo/env included)
    command_end    argv, rc, seconds
    step_end       status (changed|failed|ok|skipped|not_run|blocked), reason, cause (when
                   failed: fixenv/outcome.py), seconds (if it ran)
                   -- exactly one per step of the plan, in plan order
    verify         ok, python, checks: [{name, ok, detail}]
    run_end        ok, exit_code (the process's own, from fixenv/outcome.py), summary: {ok,
                   changed, failed, skipped, not_run, blocked}

`schema` is this stream's format version (1), not fixenv's version; run_start also carries
`version` with the same number, for readers of the first format.

The final `run_end` repeats the summary `apply --json` prints, so a CI job can read only the
last line.
"""
from __future__ import annotations

import datetime
import json
import sys
import time
from typing import IO, Any, Dict, List, Mapping, Optional

from fixenv.errors import InputError
from fixenv.model import Plan, Recap, VerifyResult

SCHEMA_VERSION = 1


def _now_iso() -> str:
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (now.microsecond // 1000)


class EventStream:
    """Writes events to a file or stdout ('-'). Use `open_stream`, then close()."""

    def __init__(self, fh: IO[str], *, owned: bool = False):
        self.fh = fh
        self.owned = owned
        self.t0 = time.monotonic()
        self._plan: Optional[Plan] = None
        self._ended: List[str] = []
        self._started: Dict[str, float] = {}
        self._cmd_started: float = 0.0

    # -- low level
    def emit(self, event: str, step: Optional[str] = None, **fields: Any) -> None:
        record: Dict[str, Any] = {"event": event, "step": step, "time": _now_iso(),
                                  "elapsed": round(time.monotonic() - self.t0, 3)}
        record.update(fields)
        self.fh.write(json.dumps(record, sort_keys=False, default=str) + "\n")
        self.fh.flush()

    def close(self) -> None:
        if self.owned:
            self.fh.close()

    # -- the apply run
    def run_start(self, plan: Plan) -> None:
        self._plan = plan
        self.emit("run_start", None, schema=SCHEMA_VERSION, version=SCHEMA_VERSION,
                  target=plan.target, playbook=plan.playbook,
                  changes_pending=plan.changes_pending, blocked=list(plan.blocked),
                  steps=[{"id": s.id, "status": s.status,
                          "actions": [a.to_json() for a in s.actions]} for s in plan.steps])

    def _flush_unrun_before(self, step_id: Optional[str]) -> None:
        """step_end for ok/skip steps that come before `step_id` in the plan (they never
        start, but every step gets its step_end, in plan order)."""
        if self._plan is None:
            return
        for s in self._plan.steps:
            if s.id == step_id:
                return
            if s.id in self._ended or s.status == "change":
                continue
            self._ended.append(s.id)
            self.emit("step_end", s.id, status={"ok": "ok", "blocked": "blocked"}.get(
                s.status, "skipped"), reason=s.reason)

    def on_event(self, name: str, data: Mapping[str, Any]) -> None:
        """The engine's on_event callback (apply_plan)."""
        step = data.get("id")
        if name == "step_start":
            self._flush_unrun_before(step)
            self._started[str(step)] = time.monotonic()
            self.emit("step_start", step, reason=data.get("reason", ""),
                      actions=list(data.get("actions", [])))
        elif name == "command":
            self._cmd_started = time.monotonic()
            self.emit("command_start", step, argv=list(data.get("argv", [])))
        elif name == "command_end":
            self.emit("command_end", step, argv=list(data.get("argv", [])), rc=data.get("rc"),
                      seconds=round(float(data.get("seconds") or
                                          time.monotonic() - self._cmd_started), 3))
        elif name == "step_end":
            self._ended.append(str(step))
            started = self._started.get(str(step))
            extra = {"seconds": round(time.monotonic() - started, 3)} if started else {}
            if data.get("cause"):
                extra["cause"] = data["cause"]
            self.emit("step_end", step, status=data.get("status"), reason=data.get("reason", ""),
                      **extra)

    def steps_done(self, recap: Recap) -> None:
        """step_end for every step that has not had one yet (ok, skipped, not run)."""
        for s in recap.steps:
            if s.id in self._ended:
                continue
            self._ended.append(s.id)
            self.emit("step_end", s.id, status=s.status, reason=s.reason)

    def verify(self, result: VerifyResult) -> None:
        self.emit("verify", None, ok=result.ok, python=result.python,
                  checks=[c.to_json() for c in result.checks])

    def run_end(self, recap: Recap, exit_code: int) -> None:
        self.emit("run_end", None, ok=recap.ok, exit_code=exit_code,
                  summary=recap.to_json()["summary"], interrupted=recap.interrupted)


def open_stream(target: str) -> EventStream:
    """'-' is stdout; anything else is a file path, truncated and written line by line."""
    if target == "-":
        return EventStream(sys.stdout)
    try:
        fh = open(target, "w", buffering=1, encoding="utf-8")
    except OSError as exc:
        raise InputError("--events %s: %s" % (target, exc.strerror or exc),
                         hint="give a writable file path, or - for stdout")
    return EventStream(fh, owned=True)
