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

A rule may instead say there is no package for this case (`blocked:` a reason, with
`ways_out:`): the step is then `blocked`, never "nothing to do". A step-level `no_rule:`
({reason, ways_out}) does the same when no rule matches at all; without it an unmatched
step is skipped (it does not apply). Rules cite where they were checked (`source:`); a rule
marked `verified: false` says "(unverified rule)" in the plan's reason.

    - id: python-headers
      kind: packages
      no_rule:
        reason: "no known package provides Python.h for {{ python.executable }}"
        ways_out: ["uv python install {{ python.version }}"]
      rules:
        - when: python.provider == 'apt' and python.freethreaded
          blocked: "Debian ships no free-threaded interpreter package"
          ways_out: ["uv python install {{ python.version }}t"]
          source: "Debian package indexes (bookworm, trixie, forky, sid)"
"""
from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Tuple

from fixenv.backends import get_backend
from fixenv.kinds.common import PACKAGE, PATH, PlanContext, checked, render, render_list
from fixenv.model import BLOCKED, CHANGE, OK, SKIP, Command, PlannedStep
from fixenv.playbook.model import Step
from fixenv.runner import Runner

KEYS = ("rules", "manager", "packages", "reinstall", "prefix", "no_rule")
RULE_KEYS = ("when", "unless", "ok_reason", "manager", "packages", "reinstall", "prefix", "note",
             "blocked", "ways_out", "source", "verified")
INSTALL_KEYS = ("manager", "packages", "reinstall", "prefix")
NO_RULE_KEYS = ("reason", "ways_out")
UNVERIFIED = " (unverified rule)"
# Packages steps validated so far in one playbook load, by step id: a later step (the
# rootless fetch) may name one (`packages_from:`) and use its very rules.
_REGISTRY_ATTR = "_fixenv_package_steps"


def _rule(raw: Dict[str, Any], ctx: Any, kp: str) -> Dict[str, Any]:
    blocked = None
    if "blocked" in raw:
        for key in INSTALL_KEYS:
            if key in raw:
                raise ctx.error("%s.%s" % (kp, key), "a `blocked:` rule installs nothing; "
                                "%r does not belong in it" % key)
        blocked = ctx.template(raw["blocked"], kp + ".blocked")
    elif "ways_out" in raw:
        raise ctx.error(kp + ".ways_out", "`ways_out:` belongs to a `blocked:` rule")
    return {
        "when": ctx.expr(raw, "when", kp),
        "unless": ctx.expr(raw, "unless", kp),
        "ok_reason": ctx.template(raw["ok_reason"], kp + ".ok_reason") if "ok_reason" in raw
        else None,
        "manager": ctx.template(raw.get("manager", "{{ system_manager }}"), kp + ".manager"),
        "packages": [] if blocked is not None else
        ctx.template_list(raw, "packages", kp, required=True),
        "reinstall": ctx.boolean(raw, "reinstall", kp),
        "prefix": ctx.template(raw["prefix"], kp + ".prefix") if "prefix" in raw else None,
        "note": ctx.string(raw, "note", kp),
        "blocked": blocked,
        "ways_out": ctx.template_list(raw, "ways_out", kp),
        "source": ctx.string(raw, "source", kp),
        "verified": ctx.boolean(raw, "verified", kp, default=True),
        "keypath": kp,
    }


def _no_rule(raw: Dict[str, Any], ctx: Any, kp: str) -> Optional[Dict[str, Any]]:
    if "no_rule" not in raw:
        return None
    nkp = kp + ".no_rule"
    node = ctx.want(raw["no_rule"], dict, nkp, "a mapping with `reason:` and `ways_out:`")
    ctx.check_keys(node, NO_RULE_KEYS, nkp)
    if "reason" not in node:
        raise ctx.error(nkp, "missing required key 'reason'")
    return {"reason": ctx.template(node["reason"], nkp + ".reason"),
            "ways_out": ctx.template_list(node, "ways_out", nkp)}


def validate(raw: Dict[str, Any], ctx: Any, kp: str) -> Dict[str, Any]:
    if "rules" in raw:
        for key in INSTALL_KEYS:
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
        spec = {"rules": out, "no_rule": _no_rule(raw, ctx, kp)}
    else:
        if "packages" not in raw:
            raise ctx.error(kp, "a packages step needs `packages:` or `rules:`")
        spec = {"rules": [_rule(raw, ctx, kp)], "no_rule": _no_rule(raw, ctx, kp)}
    if isinstance(raw.get("id"), str):
        registry = getattr(ctx, _REGISTRY_ATTR, None)
        if registry is None:
            registry = {}
            setattr(ctx, _REGISTRY_ATTR, registry)
        registry[raw["id"]] = spec
    return spec


def validated_step(ctx: Any, step_id: str) -> Optional[Dict[str, Any]]:
    """The spec of a packages step validated earlier in the same playbook load."""
    return (getattr(ctx, _REGISTRY_ATTR, None) or {}).get(step_id)


def _choose(rules: List[Dict[str, Any]], facts: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
    for rule in rules:
        if rule["when"] is None or rule["when"].evaluate(facts):
            return rule
    return None


class Choice(NamedTuple):
    """What a packages spec says for these facts: `blocked` (no package; reason and ways
    out), `none` (no rule matches and the step has no `no_rule:`), or `install` (manager,
    package names: rendered and checked). `rule` is the chosen rule (None for none/no_rule)."""

    status: str
    rule: Optional[Dict[str, Any]]
    manager: str = ""
    names: Tuple[str, ...] = ()
    reason: str = ""
    ways_out: Tuple[str, ...] = ()


def _ways_out(templates: List[Any], facts: Mapping[str, Any], step: Step) -> Tuple[str, ...]:
    return tuple(render(t, facts, step, "ways_out") for t in templates)


def choose(spec: Mapping[str, Any], facts: Mapping[str, Any], step: Step) -> Choice:
    """The rule this machine gets, resolved: one answer for the rooted install and the
    rootless fetch (fixenv/kinds/rootless.py), so the package knowledge lives in one place."""
    rule = _choose(spec["rules"], facts)
    if rule is None:
        nr = spec.get("no_rule")
        if nr is None:
            return Choice("none", None)
        return Choice("blocked", None, reason=render(nr["reason"], facts, step, "no_rule"),
                      ways_out=_ways_out(nr["ways_out"], facts, step))
    suffix = "" if rule["verified"] else UNVERIFIED
    if rule["blocked"] is not None:
        return Choice("blocked", rule, reason=render(rule["blocked"], facts, step, "blocked")
                      + suffix, ways_out=_ways_out(rule["ways_out"], facts, step))
    manager = render(rule["manager"], facts, step, "manager")
    names = tuple(checked(n, PACKAGE, "package name", step)
                  for n in render_list(rule["packages"], facts, step))
    return Choice("install", rule, manager, names, suffix)


def blocked_step(step: Step, reason: str, ways_out: Tuple[str, ...]) -> PlannedStep:
    """A `blocked` planned step: the reason says the ways out in words too (every output
    shows the reason; `ways_out` is the structured list where the model has it)."""
    text = reason
    if ways_out:
        text += "; ways out: " + "; ".join("`%s`" % w if _looks_like_a_command(w) else w
                                           for w in ways_out)
    out = PlannedStep(step.id, step.kind, step.name, BLOCKED, text)
    if "ways_out" in {f.name for f in dataclasses.fields(PlannedStep)}:
        out = dataclasses.replace(out, ways_out=tuple(ways_out))  # type: ignore[call-arg]
    return out


def _looks_like_a_command(text: str) -> bool:
    return text.split(" ", 1)[0] in ("uv", "pyenv", "conda", "apt-get", "apt", "dnf", "yum",
                                     "zypper", "apk", "pacman", "brew", "sudo",
                                     "add-apt-repository", "xcode-select")


def plan(step: Step, facts: Mapping[str, Any], runner: Runner, pctx: PlanContext) -> PlannedStep:
    def planned(status: str, reason: str, commands: tuple = ()) -> PlannedStep:
        return PlannedStep(step.id, step.kind, step.name, status, reason, commands)

    rule = _choose(step.spec["rules"], facts)
    if rule is not None and rule["unless"] is not None and rule["unless"].evaluate(facts):
        reason = render(rule["ok_reason"], facts, step, "reason") if rule["ok_reason"] else \
            "already satisfied: %s" % rule["unless"].source
        return planned(OK, reason)
    choice = choose(step.spec, facts, step)
    if choice.status == "none":
        py = facts.get("python", {})
        return planned(SKIP, "no rule matches this machine (os %s %s, python %s from %s)" % (
            facts["os"].get("id"), facts["os"].get("version") or "(no release number)",
            py.get("version"), py.get("provider")))
    if choice.status == "blocked":
        return blocked_step(step, choice.reason, choice.ways_out)
    assert choice.rule is not None
    rule = choice.rule
    manager = choice.manager
    backend = get_backend(manager)
    names = list(choice.names)
    prefix = None
    if rule["prefix"] is not None:
        prefix = checked(render(rule["prefix"], facts, step, "prefix"), PATH, "path", step)
    note = (" (" + rule["note"] + ")") if rule["note"] else ""
    note += choice.reason  # " (unverified rule)" for a rule no primary source confirmed
    if rule["reinstall"]:
        again = tuple(backend.install(names, reinstall=True, prefix=prefix, facts=facts))
        return planned(CHANGE, "reinstall %s with %s%s" % (" ".join(names), manager, note), again)
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
        ref = backend.refresh(facts)
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
    cmds = []  # (the List[Command] declared above)
    if backend.needs_refresh(missing, runner, facts):
        ref = backend.refresh(facts)
        if ref is not None:
            cmds.append(ref)
    cmds += backend.install(missing, reinstall=False, prefix=prefix, facts=facts)
    have = [n for n in names if state.get(n)]
    extra = "; %s already installed" % ", ".join(have) if have else ""
    return planned(CHANGE, "install %s with %s%s%s" % (" ".join(missing), manager, extra, note),
                   tuple(cmds))
