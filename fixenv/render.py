"""Text renderings of facts, plans, recaps and verification (JSON is `to_json()`)."""
from __future__ import annotations

import os
import re as _re
from typing import Any, Mapping, Optional


MARK = {"change": "~", "ok": "✓", "skip": "-"}
FILE_ACTIONS = {"write": "write", "block": "add/replace the fixenv block in",
                "remove": "delete", "unblock": "remove the fixenv block from"}


def facts_text(facts: Mapping[str, Any]) -> str:
    o, py, c = facts["os"], facts["python"], facts["compilers"]
    lines = [
        "os         %s %s (%s) %s, family %s" % (o["id"], o["version"] or "(no release number)",
                                                  o.get("codename") or "-",
                                                  o["arch"], o.get("family")),
        "managers   %s" % (", ".join(facts["managers"]) or "none"),
        "privilege  root=%s sudo=%s" % (facts["privilege"]["root"], facts["privilege"]["sudo"]),
        "python     %s (%s %s%s)" % (py["executable"], py["implementation"], py["version"],
                                      py.get("abiflags") or ""),
        "  real     %s" % py.get("base_executable", py["executable"]),
        "  venv     %s" % ("yes, base prefix %s" % py["base_prefix"] if py["in_venv"] else "no"),
        "  provider %s%s" % (py["provider"], " (%s)" % py["provider_detail"]
                             if py.get("provider_detail") else ""),
        "  include  %s (%s)" % (py["include"], "Python.h present" if py["has_headers"]
                                else "Python.h MISSING"),
        "compilers  cc=%s cxx=%s" % (c["cc"] or "none", c["cxx"] or "none"),
        "CPATH      %s" % (facts["env"].get("CPATH") or "(unset)"),
    ]
    if o.get("version_note"):
        lines.insert(1, "  release  %s" % o["version_note"])
    return "\n".join(lines)


# --------------------------------------------------------------------------- skip reasons

_SKIP = _re.compile(r"^not needed here: `(.+)` is false$", _re.S)
_OS = {"macos": "macOS", "debian": "Debian or Ubuntu", "fedora": "Fedora", "rhel": "RHEL",
       "suse": "openSUSE/SLES", "alpine": "Alpine", "arch": "Arch"}
_ATOMS = [
    (r"python\.provider == '([\w-]+)'", lambda m: "the target Python comes from %s" % m[1]),
    (r"python\.provider in \[([^\]]+)\]",
     lambda m: "the target Python comes from %s" % " or ".join(
         x.strip(" '\"") for x in m[1].split(","))),
    (r"not python\.has_headers", lambda m: "its Python.h is missing"),
    (r"python\.has_headers", lambda m: "its Python.h is there"),
    (r"not compilers\.cc", lambda m: "there is no C compiler"),
    (r"not compilers\.cxx", lambda m: "there is no C++ compiler"),
    (r"not cpath\.rootless", lambda m: "fixenv may install system packages"),
    (r"cpath\.rootless", lambda m: "fixenv works rootless (no root, no sudo, or --rootless)"),
    (r"os\.family == '(\w+)'", lambda m: "the OS is %s" % _OS.get(m[1], m[1])),
    (r"'(\w+)' in managers", lambda m: "%s is here" % m[1]),
    (r"compilers\.cxx", lambda m: "there is a C++ compiler"),
    (r"compilers\.cc", lambda m: "there is a C compiler"),
    (r"python\.freethreaded", lambda m: "the Python is free-threaded"),
    (r"python\.debug", lambda m: "the Python is a debug build"),
]


_WHOLE = {"not compilers.cc or not compilers.cxx": "the C or the C++ compiler is missing"}


def _atom_words(atom: str):
    atom = atom.strip()
    for rx, say in _ATOMS:
        m = _re.fullmatch(rx, atom)
        if m:
            return say(m)
    return None


def condition_words(condition: str):
    """A playbook condition as words ("the target Python comes from pyenv and its Python.h
    is missing"), or None when a part of it is not one fixenv knows how to say."""
    if condition in _WHOLE:
        return _WHOLE[condition]
    for joiner, word in ((" or ", " or "), (" and ", " and ")):
        if joiner in condition and "(" not in condition:
            parts = [_atom_words(p) for p in condition.split(joiner)]
            return None if None in parts else word.join(parts)  # type: ignore[arg-type]
    return _atom_words(condition)


def skip_words(reason: str, verbose: bool = False) -> str:
    """A skip reason for people: the playbook's own words when it gave them; for the
    generic `not needed here: \\`COND\\` is false`, the condition said in words (the condition
    itself only with -v; --json always has it)."""
    m = _SKIP.match(reason.strip())
    if not m:
        return reason
    cond = " ".join(m.group(1).split())
    words = condition_words(cond)
    text = "not needed here: only when %s" % words if words else "not needed on this machine"
    if verbose or not words:
        text += " (when: `%s`)" % cond if verbose else " (-v shows its condition)"
    return text


# --------------------------------------------------------------------------- advice


def invoked_as(argv0: Optional[str] = None, which: Any = None) -> str:
    """How to name fixenv in advice: `fixenv` when that is on PATH, else the command as it
    was run (`python3 fixenv.pyz` for the zipapp, `python3 -m fixenv` for the module)."""
    import shutil
    import sys

    which = which or shutil.which
    if which("fixenv"):
        return "fixenv"
    arg = sys.argv[0] if argv0 is None else argv0
    py = os.path.basename(sys.executable or "python3")
    if not which(py):
        py = sys.executable or "python3"
    if arg.endswith(".pyz") or (os.path.isfile(arg) and _is_zip(arg)):
        return "%s %s" % (py, _quote(arg))
    if arg.replace(os.sep, "/").endswith("fixenv/__main__.py"):
        return "%s -m fixenv" % py
    return "fixenv"  # a console script of another name, or fixenv used as a library


def _is_zip(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return b"PK\x03\x04" in head


def _quote(word: str) -> str:
    import shlex

    return shlex.quote(word)


# --------------------------------------------------------------------------- recap tense

_PAST = {"install": "installed", "run": "ran", "write": "wrote", "build": "built",
         "import": "imported", "set": "set", "add": "added", "download": "downloaded",
         "repair": "repaired", "remove": "removed", "unpack": "unpacked", "compile": "compiled",
         "refresh": "refreshed", "persist": "persisted", "create": "created",
         "rebuild": "rebuilt", "reinstall": "reinstalled", "enable": "enabled",
         "delete": "deleted", "replace": "replaced", "installs": "installed",
         "builds": "built", "writes": "wrote", "sets": "set", "runs": "ran"}
_VERB = _re.compile(r"(^|; |, then |\band |: |\bstep )(%s)\b" % "|".join(sorted(_PAST, key=len,
                                                                       reverse=True)))


def past_tense(reason: str) -> str:
    """A plan's reason as what was done, for the recap after apply: "install python3.11-dev
    with apt" -> "installed python3.11-dev with apt"; "after the changes: build ... and
    import it" -> "built ... and imported it". Text it does not recognise stays as it is."""
    first, _, rest = reason.partition("\n")
    for lead in ("after the changes: ", "then "):
        if first.startswith(lead):
            first = first[len(lead):]
    first = _VERB.sub(lambda m: m.group(1) + _PAST[m.group(2)], first)
    return first + ("\n" + rest if rest else "")
