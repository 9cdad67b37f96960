"""Load a playbook: YAML → validated Playbook, or one InputError naming file:line:col.

PyYAML's composed nodes keep marks; we walk them ourselves so every value has a place,
duplicate keys are refused (PyYAML would silently keep the last), and errors say where.
"""
from __future__ import annotations

import os
import re
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

import yaml

from fixenv.errors import InputError
from fixenv.facts.known import is_known
from fixenv.playbook import expr as _expr
from fixenv.playbook import template as _template
from fixenv.playbook.model import Playbook, Step, Where

try:  # the C loader is several times faster; fall back when libyaml is absent
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

STEP_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
TOP_KEYS = ("name", "description", "steps")
COMMON_STEP_KEYS = ("id", "kind", "name", "when", "unless", "ok_reason")


class Ctx:
    """Validation context: marks by key path, and helpers that raise located errors."""

    def __init__(self, file: str):
        self.file = file
        self.marks: Dict[str, Tuple[int, int, Optional[str]]] = {}
        self.key_marks: Dict[str, Tuple[int, int, Optional[str]]] = {}
        self.active: Set[int] = set()  # nodes being walked (to refuse recursive aliases)
        self.seen = 0  # values walked so far (to refuse alias bombs)

    def where(self, keypath: str, extra_col: int = 0) -> Where:
        line, col, style = self.marks.get(keypath, (1, 1, None))
        if extra_col:
            col += extra_col + (1 if style in ("'", '"') else 0)
        return Where(self.file, line, col, keypath)

    def error(self, keypath: str, message: str, hint: Optional[str] = None,
              extra_col: int = 0) -> InputError:
        return InputError("%s: %s" % (self.where(keypath, extra_col), message), hint=hint)

    # ---- typed getters -------------------------------------------------------------
    def check_keys(self, node: Dict[str, Any], allowed: Sequence[str], keypath: str) -> None:
        for key in node:
            if key not in allowed:
                import difflib  # only for a mistake's "did you mean"

                close = difflib.get_close_matches(key, allowed, n=1)
                hint = "did you mean %r?" % close[0] if close else \
                    "allowed keys: %s" % ", ".join(allowed)
                kp = "%s.%s" % (keypath, key) if keypath else key
                line, col, _ = self.key_marks.get(kp, self.marks.get(kp, (1, 1, None)))
                raise InputError("%s: unknown key %r (%s)" % (Where(self.file, line, col, kp),
                                                             key, hint))

    def want(self, value: Any, types: Any, keypath: str, what: str) -> Any:
        allowed = types if isinstance(types, tuple) else (types,)
        if isinstance(value, bool) and bool not in allowed:
            raise self.error(keypath, "expected %s, got %r" % (what, value))
        if not isinstance(value, types):
            raise self.error(keypath, "expected %s, got %s" % (what, _describe(value)))
        return value

    def string(self, node: Dict[str, Any], key: str, keypath: str, required: bool = False,
               default: Optional[str] = None) -> Optional[str]:
        kp = "%s.%s" % (keypath, key) if keypath else key
        if key not in node:
            if required:
                raise self.error(keypath, "missing required key %r" % key)
            return default
        return self.want(node[key], str, kp, "a string")

    def boolean(self, node: Dict[str, Any], key: str, keypath: str, default: bool = False) -> bool:
        if key not in node:
            return default
        return self.want(node[key], bool, "%s.%s" % (keypath, key) if keypath else key,
                         "true or false")

    def expr(self, node: Dict[str, Any], key: str, keypath: str) -> Optional[_expr.Expr]:
        if key not in node:
            return None
        kp = "%s.%s" % (keypath, key) if keypath else key
        value = node[key]
        if isinstance(value, bool):
            value = "true" if value else "false"
        self.want(value, str, kp, "a condition string")
        try:
            return _expr.parse(value, is_known)
        except _expr.ExprError as exc:
            lead = len(value) - len(value.lstrip())
            raise self.error(kp, "%s in %r" % (exc, value), extra_col=lead + exc.col,
                             hint="conditions compare facts (see `fixenv detect --json`)")

    def template(self, value: Any, keypath: str) -> _template.Template:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        self.want(value, str, keypath, "a string")
        try:
            return _template.parse(value, is_known)
        except _template.TemplateError as exc:
            raise self.error(keypath, str(exc), extra_col=exc.col,
                             hint="templates name facts shown by `fixenv detect --json`")

    def template_list(self, node: Dict[str, Any], key: str, keypath: str,
                      required: bool = False) -> List[_template.Template]:
        kp = "%s.%s" % (keypath, key) if keypath else key
        if key not in node:
            if required:
                raise self.error(keypath, "missing required key %r" % key)
            return []
        value = node[key]
        if isinstance(value, str):
            value = [value]
            self.marks.setdefault("%s[0]" % kp, self.marks.get(kp, (1, 1, None)))
        self.want(value, list, kp, "a list of strings")
        return [self.template(v, "%s[%d]" % (kp, i)) for i, v in enumerate(value)]


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "%s %r" % (type(value).__name__, value)


# An alias (*a) makes PyYAML reuse a node: a recursive one would walk forever, and nested
# ones ("billion laughs") expand exponentially. Both are refused at the alias's place.
MAX_VALUES = 20000
_PLAIN_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


def _walk(node: yaml.Node, keypath: str, ctx: Ctx) -> Any:
    def refuse(why: str) -> InputError:
        return InputError("%s:%d:%d: %s: %s" % (ctx.file, node.start_mark.line + 1,
                                                node.start_mark.column + 1, keypath or "(top)",
                                                why))
    if id(node) in ctx.active:
        raise refuse("a recursive alias (an anchor used inside itself)")
    ctx.seen += 1
    if ctx.seen > MAX_VALUES:
        raise refuse("more than %d values after expanding aliases (an alias bomb?)" % MAX_VALUES)
    if not isinstance(node, yaml.ScalarNode) and node.tag not in _PLAIN_TAGS:
        raise refuse("YAML tag %s is not allowed (a playbook is plain data)" % node.tag)
    ctx.active.add(id(node))
    try:
        return _walk_node(node, keypath, ctx)
    finally:
        ctx.active.discard(id(node))


def _walk_node(node: yaml.Node, keypath: str, ctx: Ctx) -> Any:
    ctx.marks[keypath] = (node.start_mark.line + 1, node.start_mark.column + 1,
                          getattr(node, "style", None))
    if isinstance(node, yaml.MappingNode):
        out: Dict[str, Any] = {}
        for knode, vnode in node.value:
            if not isinstance(knode, yaml.ScalarNode):
                raise InputError("%s:%d:%d: a mapping key must be a plain string" % (
                    ctx.file, knode.start_mark.line + 1, knode.start_mark.column + 1))
            key = knode.value
            kp = "%s.%s" % (keypath, key) if keypath else key
            if key in out:
                raise InputError("%s:%d:%d: %s: duplicate key %r" % (
                    ctx.file, knode.start_mark.line + 1, knode.start_mark.column + 1, kp, key))
            ctx.key_marks[kp] = (knode.start_mark.line + 1, knode.start_mark.column + 1, None)
            out[key] = _walk(vnode, kp, ctx)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_walk(v, "%s[%d]" % (keypath, i), ctx) for i, v in enumerate(node.value)]
    # A scalar: let the safe constructor resolve its type (int, bool, null, str).
    assert isinstance(node, yaml.ScalarNode)
    return _scalar(node)


_SAFE = yaml.SafeLoader("")


def _scalar(node: yaml.ScalarNode) -> Any:
    return _SAFE.construct_object(node, deep=True)


def parse_text(text: str, file: str) -> Tuple[Any, Ctx]:
    ctx = Ctx(file)
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        raise InputError("%s:%d:%d: YAML syntax error: %s" % (file, line, col, problem))
    except yaml.YAMLError as exc:
        raise InputError("%s: YAML error: %s" % (file, str(exc).splitlines()[0]))
    if root is None:
        raise InputError("%s:1:1: the playbook is empty" % file,
                         hint="a playbook needs `name:` and a list of `steps:`")
    try:
        data = _walk(root, "", ctx)
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        raise InputError("%s:%d:%d: %s" % (file, mark.line + 1 if mark else 1,
                                           mark.column + 1 if mark else 1, exc.problem))
    return data, ctx


MAX_BYTES = 4 << 20  # playbooks and facts files are a few KiB


def read_file(path: str) -> str:
    if not os.path.exists(path):
        raise InputError("playbook %s: no such file" % path,
                         hint="`fixenv playbooks` lists the bundled ones")
    if os.path.isdir(path):
        raise InputError("playbook %s: is a directory, not a YAML file" % path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)  # bounded: --playbook /dev/zero must not hang
    except OSError as exc:
        raise InputError("playbook %s: %s" % (path, exc.strerror or exc))
    if len(raw) > MAX_BYTES:
        raise InputError("playbook %s: larger than %d MiB; not a playbook"
                         % (path, MAX_BYTES >> 20))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputError("%s:%d:%d: not UTF-8 text (byte 0x%02x)" % (path, line, col,
                                                                     raw[exc.start]))


def load_path(path: str) -> Playbook:
    return load_text(read_file(path), path)


def load_text(text: str, file: str) -> Playbook:
    from fixenv.kinds import KINDS  # the step-kind registry

    data, ctx = parse_text(text, file)
    if not isinstance(data, dict):
        raise ctx.error("", "a playbook is a mapping with `name:` and `steps:`, got %s"
                        % _describe(data))
    ctx.check_keys(data, TOP_KEYS, "")
    name = ctx.string(data, "name", "", required=True)
    if not name:
        raise ctx.error("name", "the name is empty")
    description = ctx.string(data, "description", "", default="") or ""
    if "steps" not in data:
        raise ctx.error("", "missing required key 'steps'")
    raw_steps = ctx.want(data["steps"], list, "steps", "a list of steps")
    if not raw_steps:
        raise ctx.error("steps", "the playbook has no steps")
    steps: List[Step] = []
    seen: Dict[str, str] = {}
    for i, raw in enumerate(raw_steps):
        kp = "steps[%d]" % i
        ctx.want(raw, dict, kp, "a step (a mapping with id and kind)")
        step_id = ctx.string(raw, "id", kp, required=True)
        assert step_id is not None
        if not STEP_ID.match(step_id):
            raise ctx.error(kp + ".id", "step id %r must be lower-case letters, digits, - or _"
                            % step_id)
        if step_id in seen:
            raise ctx.error(kp + ".id", "duplicate step id %r (first at %s)" % (step_id,
                                                                               seen[step_id]))
        seen[step_id] = str(ctx.where(kp + ".id")).split(": ")[0]
        kind_name = ctx.string(raw, "kind", kp, required=True)
        kind = KINDS.get(kind_name or "")
        if kind is None:
            import difflib

            close = difflib.get_close_matches(kind_name or "", list(KINDS), n=1)
            hint = " (did you mean %r?)" % close[0] if close else ""
            raise ctx.error(kp + ".kind", "unknown step kind %r%s; kinds: %s"
                            % (kind_name, hint, ", ".join(sorted(KINDS))))
        ctx.check_keys(raw, COMMON_STEP_KEYS + tuple(kind.KEYS), kp)
        spec = kind.validate(raw, ctx, kp)
        steps.append(Step(
            id=step_id, kind=kind_name or "", name=ctx.string(raw, "name", kp) or step_id,
            when=ctx.expr(raw, "when", kp), unless=ctx.expr(raw, "unless", kp),
            ok_reason=ctx.template(raw["ok_reason"], kp + ".ok_reason")
            if "ok_reason" in raw else None,
            spec=spec, where=ctx.where(kp)))
    return Playbook(name=name, description=description, path=file, steps=tuple(steps))
