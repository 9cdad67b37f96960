"""Every fact value that can reach a command, a path or a file fixenv writes, checked.

Facts come from a probe that runs the *target* interpreter (which may be anything the user
pointed --python at) or from a `--facts` JSON file written elsewhere. fixenv acts on them as
root: `python{{ python.xy }}-dev` becomes an apt-get argument, `python.include` becomes a
CPATH element written into a shell start-up file. So a value must look like what it claims
to be, or planning stops with an error naming the key; nothing is run.

Step kinds check what lands in argv a second time (fixenv/kinds/common.py); this is the
first gate, and the only one for values that end up in files (CPATH).
"""
from __future__ import annotations

import re
from typing import Any, Callable, List, Mapping, Optional, Tuple

from fixenv.errors import InputError

# No control characters anywhere: a newline in CPATH would add a line to a profile script.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
WORD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+~-]*$")  # os id, arch, codename, manager...
VERSION = re.compile(r"^[0-9]{1,3}\.[0-9]{1,3}(\.[0-9]{1,4})?$")
XY = re.compile(r"^[0-9]{1,3}\.[0-9]{1,3}$")
ABIFLAGS = re.compile(r"^[a-z]{0,4}$")
SUFFIX = re.compile(r"^[A-Za-z0-9._-]*$")
OS_VERSION = re.compile(r"^[A-Za-z0-9._+~-]*$")  # may be empty (Debian testing/sid)

HINT = ("fixenv acts on facts as root, so every value is checked; regenerate the file with "
        "`fixenv detect --json`, or point --python at a real interpreter")
# A bad value outside python.* is not the interpreter's fault: do not blame --python.
HINT_OTHER = ("fixenv acts on facts as root, so every value is checked; regenerate the file "
              "with `fixenv detect --json`")

Check = Callable[[Any], Optional[str]]  # None when fine, else what is wrong


def _pattern(rx: "re.Pattern[str]", what: str, nullable: bool = False) -> Check:
    def check(v: Any) -> Optional[str]:
        if v is None and nullable:
            return None
        if not isinstance(v, str) or not rx.fullmatch(v):
            return "is not %s" % what
        return None
    return check


def _path(absolute: bool = True, nullable: bool = False, colon: bool = True) -> Check:
    """A file system path: no control characters, absolute when required, and (for
    directories that end up in CPATH) no ':' that would split into two entries."""
    def check(v: Any) -> Optional[str]:
        if v is None and nullable:
            return None
        if not isinstance(v, str):
            return "is not a path"
        if _CONTROL.search(v):
            return "holds control characters"
        if absolute and not v.startswith("/"):
            return "is not an absolute path"
        if not colon and ":" in v:
            return "holds ':' (it would split into two search-path entries)"
        return None
    return check


def _text(nullable: bool = True) -> Check:
    def check(v: Any) -> Optional[str]:
        if v is None and nullable:
            return None
        if not isinstance(v, str):
            return "is not a string"
        if _CONTROL.search(v):
            return "holds control characters"
        return None
    return check


def _int() -> Check:
    def check(v: Any) -> Optional[str]:
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < 1000:
            return "is not a small whole number"
        return None
    return check


def _list_of(item: Check) -> Check:
    def check(v: Any) -> Optional[str]:
        if not isinstance(v, list):
            return "is not a list"
        for i, x in enumerate(v):
            why = item(x)
            if why:
                return "[%d] %r %s" % (i, x, why)
        return None
    return check


EXE = _path(absolute=False)  # sys.executable may be "" (embedded interpreters)
INCLUDE = _path(colon=False)

RULES: Tuple[Tuple[str, Check], ...] = (
    ("os.system", _pattern(WORD, "an OS name like Linux")),
    ("os.id", _pattern(WORD, "a distribution id like debian")),
    # os.version/major: null when the release could not be parsed (normalize_os moved the
    # text to os.version_note); a version only lands in conditions and reasons, and a
    # playbook that templates it into argv meets the step kinds' own argv check.
    ("os.version", _pattern(OS_VERSION, "a release number like 12", nullable=True)),
    ("os.version_note", _text()),
    ("os.like", _list_of(_pattern(WORD, "a distribution id"))),
    ("os.arch", _pattern(WORD, "an architecture like x86_64")),
    # Code names are words of text ("Green Obsidian" on Rocky 8): described, never in argv.
    ("os.codename", _text()),
    ("os.family", _pattern(WORD, "an OS family like debian", nullable=True)),
    ("os.major", _pattern(OS_VERSION, "a major release number", nullable=True)),
    ("managers", _list_of(_pattern(WORD, "a package manager name"))),
    ("system_manager", _pattern(WORD, "a package manager name", nullable=True)),
    ("python.executable", EXE),
    ("python.realpath", EXE),
    ("python.base_executable", EXE),
    ("python.version", _pattern(VERSION, "a Python version like 3.11.2")),
    ("python.major", _int()),
    ("python.minor", _int()),
    ("python.xy", _pattern(XY, "a Python X.Y version like 3.11")),
    ("python.xy_nodot", _pattern(re.compile(r"^[0-9]{2,6}$"), "an XY version like 311")),
    ("python.implementation", _pattern(WORD, "an implementation name like CPython")),
    ("python.abiflags", _pattern(ABIFLAGS, "ABI flags like '', 'd' or 't'")),
    ("python.prefix", _path()),
    ("python.base_prefix", _path()),
    ("python.include", INCLUDE),
    ("python.sysconfig_include", _path(colon=False, nullable=True)),
    ("python.include_candidates", _list_of(INCLUDE)),
    ("python.ext_suffix", _pattern(SUFFIX, "an extension suffix like .so", nullable=True)),
    ("python.multiarch", _pattern(WORD, "a multiarch triplet", nullable=True)),
    ("python.platform", _pattern(re.compile(r"^[a-z0-9_-]*$"), "a platform like linux",
                                 nullable=True)),
    ("python.provider", _pattern(WORD, "a provider name like apt")),
    ("python.provider_detail", _text()),
    ("compilers.cc", _path(absolute=False, nullable=True)),
    ("compilers.cxx", _path(absolute=False, nullable=True)),
)


def _get(facts: Mapping[str, Any], path: str) -> Tuple[bool, Any]:
    node: Any = facts
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def problems(facts: Mapping[str, Any]) -> List[str]:
    """Every bad value, as "key: 'value' is not ..."; empty when the facts are sound."""
    out: List[str] = []
    for path, check in RULES:
        present, value = _get(facts, path)
        if not present:
            continue
        why = check(value)
        if why:
            out.append("%s: %r %s" % (path, value, why))
    env = facts.get("env")
    if isinstance(env, Mapping):
        for name, value in env.items():
            why = _text()(value)
            if why:
                out.append("env.%s: %r %s" % (name, value, why))
    py = facts.get("python")
    if isinstance(py, Mapping) and not out:
        # Derived values must agree with the version: python3.12-dev for a 3.11 is a wrong fix.
        xy = ".".join(str(py.get("version", "")).split(".")[:2])
        if py.get("xy") not in (None, xy):
            out.append("python.xy: %r does not match python.version %r"
                       % (py.get("xy"), py.get("version")))
    return out


def check(facts: Mapping[str, Any], source: str) -> Mapping[str, Any]:
    """Raise InputError naming the first bad key (and how many more); return the facts."""
    bad = problems(facts)
    if bad:
        more = " (and %d more)" % (len(bad) - 1) if len(bad) > 1 else ""
        raise InputError("%s: %s%s" % (source, bad[0], more),
                         hint=HINT if bad[0].startswith("python.") else HINT_OTHER)
    return facts
