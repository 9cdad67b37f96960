"""`kind: rootless` — fetch the target's header packages without root (fixenv/rootless.py).

    - id: rootless-headers
      kind: rootless
      when: cpath.rootless

Used when the user is neither root nor allowed `sudo -n` (or `--rootless` was given) and
the target's headers come from apt or dnf/yum. The `env` step then points CPATH at them.
"""
from __future__ import annotations

import os
from typing import Any, Dict, Mapping

from fixenv import cpath, rootless
from fixenv.backends.apt import have_lists
from fixenv.kinds.common import PACKAGE, PATH, PlanContext, checked
from fixenv.model import CHANGE, OK, SKIP, PlannedStep
from fixenv.playbook.model import Step
from fixenv.runner import Runner

KEYS = ()


def validate(raw: Dict[str, Any], ctx: Any, kp: str) -> Dict[str, Any]:
    return {}


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
    if provider == "apt":
        names = [checked(n, PACKAGE, "package name", step) for n in rootless.apt_packages(py)]
        cands = rootless.apt_candidates(names, runner) if pctx.probe and have_lists() else {}
        if all(n in cands for n in names):
            cmds = rootless.apt_commands(names, cands, sysroot, root=root)
            how = "apt-get download %s" % " ".join(
                "%s=%s" % (n, cands[n][0]) for n in names)
        else:
            cmds = rootless.apt_private_lists_commands(names, sysroot, root=root)
            how = "a private copy of the package lists and apt-get download"
        return planned(CHANGE, "no root: fetch %s with %s and unpack them into %s "
                       "(nothing is installed system-wide)" % (" ".join(names), how, sysroot),
                       tuple(cmds))
    if provider in ("dnf", "yum"):
        names = [checked(n, PACKAGE, "package name", step) for n in rootless.rpm_packages(py)]
        return planned(CHANGE, "no root: fetch %s with %s and unpack them into %s" % (
            " ".join(names), provider, sysroot),
            tuple(rootless.rpm_commands(provider, names, sysroot)))
    return planned(SKIP, "rootless fetching is for apt and dnf/yum Pythons; %s Pythons need no "
                   "root" % provider)
