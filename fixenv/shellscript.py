"""`fixenv plan --format shell`: the plan as a plain POSIX sh script that does what
`fixenv apply --yes` would do, for a Dockerfile `RUN` or a CI step where fixenv itself is
not wanted.

What the script does, in the order apply does it:

* `set -eu`: stop at the first failing command, like apply stops at the first failed step;
* every command shell-quoted word by word (shlex.quote: single quotes, so `$`, backticks,
  quotes, spaces and newlines in paths stay literal), with its environment (e.g.
  DEBIAN_FRONTEND) through `env NAME=value`, and through `sudo` when the commands need root
  and the script is not run as root (decided when the script runs, not when it was made);
* file edits as apply makes them: the old file copied to `<path>.fixenv-backup`, the new
  content written from a quoted heredoc (no expansion) to a temp file in the same directory,
  then `mv` over the target (atomic);
* an environment value a step sets (CPATH) exported for the rest of the script;
* the verification last: `fixenv verify --python P` when fixenv is on PATH, else the same
  proof by hand (compile the probe extension as C with the target's include dir, import it
  with the target, compile it as C++).
"""
from __future__ import annotations

import datetime
import shlex
from typing import Any, Iterable, List, Mapping, Optional, Sequence, Tuple

from fixenv import __version__
from fixenv.files import BACKUP_SUFFIX
from fixenv.model import CHANGE, Command, FileEdit, Plan, PlannedStep

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


def command_line(cmd: Command) -> str:
    """One command as apply runs it: `[as_root] [env K=V...] argv...`."""
    words: List[str] = []
    if cmd.env:
        words.append("env")
        words += ["%s=%s" % kv for kv in cmd.env]
    words += list(cmd.argv)
    line = _words(words)
    return ("as_root " + line) if cmd.root else line


def _delimiter(content: str) -> str:
    lines = set(content.splitlines())
    n = 0
    while True:
        d = "FIXENV_EOF" if n == 0 else "FIXENV_EOF_%d" % n
        if d not in lines:
            return d
        n += 1


def cksum(data: bytes) -> str:
    """POSIX `cksum` of `data`: "<crc> <length>" as `cksum < file` prints it."""
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else (crc << 1)
            crc &= 0xFFFFFFFF
    n = len(data)
    while n:
        crc ^= (n & 0xFF) << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else (crc << 1)
            crc &= 0xFFFFFFFF
        n >>= 8
    return "%d %d" % ((~crc) & 0xFFFFFFFF, len(data))


def _read(path: str) -> Optional[str]:
    try:
        with open(path) as fh:
            return fh.read()
    except (FileNotFoundError, NotADirectoryError):
        return None


def _outcome(f: FileEdit, current: Optional[str]) -> Tuple[Optional[str], bool]:
    """(the file's content after apply — None: deleted or untouched, backup?) for one edit,
    computed the way fixenv.profile.apply_edit carries it out."""
    if f.action in ("write", ""):
        return f.content, current is not None
    from fixenv import profile

    if f.action == profile.BLOCK:
        new = profile.insert_block(current or "", f.content)
        pristine = current is not None and profile.find_block(current) is None
        return (None if new == current else new), pristine
    if f.action == profile.UNBLOCK:
        if current is None:
            return None, False
        new, found = profile.remove_block(current)
        return (new if found else None), False
    if f.action == profile.REMOVE:
        return None, False
    raise ValueError("unknown file action %r for %s" % (f.action, f.path))


def _write_content(content: str, run: str) -> List[str]:
    if content.endswith("\n"):
        delim = _delimiter(content)
        return (["%stee \"$tmp\" >/dev/null <<'%s'" % (run, delim)]
                + content[:-1].split("\n") + [delim])
    if not content:
        return [": | %stee \"$tmp\" >/dev/null" % run]
    # no trailing newline: a heredoc would add one, printf writes the bytes as they are
    return ["printf '%%s' %s | %stee \"$tmp\" >/dev/null" % (q(content), run)]


def file_lines(f: FileEdit, current: Optional[str] = None, *, read_current: bool = True
               ) -> List[str]:
    """Carry out one FileEdit like apply: the file as it will be, written from a quoted heredoc
    to a temp file in the same directory (keeping the old file's mode, 0644 for a new one),
    then `mv` over it; `<path>.fixenv-backup` first when apply makes one.

    Edits of a user's file (insert/remove fixenv's marked block) are computed now, from the
    file as it is; the script refuses to run if the file changed since (POSIX cksum)."""
    if read_current and current is None:
        current = _read(f.path)
    path = q(f.path)
    run = "as_root " if f.root else ""
    lines: List[str] = []
    if f.action not in ("write", ""):
        if current is None:
            lines.append("if [ -e %s ]; then" % path)
        else:
            lines.append("if [ \"$(cksum < %s)\" != %s ]; then" % (
                path, q(cksum(current.encode("utf-8")))))
        lines += ["  echo %s >&2" % q("fixenv script: %s changed since this script was made; "
                                        "make it again" % f.path), "  exit 1", "fi"]
    if f.action == "remove":
        return lines + ["%srm -f %s" % (run, path)]
    content, backup = _outcome(f, current)
    if content is None:
        return lines + ["# %s: nothing to change" % f.path.replace("\n", "?")]
    directory = f.path.rsplit("/", 1)[0] or "/"
    lines += [
        "%smkdir -p %s" % (run, q(directory)),
        "tmp=$(%smktemp %s)" % (run, q(directory.rstrip("/") + "/.fixenv-XXXXXXXX")),
        "if [ -e %s ]; then" % path,
    ]
    if backup:
        lines.append("  %scp -p %s %s" % (run, path, q(f.path + BACKUP_SUFFIX)))
    lines += [
        "  %scp -p %s \"$tmp\"  # the new file keeps the old one's mode" % (run, path),
        "else",
        "  %schmod 644 \"$tmp\"" % run,
        "fi",
    ]
    lines += _write_content(content, run)
    lines.append("%smv -f \"$tmp\" %s" % (run, path))
    return lines


def _step_lines(s: PlannedStep) -> List[str]:
    lines = ["", "# ---- step %s: %s" % (s.id, "change")]
    lines += _comment(s.reason)
    lines.append("say %s" % q("==> %s: %s" % (s.id, s.reason.splitlines()[0] if s.reason
                                                   else "")))
    for cmd in s.commands:
        lines.append(command_line(cmd))
    for f in s.files:
        lines += file_lines(f)
    data = dict(s.data)
    if "value" in data and "name" in data:
        # apply sets it in its own environment for the steps after this one (and verify)
        lines.append("%s=%s" % (data["name"], q(str(data["value"]))))
        lines.append("export %s" % data["name"])
    return lines


def _probe_source() -> str:
    from fixenv.verify import SOURCE

    with open(SOURCE) as fh:
        return fh.read()


def verify_lines(facts: Mapping[str, Any]) -> List[str]:
    """The final proof: `fixenv verify` when available, else the same checks by hand."""
    py = facts["python"]
    exe = str(py["executable"])
    include = str(py["include"])
    suffix = str(py.get("ext_suffix") or ".so")
    defines = ["-DFIXENV_MAJOR=%d" % int(py["major"]), "-DFIXENV_MINOR=%d" % int(py["minor"]),
               "-DFIXENV_GIL_DISABLED=%d" % (1 if py.get("gil_disabled") else 0)]
    source = _probe_source()
    delim = _delimiter(source)
    flags = ["-shared", "-fPIC", "-O0"]
    if py.get("platform") == "darwin":
        flags += ["-undefined", "dynamic_lookup"]
    check_import = ("import sys; sys.path.insert(0, sys.argv[1]); import fixenv_probe; "
                    "sys.stdout.write('%d.%d' % fixenv_probe.answer())")
    return [
        "",
        "# ---- verify: build and import a C extension with the target, compile it as C++",
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
        "  $cc %s %s \"$work/probe_ext.c\" -o \"$work/fixenv_probe\"%s" % (
            _words(flags + ["-I" + include]), _words(defines), q(suffix)),
        "  got=$(%s -c %s \"$work\")" % (q(exe), q(check_import)),
        "  if [ \"$got\" != %s ]; then" % q(str(py["xy"])),
        "    echo \"verify: the extension reports Python $got, expected %s\" >&2" % py["xy"],
        "    exit 1",
        "  fi",
        "  $cxx -x c++ -fPIC -O0 -c %s %s \"$work/probe_ext.c\" -o \"$work/probe_cxx.o\"" % (
            _words(["-I" + include]), _words(defines)),
        "  say %s" % q("verification passed: %s imported an extension built with its "
                       "headers, and they compile as C++" % exe),
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
    lines += [
        "set -eu",
        "",
        "say() { printf '%s\\n' \"$*\" >&2; }",
        "as_root() {",
        "  if [ \"$(id -u)\" -eq 0 ]; then \"$@\"; else sudo \"$@\"; fi",
        "}",
        "",
        "if [ ! -x %s ]; then" % q(exe),
        "  echo %s >&2" % q("fixenv script: the target %s is not here; this script was made "
                            "for another machine" % exe),
        "  exit 1",
        "fi",
    ]
    pending = [s for s in plan.steps if s.status == CHANGE]
    for s in plan.steps:
        if s.status == CHANGE:
            lines += _step_lines(s)
        elif s.kind != "verify":
            lines.append("")
            lines += _comment("step %s: %s %s nothing to do" % (s.id, s.status, "-"))
            lines += _comment(s.reason)
    if not pending:
        lines += ["", "# nothing to change: only the verification below"]
    lines += verify_lines(facts)
    return "\n".join(lines) + "\n"
