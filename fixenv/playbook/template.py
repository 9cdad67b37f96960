"""`{{ fact.path }}` templates: substitution of fact values, nothing else.

A string may hold any number of `{{ path }}` placeholders. When a list item is exactly one
placeholder whose value is a list, the list is spliced in. A null or missing value is an
error at plan time (the playbook should guard the step with `when:`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, List, Mapping, Tuple

from fixenv.playbook.expr import lookup

PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class TemplateError(ValueError):
    def __init__(self, message: str, col: int = 0):
        super().__init__(message)
        self.col = col


@dataclass(frozen=True)
class Template:
    source: str
    paths: Tuple[str, ...]

    @property
    def whole(self) -> bool:
        m = PLACEHOLDER.fullmatch(self.source.strip())
        return m is not None

    def render(self, facts: Mapping[str, Any]) -> str:
        def sub(m: "re.Match[str]") -> str:
            value = lookup(facts, m.group(1))
            if value is None:
                raise TemplateError("{{ %s }} has no value on this machine" % m.group(1))
            if isinstance(value, bool):
                return "true" if value else "false"
            if isinstance(value, (list, tuple)):
                return " ".join(str(v) for v in value)
            return str(value)
        return PLACEHOLDER.sub(sub, self.source)

    def render_list(self, facts: Mapping[str, Any]) -> List[str]:
        m = PLACEHOLDER.fullmatch(self.source.strip())
        if m:
            value = lookup(facts, m.group(1))
            if isinstance(value, (list, tuple)):
                return [str(v) for v in value]
        return [self.render(facts)]


def parse(source: str, known: Callable[[str], bool]) -> Template:
    if "{{" not in source and "}}" not in source:
        return Template(source, ())
    paths: List[str] = []
    pos = 0
    for m in PLACEHOLDER.finditer(source):
        stray = source[pos:m.start()]
        if "{{" in stray or "}}" in stray:
            raise TemplateError("unbalanced '{{' / '}}'",
                                pos + max(stray.find("{{"), stray.find("}}")))
        path = m.group(1)
        if not PATH.match(path):
            raise TemplateError("{{ %s }}: only fact paths like {{ python.xy }} are allowed "
                                "(no expressions or filters)" % path, m.start())
        if not known(path):
            raise TemplateError("{{ %s }}: unknown fact %r" % (path, path), m.start())
        paths.append(path)
        pos = m.end()
    rest = source[pos:]
    if "{{" in rest or "}}" in rest:
        raise TemplateError("unbalanced '{{' / '}}'", pos + max(rest.find("{{"), rest.find("}}")))
    return Template(source, tuple(paths))
