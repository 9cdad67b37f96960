"""`kind: packages` — ensure packages through a backend, chosen by rules.

    - id: python-headers
      kind: packages
      rules:                       # first rule whose `when:` holds is used
        - when: python.provider == 'apt'
          manager: apt
          packages: ["python{{ python.xy }}-dev"]
        - when: python.provider == 'pyenv'
          manager: pyenv
          packages: ["{{ python.version }}"]
          reinstall: true
          unless: python.has_headers
          ok_reason: "headers present in {{ python.include }}"

Without `rules:`, the step itself carries manager/packages/reinstall/prefix.
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

from fixenv.backends import get_backend
from fixenv.kinds.common import PACKAGE, PATH, PlanContext, checked, render, render_list
from fixenv.model import CHANGE, OK, SKIP, Command, PlannedStep
from fixenv.playbook.model import Step
from fixenv.runner import Runner

KEYS = ("rules", "manager", "packages", "reinstall", "prefix")
RULE_KEYS = ("when", "unless", "ok_reason", "manager", "packages", "reinstall", "prefix", "note")


def _rule(raw: Dict[str, Any], ctx: Any, kp: str) -> Dict[str, Any]:
    return {
        "when": ctx.expr(raw, "when", kp),
        "unless": ctx.expr(raw, "unless", kp),
        "ok_reason": ctx.template(raw["ok_reason"], kp + ".ok_reason") if "ok_reason" in raw
        else None,
        "manager": ctx.template(raw.get("manager", "{{ system_manager }}"), kp + ".manager"),
        "packages": ctx.template_list(raw, "packages", kp, required=True),
        "reinstall": ctx.boolean(raw, "reinstall", kp),
        "prefix": ctx.template(raw["prefix"], kp + ".prefix") if "prefix" in raw else None,
        "note": ctx.string(raw, "note", kp),
        "keypath": kp,
    }


def validate(raw: Dict[str, Any], ctx: Any, kp: str) -> Dict[str, Any]:
    if "rules" in raw:
        for key in ("manager", "packages", "reinstall", "prefix"):
            if key in raw:
                raise ctx.error("%s.%s" % (kp, key), "%r goes inside each rule when `rules:` "
                                "is given" % key)
        rules = ctx.want(raw["rules"], list, kp + ".rules", "a list of rules")
        if not rules:
            raise ctx.error(kp + ".rules", "`rules:` is empty")
        out = []
        for i, r in enumerate(rules):
            rkp = "%s.rules[%d]" % (kp, i)
            ctx.want(r, dict, rkp, "a rule (a mapping)")
            ctx.check_keys(r, RULE_KEYS, rkp)
            out.append(_rule(r, ctx, rkp))
        return {"rules": out}
    if "packages" not in raw:
        raise ctx.error(kp, "a packages step needs `packages:` or `rules:`")
    return {"rules": [_rule(raw, ctx, kp)]}


def _choose(rules: List[Dict[str, Any]], facts: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
    for rule in rules:
        if rule["when"] is None or rule["when"].evaluate(facts):
            return rule
    return None


def plan(step: Step, facts: Mapping[str, Any], runner: Runner, pctx: PlanContext) -> PlannedStep:
    def planned(status: str, reason: str, commands: tuple = ()) -> PlannedStep:
        return PlannedStep(step.id, step.kind, step.name, status, reason, commands)

    rule = _choose(step.spec["rules"], facts)
    if rule is None:
        py = facts.get("python", {})
        return planned(SKIP, "no rule matches this machine (os %s %s, python %s from %s)" % (
            facts["os"].get("id"), facts["os"].get("version"), py.get("version"),
            py.get("provider")))
    if rule["unless"] is not None and rule["unless"].evaluate(facts):
        reason = render(rule["ok_reason"], facts, step, "reason") if rule["ok_reason"] else \
            "already satisfied: %s" % rule["unless"].source
        return planned(OK, reason)
    manager = render(rule["manager"], facts, step, "manager")
    backend = get_backend(manager)
    names = [checked(n, PACKAGE, "package name", step)
             for n in render_list(rule["packages"], facts, step)]
    prefix = None
    if rule["prefix"] is not None:
        prefix = checked(render(rule["prefix"], facts, step, "prefix"), PATH, "path", step)
    note = (" (" + rule["note"] + ")") if rule["note"] else ""
    if rule["reinstall"]:
        cmds = tuple(backend.install(names, reinstall=True, prefix=prefix, facts=facts))
        return planned(CHANGE, "reinstall %s with %s%s" % (" ".join(names), manager, note), cmds)
    earlier = [n for n in names if (manager, n) in pctx.planned]
    if earlier:
        names = [n for n in names if n not in earlier]
        by = ", ".join(sorted({pctx.planned[(manager, n)] for n in earlier}))
        if not names:
            return planned(SKIP, "%s: installed by step %s" % (" ".join(earlier), by))
        note += "; %s installed by step %s" % (" ".join(earlier), by)
    if not pctx.probe:
        pctx.planned.update({(manager, n): step.id for n in names})
        cmds: List[Command] = []
        ref = backend.refresh()
        if ref is not None:
            cmds.append(ref)
        cmds += backend.install(names, reinstall=False, prefix=prefix, facts=facts)
        return planned(CHANGE, "install %s with %s (installed state not probed: planned from "
                       "a facts file)%s" % (" ".join(names), manager, note), tuple(cmds))
    state = backend.query(names, runner, facts)
    missing = [n for n in names if not state.get(n)]
    if not missing:
        return planned(OK, ", ".join("%s %s is installed" % (n, state[n]) for n in names))
    pctx.planned.update({(manager, n): step.id for n in missing})
    cmds = []
    if backend.needs_refresh(missing, runner, facts):
        ref = backend.refresh()
        if ref is not None:
            cmds.append(ref)
    cmds += backend.install(missing, reinstall=False, prefix=prefix, facts=facts)
    have = [n for n in names if state.get(n)]
    extra = "; %s already installed" % ", ".join(have) if have else ""
    return planned(CHANGE, "install %s with %s%s%s" % (" ".join(missing), manager, extra, note),
                   tuple(cmds))
