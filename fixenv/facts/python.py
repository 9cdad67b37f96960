"""Facts about the *target* interpreter, learned by running it.

The probe below is sent to the target as `python -S -c PROBE`; it must run unchanged on
every CPython from 2.7 on, so it uses no f-strings and no modules beyond sys/os/sysconfig.
It prints one JSON object, parsed by `parse_probe`.

Shape returned by `probe_python` (the `python` key of the facts)::

    {"executable": "/usr/bin/python3.11", "realpath": "/usr/bin/python3.11",
     "base_executable": "/usr/bin/python3.11", "version": "3.11.2",
     "implementation": "CPython", "abiflags": "", "prefix": "/usr", "base_prefix": "/usr",
     "in_venv": false, "include": "/usr/include/python3.11", "has_headers": true,
     "include_candidates": [...], "ext_suffix": ".cpython-311-x86_64-linux-gnu.so",
     "multiarch": "x86_64-linux-gnu", "gil_disabled": false, "provider": "apt",
     "provider_detail": "python3.11-minimal"}
"""
from __future__ import annotations

import json
import os
import re
from typing import Any, Dict, List, Optional

from fixenv.errors import InputError
from fixenv.runner import Runner

PROBE = r"""
import sys, os
try:
    import sysconfig
except ImportError:
    sysconfig = None
def cv(name):
    try:
        return sysconfig.get_config_var(name)
    except Exception:
        return None
def path(name, scheme=None):
    try:
        if scheme:
            return sysconfig.get_path(name, scheme)
        return sysconfig.get_path(name)
    except Exception:
        return None
impl = getattr(sys, 'implementation', None)
impl = impl.name if impl is not None else ('pypy' if 'PyPy' in sys.version else 'cpython')
base_prefix = getattr(sys, 'base_prefix', getattr(sys, 'real_prefix', sys.prefix))
base_exe = getattr(sys, '_base_executable', None) or sys.executable
prefix = sys.prefix
# Under -S, site.py never ran, so a venv is not reflected in sys.prefix: find pyvenv.cfg
# the way site.py does (next to the executable or one level up).
exe_dir = os.path.dirname(os.path.abspath(sys.executable))
for cand in (exe_dir, os.path.dirname(exe_dir)):
    if os.path.isfile(os.path.join(cand, 'pyvenv.cfg')):
        prefix = cand
        base_prefix = getattr(sys, 'base_prefix', sys.prefix)
        break
d = {
    'fixenv_probe': 1,
    'executable': sys.executable,
    'realpath': os.path.realpath(sys.executable),
    'base_executable': os.path.realpath(base_exe),
    'version': '%d.%d.%d' % tuple(sys.version_info[:3]),
    'releaselevel': sys.version_info[3],
    'implementation': impl,
    'abiflags': getattr(sys, 'abiflags', None),
    'config_abiflags': cv('ABIFLAGS'),
    'prefix': prefix,
    'base_prefix': base_prefix,
    'in_venv': os.path.realpath(prefix) != os.path.realpath(base_prefix),
    'include_sysconfig': path('include'),
    'include_posix_prefix': path('include', 'posix_prefix'),
    'includepy': cv('INCLUDEPY'),
    'ext_suffix': cv('EXT_SUFFIX') or cv('SO'),
    'multiarch': (cv('MULTIARCH')
                  or getattr(getattr(sys, 'implementation', None), '_multiarch', None)),
    'gil_disabled': bool(cv('Py_GIL_DISABLED')),
    'py_debug': bool(cv('Py_DEBUG')),
    'platform': sys.platform,
    'pointer_bits': 64 if sys.maxsize > 2**32 else 32,
}
try:
    import json
    sys.stdout.write(json.dumps(d))
except ImportError:
    sys.stdout.write(repr(d))
"""

_REQUIRED = ("executable", "version", "prefix", "base_prefix", "include_sysconfig")
MIN_TARGET = (2, 7)


def parse_probe(text: str, interpreter: str) -> Dict[str, Any]:
    """Turn the probe's stdout into the `python` facts (without provider)."""
    try:
        raw = json.loads(text)
    except ValueError:
        first = (text.strip().splitlines() or [""])[0][:120]
        raise InputError("%s is not a Python interpreter fixenv can use: its answer to the "
                         "probe was not JSON: %r" % (interpreter, first))
    if not isinstance(raw, dict) or raw.get("fixenv_probe") != 1:
        raise InputError("%s did not answer the probe like a Python interpreter" % interpreter)
    for key in _REQUIRED:
        if key not in raw:
            raise InputError("%s's probe answer lacks %r" % (interpreter, key))
    abiflags = raw.get("abiflags")
    if abiflags is None:  # Python 2 has no sys.abiflags
        abiflags = raw.get("config_abiflags") or ""
    candidates: List[str] = []
    base = os.path.realpath(str(raw.get("base_prefix") or "")).rstrip("/") + "/"
    for key in ("include_sysconfig", "include_posix_prefix", "includepy"):
        value = raw.get(key)
        # INCLUDEPY is a build-time value: a relocated or python-build-standalone interpreter
        # reports the build machine's (or the original install's) headers there. Trust it only
        # inside the interpreter's own prefix (macOS CLT's framework dir qualifies).
        if key == "includepy" and value and raw.get("platform") != "darwin" and \
                not os.path.realpath(value).startswith(base):
            continue
        if value and value not in candidates:
            candidates.append(value)
    include = next((c for c in candidates if os.path.isfile(os.path.join(c, "Python.h"))), None)
    has_headers = include is not None
    if include is None:
        include = raw["include_sysconfig"] or candidates[0] if candidates else ""
    impl = str(raw.get("implementation") or "cpython")
    impl_name = {"cpython": "CPython", "pypy": "PyPy"}.get(impl.lower(), impl)
    return {
        "executable": raw["executable"],
        "realpath": raw.get("realpath") or raw["executable"],
        "base_executable": raw.get("base_executable") or raw.get("realpath") or raw["executable"],
        "version": raw["version"],
        "implementation": impl_name,
        "abiflags": abiflags,
        "prefix": raw["prefix"],
        "base_prefix": raw["base_prefix"],
        "in_venv": bool(raw.get("in_venv")),
        "include": include,
        "sysconfig_include": raw["include_sysconfig"],
        "has_headers": has_headers,
        "include_candidates": candidates,
        "ext_suffix": raw.get("ext_suffix") or ".so",
        "multiarch": raw.get("multiarch") or None,
        "gil_disabled": bool(raw.get("gil_disabled")) or "t" in abiflags,
        "platform": raw.get("platform") or "",
    }


def resolve_target(python: Optional[str], environ: Optional[Dict[str, str]] = None) -> str:
    """--python > $VIRTUAL_ENV/bin/python > python3 on PATH. Returns a path to run."""
    env = os.environ if environ is None else environ
    if python is not None and not python.strip():
        raise InputError("--python is empty: name an interpreter (a path, or a command on "
                         "PATH such as python3.12)", hint="leave --python out to use the "
                         "active venv, else python3 on PATH")
    if python:
        candidate = python
        if os.sep not in candidate:  # a bare name: looked up on PATH, as a shell does
            found = _which(candidate, env.get("PATH", ""))
            if not found:
                raise InputError("--python %s: no such command on PATH" % python,
                                 hint=_installed_hint(candidate, env))
            candidate = found
        if not os.path.exists(candidate):
            raise InputError("--python %s: no such file" % python)
        if os.path.isdir(candidate):
            inside = _interpreter_in(candidate)
            raise InputError("--python %s: is a directory, not an interpreter" % python,
                             hint="did you mean --python %s?" % inside if inside else
                             "name the interpreter itself (e.g. DIR/bin/python)")
        if not os.access(candidate, os.X_OK):
            raise InputError("--python %s: not executable (chmod +x it, or name the "
                             "interpreter itself)" % python)
        return candidate
    venv = env.get("VIRTUAL_ENV")
    if venv:
        for name in ("python", "python3"):
            p = os.path.join(venv, "bin", name)
            if os.access(p, os.X_OK):
                return p
    found = _which("python3", env.get("PATH", ""))
    if not found:
        raise InputError("no python3 on PATH: name the target with --python PATH")
    if venv:  # an activated venv that is gone: say so rather than quietly use another
        _warn_once("VIRTUAL_ENV=%s %s; using python3 from PATH instead: %s (deactivate, or "
                   "pass --python)" % (venv, "has no bin/python" if os.path.isdir(venv)
                                       else "does not exist", found))
    return found


_WARNED: set = set()


def _warn_once(text: str) -> None:
    import sys

    if text not in _WARNED:
        _WARNED.add(text)
        sys.stderr.write("fixenv: warning: %s\n" % text)
        sys.stderr.flush()


def _interpreter_in(directory: str) -> Optional[str]:
    """The interpreter of a venv or an install prefix given as a directory."""
    for sub in ("bin", "Scripts", ""):
        for name in ("python", "python3", "python.exe"):
            p = os.path.join(directory, sub, name) if sub else os.path.join(directory, name)
            if os.path.isfile(p) and os.access(p, os.X_OK):
                return p
    return None


def _pyenv_root(env: Any) -> str:
    return env.get("PYENV_ROOT") or os.path.join(env.get("HOME") or os.path.expanduser("~"),
                                                 ".pyenv")


def pyenv_versions_with(name: str, env: Any = None) -> List[str]:
    """The real interpreters named `name` under pyenv's versions dir (what a shim stands
    for), e.g. ~/.pyenv/versions/3.12.1/bin/python3.12."""
    env = os.environ if env is None else env
    root = os.path.join(_pyenv_root(env), "versions")
    try:
        versions = sorted(os.listdir(root))
    except OSError:
        return []
    out = []
    for v in versions:
        p = os.path.join(root, v, "bin", os.path.basename(name))
        if os.path.isfile(p) and os.access(p, os.X_OK):
            out.append(p)
    return out


def _installed_hint(name: str, env: Any) -> Optional[str]:
    found = pyenv_versions_with(name, env)
    if found:
        return "pyenv has it, not on PATH: --python %s" % " or --python ".join(found[:3])
    return None


def _which(name: str, path: str) -> Optional[str]:
    for d in path.split(os.pathsep):
        if not d:
            continue
        p = os.path.join(d, name)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    return None


def _is_shim(path: str) -> bool:
    return os.path.basename(os.path.dirname(path)) == "shims"


def start_probe(runner: Runner, interpreter: str):
    return runner.start([interpreter, "-S", "-c", PROBE], timeout=30)


def finish_probe(pending, interpreter: str) -> Dict[str, Any]:
    result = pending.result()
    if result.rc == 127 and not _is_shim(interpreter):
        raise InputError("--python %s: cannot run it: %s" % (interpreter, result.stderr.strip()))
    if not result.ok and _is_shim(interpreter):
        # "pyenv: python3.12: command not found / The `python3.12' command exists in these
        # Python versions: 3.12.1": the shim stands for no interpreter in this directory
        real = pyenv_versions_with(interpreter)
        first = (result.stderr.strip().splitlines() or [""])[0]
        raise InputError("%s is a pyenv shim that runs no interpreter here (%s)"
                         % (interpreter, first or "exit %d" % result.rc),
                         hint=("name the real interpreter: --python %s"
                               % " or --python ".join(real[:3])) if real else
                         "`pyenv versions` lists what is installed; `pyenv install` adds one")
    if not result.ok:
        first = (result.stderr.strip().splitlines() or [""])[-1]
        if re.search(r"SyntaxError|invalid syntax", result.stderr):
            raise InputError("%s is not a supported Python (the probe needs CPython >= 2.7): %s"
                             % (interpreter, first))
        raise InputError("%s is not a Python interpreter fixenv can use: `%s -S -c <probe>` "
                         "exited %d: %s" % (interpreter, interpreter, result.rc, first))
    facts = parse_probe(result.stdout, interpreter)
    from fixenv.facts import values  # a fake interpreter can answer anything: check first

    values.check({"python": {"version": facts["version"]}}, "the probe of %s" % interpreter)
    major, minor = (int(x) for x in facts["version"].split(".")[:2])
    if (major, minor) < MIN_TARGET:
        raise InputError("%s is Python %s; fixenv supports targets from 2.7 on"
                         % (interpreter, facts["version"]))
    return facts
