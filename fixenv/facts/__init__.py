"""Gather the facts fixenv plans from, and check a facts file given with --facts.

The JSON shape (`fixenv detect --json`, accepted back by `plan --facts FILE`)::

    os: {system, id, version, like: [..], arch, codename?, family?, major?}
    managers: [..]
    privilege: {root: bool, sudo: bool}
    python: {executable, version, implementation, abiflags, prefix, base_prefix, in_venv,
             include, has_headers, provider, ...optional extras}
    compilers: {cc: path|null, cxx: path|null}
    env: {CPATH: str|null}
    user: {name, home, shell, sysroot, ...}   (optional in a facts file: fixenv/facts/user.py
                                               gives its defaults: root -> /root, else
                                               /home/<name>)
    invocation: {lock_timeout}   (derived: this run's settings, fixenv/facts/invocation.py)

Only those keys are required of a facts file; everything else is derived by `normalize`.
Planning reads facts only: everything machine-specific it needs is here.
"""
from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Mapping, Optional

from fixenv.errors import InputError
from fixenv.facts import buildenv as _buildenv
from fixenv.facts import compilers as _compilers
from fixenv.facts import invocation as _invocation
from fixenv.facts import osinfo, provider
from fixenv.facts import python as _python
from fixenv.facts import user as _user
from fixenv.facts import values as _values
from fixenv.runner import Runner

Facts = Dict[str, Any]

REQUIRED: Dict[str, Any] = {
    "os": {"system": str, "id": str, "version": (str, type(None)), "like": list, "arch": str},
    "managers": list,
    "privilege": {"root": bool, "sudo": bool},
    "python": {"executable": str, "version": str, "implementation": str, "abiflags": str,
               "prefix": str, "base_prefix": str, "in_venv": bool, "include": str,
               "has_headers": bool, "provider": str},
    "compilers": {"cc": (str, type(None)), "cxx": (str, type(None))},
    "env": {"CPATH": (str, type(None))},
}


class Gathering:
    """A probe of this machine under way: its processes run while the caller does other work
    (plan loads the playbook meanwhile). `finish()` gives the facts; `discard()` stops it."""

    def __init__(self, runner: Runner, python: Optional[str],
                 environ: Optional[Mapping[str, str]], root_dir: Optional[str]) -> None:
        self._runner = runner
        self._env = env = dict(os.environ if environ is None else environ)
        self._error: Optional[BaseException] = None
        self._pending: List[Any] = []
        try:
            self._target = target = _python.resolve_target(python, env)
        except InputError as exc:  # raised by finish(): errors keep the order they had
            self._error = exc
            return
        self._probe = _python.start_probe(runner, target)
        self._pending.append(self._probe)
        self._is_root = is_root = hasattr(os, "geteuid") and os.geteuid() == 0
        self._sudo = None
        if not is_root and _python._which("sudo", env.get("PATH", "")):
            self._sudo = runner.start(["sudo", "-n", "true"], timeout=10)
            self._pending.append(self._sudo)
        try:
            self._os = osinfo.detect_os(root_dir)
            self._managers = osinfo.detect_managers(self._os)
            # The ownership query runs alongside the probe; skipped when the path names it.
            self._owner = provider.start(runner, self._managers, os.path.realpath(target), env)
        except BaseException:
            self.discard()
            raise
        if self._owner is not None:
            self._pending.append(self._owner[2])

    def discard(self) -> None:
        for pending in self._pending:
            pending.discard()

    def finish(self) -> Facts:
        if self._error is not None:
            raise self._error
        runner, env, target, is_root = self._runner, self._env, self._target, self._is_root
        py = _python.finish_probe(self._probe, target)
        py.update(provider.finish(runner, self._managers, self._owner, py, env))
        facts: Facts = {
            "os": self._os,
            "managers": self._managers,
            "privilege": {"root": bool(is_root),
                          "sudo": bool(self._sudo is not None and self._sudo.result().ok)},
            "python": py,
            "compilers": _compilers.detect_compilers(env),
            "env": {"CPATH": env.get("CPATH")},
            "user": _user.detect(env, bool(is_root)),
            "buildenv": _buildenv.detect(env, system=str(self._os.get("system")),
                                         root=bool(is_root)),
        }
        return dict(_values.check(normalize(facts), "the probe of %s" % target))


def begin(runner: Runner, python: Optional[str] = None,
          environ: Optional[Mapping[str, str]] = None,
          root_dir: Optional[str] = None) -> Gathering:
    """Start probing this machine; the probes' processes run until `.finish()`."""
    return Gathering(runner, python, environ, root_dir)


def gather(runner: Runner, python: Optional[str] = None,
           environ: Optional[Mapping[str, str]] = None, root_dir: Optional[str] = None) -> Facts:
    """Probe this machine. Independent probes run concurrently."""
    return begin(runner, python, environ, root_dir).finish()


def _check(node: Any, spec: Any, path: str, errors: List[str]) -> None:
    if isinstance(spec, dict):
        if not isinstance(node, dict):
            errors.append("%s: expected an object" % (path or "the document"))
            return
        for key, sub in spec.items():
            if key not in node:
                errors.append("%s.%s: missing" % (path, key) if path else "%s: missing" % key)
            else:
                _check(node[key], sub, "%s.%s" % (path, key) if path else key, errors)
        return
    types = spec if isinstance(spec, tuple) else (spec,)
    if bool in types and not isinstance(node, bool):
        errors.append("%s: expected true/false, got %r" % (path, node))
    elif bool not in types and not isinstance(node, types):
        names = "/".join("null" if t is type(None) else t.__name__ for t in types)
        errors.append("%s: expected %s, got %r" % (path, names.replace("str", "string"), node))


def validate(data: Any, source: str = "facts") -> Facts:
    """Check a facts document has every required key with the right type."""
    errors: List[str] = []
    _check(data, REQUIRED, "", errors)
    if errors:
        more = " (and %d more)" % (len(errors) - 1) if len(errors) > 1 else ""
        raise InputError("%s: %s%s" % (source, errors[0], more),
                         hint="`fixenv detect --json` writes a complete facts file")
    return dict(_values.check(normalize(data), source))


def load_file(path: str) -> Facts:
    from fixenv.playbook.loader import MAX_BYTES

    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)  # bounded: --facts /dev/zero must not hang
        if len(raw) > MAX_BYTES:
            raise InputError("--facts %s: larger than %d MiB; not a facts file"
                             % (path, MAX_BYTES >> 20))
    except IsADirectoryError:
        raise InputError("--facts %s: is a directory, not a JSON file" % path)
    except OSError as exc:
        raise InputError("--facts %s: %s" % (path, exc.strerror or exc))
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError("%s: not UTF-8 text (byte %d)" % (path, exc.start))
    except json.JSONDecodeError as exc:
        raise InputError("%s:%d:%d: not valid JSON: %s" % (path, exc.lineno, exc.colno, exc.msg))
    except RecursionError:
        raise InputError("%s: nested too deeply to be a facts file" % path)
    return validate(data, path)


def normalize(facts: Facts) -> Facts:
    """Fill the derived fields templates and conditions use. Never overwrites given values."""
    osf = osinfo.normalize_os(facts["os"])  # version null + version_note when unparsable
    py = facts["python"]
    parts = str(py["version"]).split(".")
    py.setdefault("major", int(parts[0]) if parts[0].isdigit() else 0)
    py.setdefault("minor", int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0)
    py.setdefault("xy", "%s.%s" % (py["major"], py["minor"]))
    py.setdefault("xy_nodot", "%s%s" % (py["major"], py["minor"]))
    flags = str(py.get("abiflags") or "")
    py.setdefault("debug", "d" in flags)
    py.setdefault("freethreaded", "t" in flags)
    py.setdefault("gil_disabled", py["freethreaded"])
    py.setdefault("realpath", py["executable"])
    py.setdefault("base_executable", py["realpath"])
    py.setdefault("sysconfig_include", py["include"])
    py.setdefault("include_candidates", [py["include"]])
    py.setdefault("provider_detail", None)
    py.setdefault("ext_suffix", None)
    py.setdefault("multiarch", None)
    py.setdefault("platform", "darwin" if osf.get("system") == "Darwin" else "linux")
    facts.setdefault("system_manager", next(
        (m for m in facts["managers"] if m in osinfo.SYSTEM_MANAGERS.get(osf["family"], [])), None))
    facts["env"].setdefault("CPATH", None)
    # a facts file without the group: nothing known beyond headers (never this machine's)
    be = facts.setdefault("buildenv", {})
    for key, empty in (("noexec", []), ("exec_dir", None), ("compiler_env", []),
                       ("fix_env", {}), ("openmp", None), ("cxx17", None), ("cxx20", None)):
        be.setdefault(key, empty)
    facts["user"] = _user.defaults(facts.get("user") or {}, bool(facts["privilege"]["root"]))
    # settings of this run, not of the machine described: never a file's (invocation.py)
    facts["invocation"] = _invocation.detect()
    if "cpath" not in facts:
        from fixenv.cpath import update_facts
        update_facts(facts)
    return facts
