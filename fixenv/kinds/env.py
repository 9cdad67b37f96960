"""`kind: env` — make an environment variable (CPATH) hold some directories, persistently.

    - id: cpath
      kind: env
      name: CPATH
      when: <condition>
      prepend: ["{{ python.include }}"]

Planned as a managed profile file (`/etc/profile.d/fixenv.sh` when root). Elements are
merged without empty entries (an empty CPATH element means "the current directory") and
without duplicates; the existing value is kept after ours.
"""
from __future__ import annotations

import os
import re
from typing import Any, Dict, List, Mapping, Optional

from fixenv.kinds.common import PATH, PlanContext, checked, render_list
from fixenv.model import CHANGE, OK, FileEdit, PlannedStep
from fixenv.playbook.model import Step
from fixenv.runner import Runner

KEYS = ("name", "prepend")
NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
PROFILE_D = "/etc/profile.d/fixenv.sh"


def validate(raw: Dict[str, Any], ctx: Any, kp: str) -> Dict[str, Any]:
    name = ctx.string(raw, "name", kp, required=True)
    if not NAME.match(name):
        raise ctx.error(kp + ".name", "%r is not an environment variable name" % name)
    return {"name": name, "prepend": ctx.template_list(raw, "prepend", kp, required=True)}


def merge(wanted: List[str], current: Optional[str]) -> str:
    """Our directories first, then the existing ones; no empties, no duplicates."""
    out: List[str] = []
    for d in wanted + (current or "").split(os.pathsep):
        if d and d not in out:
            out.append(d)
    return os.pathsep.join(out)


def profile_block(name: str, dirs: List[str]) -> str:
    lines = ["# Added by fixenv: Python headers for compilers (remove with `fixenv reset`)."]
    for d in reversed(dirs):
        lines.append('case ":${%s:-}:" in *":%s:"*) ;; *) %s="%s${%s:+:$%s}" ;; esac'
                     % (name, d, name, d, name, name))
    lines.append("export %s" % name)
    return "\n".join(lines) + "\n"


def plan(step: Step, facts: Mapping[str, Any], runner: Runner, pctx: PlanContext) -> PlannedStep:
    name = step.spec["name"]
    dirs = [checked(d, PATH, "path", step) for d in render_list(step.spec["prepend"], facts, step)]
    current = facts.get("env", {}).get(name)
    present = [d for d in (current or "").split(os.pathsep) if d]
    content = profile_block(name, dirs)
    try:
        with open(PROFILE_D) as fh:
            persisted = fh.read() == content
    except OSError:
        persisted = False
    if all(d in present for d in dirs) and persisted:
        return PlannedStep(step.id, step.kind, step.name, OK,
                           "%s already holds %s" % (name, ":".join(dirs)))
    return PlannedStep(step.id, step.kind, step.name, CHANGE,
                       "set %s=%s" % (name, merge(dirs, current)),
                       files=(FileEdit(PROFILE_D, content, root=True),),
                       data=(("name", name), ("value", merge(dirs, current))))
