"""`fixenv explain`: read a failed build's log, say what is wrong and plan the fix.

Three pure stages and one that looks at this machine:

* ``read_log``   bytes -> clean lines (ANSI colours, CR/CRLF, log prefixes removed);
* ``scan``       lines -> LogFacts: every failure signature found (data/recognisers.yaml),
                 the tool, the compiler command, its -I dirs, the Python they imply;
* ``judge``      LogFacts + the target's facts -> does the log belong to the target?
* ``explain``    all of it + the planner (engine.make_plan with a RecordingRunner) ->
                 an Explanation (a frozen result; the CLI renders text or JSON).

Shape of ``Explanation.to_json()``::

    {"recognised": bool, "class": str|null, "summary": str,
     "failures": [{"id", "class", "line", "text", ...captures (source, source_line, header,
                   compiler, library, ...)}],
     "log": {"tool", "tools", "compiler", "command", "include_dirs", "source", "header",
             "lines", "platform": "windows"|"macos"|"linux"|null,
             "python": {"version", "abiflags", "include", "prefix", "origin", "describe",
                        "env": "venv"|"user-site"|"build-isolation"|null,
                        "env_prefix"} | null},
     "target": {"executable", "version", "include", "has_headers", "provider"} | null,
     "match": {"same": bool|null, "reason": str},
     "planned_for": str|null, "plan": <plan --json>|null, "advice": [str],
     "apply_command": str|null}
"""
from __future__ import annotations

import ast
import os
import re
import shlex
from dataclasses import dataclass, field, replace
from typing import Any, Dict, Iterable, List, Mapping, Optional, Set, Tuple

from fixenv.errors import InputError

# A log bigger than this is read from its end (the failure is at the end of a build log).
MAX_BYTES = 64 * 1024 * 1024
MAX_LINE = 256 * 1024

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
# "[2023-11-29 22:29:33,093] torch._dynamo.convert_frame: [WARNING] " and friends
LOG_PREFIX = re.compile(r"^\[\d{4}-\d\d-\d\d[ T][\d:.,]+\] [\w.]+: \[[A-Z]+\] ?")
# GitHub Actions "2024-02-01T10:00:00.1234567Z " timestamps
CI_PREFIX = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+Z ")
COMPILER_NAME = re.compile(
    r"^(?:[\w.+-]+-)?(?:gcc|g\+\+|cc|c\+\+|clang|clang\+\+|icc|icpc|icx|icpx|tcc|cl)"
    r"(?:-\d+(?:\.\d+)*)?(?:\.exe)?$")
PY_INCLUDE = re.compile(r"[/\\]include[/\\]python\d+\.\d+[a-z]*[/\\]?$")
# ".../lib/python3.11/site-packages/torch/..." in a traceback: the environment that ran the tool
SITE = re.compile(r"(?<![\w.~])(?P<prefix>(?:/|~/)[^\"'\s]*?)/lib/python(?P<xy>\d+\.\d+)[a-z]*/"
                  r"(?P<kind>site|dist)-packages/")
# Inductor's warning before it compiles:
#   "UserWarning: Can't find Python.h in /usr/include/python3.11"
WARNED_INCLUDE = re.compile(r"Can't find Python\.h in ((?:/|[A-Za-z]:\\)\S*)")
LOOSE_PY_INCLUDE = re.compile(r"-I\s?((?:/|~/)[^\s'\",]*/(?:include/python\d+\.\d+[a-z]*|Headers))"
                              r"/?(?=[\s'\",]|$)")
# A Windows build's Python version: cp312-win_amd64 (.pyd tag), -lpython312, python312.lib
WIN_VERSION = re.compile(r"\bcp(3)(\d{1,2})-win|-lpython(3)(\d{1,2})\b|\bpython(3)(\d{1,2})\.lib\b")
SOURCE_EXT = (".c", ".cc", ".cpp", ".cxx", ".c++", ".m", ".mm")
FIXING_CLASSES = ("no-compiler", "missing-python-header", "missing-libpython", "missing-openmp")

CLASS_TEXT = {
    "no-compiler": "no working C/C++ compiler",
    "missing-python-header": "the Python headers are missing",
    "missing-libpython": "libpython (the Python development library) is missing at link time",
    "missing-openmp": "OpenMP (omp.h / libgomp / libomp) is missing",
    "compiler-crash": "the compiler itself crashed",
    "missing-other-header": "a header that is not Python's is missing",
}


# --------------------------------------------------------------------------- recognisers


@dataclass(frozen=True)
class Recogniser:
    id: str
    cls: str
    needle: Tuple[str, ...]
    regex: "re.Pattern[str]"
    tool: Optional[str] = None
    language: Optional[str] = None


@dataclass(frozen=True)
class Rules:
    classes: Tuple[str, ...]
    failures: Tuple[Recogniser, ...]
    tools: Tuple[Tuple[str, str, Tuple[str, ...], "re.Pattern[str]"], ...]  # tool, name,
    origins: Tuple[Dict[str, Any], ...]                                     # needles, regex
    advice: Dict[str, str]
    # any line without one of these substrings cannot match anything: skipped in one search
    prefilter: "re.Pattern[str]"
    source_tools: Tuple[Tuple[str, "re.Pattern[str]"], ...] = ()
    platforms: Tuple[Tuple[str, Tuple[str, ...], "re.Pattern[str]"], ...] = ()
    environments: Tuple[Tuple[str, "re.Pattern[str]"], ...] = ()
    compiler_lines: Tuple["re.Pattern[str]", ...] = ()
    header_advice: Dict[str, str] = field(default_factory=dict)
    # the same for the platform markers, searched separately (they are common: /home/, /tmp/)
    platform_filter: Optional["re.Pattern[str]"] = None


def _any_of(needles: Iterable[str]) -> "re.Pattern[str]":
    """One regex matching any of the substrings, grouped by first character (`a(?:bc|d)|x(?:y)`):
    re tries far fewer alternatives per position than with a flat alternation."""
    groups: Dict[str, List[str]] = {}
    for n in sorted(set(needles), key=len, reverse=True):
        groups.setdefault(n[0], []).append(n[1:])
    return re.compile("|".join(
        "%s(?:%s)" % (re.escape(c), "|".join(re.escape(x) for x in rest)) for c, rest in
        sorted(groups.items())))


def rules_path() -> str:
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "recognisers.yaml")


_RULES: Optional[Rules] = None


def load_rules(path: Optional[str] = None) -> Rules:
    """Read and compile the recognisers; a mistake in the file names the entry."""
    global _RULES
    if path is None and _RULES is not None:
        return _RULES
    import yaml

    where = path or rules_path()
    with open(where, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)

    def compiled(entry: Mapping[str, Any], what: str) -> "re.Pattern[str]":
        try:
            return re.compile(str(entry["regex"]))
        except (KeyError, re.error) as exc:
            raise InputError("%s: %s %r: bad or missing regex: %s" % (
                where, what, entry.get("id") or entry.get("tool") or entry.get("origin"), exc))

    def needles(entry: Mapping[str, Any]) -> Tuple[str, ...]:
        raw = entry.get("needle")
        items = raw if isinstance(raw, list) else [raw]
        if not items or not all(isinstance(n, str) and n for n in items):
            raise InputError("%s: %r: `needle` must be a non-empty string or list of strings"
                             % (where, entry.get("id") or entry.get("tool")))
        return tuple(items)

    classes = tuple(data["classes"])
    failures = []
    for e in data["failures"]:
        if e["class"] not in classes:
            raise InputError("%s: failure %r: unknown class %r (known: %s)"
                             % (where, e.get("id"), e["class"], ", ".join(classes)))
        failures.append(Recogniser(str(e["id"]), str(e["class"]), needles(e),
                                   compiled(e, "failure"), e.get("tool"), e.get("language")))
    tools = tuple((str(t["tool"]), str(t["name"]), needles(t), compiled(t, "tool"))
                  for t in data["tools"])
    origins = []
    for o in data["origins"]:
        rx = compiled(o, "origin")
        missing = {"prefix", "xy", "abiflags"} - set(rx.groupindex)
        if missing:
            raise InputError("%s: origin %r: regex lacks group(s) %s"
                             % (where, o.get("origin"), ", ".join(sorted(missing))))
        origins.append(dict(o, regex=rx))
    source_tools = tuple((str(t["tool"]), compiled(t, "source tool"))
                         for t in data.get("source_tools") or [])
    platforms = tuple((str(p["platform"]), needles(p), compiled(p, "platform"))
                      for p in data.get("platforms") or [])
    environments = tuple((str(e["env"]), compiled(e, "environment"))
                         for e in data.get("environments") or [])
    compiler_lines = tuple(compiled(c, "compiler line") for c in data.get("compiler_lines") or [])
    every = {n for r in failures for n in r.needle} | {n for t in tools for n in t[2]}
    every |= {"-packages/", "Can't find Python.h", "-I", "Command:", "failed with exit",
              "-win", "python3", ".lib"}
    prefilter = _any_of(every)
    # Linux is decided on the lines the prefilter passes (commands, errors, tracebacks); only
    # the Windows/macOS markers are looked for on every line
    pneedles = {n for p in platforms if p[0] != "linux" for n in p[1]}
    platform_filter = _any_of(pneedles) if pneedles else None
    rules = Rules(classes, tuple(failures), tools, tuple(origins),
                  dict(data.get("advice") or {}), prefilter, source_tools, platforms,
                  environments, compiler_lines, dict(data.get("header_advice") or {}),
                  platform_filter)
    if path is None:
        _RULES = rules
    return rules


# --------------------------------------------------------------------------- reading


def read_log(raw: bytes) -> List[str]:
    """Decode and clean a log: any encoding (UTF-8, else Latin-1), ANSI colours, CRLF,
    progress-bar carriage returns and per-line log prefixes. Very large logs keep their end."""
    if len(raw) > MAX_BYTES:
        raw = raw[-MAX_BYTES:]
        raw = raw[raw.find(b"\n") + 1:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8", errors="replace")
    text = text.replace("\x00", "")
    if "\x1b" in text:
        text = ANSI.sub("", text)
    lines = []
    text = text.replace("\r\n", "\n")
    if text.endswith("\n"):  # "a\nb\n" is two lines, not three
        text = text[:-1]
    for line in (text.split("\n") if text else []):
        if "\r" in line:  # a progress bar redrawn in place: what the terminal showed last
            parts = [p for p in line.split("\r") if p.strip()]
            line = parts[-1] if parts else ""
        if len(line) > MAX_LINE:
            line = line[:MAX_LINE]
        line = CI_PREFIX.sub("", line)
        line = LOG_PREFIX.sub("", line)
        lines.append(line)
    return lines


# --------------------------------------------------------------------------- scanning


@dataclass(frozen=True)
class Failure:
    id: str
    cls: str
    line: int  # 1-based
    text: str
    captures: Tuple[Tuple[str, str], ...] = ()
    tool: Optional[str] = None
    language: Optional[str] = None

    def get(self, key: str) -> Optional[str]:
        return dict(self.captures).get(key)

    def to_json(self) -> Dict[str, Any]:
        d: Dict[str, Any] = {"id": self.id, "class": self.cls, "line": self.line,
                             "text": self.text}
        for k, v in self.captures:
            # the regex's line/col are the source file's, not the log's
            d[{"line": "source_line", "col": "source_col"}.get(k, k)] = v
        if self.language:
            d["language"] = self.language
        return d


@dataclass(frozen=True)
class LogPython:
    """The Python a log's include directories (or tracebacks) point at."""

    version: str  # "3.11" (X.Y: an include dir tells no more)
    abiflags: str
    include: Optional[str]
    prefix: str
    origin: str
    describe: str
    advice: str
    env_prefix: Optional[str] = None  # a venv/site prefix seen in a traceback
    detail: Tuple[Tuple[str, str], ...] = ()
    # what sits on top of that Python: "venv", "user-site" (pip --user), "build-isolation"
    env: Optional[str] = None
    compiler_advice: str = ""

    def to_json(self) -> Dict[str, Any]:
        return {"version": self.version, "abiflags": self.abiflags, "include": self.include,
                "prefix": self.prefix, "origin": self.origin, "describe": self.describe,
                "env": self.env, "env_prefix": self.env_prefix, **dict(self.detail)}


@dataclass(frozen=True)
class LogFacts:
    failures: Tuple[Failure, ...]
    tools: Tuple[str, ...]
    compiler: Optional[str]
    command: Optional[str]
    include_dirs: Tuple[str, ...]
    source: Optional[str]
    header: Optional[str]
    python: Optional[LogPython]
    lines: int
    platform: Optional[str] = None  # "windows", "macos", "linux" or None (the log does not say)
    swallowed: Optional[str] = None  # an empty `-I` swallowed this flag

    @property
    def tool(self) -> Optional[str]:
        if self.tools:
            return self.tools[0]
        if self.compiler or any(f.get("source") for f in self.failures):
            return "compiler"
        return None

    def to_json(self) -> Dict[str, Any]:
        return {"tool": self.tool, "tools": list(self.tools), "compiler": self.compiler,
                "command": self.command, "include_dirs": list(self.include_dirs),
                "source": self.source, "header": self.header,
                "python": self.python.to_json() if self.python else None, "lines": self.lines,
                "platform": self.platform}


def _split_command(text: str) -> Optional[List[str]]:
    """argv of a compiler command as a log prints it: a shell line, or a Python list repr
    (Triton's `Command '[...]'`, `cc_cmd: [...]`)."""
    text = text.strip()
    m = re.search(r"(\[\s*'.*'\s*\])", text)
    if m:
        try:
            value = ast.literal_eval(m.group(1))
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            value = None
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return value
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def _is_compiler(word: str) -> bool:
    return bool(COMPILER_NAME.match(re.split(r"[/\\]", word)[-1]))


def _swallowed_flag(argv: List[str]) -> Optional[str]:
    """`-I -I/usr/include/python2.7`: an empty -I (an unset variable) takes the next flag as
    its directory, so that directory is never searched."""
    for a, b in zip(argv, argv[1:]):
        if a == "-I" and b.startswith("-"):
            return b
    return None


def _include_dirs(argv: List[str]) -> List[str]:
    out: List[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        value = None
        if a == "-I" and i + 1 < len(argv) and argv[i + 1].startswith("-I"):
            value = argv[i + 1][2:]  # what the author meant; see _swallowed_flag
            if value and value not in out:
                out.append(value)
            i += 2
            continue
        for flag in ("-I", "-isystem", "/I"):
            if a == flag and i + 1 < len(argv):
                value = argv[i + 1]
                i += 1
                break
            if a.startswith(flag) and len(a) > len(flag) and flag != "-isystem":
                value = a[len(flag):]
                break
        if value and value not in out:
            out.append(value)
        i += 1
    return out


def _find_commands(lines: List[str]) -> List[Tuple[int, List[str], str]]:
    """(line index, argv, text) of every compiler invocation printed in the log."""
    found = []
    after_command_label = False
    for i, line in enumerate(lines):
        s = line.strip()
        if not s:  # a blank line between "Command:" and the command keeps the label
            continue
        if s == "Command:":  # Inductor's CppCompileError prints the command on the next line
            after_command_label = True
            continue
        candidates = []
        if after_command_label:
            candidates.append(s)
            after_command_label = False
        if ("Command '[" in s or "cc_cmd: [" in s or "Command: [" in s) and "'" in s:
            candidates.append(s[s.index("["):])
        first = s.split(None, 1)[0] if s else ""
        if _is_compiler(first.strip("'\"")) and (" -c " in s or " -o " in s or " -I" in s):
            candidates.append(s)
        for c in candidates:
            argv = _split_command(c)
            if argv and _is_compiler(argv[0]):
                found.append((i, argv, c))
                break
    return found


def _python_from_include(path: str, rules: Rules, env_prefix: Optional[str]) -> Optional[LogPython]:
    norm = path.rstrip("/")
    for o in rules.origins:
        m = o["regex"].match(norm)
        if not m:
            continue
        g = {k: (v or "") for k, v in m.groupdict().items()}
        g["xy_nodot"] = g.get("xy", "").replace(".", "")
        detail = tuple((k, v) for k, v in sorted(g.items())
                       if k not in ("prefix", "xy", "abiflags", "xy_nodot") and v)
        return LogPython(version=g.get("xy") or "", abiflags=g.get("abiflags") or "",
                         include=norm, prefix=g["prefix"], origin=str(o["origin"]),
                         describe=str(o["describe"]).format(**g),
                         advice=str(o.get("advice", "")).format(**g),
                         env_prefix=env_prefix, detail=detail,
                         compiler_advice=str(o.get("compiler_advice", "")).format(**g))
    return None


def _environment(prefix: str, rules: Rules) -> Optional[str]:
    """"user-site" / "build-isolation" when a site-packages or venv prefix is one of those."""
    for env, rx in rules.environments:
        if rx.search(prefix):
            return env
    return None


def _is_python_include(d: str, rules: Rules) -> bool:
    return bool(PY_INCLUDE.search(d)) or any(
        o["regex"].match(d.rstrip("/\\")) for o in rules.origins) and "site-packages" not in d


def _platforms(body: str, rules: Rules, seen: set, skip: str = "", only: str = "") -> None:
    for plat, pneedles, rx in rules.platforms:
        if plat in seen or plat == skip or (only and plat != only):
            continue
        if any(n in body for n in pneedles) and rx.search(body):
            seen.add(plat)


def scan(lines: List[str], rules: Optional[Rules] = None) -> LogFacts:
    """Everything the log says, without looking at this machine."""
    rules = rules or load_rules()
    failures: List[Failure] = []
    seen_text = set()
    tools: List[str] = []
    warned_include: List[str] = []
    sites: List[Tuple[str, str]] = []
    platforms_seen: Set[str] = set()
    failed_compiler: Optional[str] = None
    win_xy: Optional[str] = None
    first_platform = rules.platforms[0][0] if rules.platforms else None
    for i, line in enumerate(lines):
        body = line.strip()
        if not body:
            continue
        if first_platform not in platforms_seen and rules.platform_filter is not None \
                and rules.platform_filter.search(body):
            _platforms(body, rules, platforms_seen, skip="linux")
        if not rules.prefilter.search(body):
            continue
        if "linux" not in platforms_seen:
            _platforms(body, rules, platforms_seen, only="linux")
        for r in rules.failures:
            if not any(n in body for n in r.needle):
                continue
            m = r.regex.search(body)
            if not m:
                continue
            key = (r.cls, body)
            if key in seen_text:  # the same error repeated (retries, pip's echo)
                break
            seen_text.add(key)
            caps = tuple((k, v) for k, v in m.groupdict().items() if v is not None)
            failures.append(Failure(r.id, r.cls, i + 1, body, caps, r.tool, r.language))
            break  # one failure per line: the first (most specific) recogniser wins
        for tool, _name, tneedles, rx in rules.tools:
            if tool not in tools and any(n in body for n in tneedles) and rx.search(body):
                tools.append(tool)
        if failed_compiler is None and "failed with exit" in body:
            for rx in rules.compiler_lines:
                m = rx.search(body)
                if m:
                    failed_compiler = m.group("compiler").replace("\\\\", "\\")
                    break
        if win_xy is None:
            m = WIN_VERSION.search(body)
            if m:
                digits = [g for g in m.groups() if g]
                win_xy = "%s.%s" % (digits[0], digits[1])
        if "Can't find Python.h in " in body:
            m = WARNED_INCLUDE.search(body)
            if m and m.group(1) not in warned_include:
                warned_include.append(m.group(1))
        if "-packages/" in body:
            m = SITE.search(body)
            if m:
                # dist-packages: Debian/Ubuntu's system Python (also /usr/local/lib/..., where
                # pip puts system-wide installs): no environment of its own
                prefix = "/usr" if m.group("kind") == "dist" else m.group("prefix")
                sites.append((prefix, m.group("xy")))
    platform = next((p for p, _n, _r in rules.platforms if p in platforms_seen), None)

    commands = _find_commands(lines)
    first_fail = failures[0].line - 1 if failures else len(lines)
    before = [c for c in commands if c[0] <= first_fail]
    chosen = before[-1] if before else (commands[-1] if commands else None)
    argv = chosen[1] if chosen else None
    include_dirs = _include_dirs(argv) if argv else []
    swallowed = _swallowed_flag(argv) if argv else None
    for d in warned_include:
        if d not in include_dirs:
            include_dirs.append(d)
    if not any(_is_python_include(d, rules) for d in include_dirs):
        # no full command printed (numpy.distutils' "compile options: '...'", make -n, ...):
        # any -I of a Python include directory still says which Python was meant
        for line in lines:
            if "-I" in line and ("/include/python" in line or "/Headers" in line):
                for m in LOOSE_PY_INCLUDE.finditer(line):
                    if m.group(1) not in include_dirs:
                        include_dirs.append(m.group(1))

    source = None
    header = None
    for f in failures:
        source = source or f.get("source")
        header = header or f.get("header") or f.get("library")
    if source is None and argv:
        source = next((a for a in argv[1:] if a.lower().endswith(SOURCE_EXT)), None)
    for f in failures:
        if f.tool and f.tool not in tools:
            tools.insert(0, f.tool)
    tools = _order_tools(tools, rules)
    # the tool the failing source belongs to comes first (Triton's main.c even under Inductor)
    failing_sources = [f.get("source") for f in failures if f.get("source")] + (
        [source] if source else [])
    for tool, rx in rules.source_tools:
        if any(rx.search(src) for src in failing_sources if src):
            if tool in tools:
                tools.remove(tool)
            tools.insert(0, tool)
            break

    env_prefix = None
    site_xy = None
    user_site = False
    for prefix, xy in sites:
        if prefix == "/usr":
            continue
        kind = _environment(prefix, rules)
        if kind == "user-site":
            user_site, site_xy = True, site_xy or xy
            continue
        if kind == "build-isolation":
            continue
        env_prefix, site_xy = prefix, xy  # the environment that ran the tool
        break
    if env_prefix is None and sites:
        site_xy = site_xy or sites[0][1]
    python = None
    for n, d in enumerate(include_dirs):
        if not _is_python_include(d, rules):
            continue
        python = _python_from_include(d, rules, env_prefix)
        if python is None:
            continue
        # setuptools' build_ext puts a venv's own <venv>/include right before the Python's
        # include dir (distutils build_ext.finalize_options, "If in a virtualenv, add its
        # include directory"): that names the venv even without a traceback
        prev = include_dirs[n - 1] if n else ""
        venv = prev[: -len("/include")] if prev.endswith("/include") else ""
        if venv and venv not in ("/usr", "/usr/local", python.prefix):
            kind = _environment(venv, rules)
            if kind is None:
                python = replace(python, env="venv", env_prefix=venv)
            else:
                python = replace(python, env=kind)
        elif user_site:
            python = replace(python, env="user-site")
        elif env_prefix and _norm(env_prefix) != _norm(python.prefix):
            python = replace(python, env="venv")
        if not python.version and win_xy:
            python = replace(python, version=win_xy)
        break
    if python is None and site_xy:
        prefix = env_prefix or "/usr"
        describe = "Python %s running from %s (seen in the traceback)" % (site_xy, prefix)
        advice = ""
        compiler_advice = ""
        origin = "site-packages"
        # a prefix that says where the Python came from even without its include dir
        guess = _python_from_include("%s/include/python%s" % (prefix, site_xy), rules, None)
        if guess is not None and guess.origin in ("system", "usr-local", "conda", "pyenv",
                                                  "uv"):
            describe += ": " + guess.describe
            advice, compiler_advice = guess.advice, guess.compiler_advice
            origin = guess.origin
        if user_site and env_prefix is None:
            describe = ("the system's Python %s with a `pip install --user` site (~/.local) on "
                        "top: its headers are the system's" % site_xy)
        python = LogPython(version=site_xy, abiflags="", include=None, prefix=prefix,
                           origin=origin, describe=describe, advice=advice,
                           env_prefix=env_prefix, compiler_advice=compiler_advice,
                           env="user-site" if user_site and env_prefix is None else None)
    if python is None:
        lib = next((f.get("library") for f in failures if f.cls == "missing-libpython"), None)
        m = re.match(r"python(\d+\.\d+)([a-z]*)$", lib or "")
        if m:
            python = LogPython(version=m.group(1), abiflags=m.group(2), include=None,
                               prefix="", origin="unknown",
                               describe="a Python %s (only its library, -l%s, is in the log)"
                                        % (m.group(1), lib), advice="")
    compiler = None
    if argv:
        compiler = argv[0]
    else:
        compiler = next((f.get("compiler") for f in failures if f.get("compiler")), None)
    compiler = compiler or failed_compiler
    return LogFacts(tuple(failures), tuple(tools), compiler,
                    " ".join(shlex.quote(a) for a in argv) if argv else None,
                    tuple(include_dirs), source, header, python, len(lines), platform,
                    swallowed)


def _order_tools(found: List[str], rules: Rules) -> List[str]:
    """The most specific tool first (Inductor drives Triton drives the compiler)."""
    order = [t[0] for t in rules.tools]
    return sorted(found, key=lambda t: order.index(t) if t in order else len(order))


def primary_class(logf: LogFacts, rules: Optional[Rules] = None) -> Optional[str]:
    rules = rules or load_rules()
    found = {f.cls for f in logf.failures}
    return next((c for c in rules.classes if c in found), None)


# --------------------------------------------------------------------------- judging


@dataclass(frozen=True)
class Match:
    same: Optional[bool]  # None: the log does not say which Python
    reason: str

    def to_json(self) -> Dict[str, Any]:
        return {"same": self.same, "reason": self.reason}


def _norm(p: Optional[str]) -> str:
    return os.path.normpath(p) if p else ""


def judge(logpy: Optional[LogPython], py: Mapping[str, Any]) -> Match:
    """Does the Python the log was built for look like the target? Pure."""
    target = "%s (Python %s)" % (py.get("executable"), py.get("version"))
    if logpy is None:
        return Match(None, "the log does not show which Python it was built for (the target "
                           "is %s)" % target)
    xy = "%s.%s" % tuple(str(py.get("version", "")).split(".")[:2]) \
        if str(py.get("version", "")).count(".") >= 1 else str(py.get("version", ""))
    includes = {_norm(py.get("include")), _norm(py.get("sysconfig_include"))}
    includes |= {_norm(c) for c in py.get("include_candidates") or []}
    includes.discard("")
    if logpy.include and _norm(logpy.include) in includes:
        return Match(True, "the log's include directory %s is the target's (%s)"
                     % (logpy.include, target))
    if logpy.version and logpy.version != xy:
        return Match(False, "the log was built for Python %s under %s, but the target is %s"
                     % (logpy.version, logpy.prefix, target))
    prefixes = {_norm(py.get("prefix")), _norm(py.get("base_prefix"))}
    if logpy.include is None:
        if logpy.env_prefix is None or _norm(logpy.env_prefix) in prefixes:
            return Match(True, "the log's Python %s matches the target %s"
                         % (logpy.version, target))
        return Match(False, "the log ran from %s, the target %s is another environment"
                     % (logpy.env_prefix, target))
    if _norm(logpy.prefix) in prefixes:
        return Match(True, "the log's Python %s under %s is the target %s"
                     % (logpy.version, logpy.prefix, target))
    return Match(False, "the log's Python %s uses %s; the target %s uses %s"
                 % (logpy.version, logpy.include, target, py.get("include")))


def interpreter_candidates(logpy: LogPython) -> List[str]:
    """Where the log's Python would be on this machine, best first."""
    xy = logpy.version
    out = []
    if logpy.env_prefix:
        out += [os.path.join(logpy.env_prefix, "bin", n) for n in ("python", "python3")]
    out += [os.path.join(logpy.prefix, "bin", "python%s%s" % (xy, logpy.abiflags)),
            os.path.join(logpy.prefix, "bin", "python%s" % xy),
            os.path.join(logpy.prefix, "bin", "python3")]
    seen: List[str] = []
    for c in out:
        if c not in seen:
            seen.append(c)
    return seen


def find_interpreter(logpy: LogPython) -> Optional[str]:
    for c in interpreter_candidates(logpy):
        if os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


# --------------------------------------------------------------------------- explaining


@dataclass(frozen=True)
class Explanation:
    recognised: bool
    cls: Optional[str]
    summary: str
    log: LogFacts
    target: Optional[Dict[str, Any]]
    match: Match
    planned_for: Optional[str] = None
    plan: Any = None  # fixenv.model.Plan
    advice: Tuple[str, ...] = ()
    apply_command: Optional[str] = None
    facts: Optional[Dict[str, Any]] = field(default=None, compare=False, repr=False)

    def to_json(self) -> Dict[str, Any]:
        return {
            "recognised": self.recognised, "class": self.cls, "summary": self.summary,
            "failures": [f.to_json() for f in self.log.failures],
            "log": self.log.to_json(),
            "target": self.target, "match": self.match.to_json(),
            "planned_for": self.planned_for,
            "plan": self.plan.to_json() if self.plan is not None else None,
            "advice": list(self.advice), "apply_command": self.apply_command,
        }


def _target_json(facts: Mapping[str, Any]) -> Dict[str, Any]:
    py = facts["python"]
    return {"executable": py["executable"], "version": py["version"],
            "include": py["include"], "has_headers": py["has_headers"],
            "provider": py["provider"], "os": "%s %s" % (facts["os"].get("id"),
                                                         facts["os"].get("version"))}


def _summary(cls: Optional[str], logf: LogFacts) -> str:
    if cls is None:
        return ("not recognised: the log shows no missing Python header, missing compiler, "
                "OpenMP or compiler-crash error that fixenv knows")
    what = CLASS_TEXT[cls]
    first = next(f for f in logf.failures if f.cls == cls)
    if cls in ("missing-python-header", "missing-other-header", "missing-openmp") and \
            first.get("header"):
        what += " (%s not found)" % first.get("header")
    if cls == "no-compiler":
        comp = first.get("compiler") or ("g++" if first.language == "c++" else None) \
            or logf.compiler
        if comp:
            what += " (%s not found)" % comp
    if cls == "missing-libpython":
        what += ": -l%s" % first.get("library")
    names = {t[0]: t[1] for t in load_rules().tools}
    names["compiler"] = "a compiler run"
    who = logf.tool
    name = names.get(who, who) if who else "the build"
    if who == "triton" and "inductor" in logf.tools:
        name += ", called by PyTorch Inductor,"
    return "%s failed: %s" % (name, what)


PLATFORM_OF_SYSTEM = {"Linux": "linux", "Darwin": "macos", "Windows": "windows"}


def explain(raw: bytes, *, facts: Optional[Dict[str, Any]] = None,
            python: Optional[str] = None, facts_from_file: bool = False,
            playbook: Optional[str] = None, gather_facts: Any = None) -> Explanation:
    """Explain a log. Target: `facts` (from --facts FILE), else probed (`--python` or the
    default target). `gather_facts(python)` probes this machine (injected for tests)."""
    rules = load_rules()
    logf = scan(read_log(raw), rules)
    cls = primary_class(logf, rules)
    summary = _summary(cls, logf)
    if cls is None:
        return Explanation(False, None, summary, logf, None,
                           Match(None, "nothing to compare: not recognised"))
    if gather_facts is None:
        from fixenv.facts import gather
        from fixenv.runner import RecordingRunner

        def gather_facts(p: Optional[str]) -> Dict[str, Any]:
            return gather(RecordingRunner(), p)

    if facts is None:
        facts = gather_facts(python)
    match = judge(logf.python, facts["python"])
    advice: List[str] = []
    target_json = _target_json(facts)
    target_exe = str(facts["python"]["executable"])
    plan_facts: Optional[Dict[str, Any]] = facts
    here = PLATFORM_OF_SYSTEM.get(str(facts["os"].get("system")), None)
    foreign = bool(logf.platform and here and logf.platform != here)
    logpy = logf.python
    if foreign and not python:
        # a Windows/MSVC or macOS log judged on another kind of machine: never a plan here
        plan_facts = None
        match = Match(False, "the log was made on %s, the target %s is on %s" % (
            PLATFORM_NAMES.get(logf.platform or "", logf.platform), target_exe,
            PLATFORM_NAMES.get(here or "", here)))
        advice.append(rules.advice["platform"].format(
            platform=PLATFORM_NAMES.get(logf.platform or "", logf.platform),
            target_system=PLATFORM_NAMES.get(here or "", here)))
        if logpy is not None and logpy.advice and cls in ("missing-python-header",
                                                          "missing-libpython"):
            advice.append("where the log was made: " + logpy.advice)
        key = "%s-%s" % (logf.platform, cls)
        if key in rules.advice:
            advice.append(rules.advice[key].format(header=logf.header or "?"))
    elif match.same is False and logpy is not None:
        if python:
            # the user named the target: respect that, but say it is not the log's Python
            advice.append("planning for --python %s as asked, although the log was built "
                          "for another Python" % target_exe)
        else:
            found = None if facts_from_file else find_interpreter(logpy)
            other = gather_facts(found) if found else None
            if other is not None and judge(logpy, other["python"]).same:
                advice.append("the log's Python is %s on this machine: planning for it, not "
                              "for %s" % (found, target_exe))
                plan_facts = other
                match = Match(False, match.reason + "; the log's Python exists here as "
                              + str(found))
            else:
                plan_facts = None
                where = "in the facts file" if facts_from_file else "here (looked for %s)" % (
                    ", ".join(interpreter_candidates(logpy)[:3]))
                advice.append("the log comes from another Python than the target, and that "
                              "Python is not %s: fixing the target would not fix that build. "
                              "Run `fixenv explain` where the log was made (the same image, "
                              "venv or machine), or name a target with --python PATH" % where)
                there = _advice_there(cls, logpy, rules)
                if there:
                    advice.append("where the log was made: " + there)
    elif match.same is None and not python and cls in FIXING_CLASSES:
        # the log names no Python: a plan for this machine's default target would be a guess
        plan_facts = None
        advice.append(rules.advice["unplaced"].format(target=target_exe))
        key = "unplaced-" + cls
        if key in rules.advice:
            advice.append(rules.advice[key])
    plan = None
    planned_for = None
    if plan_facts is not None and cls in FIXING_CLASSES:
        from fixenv.engine import load_playbook, make_plan
        from fixenv.runner import RecordingRunner

        pb = load_playbook(playbook)
        probe = not (facts_from_file and plan_facts is facts)
        plan = make_plan(pb, plan_facts, RecordingRunner(), probe=probe)
        planned_for = str(plan_facts["python"]["executable"])
    advice += _class_advice(cls, logf, plan_facts or facts, plan, rules, match,
                            darwin=logf.platform == "macos" or here == "macos",
                            placed=match.same is True or (plan_facts is not None
                                                          and plan_facts is not facts))
    apply_command = None
    if plan is not None and plan.changes_pending:
        apply_command = "fixenv apply --yes --python %s" % shlex.quote(planned_for or "")
    exp = Explanation(True, cls, summary, logf, target_json, match, planned_for, plan,
                      tuple(advice), apply_command, plan_facts)
    return exp


PLATFORM_NAMES = {"windows": "Windows", "macos": "macOS", "linux": "Linux"}


def _advice_there(cls: str, logpy: LogPython, rules: Rules) -> str:
    """What fixes this class of failure on the machine the log came from."""
    if cls in ("missing-python-header", "missing-libpython"):
        return logpy.advice
    if cls == "no-compiler":
        if logpy.compiler_advice:
            return logpy.compiler_advice
        return rules.advice.get("unplaced-no-compiler", "")
    return ""


def _class_advice(cls: str, logf: LogFacts, facts: Mapping[str, Any], plan: Any,
                  rules: Rules, match: Match, darwin: bool = False,
                  placed: bool = False) -> List[str]:
    out: List[str] = []
    if logf.tool == "triton" and "inductor" in logf.tools:
        out.append(rules.advice["triton-via-inductor"].format(
            source=logf.source or "main.c / cuda_utils.c"))
    elif logf.tool == "triton" and cls == "missing-python-header":
        out.append(rules.advice["triton-stub"].format(
            source=logf.source or "main.c / cuda_utils.c"))
    if logf.swallowed:
        out.append(rules.advice["empty-include-flag"].format(swallowed=logf.swallowed))
    if cls == "missing-openmp":
        out.append(rules.advice["missing-openmp-darwin" if darwin else "missing-openmp-linux"])
    elif cls == "compiler-crash":
        out.append(rules.advice["compiler-crash"])
    elif cls == "missing-other-header":
        header = logf.header or "?"
        out.append(rules.header_advice.get(header) or
                   rules.advice["missing-other-header"].format(header=header))
    elif cls == "no-compiler" and match.same and logf.python is not None \
            and logf.python.compiler_advice:
        out.append(logf.python.compiler_advice)  # e.g. conda's own compilers
    if plan is not None and not plan.changes_pending and placed and \
            cls in ("missing-python-header", "no-compiler"):
        out.append("the plan finds nothing to change here: the headers and compilers are in "
                   "place now. If the build still fails, it runs another Python or another "
                   "environment (a container, CI) than this machine's target")
    return out


# --------------------------------------------------------------------------- text


def explanation_rows(e: Explanation, out: Any, sudo: bool = False) -> List[List[Tuple[str, str]]]:
    """The explanation as segment rows for fixenv.ui.Out: the same words styled on a terminal
    and plain (ASCII marks, no escape codes) when piped, with NO_COLOR or TERM=dumb."""
    from fixenv.ui import plain, plan_rows

    ell = "…" if out.unicode else "..."

    def clip(text: str, n: int = 160) -> str:
        text = plain(text)
        return text if len(text) <= n else text[: n - len(ell)] + ell

    def row(label: str, text: str, style: str = "") -> List[Tuple[str, str]]:
        return [(label.ljust(11), "bold"), (plain(text), style)]

    if not e.recognised:
        return [[(plain(e.summary), "bold")],
                [("(read %d line%s; no recogniser matched: see `fixenv explain --help` and "
                  "docs/explain.md to add one)" % (e.log.lines, "" if e.log.lines == 1 else "s"),
                  "dim")]]
    rows = [row("problem", e.summary, "bold red")]
    f = next(x for x in e.log.failures if x.cls == e.cls)
    rows.append(row("evidence", "line %d: %s" % (f.line, clip(f.text)), "dim"))
    tool_names = {t[0]: t[1] for t in load_rules().tools}
    tool_names["compiler"] = "a plain compiler run"
    if e.log.tool:
        name = tool_names.get(e.log.tool, e.log.tool)
        if e.log.tool == "triton" and "inductor" in e.log.tools:
            name += ", called by PyTorch Inductor (torch.compile)"
        rows.append(row("tool", name))
    if e.log.platform:
        rows.append(row("made on", PLATFORM_NAMES.get(e.log.platform, e.log.platform)))
    if e.log.compiler:
        rows.append(row("compiler", e.log.compiler))
    if e.log.source:
        rows.append(row("source", e.log.source))
    if e.log.include_dirs:
        rows.append(row("includes", clip(" ".join(e.log.include_dirs), 400)))
    if e.log.python:
        rows.append(row("python", e.log.python.describe))
        if e.log.python.env:
            rows.append(row("  env", e.log.python.env + (
                " " + e.log.python.env_prefix if e.log.python.env_prefix else "")))
        elif e.log.python.env_prefix:
            rows.append(row("  env", e.log.python.env_prefix))
    if e.target:
        t = e.target
        rows.append(row("target", "%s (Python %s, %s, headers %s)" % (
            t["executable"], t["version"], t["provider"],
            "present" if t["has_headers"] else "MISSING in %s" % t["include"])))
    verdict, style = {True: ("same Python", "green"), False: ("DIFFERENT Python", "yellow"),
                      None: ("unknown", "yellow")}[e.match.same]
    rows.append([("match".ljust(11), "bold"), (verdict, style), (": " + plain(e.match.reason), "")])
    for a in e.advice:
        rows.append(row("advice", a, "yellow"))
    if e.plan is not None:
        rows.append([("", "")])
        rows += plan_rows(out, e.plan, sudo)
    if e.apply_command:
        rows.append([("", "")])
        rows.append([("to fix it, run:  ", "bold"), (e.apply_command, "bold cyan")])
        rows.append([("(or `fixenv explain LOG --apply --yes`; `fixenv plan` shows the same plan)",
                      "dim")])
    return rows


def explanation_text(e: Explanation, sudo: bool = False) -> str:
    """The explanation as plain text (no colour, ASCII marks): what a pipe gets."""
    from fixenv.ui import Out

    out = Out(_Null(), color=False)  # type: ignore[arg-type]  # a write-only sink
    return "\n".join("".join(t for t, _s in r) for r in explanation_rows(e, out, sudo))


class _Null:
    encoding = "ascii"

    def write(self, _s: str) -> int:
        return 0

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def print_explanation(e: Explanation, sudo: bool = False, stream: Any = None) -> None:
    """Print to stdout (or `stream`) under the shared output rules (fixenv.ui.Out)."""
    from fixenv.ui import Out

    out = Out(stream)
    out.lines(explanation_rows(e, out, sudo))


def read_source(path: Optional[str], stdin: Any) -> bytes:
    """The log's bytes from a file or '-' (stdin). A bad path, a terminal instead of a pipe,
    or nothing at all to read (an empty file, `</dev/null`) is an input error: exit 3."""
    if path in (None, "-"):
        if stdin is None or (hasattr(stdin, "isatty") and stdin.isatty()):
            raise InputError("no log given: pass a file, or pipe the log into `fixenv explain -`",
                             hint="e.g. python train.py 2>&1 | fixenv explain -")
        buf = getattr(stdin, "buffer", stdin)
        data = buf.read()
        data = data.encode("utf-8") if isinstance(data, str) else data
        if not data.strip():
            raise InputError("no log: standard input was empty",
                             hint="pipe the failed build's output in: "
                                  "python train.py 2>&1 | fixenv explain -")
        return data
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - MAX_BYTES))
            data = fh.read()
    except IsADirectoryError:
        raise InputError("%s: is a directory, not a log file" % path)
    except OSError as exc:
        raise InputError("%s: %s" % (path, exc.strerror or exc))
    if not data.strip():
        raise InputError("no log: %s is empty" % path)
    return data


