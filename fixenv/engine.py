"""Load playbooks, plan (pure: facts + playbook + read-only queries), apply the plan."""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from fixenv.errors import InputError
from fixenv.kinds.common import PlanContext
from fixenv.model import OK, SKIP, Exec, Plan, PlannedStep, Recap, SetEnv
from fixenv.playbook.model import Playbook
from fixenv.runner import Runner

DEFAULT_PLAYBOOK = "python-headers"

Event = Callable[[str, Dict[str, Any]], None]


def playbook_dir() -> str:
    """Where the bundled playbooks are: exactly one place. Installed (a wheel, the zipapp),
    they are package data in fixenv/playbooks; in a source checkout (editable installs
    included) they are the top-level playbooks/ next to pyproject.toml. Nothing else is
    searched: a `playbooks` directory that happens to sit beside the package (for instance
    in site-packages) is never read."""
    here = os.path.dirname(os.path.abspath(__file__))
    packaged = os.path.join(here, "playbooks")
    checkout = os.path.dirname(here)
    if not os.path.isdir(packaged) and os.path.isfile(os.path.join(checkout, "pyproject.toml")):
        return os.path.join(checkout, "playbooks")
    return packaged


def bundled() -> Dict[str, str]:
    """name -> path of every bundled playbook."""
    d = playbook_dir()
    if not os.path.isdir(d):
        return {}
    return {entry.rsplit(".", 1)[0]: os.path.join(d, entry) for entry in sorted(os.listdir(d))
            if entry.endswith((".yaml", ".yml"))}


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
    """Plan every step. Runs only read-only queries: `plan` passes a RecordingRunner.
    Every step comes out resolved into the exact actions apply will execute."""
    from fixenv.kinds import KINDS

    pctx = PlanContext(probe=probe)
    steps: List[PlannedStep] = []
    refreshed: set = set()
    for step in playbook.steps:
        if step.when is not None and not step.when.evaluate(facts):
            steps.append(PlannedStep(step.id, step.kind, step.name, SKIP,
                                     skip_reason(step, facts), condition=step.when.source))
            continue
        if step.unless is not None and step.unless.evaluate(facts):
            if step.ok_reason is not None:
                from fixenv.kinds.common import render
                reason = render(step.ok_reason, facts, step, "reason")
            else:
                reason = "already satisfied: `%s`" % step.unless.source
            steps.append(PlannedStep(step.id, step.kind, step.name, OK, reason,
                                     condition="unless: " + step.unless.source))
            continue
        planned = _once(KINDS[step.kind].plan(step, facts, runner, pctx), refreshed)
        pctx.earlier[step.id] = (step.kind, planned.status)
        steps.append(resolve(planned, facts, settle_files=probe))
    return Plan(playbook=playbook.name, steps=tuple(steps),
                target=str(facts["python"].get("executable", "")),
                facts_source="probed" if probe else "file")


def skip_reason(step: Any, facts: Mapping[str, Any]) -> str:
    """Why a step does not apply here, in words: the step's own `skip_reason:` when the
    playbook gives one, else a generic sentence (the condition itself goes to -v/--json)."""
    text = getattr(step, "skip_reason", None)
    if text is not None:
        from fixenv.kinds.common import render
        return render(text, facts, step, "skip_reason")
    return "not needed here: `%s` is false" % step.when.source


def resolve(step: PlannedStep, facts: Mapping[str, Any], *, settle_files: bool = True
            ) -> PlannedStep:
    """The step's proposal (commands, files, data) as the exact actions apply executes.
    A command's argv is exactly what starts: `env K=V ... argv` when it sets variables,
    behind `sudo -n` when it needs root and fixenv is not root (sudo resets the environment,
    which is why the variables travel through `env`). Run as it stands, it does what apply
    does. On this machine (`settle_files`), an edit of a user's file becomes the whole new
    file, written only while the file is as it was when planned (profile.settle)."""
    from fixenv.profile import settle

    sudo = not facts["privilege"].get("root")
    actions: List[Any] = []
    for c in step.commands:
        words: Tuple[str, ...] = ()
        through_sudo = bool(c.root and sudo)
        if through_sudo:
            words += ("sudo", "-n")
        if c.env:
            words += ("env",) + tuple("%s=%s" % kv for kv in c.env)
        actions.append(Exec(words + tuple(c.argv), tuple(c.env), c.root, through_sudo,
                            c.purpose))
    actions += [settle(f) if settle_files else f for f in step.files]
    data = dict(step.data)
    if "name" in data and "value" in data:
        actions.append(SetEnv(str(data["name"]), data["value"]))
    actions += list(step.actions)  # kinds that plan actions directly (verify)
    return dataclasses.replace(step, actions=tuple(actions))


def resolved(plan: Plan, facts: Mapping[str, Any]) -> Plan:
    """A plan whose steps were built by hand (tests), resolved like make_plan's."""
    return dataclasses.replace(plan, steps=tuple(
        s if s.actions else resolve(s, facts) for s in plan.steps))


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
    return dataclasses.replace(planned, commands=tuple(keep))


def apply_plan(plan: Plan, facts: Mapping[str, Any], runner: Runner, *,
               on_event: Optional[Event] = None, on_line: Optional[Callable[[str], None]] = None,
               refresh_facts: Optional[Callable[[], Mapping[str, Any]]] = None) -> Recap:
    """Execute exactly the plan's actions (fixenv/executor.py)."""
    from fixenv.executor import execute

    return execute(resolved(plan, facts), facts, runner, on_event=on_event, on_line=on_line,
                   refresh_facts=refresh_facts)
