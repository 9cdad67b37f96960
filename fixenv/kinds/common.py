"""Helpers shared by step kinds: the plan context and strict argument checks."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Tuple

from fixenv.errors import InputError
from fixenv.playbook.model import Step
from fixenv.playbook.template import Template, TemplateError

# Values that land in argv must look like what they claim to be (no shell, no options).
PACKAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+._@-]*(/[A-Za-z0-9][A-Za-z0-9+._@-]*)?"
                     r"([=<>]{1,2}[A-Za-z0-9.+:~_*-]+)?$")
VERSION = re.compile(r"^[0-9]+(\.[0-9]+){0,2}([a-z]+[0-9]*)?t?$")
PATH = re.compile(r"^/[A-Za-z0-9._+@/~ -]*$")
ARG = re.compile(r"^[^\x00-\x1f;&|`$<>\\]*$")


@dataclass
class PlanContext:
    """What the planner knows besides facts: may it ask the machine (read-only)?"""

    probe: bool = True  # False when planning from a --facts file for another machine
    # (manager, package) -> id of the earlier step that installs it: a package is planned once
    planned: Dict[Tuple[str, str], str] = field(default_factory=dict)
    # (kind, status) of every earlier step, by id: a step that builds on another's result
    # (env on the rootless fetch) reads it here
    earlier: Dict[str, Tuple[str, str]] = field(default_factory=dict)


def render(t: Template, facts: Mapping[str, Any], step: Step, what: str) -> str:
    try:
        return t.render(facts)
    except TemplateError as exc:
        raise InputError("%s: step %r: %s" % (step.where, step.id, exc),
                         hint="guard the step with a `when:` on that fact")


def render_list(ts: List[Template], facts: Mapping[str, Any], step: Step) -> List[str]:
    out: List[str] = []
    for t in ts:
        try:
            out.extend(t.render_list(facts))
        except TemplateError as exc:
            raise InputError("%s: step %r: %s" % (step.where, step.id, exc),
                             hint="guard the step with a `when:` on that fact")
    return out


def checked(value: str, pattern: "re.Pattern[str]", what: str, step: Step) -> str:
    """Refuse a hostile or malformed value before it can reach argv."""
    # fullmatch, not match: "$" also matches before a trailing newline.
    if not value or value.startswith("-") or not pattern.fullmatch(value):
        raise InputError("%s: step %r: refusing %s %r: it does not look like a %s"
                         % (step.where, step.id, what, value, what),
                         hint="values from facts or templates that land in a command must be "
                              "plain names, versions or absolute paths (and a playbook is "
                              "code: run only playbooks you trust)")
    return value
