"""The one executor: run exactly the plan's actions, and nothing else.

`plan` resolves every step into typed actions (fixenv/model.py: Exec, FileEdit, SetEnv,
Verify); this module carries them out in plan order and gives every step one outcome
(fixenv/outcome.py). It is the only place, besides detection, that reads or writes
`os.environ` (a SetEnv action), and the only caller of a mutating runner.

Rules:
* a `change` step runs all its actions; the first failing one fails the step, and every later
  step is `not_run`;
* `ok`/`skip` steps run no actions except Verify (a check changes nothing);
* a `blocked` step (no known fix here) is reported as blocked and the run goes on: the
  verification after it tells what that leaves broken;
* Ctrl-C / SIGTERM: the running command is let stop at a safe point (fixenv/runner.py);
  a command that still finished is reported as done; the run stops, exit 130.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Dict, List, Mapping, MutableMapping, Optional, Sequence

from fixenv import outcome
from fixenv.errors import PrivilegeError
from fixenv.model import (BLOCKED, CHANGE, OK, Exec, FileEdit, Plan, PlannedStep, Recap, SetEnv,
                          StepOutcome, Verify, VerifyResult)
from fixenv.runner import Runner

Event = Callable[[str, Dict[str, Any]], None]
LineSink = Callable[[str], None]
FactsSource = Callable[[], Mapping[str, Any]]


def root_needed_but_unavailable(plan: Plan, facts: Mapping[str, Any]) -> List[str]:
    """What needs root when we are neither root nor allowed `sudo -n` (as a person would
    type it with sudo)."""
    priv = facts["privilege"]
    if priv.get("root") or priv.get("sudo"):
        return []
    out: List[str] = []
    for s in plan.steps:
        if s.status != CHANGE:
            continue
        for a in s.actions:
            if isinstance(a, Exec) and a.root:
                words = list(a.argv)
                out.append(Exec(tuple(words[2:] if words[:2] == ["sudo", "-n"] else words)
                                ).display())
            elif isinstance(a, FileEdit) and a.root:
                out.append("write %s" % a.path)
    return out


class Executor:
    """Runs a plan's actions. One instance per apply."""

    def __init__(self, runner: Runner, *, on_event: Optional[Event] = None,
                 on_line: Optional[LineSink] = None,
                 refresh_facts: Optional[FactsSource] = None,
                 environ: Optional[MutableMapping[str, str]] = None) -> None:
        self.runner = runner
        self.on_event = on_event
        self.on_line = on_line
        self.refresh_facts = refresh_facts
        self.environ = os.environ if environ is None else environ
        self.changed = False
        self.verify_result: Optional[VerifyResult] = None
        self._running: Optional[Exec] = None
        self._done: List[Exec] = []
        self._done_files = 0
        self._plan = Plan("", ())

    # -- events
    def emit(self, name: str, data: Dict[str, Any]) -> None:
        if name == "command":
            from fixenv.lock import package_wait_notice, _stderr

            notice = package_wait_notice(data["argv"], self._package_wait(data["argv"]))
            if notice:
                _stderr(notice)
        if self.on_event:
            self.on_event(name, data)

    # -- the run
    def run(self, plan: Plan, facts: Mapping[str, Any]) -> Recap:
        """Hold fixenv's lock (a second apply waits, bounded, then exits 6), run every step,
        return the recap (with `interrupted` set after Ctrl-C)."""
        from fixenv import lock
        from fixenv.facts import invocation
        from fixenv.interrupt import terminate_is_interrupt

        blocked = root_needed_but_unavailable(plan, facts)
        if blocked:
            raise PrivilegeError(
                "these changes need root, and this user is not root and may not use `sudo -n`",
                hint="ask an admin to run: " + "; ".join("sudo " + b for b in blocked))
        self._plan = plan
        outcomes: List[StepOutcome] = []
        with lock.apply_lock(invocation.lock_file(self.environ), self._lock_wait()), \
                terminate_is_interrupt():
            interrupted = self._steps(plan, facts, outcomes)
        return Recap(tuple(outcomes), self.verify_result, interrupted)

    def _steps(self, plan: Plan, facts: Mapping[str, Any], outcomes: List[StepOutcome]) -> bool:
        failed = False
        for i, s in enumerate(plan.steps):
            if failed:
                outcomes.append(StepOutcome(s.id, "not_run", "an earlier step failed"))
                continue
            try:
                o = self._step(s, plan, facts)
            except KeyboardInterrupt as exc:
                outcomes.append(self._interrupted(s, exc))
                outcomes += [StepOutcome(r.id, "not_run", "interrupted before this step")
                             for r in plan.steps[i + 1:]]
                return True
            outcomes.append(o)
            failed = o.status == "failed"
        return False

    def _step(self, s: PlannedStep, plan: Plan, facts: Mapping[str, Any]) -> StepOutcome:
        self._done = []
        self._done_files = 0
        if s.status == BLOCKED:
            self._checks(s, facts)
            why = s.reason + ("; ways out: " + "; ".join(s.ways_out) if s.ways_out else "")
            return StepOutcome(s.id, "blocked", why)
        if s.status != CHANGE:
            self._checks(s, facts)
            return StepOutcome(s.id, "ok" if s.status == OK else "skipped", s.reason)
        self.emit("step_start", {"id": s.id, "reason": s.reason,
                                 "actions": [a.to_json() for a in s.actions]})
        ran: List[tuple] = []
        outputs: List[str] = []
        for a in s.actions:
            error = self._action(s, a, facts, ran, outputs)
            if error is not None:
                cause, reason = error
                self.emit("step_end", {"id": s.id, "status": "failed", "reason": reason,
                                       "cause": cause})
                return StepOutcome(s.id, "failed", reason, tuple(ran), "\n".join(outputs),
                                   cause, len(self._done))
        self.changed = True
        self.emit("step_end", {"id": s.id, "status": "changed", "reason": s.reason})
        return StepOutcome(s.id, "changed", s.reason, tuple(ran), done=len(self._done))

    def _checks(self, s: PlannedStep, facts: Mapping[str, Any]) -> None:
        for a in s.actions:
            if isinstance(a, Verify):
                self._verify(a, facts)

    def _action(self, s: PlannedStep, a: Any, facts: Mapping[str, Any], ran: List[tuple],
                outputs: List[str]):
        """Carry out one action; (cause, reason) when it failed, else None."""
        if isinstance(a, Exec):
            ran.append(tuple(a.argv))
            self._running = a
            self.emit("command", {"id": s.id, "argv": list(a.argv)})
            res = self.runner.run(list(a.argv), mutating=True, timeout=None,
                                  on_line=self.on_line)
            self._running = None
            self.emit("command_end", {"id": s.id, "argv": list(a.argv), "rc": res.rc,
                                      "seconds": res.seconds})
            outputs.append(res.output)
            if res.ok:
                self._done.append(a)
                return None
            cause = outcome.classify(res.output)
            reason = "`%s` exited %d:\n%s" % (a.display(), res.rc, res.tail(20))
            return cause, self._advice(cause, s) + reason
        if isinstance(a, FileEdit):
            try:
                from fixenv.profile import apply_edit

                apply_edit(a)  # whole file, or a marked block in a user's file
            except (OSError, ValueError) as exc:  # ValueError: e.g. not UTF-8 text
                return outcome.FILE, "could not write %s: %s (the original is unchanged)" % (
                    a.path, getattr(exc, "strerror", None) or exc)
            self._done_files += 1
            return None
        if isinstance(a, SetEnv):
            if a.value is None:
                self.environ.pop(a.name, None)
            else:
                self.environ[a.name] = a.value
            return None
        if isinstance(a, Verify):
            self._verify(a, facts)
            return None
        raise TypeError("unknown action %r" % (a,))

    def _advice(self, cause: str, s: PlannedStep) -> str:
        from fixenv import lock

        todo: List[str] = []
        if cause == outcome.SUDO_REFUSED:  # this step's root commands and the later ones
            steps = list(self._plan.steps)
            todo = [a.display().replace("sudo -n ", "sudo ", 1)
                    for st in steps[steps.index(s):] if st.status == CHANGE
                    for a in st.execs if a.sudo]
        return outcome.advice(cause, lock_env=lock.TIMEOUT_ENV, lock_timeout=self._lock_wait(),
                              root_commands=todo)

    def _lock_wait(self) -> float:
        """Seconds apply waits for another fixenv: $FIXENV_LOCK_TIMEOUT of this run."""
        from fixenv.facts import invocation

        return invocation.lock_timeout(self.environ)

    def _package_wait(self, argv: Sequence[str]) -> float:
        """What the command itself was told to wait (apt-get's DPkg::Lock::Timeout, from the
        plan), else what fixenv waits."""
        from fixenv.backends.apt import LOCK_OPTION

        for arg in argv:
            if arg.startswith(LOCK_OPTION):
                value = arg[len(LOCK_OPTION):]
                if value.isdigit():
                    return float(value)
        return self._lock_wait()

    def _verify(self, a: Verify, facts: Mapping[str, Any]) -> None:
        from fixenv.verify import verify

        if self.on_event:
            self.on_event("verify_start", {"python": a.python})
        current = self.refresh_facts() if (self.changed and self.refresh_facts) else facts
        self.verify_result = verify(current, self.runner, cxx=a.cxx)
        if a.consumers:  # the consumers' own builds, with what a new shell has after apply
            from fixenv.verify import after_apply

            done = after_apply(Recap((), self.verify_result), a.python, ",".join(a.consumers),
                               self.environ)
            if done.interrupted:
                raise KeyboardInterrupt("interrupted during the consumer checks")
            self.verify_result = done.verify

    def _interrupted(self, s: PlannedStep, exc: BaseException) -> StepOutcome:
        """The outcome of the step Ctrl-C stopped, telling the truth about what finished."""
        rc = getattr(exc, "fixenv_rc", None)
        running = self._running
        self._running = None
        done = list(self._done)
        if running is not None and rc == 0:
            done.append(running)
        if s.status != CHANGE:
            return StepOutcome(s.id, "ok" if s.status == OK else "skipped",
                               s.reason + " (interrupted while checking)", cause=None)
        execs = [a for a in s.actions if isinstance(a, Exec)]
        ran = tuple(tuple(a.argv) for a in done)
        if execs and len(done) == len(execs) and not any(
                isinstance(a, (FileEdit, SetEnv)) for a in s.actions):
            self.changed = True
            return StepOutcome(s.id, "changed", s.reason + "; then interrupted (`%s` was let "
                               "finish: exit 0)" % execs[-1].program, ran, done=len(done))
        if running is not None:
            what = "interrupted while running `%s`" % running.display()
            if rc is not None and rc < 0:
                import signal

                try:
                    name = signal.Signals(-rc).name
                except ValueError:
                    name = "signal %d" % -rc
                what += "; it was let stop at a safe point (killed by %s)" % name
            elif rc is not None:
                what += "; it was let stop at a safe point (exit %d)" % rc
        else:
            what = "interrupted"
        if done:
            what += "; finished before that: %s" % ", ".join("`%s`" % a.display() for a in done)
        return StepOutcome(s.id, "failed", what, ran, cause=outcome.INTERRUPTED, done=len(done))


def execute(plan: Plan, facts: Mapping[str, Any], runner: Runner, *,
            on_event: Optional[Event] = None, on_line: Optional[LineSink] = None,
            refresh_facts: Optional[FactsSource] = None) -> Recap:
    return Executor(runner, on_event=on_event, on_line=on_line,
                    refresh_facts=refresh_facts).run(plan, facts)
