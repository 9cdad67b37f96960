"""Prove the fix: build a tiny extension against the target's headers and import it with the
target interpreter (KNOWLEDGE.md §4). Returns a VerifyResult; never prints.

Checks: headers (Python.h where the target says), compilers present, C build with a version
and free-threading guard, import + call with the target, and a C++ compile of the same source
(what Torch Inductor does with g++). The C and C++ builds run concurrently.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any, Dict, List, Mapping, Optional, Sequence

from fixenv.model import Check, VerifyResult
from fixenv.runner import Result, Runner

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "probe_ext.c")


def _defines(py: Mapping[str, Any]) -> List[str]:
    return ["-DFIXENV_MAJOR=%d" % int(py["major"]), "-DFIXENV_MINOR=%d" % int(py["minor"]),
            "-DFIXENV_GIL_DISABLED=%d" % (1 if py.get("gil_disabled") else 0)]


def _errors(output: str, limit: int = 8) -> str:
    lines = [ln for ln in output.splitlines() if "error" in ln.lower() or "fatal" in ln.lower()]
    return "\n".join((lines or output.splitlines())[:limit])


def _temp_parent(facts: Mapping[str, Any]) -> Optional[str]:
    """Where to build: the exec-capable TMPDIR a new shell gets once fixenv persisted it
    (a noexec TMPDIR, issue 14), else the default temp dir."""
    if not (facts.get("buildenv") or {}).get("fix_env"):
        return None
    from fixenv.kinds.buildenv import persisted_env

    tmp = persisted_env(facts).get("TMPDIR")
    if tmp:
        os.makedirs(tmp, exist_ok=True)
    return tmp or None


def fix_hint(facts: Mapping[str, Any]) -> str:
    from fixenv.render import invoked_as  # `python3 fixenv.pyz` when no fixenv on PATH

    return "run `%s apply --yes --python %s`" % (invoked_as(), facts["python"]["executable"])


IMPORT_CODE = ("import sys; sys.path.insert(0, sys.argv[1]); import fixenv_probe; "
               "sys.stdout.write('%d.%d' % fixenv_probe.answer())")


def probe_commands(py: Mapping[str, Any], cc: Optional[str], cxx: Optional[str], source: str,
                   workdir: str) -> Dict[str, List[str]]:
    """The proof's processes as argv — the C build, the import, the C++ compile — shared by
    `verify` (which runs them) and `plan --format shell` (which renders them)."""
    module = os.path.join(workdir, "fixenv_probe" + (py.get("ext_suffix") or ".so"))
    flags = ["-shared", "-fPIC", "-O0"]
    if py.get("platform") == "darwin":
        flags += ["-undefined", "dynamic_lookup"]
    inc = ["-I" + str(py["include"])]
    out: Dict[str, List[str]] = {}
    if cc:
        out["build-c"] = [cc] + flags + inc + _defines(py) + [source, "-o", module]
        out["import"] = [str(py["executable"]), "-c", IMPORT_CODE, workdir]
    if cxx:
        out["build-cxx"] = [cxx, "-x", "c++", "-fPIC", "-O0", "-c"] + inc + _defines(py) + [
            source, "-o", os.path.join(workdir, "probe_cxx.o")]
    return out


def inductor_check(facts: Mapping[str, Any], runner: Runner, source: str, workdir: str,
                   defines: Sequence[str], same_as: Optional[Result] = None) -> Optional[Check]:
    """Compile like Torch Inductor: the C++ compiler, `-I<sysconfig include>` whether or not
    it exists, and nothing else but the inherited environment (CPATH) to find Python.h.

    `same_as`: the result of a compile with exactly these flags and environment that the
    caller already ran (verify's C++ build when the headers are in the sysconfig include
    dir); it is the same experiment, so it is not run twice."""
    cxx = facts["compilers"].get("cxx")
    if not cxx:
        return None
    py = facts["python"]
    inc = str(py.get("sysconfig_include") or py.get("include"))
    if same_as is not None:
        res = same_as
    else:
        argv = [cxx, "-x", "c++", "-fPIC", "-O0", "-c", "-I" + inc] + list(defines) + [
            source, "-o", os.path.join(workdir, "probe_inductor.o")]
        res = runner.run(argv, timeout=120)
    where = "-I%s%s" % (inc, "" if os.path.isdir(inc) else " (missing)")
    cp = facts.get("env", {}).get("CPATH")
    if res.ok:
        detail = "%s %s compiled it%s" % (os.path.basename(cxx), where,
                                           " with CPATH=%s" % cp if cp else "")
        return Check("inductor", True, detail)
    lines = [ln for ln in res.output.splitlines() if "error" in ln.lower()][:4]
    detail = "%s %s failed as Torch Inductor would%s:\n%s" % (
        os.path.basename(cxx), where, " (CPATH=%s)" % cp if cp else " (CPATH unset)",
        "\n".join(lines) or res.tail(4))
    from fixenv.headers import _unreached_hint

    return Check("inductor", False, detail, _unreached_hint(facts) or
                 "run `fixenv apply --yes --python %s` (it sets CPATH when the headers live "
                 "outside %s)" % (py["executable"], inc))


def verify(facts: Mapping[str, Any], runner: Runner, *, cxx: bool = True,
           keep: Optional[str] = None) -> VerifyResult:
    py = facts["python"]
    exe = py["executable"]
    include = py["include"]
    checks: List[Check] = []
    from fixenv import headers  # the one headers check (verify, doctor)

    found = headers.check(facts, fix_hint(facts))
    hint = found.fix or fix_hint(facts)  # e.g. "start a new shell" when CPATH lags behind
    checks.append(found)
    cc, cxx_path = facts["compilers"].get("cc"), facts["compilers"].get("cxx")
    checks.append(Check("c-compiler", bool(cc), cc or "no C compiler ($CC, gcc, cc, clang)",
                        None if cc else hint))
    if cxx:
        checks.append(Check("cxx-compiler", bool(cxx_path), cxx_path or
                            "no C++ compiler ($CXX, g++, c++, clang++): Torch Inductor needs one",
                            None if cxx_path else hint))
    if not cc and not (cxx and cxx_path):
        return VerifyResult(exe, tuple(checks))
    workdir = keep or tempfile.mkdtemp(prefix="fixenv-verify-", dir=_temp_parent(facts))
    try:
        argv = probe_commands(py, cc, cxx_path if cxx else None, SOURCE, workdir)
        module = argv["build-c"][-1] if "build-c" in argv else ""
        pending_c = pending_cxx = None
        if "build-c" in argv:
            pending_c = runner.start(argv["build-c"], timeout=120)
        if "build-cxx" in argv:
            pending_cxx = runner.start(argv["build-cxx"], timeout=120)
        if pending_c is not None:
            res = pending_c.result()
            checks.append(Check("build-c", res.ok,
                                "%s built %s" % (os.path.basename(str(cc)),
                                                 os.path.basename(module))
                                if res.ok else _errors(res.output), None if res.ok else hint))
            if res.ok:
                imp = runner.run(argv["import"], timeout=60)
                good = imp.ok and imp.stdout.strip() == py["xy"]
                checks.append(Check(
                    "import", good,
                    "%s imported it; headers report %s" % (exe, imp.stdout.strip()) if good
                    else "importing with %s failed: %s" % (exe, imp.tail(5) or imp.stdout),
                    None if good else hint))
        if pending_cxx is not None:
            res = pending_cxx.result()
            checks.append(Check("build-cxx", res.ok,
                                "%s compiled the same source as C++"
                                % os.path.basename(str(cxx_path))
                                if res.ok else _errors(res.output), None if res.ok else hint))
            # When the headers are in the sysconfig include dir, the C++ build above used
            # exactly Inductor's flags and environment: its result is the Inductor check's.
            same = os.path.realpath(str(py.get("sysconfig_include") or include)) == \
                os.path.realpath(include)
            ind = inductor_check(facts, runner, SOURCE, workdir, _defines(py),
                                 same_as=res if same else None)
            checks += [ind] if ind is not None else []
    finally:
        if keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return VerifyResult(exe, tuple(checks))


# --------------------------------------------------------------------------- consumers (issue 14)


def build_env_check(facts: Mapping[str, Any], runner: Runner) -> Check:
    """The environment problems beyond headers (fixenv/facts/buildenv.py), with the C++17
    probe that detection skips (it starts the compiler)."""
    from fixenv.facts import buildenv

    group = dict(facts.get("buildenv") or {})
    cxx = facts["compilers"].get("cxx")
    for std in ("c++17", "c++20"):
        key = "cxx" + std[3:]
        if group.get(key) is None:
            group[key] = buildenv.probe_std(cxx, runner, std)
    problems = buildenv.problems(group)
    notes = "".join("; note: " + n for n in buildenv.notes(group))
    if not problems:
        stds = [s for s in ("c++17", "c++20") if group.get("cxx" + s[3:])]
        return Check("build-env", True, "temp and cache dirs exec-capable; CC/CXX usable%s%s"
                     % ("; the C++ compiler accepts -std=" + "/".join(stds) if stds else "",
                        notes))
    return Check("build-env", False, "; ".join(problems) + notes, fix_hint(facts))


def with_consumers(result: VerifyResult, facts: Mapping[str, Any], runner: Runner,
                   spec: Optional[str] = None, *, env: Optional[Mapping[str, str]] = None,
                   timeout: Optional[float] = None) -> VerifyResult:
    """`result` plus the build-env check and one `consumer:<name>` check per consumer the
    target can import (`spec`: "torch,pip", or None/"all" for every one found). `env`: what
    the checks run with on top of this process's environment (apply: a new shell's)."""
    from fixenv import consumers

    own_ok = result.ok
    inv = consumers.inventory(facts, runner)
    found = consumers.usable(inv)
    names, missing = consumers.select(spec, found)
    checks: List[Check] = [build_env_check(facts, runner)]
    if not found and not missing:
        checks.append(Check("consumers", True, consumers.none_found(inv, result.python)))
    checks += list(consumers.run(facts, names, runner, timeout or consumers.TIMEOUT, env=env,
                                 own_ok=own_ok))
    checks += list(consumers.not_found(missing))
    return VerifyResult(result.python, tuple(result.checks) + tuple(checks), result.skipped)


def after_apply(recap: Any, python: Optional[str], spec: Optional[str],
                environ: Mapping[str, str]) -> Any:
    """`fixenv apply --consumers`: the consumer checks after apply's own verification, with
    what a new shell has after the changes (CPATH, the build-env variables) over `environ`
    (the executor's environment), which predates them. Not run when apply's verification
    did not run or failed to start; Ctrl-C keeps the recap and marks it interrupted."""
    import dataclasses

    from fixenv import consumers
    from fixenv.facts import buildenv, gather
    from fixenv.runner import RecordingRunner

    if recap.verify is None or recap.verify.skipped or recap.interrupted:
        return recap
    facts = gather(RecordingRunner(), python)
    env = consumers.env_after_apply(facts)
    if env:
        merged = dict(environ)
        merged.update(env)
        facts = dict(facts)
        facts["buildenv"] = buildenv.detect(merged, system=str(facts["os"].get("system")),
                                            root=bool(facts["privilege"].get("root")))
    try:
        result = with_consumers(recap.verify, facts, Runner(), spec, env=env or None)
    except KeyboardInterrupt:
        return dataclasses.replace(recap, interrupted=True)
    return dataclasses.replace(recap, verify=result)


def consumer_report(facts: Mapping[str, Any], result: VerifyResult, runner: Runner, *,
                    deep: bool = False, progress: Any = None) -> List[Check]:
    """What `fixenv doctor` shows of the consumers: one line naming those found (or that
    there are none); with `deep`, the build-env check and each consumer's check instead."""
    from fixenv import consumers

    inv = consumers.inventory(facts, runner)
    found = consumers.usable(inv)
    listed = ", ".join(("%s %s" % (n, inv[n])).strip() for n in found)
    from fixenv.facts import buildenv

    # without --deep: the problems the facts show (no compiler runs), only when there are some
    shallow = [] if deep or not buildenv.problems(facts.get("buildenv") or {}) else [
        Check("build-env", False, "; ".join(buildenv.problems(facts["buildenv"])),
              fix_hint(facts))]
    if not found and not deep:
        return shallow + [Check("consumers", True, consumers.none_found(inv, result.python))]
    if not found:
        return [build_env_check(facts, runner),
                Check("consumers", True, consumers.none_found(inv, result.python))]
    if not deep:
        return shallow + [Check("consumers", True, "found %s; `fixenv doctor --deep` builds "
                                                   "with them" % listed)]
    if progress is not None:
        progress.phase("building with %s" % ", ".join(found))
    out: List[Check] = [build_env_check(facts, runner),
                        Check("consumers", True, "found %s" % listed)]
    out += list(consumers.run(facts, found, runner, consumers.TIMEOUT, own_ok=result.ok))
    return out
