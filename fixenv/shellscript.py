"""`fixenv plan --format shell`: the plan's actions as a plain POSIX sh script, for a
Dockerfile `RUN` or a CI step where fixenv itself is not wanted.

A renderer, like the text plan and `--json`: it renders the very actions apply executes
(fixenv/executor.py), and decides nothing of its own.

* Exec: the exact argv, shell-quoted word by word (shlex.quote: `$`, backticks, quotes,
  spaces and newlines stay literal) — `sudo -n env K=V ...` included when the plan has it;
  `set -eu` stops at the first failure, as apply stops at the first failed step;
* FileEdit: the whole new file from a quoted heredoc (or printf for content without a final
  newline) into a temp file in the same directory, the old file's mode kept, the backup when
  the action asks for one, then `mv` over the target; a guarded edit is written only while
  the file still holds what the plan was made from (`cmp`), as apply checks;
* SetEnv: exported for the rest of the script;
* Verify: `fixenv verify --python P` when fixenv is on PATH, else the same builds by hand.

The script refuses to run as another user than the one the plan was made for, and on a
machine without the target interpreter.
"""
from __future__ import annotations

import datetime
import shlex
from typing import Any, Iterable, List, Mapping, Optional, Sequence

from fixenv import __version__
from fixenv.files import BACKUP_SUFFIX
from fixenv.engine import resolved
from fixenv.model import BLOCKED, CHANGE, Exec, FileEdit, Plan, PlannedStep, SetEnv, Verify

q = shlex.quote


def _comment(text: str) -> List[str]:
    """Text as comment lines: every line starts with '#', control characters removed."""
    out = []
    for ln in str(text).splitlines() or [""]:
        clean = "".join(ch if ch >= " " or ch == "\t" else "?" for ch in ln)
        out.append(("# " + clean).rstrip())
    return out


def _words(words: Iterable[str]) -> str:
    return " ".join(q(w) for w in words)


def exec_line(a: Exec) -> str:
    """One Exec action: its exact argv, quoted."""
    return _words(a.argv)


def _delimiter(content: str) -> str:
    lines = set(content.splitlines())
    n = 0
    while True:
        d = "FIXENV_EOF" if n == 0 else "FIXENV_EOF_%d" % n
        if d not in lines:
            return d
        n += 1


def _refuse(message: str) -> List[str]:
    return ["  echo %s >&2" % q("fixenv script: " + message), "  exit 1", "fi"]


def _printf(content: str, dest: str) -> List[str]:
    """Lines that write `content` byte for byte to `dest` (a quoted shell word)."""
    if content.endswith("\n"):
        delim = _delimiter(content)
        return (["cat > %s <<'%s'" % (dest, delim)] + content[:-1].split("\n") + [delim])
    return ["printf '%%s' %s > %s" % (q(content), dest)]


def file_lines(f: FileEdit) -> List[str]:
    """One FileEdit action, carried out as apply carries it out (fixenv/profile.apply_edit)."""
    path = q(f.path)
    lines: List[str] = []
    if f.action == "remove":
        return ["rm -f %s" % path]
    content = f.content
    if f.action != "write":  # an unsettled block edit: the plan was made from a facts file
        lines.append("if [ -e %s ]; then" % path)
        lines += _refuse("%s exists: this plan was made from a facts file and cannot edit it; "
                         "run `fixenv apply` on that machine" % f.path)
    elif f.guarded:
        if f.before is None:
            lines.append("if [ -e %s ]; then" % path)
        else:
            lines.append("if ! printf '%%s' %s | cmp -s - %s; then" % (q(f.before), path))
        lines += _refuse("%s changed since this script was made; make it again" % f.path)
        if f.before == content:
            return lines + ["# %s: already as planned" % f.path.replace("\n", "?")]
    directory = f.path.rsplit("/", 1)[0] or "/"
    lines += [
        "mkdir -p %s" % q(directory),
        "tmp=$(mktemp %s)" % q(directory.rstrip("/") + "/.fixenv-XXXXXXXX"),
        "if [ -e %s ]; then" % path,
    ]
    if f.backup:
        lines.append("  cp -p %s %s" % (path, q(f.path + BACKUP_SUFFIX)))
    lines += [
        "  cp -p %s \"$tmp\"  # the new file keeps the old one's mode" % path,
        "else",
        "  chmod 644 \"$tmp\"",
        "fi",
    ]
    lines += _printf(content, "\"$tmp\"")
    lines.append("mv -f \"$tmp\" %s" % path)
    return lines


def action_lines(a: Any, facts: Mapping[str, Any]) -> List[str]:
    if isinstance(a, Exec):
        return [exec_line(a)]
    if isinstance(a, FileEdit):
        return file_lines(a)
    if isinstance(a, SetEnv):
        if a.value is None:
            return ["unset %s" % a.name]
        return ["%s=%s" % (a.name, q(a.value)), "export %s" % a.name]
    if isinstance(a, Verify):
        return verify_lines(facts, a)
    raise TypeError("unknown action %r" % (a,))


def _step_lines(s: PlannedStep, facts: Mapping[str, Any]) -> List[str]:
    lines = ["", "# ---- step %s: %s" % (s.id, s.status)]
    lines += _comment(s.reason)
    if s.status == CHANGE:
        lines.append("say %s" % q("==> %s: %s" % (s.id, s.reason.splitlines()[0] if s.reason
                                                       else "")))
        for a in s.actions:
            lines += action_lines(a, facts)
        return lines
    if s.status == BLOCKED:
        lines.append("say %s" % q("==> %s: blocked: %s" % (s.id, s.reason.splitlines()[0]
                                                            if s.reason else "")))
    for a in s.actions:  # checks (Verify) run whatever the step's status
        if isinstance(a, Verify):
            lines += action_lines(a, facts)
    return lines


def _probe_source() -> str:
    from fixenv.verify import SOURCE

    with open(SOURCE) as fh:
        return fh.read()


# Words of the verification that the script knows only when it runs: the compilers (the
# plan may install them) and its temp dir. verify.probe_commands builds the argv with these
# markers; the script renders each as its shell variable, every other word quoted.
_RUNTIME = {"@CC@": "$cc", "@CXX@": "$cxx", "@WORK@": "$work"}


def _runtime_word(word: str) -> str:
    out = ""
    rest = word
    while rest:
        hits = [(rest.find(m), m) for m in _RUNTIME if m in rest]
        if not hits:
            out += q(rest)
            break
        i, m = min(hits)
        if i:
            out += q(rest[:i])
        out += '"%s"' % _RUNTIME[m]
        rest = rest[i + len(m):]
    return out


def verify_lines(facts: Mapping[str, Any], action: Verify) -> List[str]:
    """A Verify action: `fixenv verify` when available, else the same processes by hand —
    the argv verify.probe_commands gives verify itself."""
    from fixenv.verify import probe_commands

    py = facts["python"]
    exe = str(py["executable"])
    source = _probe_source()
    delim = _delimiter(source)
    argv = probe_commands(py, "@CC@", "@CXX@" if action.cxx else None, "@WORK@/probe_ext.c",
                          "@WORK@")

    def line(name: str) -> str:
        return " ".join(_runtime_word(w) for w in argv[name])

    cxx_lines = ["  " + line("build-cxx")] if action.cxx else []
    return [
        "say %s" % q("==> verify: build and import a C extension with %s" % exe),
        "if command -v fixenv >/dev/null 2>&1; then",
        "  fixenv verify --python %s" % q(exe),
        "else",
        "  work=$(mktemp -d)",
        "  trap 'rm -rf \"$work\"' EXIT",
        "  cat > \"$work/probe_ext.c\" <<'%s'" % delim,
    ] + source.rstrip("\n").split("\n") + [
        delim,
        "  cc=${CC:-cc}",
        "  cxx=${CXX:-c++}",
        "  " + line("build-c"),
        "  got=$(%s)" % line("import"),
        "  if [ \"$got\" != %s ]; then" % q(str(py["xy"])),
        "    echo \"verify: the extension reports Python $got, expected %s\" >&2" % py["xy"],
        "    exit 1",
        "  fi",
    ] + cxx_lines + [
        "  say %s" % q("verification passed: %s imported an extension built with its headers%s"
                       % (exe, ", and they compile as C++" if action.cxx else "")),
        "fi",
    ]


def render(plan: Plan, facts: Mapping[str, Any], *,
           now: Optional[datetime.datetime] = None, argv: Optional[Sequence[str]] = None) -> str:
    """The whole script (text, ends with a newline)."""
    py = facts["python"]
    exe = str(py["executable"])
    when = (now or datetime.datetime.now(datetime.timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")
    lines = ["#!/bin/sh"]
    lines += _comment("Generated by fixenv %s on %s: `fixenv plan --format shell%s`."
                      % (__version__, when, (" " + _words(argv)) if argv else ""))
    lines += _comment("Target: %s (%s %s), playbook %s. Does what `fixenv apply --yes` would "
                      "do on this machine, then verifies." % (exe, py.get("implementation"),
                                                              py.get("version"), plan.playbook))
    if plan.facts_source == "file":
        lines += _comment("Planned from a facts file: installed state was not probed.")
    uid = facts.get("user", {}).get("uid")
    as_user = ("root" if facts["privilege"].get("root")
               else str(facts.get("user", {}).get("name") or "the planned user"))
    lines += [
        "set -eu",
        "",
        "say() { printf '%s\\n' \"$*\" >&2; }",
        "",
    ]
    if facts["privilege"].get("root"):
        lines += ["if [ \"$(id -u)\" -ne 0 ]; then"]
        lines += _refuse("this plan was made for root; run it as root")
    elif isinstance(uid, int) and uid >= 0:
        lines += ["if [ \"$(id -u)\" -ne %d ]; then" % uid]
        lines += _refuse("this plan was made for %s (uid %d)" % (as_user, uid))
    lines += [
        "if [ ! -x %s ]; then" % q(exe),
    ]
    lines += _refuse("the target %s is not here; this script was made for another machine"
                     % exe)
    steps = resolved(plan, facts).steps
    if not any(s.status == CHANGE for s in steps):
        lines += ["", "# nothing to change"]
    for s in steps:
        lines += _step_lines(s, facts)
    return "\n".join(lines) + "\n"
