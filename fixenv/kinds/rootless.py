"""`kind: rootless` — fetch the target's header packages without root (fixenv/rootless.py).

    - id: rootless-headers
      kind: rootless
      when: cpath.rootless
      packages_from: python-headers

Used when the user is neither root nor allowed `sudo -n` (or `--rootless` was given) and
the target's headers come from apt or dnf/yum. The `env` step then points CPATH at them.

The packages are those of the very rule the rooted plan would use (`packages_from:` names
that earlier `packages` step, by default `python-headers`; its rules are shared, not
copied): `python3.13-devel` for a
non-default Fedora/RHEL Python, `python3.13-freethreading` for Fedora's 3.13t, ... A rule
that says `blocked:` blocks this step too. apt downloads no dependencies, so for apt the
`lib` packages the named ones depend on for their headers are added (fixenv/rootless.py).
"""
from __future__ import annotations

import os
from typing import Any, Dict, Mapping

from fixenv import cpath, rootless
from fixenv.backends.apt import have_lists
from fixenv.kinds import packages as _packages
from fixenv.kinds.common import PACKAGE, PATH, PlanContext, checked
from fixenv.model import CHANGE, OK, SKIP, PlannedStep
from fixenv.playbook.model import Step
from fixenv.runner import Runner

KEYS = ("packages_from",)
ROOTLESS_MANAGERS = ("apt", "dnf", "yum")


DEFAULT_FROM = "python-headers"


def validate(raw: Dict[str, Any], ctx: Any, kp: str) -> Dict[str, Any]:
    if "packages_from" not in raw:
        spec = _packages.validated_step(ctx, DEFAULT_FROM)
        if spec is None:
            raise ctx.error(kp, "a rootless step needs `packages_from:` (the id of the "
                            "packages step whose rules give the header packages)")
        return {"packages_from": DEFAULT_FROM, "headers": spec}
    ref = ctx.string(raw, "packages_from", kp)
    spec = _packages.validated_step(ctx, ref or "")
    if spec is None:
        raise ctx.error(kp + ".packages_from", "%r is not an earlier `kind: packages` step"
                        % ref, hint="name the header step that comes before this one")
    return {"packages_from": ref, "headers": spec}


def plan(step: Step, facts: Mapping[str, Any], runner: Runner, pctx: PlanContext) -> PlannedStep:
    def planned(status: str, reason: str, commands: tuple = ()) -> PlannedStep:
        return PlannedStep(step.id, step.kind, step.name, status, reason, commands)

    group = facts.get("cpath") or cpath.compute(facts)
    py = facts["python"]
    sysroot = checked(group["sysroot"], PATH, "path", step)
    pydir = cpath.pydir_name(py)
    where = os.path.join(sysroot, "usr", "include", pydir)
    if pctx.probe and rootless.headers_present(sysroot, pydir):
        return planned(OK, "Python.h for %s is unpacked in %s" % (py["xy"], where))
    provider = py.get("provider")
    root = bool(facts["privilege"].get("root"))
    choice = _packages.choose(step.spec["headers"], facts, step)
    if choice.status == "blocked":
        return _packages.blocked_step(step, choice.reason, choice.ways_out)
    manager = choice.manager if choice.status == "install" else ""
    if manager not in ROOTLESS_MANAGERS:
        return planned(SKIP, "rootless fetching is for apt and dnf/yum Pythons; %s Pythons "
                       "need no root" % (manager or provider))
    if manager == "apt":
        names = [checked(n, PACKAGE, "package name", step)
                 for n in rootless.apt_closure(choice.names)]
        cands = rootless.apt_candidates(names, runner) if pctx.probe and have_lists() else {}
        if all(n in cands for n in names):
            cmds = rootless.apt_commands(names, cands, sysroot, root=root)
            how = "apt-get download %s" % " ".join(
                "%s=%s" % (n, cands[n][0]) for n in names)
        else:
            cmds = rootless.apt_private_lists_commands(names, sysroot, root=root)
            how = "a private copy of the package lists and apt-get download"
        return planned(CHANGE, "no root: fetch %s with %s and unpack them into %s "
                       "(nothing is installed system-wide)%s" % (" ".join(names), how, sysroot,
                                                                 choice.reason),
                       tuple(cmds))
    names = list(choice.names)
    return planned(CHANGE, "no root: fetch %s with %s and unpack them into %s%s" % (
        " ".join(names), manager, sysroot, choice.reason),
        tuple(rootless.rpm_commands(manager, names, sysroot)))
