"""Load playbooks, plan (pure: facts + playbook + read-only queries), apply the plan."""
from __future__ import annotations

import os
from typing import Any, Callable, Dict, List, Mapping, Optional

from fixenv.errors import InputError, PrivilegeError
from fixenv.kinds.common import PlanContext
from fixenv.model import CHANGE, OK, SKIP, Plan, PlannedStep, Recap, StepOutcome
from fixenv.playbook.model import Playbook
from fixenv.runner import Runner

DEFAULT_PLAYBOOK = "python-headers"

Event = Callable[[str, Dict[str, Any]], None]


def playbook_dirs() -> List[str]:
    """Bundled playbooks: the top-level playbooks/ of a checkout, or fixenv/playbooks in a
    wheel (both are the same files)."""
    here = os.path.dirname(os.path.abspath(__file__))
    return [os.path.join(here, "playbooks"), os.path.join(os.path.dirname(here), "playbooks")]


def bundled() -> Dict[str, str]:
    """name -> path of every bundled playbook."""
    found: Dict[str, str] = {}
    for d in playbook_dirs():
        if not os.path.isdir(d):
            continue
        for entry in sorted(os.listdir(d)):
            if entry.endswith((".yaml", ".yml")):
                found.setdefault(entry.rsplit(".", 1)[0], os.path.join(d, entry))
    return found


def resolve_playbook(name_or_path: Optional[str]) -> str:
    name = name_or_path or DEFAULT_PLAYBOOK
    if os.sep in name or name.endswith((".yaml", ".yml")):
        return name
    paths = bundled()
    # A playbook is code: a bundled name is never shadowed by a file of that name that
    # happens to be in the current directory.
    if name not in paths and os.path.isfile(name):
        return name
    if name not in paths:
        raise InputError("no bundled playbook named %r; bundled: %s (or give a path to a .yaml)"
                         % (name, ", ".join(sorted(paths)) or "none"))
    return paths[name]


def load_playbook(name_or_path: Optional[str] = None) -> Playbook:
    from fixenv.playbook.loader import load_path

    return load_path(resolve_playbook(name_or_path))


def make_plan(playbook: Playbook, facts: Mapping[str, Any], runner: Runner, *,
              probe: bool = True) -> Plan:
    """Plan every step. Runs only read-only queries: `plan` passes a RecordingRunner."""
    from fixenv.kinds import KINDS

    pctx = PlanContext(probe=probe)
    steps: List[PlannedStep] = []
    refreshed: set = set()
    for step in playbook.steps:
        if step.when is not None and not step.when.evaluate(facts):
            steps.append(PlannedStep(step.id, step.kind, step.name, SKIP,
                                     "not needed here: `%s` is false" % step.when.source))
            continue
        if step.unless is not None and step.unless.evaluate(facts):
            if step.ok_reason is not None:
                from fixenv.kinds.common import render
                reason = render(step.ok_reason, facts, step, "reason")
            else:
                reason = "already satisfied: `%s`" % step.unless.source
            steps.append(PlannedStep(step.id, step.kind, step.name, OK, reason))
            continue
        steps.append(_once(KINDS[step.kind].plan(step, facts, runner, pctx), refreshed))
    return Plan(playbook=playbook.name, steps=tuple(steps),
                target=str(facts["python"].get("executable", "")),
                facts_source="probed" if probe else "file")


def _once(planned: PlannedStep, refreshed: set) -> PlannedStep:
    """A metadata refresh (apt-get update, dnf makecache...) runs once per apply, not once
    per step that installs something."""
    keep = []
    for c in planned.commands:
        if c.purpose == "refresh package lists":
            if c.argv in refreshed:
                continue
            refreshed.add(c.argv)
        keep.append(c)
    if len(keep) == len(planned.commands):
        return planned
    import dataclasses
    return dataclasses.replace(planned, commands=tuple(keep))


def root_commands_blocked(plan: Plan, facts: Mapping[str, Any]) -> List[str]:
    """Commands that need root when we are neither root nor allowed `sudo -n`."""
    priv = facts["privilege"]
    if priv.get("root") or priv.get("sudo"):
        return []
    out = []
    for s in plan.steps:
        if s.status != CHANGE:
            continue
        out += [c.display() for c in s.commands if c.root]
        out += ["write %s" % f.path for f in s.files if f.root]
    return out


def apply_plan(plan: Plan, facts: Mapping[str, Any], runner: Runner, *,
               on_event: Optional[Event] = None, on_line: Optional[Callable[[str], None]] = None
               ) -> Recap:
    """Run the plan's changes in order; stop at the first failure. Does not verify.

    Holds fixenv's lock throughout (a second apply waits, bounded, then exits 6: lock.py).
    Ctrl-C or SIGTERM stops the running command and returns the recap so far with
    `interrupted` set (the CLI exits 130); files are replaced atomically, so none is left
    half-written."""
    from fixenv import lock
    from fixenv.interrupt import terminate_is_interrupt

    outcomes: List[StepOutcome] = []
    running: Dict[str, Any] = {}

    def emit(name: str, data: Dict[str, Any]) -> None:
        if name == "command":
            running.update(data)
            notice = lock.package_wait_notice(data["argv"])
            if notice:
                lock._stderr(notice)
        if on_event:
            on_event(name, data)

    with lock.apply_lock(), terminate_is_interrupt():
        try:
            _apply_steps(plan, facts, runner, outcomes, emit, on_line)
        except KeyboardInterrupt as exc:
            done = {o.id for o in outcomes}
            rest = [s for s in plan.steps if s.id not in done]
            if rest:
                what = " while running `%s`" % " ".join(running["argv"]) \
                    if running.get("id") == rest[0].id else ""
                rc = getattr(exc, "fixenv_rc", None)
                if what and rc is not None:
                    what += "; it was let finish its current work first (exit %d)" % rc
                outcomes.append(StepOutcome(rest[0].id, "failed", "interrupted%s" % what))
                outcomes += [StepOutcome(s.id, "not_run", "interrupted before this step")
                             for s in rest[1:]]
            return Recap(tuple(outcomes), interrupted=True)
    for i, o in enumerate(outcomes):
        if o.status == "failed" and lock.is_package_lock_failure(o.output):
            outcomes[i] = StepOutcome(o.id, o.status, "the package manager's lock stayed busy "
                                      "past %s=%gs; " % (lock.TIMEOUT_ENV, lock.timeout())
                                      + o.reason, o.commands, o.output)
        elif o.status == "failed" and "dpkg was interrupted" in o.output:
            outcomes[i] = StepOutcome(o.id, o.status, "an earlier dpkg run was cut off; repair "
                                      "it first with `dpkg --configure -a` (as root), then run "
                                      "fixenv again; " + o.reason, o.commands, o.output)
        elif o.status == "failed" and o.commands and lock.is_sudo_refusal(o.output):
            ids = [s.id for s in plan.steps]
            todo = [c.display(True).replace("sudo -n ", "sudo ", 1)
                    for s in plan.steps[ids.index(o.id):] if s.status == CHANGE
                    for c in s.commands if c.root]
            outcomes[i] = StepOutcome(o.id, o.status, "sudo refused to run it without a "
                                      "password; run these yourself, then fixenv again: %s. "
                                      % "; ".join(todo) + o.reason, o.commands, o.output)
    return Recap(tuple(outcomes))


def _apply_steps(plan: Plan, facts: Mapping[str, Any], runner: Runner,
                 outcomes: List[StepOutcome], emit: Event,
                 on_line: Optional[Callable[[str], None]]) -> None:
    blocked = root_commands_blocked(plan, facts)
    if blocked:
        raise PrivilegeError(
            "these changes need root, and this user is not root and may not use `sudo -n`",
            hint="ask an admin to run: " + "; ".join("sudo " + b for b in blocked))
    use_sudo = not facts["privilege"].get("root")
    failed = False
    for s in plan.steps:
        if failed:
            outcomes.append(StepOutcome(s.id, "not_run", "an earlier step failed"))
            continue
        if s.status == OK:
            outcomes.append(StepOutcome(s.id, "ok", s.reason))
            continue
        if s.status == SKIP:
            outcomes.append(StepOutcome(s.id, "skipped", s.reason))
            continue
        emit("step_start", {"id": s.id, "reason": s.reason})
        ran: List[tuple] = []
        outputs: List[str] = []
        error = ""
        for cmd in s.commands:
            argv = list(cmd.argv)
            if cmd.env:
                argv = ["env"] + ["%s=%s" % kv for kv in cmd.env] + argv
            if cmd.root and use_sudo:
                argv = ["sudo", "-n"] + argv
            ran.append(tuple(argv))
            emit("command", {"id": s.id, "argv": argv})
            res = runner.run(argv, mutating=True, timeout=None, on_line=on_line)
            emit("command_end", {"id": s.id, "argv": argv, "rc": res.rc, "seconds": res.seconds})
            outputs.append(res.output)
            if not res.ok:
                error = "`%s` exited %d:\n%s" % (cmd.display(use_sudo), res.rc, res.tail(20))
                break
        if not error:
            for f in s.files:
                try:
                    from fixenv.profile import apply_edit
                    apply_edit(f)  # whole file, or a marked block in a user's file
                except (OSError, ValueError) as exc:  # ValueError: e.g. not UTF-8 text
                    error = "could not write %s: %s (the original is unchanged)" % (
                        f.path, getattr(exc, "strerror", None) or exc)
                    break
        if error:
            failed = True
            outcomes.append(StepOutcome(s.id, "failed", error, tuple(ran), "\n".join(outputs)))
            emit("step_end", {"id": s.id, "status": "failed", "reason": error})
        else:
            for key, value in s.data:
                if key == "value":
                    os.environ[dict(s.data)["name"]] = value
            outcomes.append(StepOutcome(s.id, "changed", s.reason, tuple(ran)))
            emit("step_end", {"id": s.id, "status": "changed", "reason": s.reason})
