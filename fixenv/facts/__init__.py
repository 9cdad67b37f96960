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


def gather(runner: Runner, python: Optional[str] = None,
           environ: Optional[Mapping[str, str]] = None, root_dir: Optional[str] = None) -> Facts:
    """Probe this machine. Independent probes run concurrently."""
    env = dict(os.environ if environ is None else environ)
    target = _python.resolve_target(python, env)
    probe = _python.start_probe(runner, target)
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    sudo_pending = None
    if not is_root and _python._which("sudo", env.get("PATH", "")):
        sudo_pending = runner.start(["sudo", "-n", "true"], timeout=10)
    os_facts = osinfo.detect_os(root_dir)
    managers = osinfo.detect_managers(os_facts)
    # The ownership query runs alongside the probe; skipped when the path names the owner.
    owner_started = provider.start(runner, managers, os.path.realpath(target), env)
    py = _python.finish_probe(probe, target)
    py.update(provider.finish(runner, managers, owner_started, py, env))
    facts: Facts = {
        "os": os_facts,
        "managers": managers,
        "privilege": {"root": bool(is_root),
                      "sudo": bool(sudo_pending is not None and sudo_pending.result().ok)},
        "python": py,
        "compilers": _compilers.detect_compilers(env),
        "env": {"CPATH": env.get("CPATH")},
        "user": _user.detect(env, bool(is_root)),
        "buildenv": _buildenv.detect(env, system=str(os_facts.get("system")), root=bool(is_root)),
    }
    return dict(_values.check(normalize(facts), "the probe of %s" % target))


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
    if "cpath" not in facts:
        from fixenv.cpath import update_facts
        update_facts(facts)
    return facts
