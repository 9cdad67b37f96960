"""`kind: command` — run one command (an argv list), unless what it creates exists.

    - id: ldconfig
      kind: command
      argv: ["ldconfig"]
      root: true
      creates: "/some/path"      # ok (nothing to do) when this exists

A playbook is code: only load playbooks you trust (bundled ones or paths you name).
"""
from __future__ import annotations

import os
from typing import Any, Dict, Mapping

import re

from fixenv.errors import InputError
from fixenv.kinds.common import ARG, PATH, PlanContext, checked, render, render_list
from fixenv.model import CHANGE, OK, Command, PlannedStep
from fixenv.playbook.model import Step
from fixenv.runner import Runner

KEYS = ("argv", "root", "creates")
PROGRAM = re.compile(r"^[A-Za-z0-9_/][A-Za-z0-9._+/-]*$")


def validate(raw: Dict[str, Any], ctx: Any, kp: str) -> Dict[str, Any]:
    if "argv" in raw and isinstance(raw["argv"], str):
        raise ctx.error(kp + ".argv", "argv must be a list of words, not a shell string",
                        hint='write argv: ["ldconfig", "-v"]')
    argv = ctx.template_list(raw, "argv", kp, required=True)
    if not argv:
        raise ctx.error(kp + ".argv", "argv is empty")
    return {"argv": argv, "root": ctx.boolean(raw, "root", kp),
            "creates": ctx.template(raw["creates"], kp + ".creates") if "creates" in raw
            else None}


def plan(step: Step, facts: Mapping[str, Any], runner: Runner, pctx: PlanContext) -> PlannedStep:
    argv = render_list(step.spec["argv"], facts, step)
    checked(argv[0], PROGRAM, "program", step)
    for a in argv[1:]:
        if not ARG.fullmatch(a):
            raise InputError("%s: step %r: refusing argument %r: control or shell characters"
                             % (step.where, step.id, a))
    for t in step.spec["argv"][1:]:
        # A fact may fill in an argument, never turn it into an option ("--index-url=...").
        if t.paths and not t.source.lstrip().startswith("-"):
            for a in render_list([t], facts, step):
                if a.startswith("-"):
                    raise InputError("%s: step %r: refusing argument %r from %r: a fact value "
                                     "must not become an option" % (step.where, step.id, a,
                                                                   t.source))
    creates = step.spec["creates"]
    if creates is not None:
        path = checked(render(creates, facts, step, "path"), PATH, "path", step)
        if pctx.probe and os.path.exists(path):
            return PlannedStep(step.id, step.kind, step.name, OK, "%s exists" % path)
    return PlannedStep(step.id, step.kind, step.name, CHANGE, "run %s" % " ".join(argv),
                       (Command(tuple(argv), root=step.spec["root"]),))
