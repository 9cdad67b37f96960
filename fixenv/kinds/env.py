"""`kind: env` — make CPATH reach the target's headers, now and in new shells.

    - id: cpath
      name: CPATH for headers outside the compiler's reach
      kind: env
      var: CPATH            # the only variable supported: CPATH (C and C++; see cpath.py)

What CPATH must hold comes from the `cpath` facts group (fixenv/cpath.py): only when needed,
our dirs first, the existing value kept, no empty elements, no duplicates, another Python
version's header dirs dropped. Persisted by fixenv/profile.py: /etc/profile.d/fixenv.sh as
root, else a marked block in the user's shell start-up files. The plan shows every line.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping

from fixenv import cpath, profile
from fixenv.kinds.common import PATH, PlanContext, checked
from fixenv.model import BLOCKED, CHANGE, OK, SKIP, PlannedStep
from fixenv.playbook.model import Step
from fixenv.runner import Runner

KEYS = ("var",)
SUPPORTED = (cpath.VAR,)


def validate(raw: Dict[str, Any], ctx: Any, kp: str) -> Dict[str, Any]:
    var = ctx.string(raw, "var", kp, default=cpath.VAR)
    if var not in SUPPORTED:
        raise ctx.error(kp + ".var", "%r is not supported; kind env manages %s" % (
            var, ", ".join(SUPPORTED)),
            hint="C_INCLUDE_PATH is C only (g++ ignores it), so it cannot fix Torch Inductor")
    return {"var": var}


def group_of(facts: Mapping[str, Any]) -> Mapping[str, Any]:
    return facts.get("cpath") or cpath.compute(facts)


def plan(step: Step, facts: Mapping[str, Any], runner: Runner, pctx: PlanContext) -> PlannedStep:
    var = step.spec["var"]
    group = group_of(facts)
    dirs = [checked(d, PATH, "path", step) for d in group["dirs"]]
    drop = [d for d in group["stale"] if PATH.match(d)]
    issues = cpath.problems(group)
    value = group["value"]
    blocked_fetch = [sid for sid, (kind, status) in pctx.earlier.items()
                     if kind == "rootless" and status == BLOCKED]
    if group.get("rootless") and blocked_fetch:
        # The headers CPATH would point at never arrive: no edit for them (a user's start-up
        # file naming an empty sysroot fixes nothing and hides the real failure).
        sysroot = str(group["sysroot"]).rstrip("/") + "/"
        dirs = [d for d in dirs if not (d + "/").startswith(sysroot)]
        value = cpath.merge(dirs, group["current"], drop) or None
        if not dirs and not issues:
            return PlannedStep(step.id, step.kind, step.name, SKIP,
                               "CPATH not set: step %r, which would unpack the headers into "
                               "%s, is blocked" % (blocked_fetch[0], group["sysroot"]))
    if not dirs and not issues:
        return PlannedStep(step.id, step.kind, step.name, OK, "CPATH " + group["reason"])
    root = bool(facts["privilege"].get("root"))
    edits, done = profile.plan_edits(var, dirs, drop, root=root, user=facts["user"],
                                     probe=pctx.probe)
    now_ok = not issues and all(d in cpath.split(group["current"])[0] for d in dirs)
    if pctx.probe and done:
        where = ", ".join(e.path for e in edits)
        if now_ok:
            return PlannedStep(step.id, step.kind, step.name, OK,
                               "%s holds %s, persisted in %s" % (var, ":".join(dirs), where))
        return PlannedStep(step.id, step.kind, step.name, OK,
                           "persisted in %s; this shell predates it: start a new login shell "
                           "or run `eval \"$(fixenv env)\"`" % where)
    what = []
    if dirs:
        what.append("%s=%s for new shells (%s)" % (var, value, group["reason"]))
    elif blocked_fetch and group.get("rootless"):
        what.append("no sysroot dirs: step %r is blocked" % blocked_fetch[0])
    what += ["repair: " + i for i in issues]
    data = (("name", var), ("value", value)) if value else (("name", var),)
    return PlannedStep(step.id, step.kind, step.name, CHANGE, "; ".join(what),
                       files=tuple(edits), data=data)
