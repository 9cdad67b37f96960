"""`kind: verify` — where the playbook wants the proof: a Verify action, run by apply at this
point of the plan (after the changes before it). Without a verify step, apply does not
verify. `cxx: false` leaves out the C++ builds."""
from __future__ import annotations

from typing import Any, Dict, Mapping

from fixenv.kinds.common import PlanContext
from fixenv.model import OK, PlannedStep, Verify
from fixenv.playbook.model import Step
from fixenv.runner import Runner

KEYS = ("cxx",)


def validate(raw: Dict[str, Any], ctx: Any, kp: str) -> Dict[str, Any]:
    return {"cxx": ctx.boolean(raw, "cxx", kp, default=True)}


def plan(step: Step, facts: Mapping[str, Any], runner: Runner, pctx: PlanContext) -> PlannedStep:
    py = facts["python"]["executable"]
    what = "C and C++" if step.spec["cxx"] else "C"
    return PlannedStep(step.id, step.kind, step.name, OK,
                       "build a %s extension including Python.h and import it with %s"
                       % (what, py), actions=(Verify(py, cxx=bool(step.spec["cxx"])),))
