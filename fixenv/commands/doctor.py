"""`fixenv doctor`: detect + plan + verify as one short report, a ✓/✗ line per check.

Every failed check names the command that fixes it, taken from the planner (the same plan
`fixenv apply` would run), so the advice is never a guess. Only checks that break builds for
the target fail the report (exit 1): headers, compilers (Inductor needs the C++ one), the
test build and import. CPATH problems are warnings: an unset CPATH is normal, and a bad one
only bites when the target's own include dir lacks Python.h, which `headers` catches.

Returns a DoctorReport; the CLI renders it (fixenv/ui.py) or prints `to_json()`.
"""
from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from fixenv.model import CHANGE, Exec, FileEdit, Plan, VerifyResult

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"
# the checks every report has, in this order; any further verify checks follow
ORDER = ("python", "venv", "headers", "c-compiler", "cxx-compiler", "CPATH", "build-c",
         "import", "build-cxx")


@dataclass(frozen=True)
class DoctorCheck:
    name: str
    status: str  # ok | warn | fail | skip
    detail: str
    matters: bool = True  # does a failure break builds for the target?
    fix: Optional[str] = None  # the one command to run
    fix_commands: Tuple[str, ...] = ()  # what that command runs underneath
    more: Tuple[str, ...] = ()  # extra lines shown with --verbose

    @property
    def ok(self) -> bool:
        return self.status in (OK, WARN)

    def to_json(self) -> Dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "status": self.status, "matters": self.matters,
                "detail": self.detail, "fix": self.fix, "fix_commands": list(self.fix_commands),
                "more": list(self.more)}


@dataclass(frozen=True)
class DoctorReport:
    python: str
    checks: Tuple[DoctorCheck, ...]
    fix: Optional[str] = None
    fix_commands: Tuple[str, ...] = ()
    plan: Optional[Plan] = field(default=None, compare=False)

    @property
    def failures(self) -> List[DoctorCheck]:
        return [c for c in self.checks if c.status == FAIL and c.matters]

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_json(self) -> Dict[str, Any]:
        return {"ok": self.ok, "python": self.python,
                "checks": [c.to_json() for c in self.checks],
                "failed": [c.name for c in self.failures],
                "warnings": [c.name for c in self.checks if c.status == WARN],
                "fix": self.fix, "fix_commands": list(self.fix_commands),
                "changes_pending": bool(self.plan and self.plan.changes_pending)}


# --------------------------------------------------------------------------- pure checks


def header_version(include: str) -> Optional[str]:
    """PY_VERSION from <include>/patchlevel.h ("3.11.2"), or None (fixenv/headers.py)."""
    from fixenv.headers import patchlevel

    got = patchlevel(include)
    return got[2] if got else None


def headers_check(facts: Mapping[str, Any]) -> DoctorCheck:
    """verify's `headers` check (fixenv/headers.py), as a doctor line."""
    from fixenv.headers import check

    c = check(facts)
    return DoctorCheck("headers", OK if c.ok else FAIL, c.detail)


def cpath_check(cpath: Optional[str], py: Mapping[str, Any],
                isdir=os.path.isdir, isfile=os.path.isfile) -> DoctorCheck:
    """CPATH sanity, in the plan's words (cpath.problems) plus dirs that do not exist.
    Never fatal: see the module docstring."""
    if not cpath:
        return DoctorCheck("CPATH", OK, "unset (fine: builds get -I from the target)",
                           matters=False)
    from fixenv import cpath as rules
    from fixenv.headers import other_version_dirs

    parts, empties = rules.split(cpath)
    missing = [d for d in parts if not isdir(d)]
    stale = other_version_dirs([d for d in parts if d not in missing], {"python": py})
    problems = rules.problems({"stale": stale, "empty_elements": empties > 0,
                               "current": cpath})
    problems += ["%s does not exist" % d for d in missing]
    if not problems:
        return DoctorCheck("CPATH", OK, cpath, matters=False)
    keep = rules.merge([], cpath, stale + missing)
    fix = ("export CPATH=%s" % shlex.quote(keep)) if keep else "unset CPATH"
    return DoctorCheck("CPATH", WARN, "; ".join(problems), matters=False, fix=fix)


def _python_check(py: Mapping[str, Any]) -> DoctorCheck:
    provider = str(py.get("provider") or "unknown")
    if py.get("provider_detail"):
        provider += " (%s)" % py["provider_detail"]
    flags = py.get("abiflags") or ""
    detail = "%s %s%s, from %s" % (py.get("implementation", "Python"), py["version"], flags,
                                   provider)
    more = ["executable %s" % py["executable"]]
    if py.get("base_executable") and py["base_executable"] != py["executable"]:
        more.append("real binary %s" % py["base_executable"])
    more.append("include dir %s" % py.get("include"))
    return DoctorCheck("python", OK, detail, more=tuple(more))


def _venv_check(py: Mapping[str, Any]) -> DoctorCheck:
    if not py.get("in_venv"):
        return DoctorCheck("venv", OK, "not a venv")
    return DoctorCheck("venv", OK, "a venv of %s (base prefix %s): headers come from the base"
                       % (py.get("base_executable"), py.get("base_prefix")),
                       more=("venv prefix %s" % py.get("prefix"),))


# --------------------------------------------------------------------------- fixes


def _step_commands(plan: Plan, sudo: bool, match) -> Tuple[List[str], List[str]]:
    """(display commands, step ids) of the plan's pending steps that `match`."""
    cmds: List[str] = []
    ids: List[str] = []
    for s in plan.steps:
        if s.status != CHANGE or not match(s):
            continue
        ids.append(s.id)
        cmds += [a.display() for a in s.execs]  # exactly what apply runs
        cmds += ["write %s" % shlex.quote(a.path) for a in s.actions if isinstance(a, FileEdit)]
    return cmds, ids


def _is_header_step(s: Any) -> bool:
    return "header" in s.id or s.kind == "env"


def _is_compiler_step(s: Any) -> bool:
    return "compiler" in s.id


def verify_fix_hint(facts: Mapping[str, Any]) -> str:
    from fixenv.verify import fix_hint

    return fix_hint(facts)


STALE_SHELL = "start a new login shell"


def _stale_shell_fix(plan: Plan) -> Optional[str]:
    """A step already done whose effect this shell predates (CPATH persisted in a profile
    file after this shell started): the advice it gives, else None."""
    for s in plan.steps:
        if s.status != CHANGE and STALE_SHELL in s.reason:
            return s.reason[s.reason.index(STALE_SHELL):]
    return None


def _no_fix_reason(plan: Plan, match) -> str:
    for s in plan.steps:
        if match(s) and s.status != CHANGE:
            return "%s: %s" % (s.id, s.reason)
    return "the playbook has no step for it"


def apply_command(python: str, playbook: Optional[str] = None) -> str:
    from fixenv.render import invoked_as  # `python3 fixenv.pyz` when no fixenv on PATH

    words = ["apply", "--yes", "--python", python]
    if playbook:
        words += ["--playbook", playbook]
    return " ".join([invoked_as()] + [shlex.quote(w) for w in words])


# --------------------------------------------------------------------------- the report


def build_report(facts: Mapping[str, Any], result: VerifyResult, plan: Plan, *,
                 playbook: Optional[str] = None,
                 compiler_versions: Optional[Mapping[str, str]] = None) -> DoctorReport:
    """Pure: facts + verification + plan → the report."""
    py = facts["python"]
    exe = str(py["executable"])
    sudo = not facts["privilege"].get("root")
    versions = compiler_versions or {}
    fix = apply_command(exe, playbook) if plan.changes_pending else None
    priv = facts["privilege"]
    needs_root = any(a.root for s in plan.steps if s.status == CHANGE for a in s.actions
                     if isinstance(a, (Exec, FileEdit)))
    if fix and needs_root and not priv.get("root") and not priv.get("sudo"):
        fix = "sudo " + fix  # apply uses `sudo -n` itself only when that works without a password
    vchecks = {c.name: c for c in result.checks}

    generic = verify_fix_hint(facts)
    # what verify advises beyond "run fixenv apply" (e.g. after a rootless apply, in a shell
    # that predates the CPATH it persisted: "start a new login shell, or eval ..."): the
    # doctor gives the same advice as verify
    shell_fix = next((v.fix for v in result.checks if not v.ok and v.fix and v.fix != generic),
                     None) or _stale_shell_fix(plan)
    if fix is None and shell_fix:
        fix = shell_fix

    def with_fix(check: DoctorCheck, match) -> DoctorCheck:
        if check.status != FAIL:
            return check
        cmds, _ = _step_commands(plan, sudo, match)
        if not cmds:
            if shell_fix:
                return DoctorCheck(check.name, check.status, check.detail, check.matters,
                                   shell_fix, (), check.more)
            return DoctorCheck(check.name, check.status, check.detail, check.matters,
                               "none planned (%s)" % _no_fix_reason(plan, match), (), check.more)
        return DoctorCheck(check.name, check.status, check.detail, check.matters, fix,
                           tuple(cmds), check.more)

    # verify's own headers check (fixenv/headers.py): in the include dir for this version,
    # reached through CPATH, or where fixenv put it but out of this shell's reach
    vheaders = vchecks.get("headers")
    headers = (DoctorCheck("headers", OK if vheaders.ok else FAIL, vheaders.detail)
               if vheaders is not None else headers_check(facts))
    checks: List[DoctorCheck] = [_python_check(py), _venv_check(py),
                                 with_fix(headers, _is_header_step)]
    for name, key, what in (("c-compiler", "cc", "no C compiler ($CC, gcc, cc, clang)"),
                            ("cxx-compiler", "cxx", "no C++ compiler ($CXX, g++, c++, clang++): "
                                                    "Torch Inductor needs one")):
        path = facts["compilers"].get(key)
        if path:
            version = versions.get(key)
            checks.append(DoctorCheck(name, OK, path + (" (%s)" % version if version else "")))
        else:
            checks.append(with_fix(DoctorCheck(name, FAIL, what), _is_compiler_step))
    checks.append(cpath_check(facts["env"].get("CPATH"), py))

    def all_steps(s: Any) -> bool:
        return True

    blockers = {"build-c": "no C compiler", "import": "the C build did not run or failed",
                "build-cxx": "no C++ compiler"}
    for name in ("build-c", "import", "build-cxx"):
        v = vchecks.get(name)
        if v is None:
            checks.append(DoctorCheck(name, SKIP, "not run: %s" % blockers[name], matters=False))
        else:
            checks.append(with_fix(DoctorCheck(name, OK if v.ok else FAIL, v.detail),
                                   all_steps))
    # checks verify grew beyond these (e.g. the Inductor-style CPATH build) come last
    known = {"headers", "c-compiler", "cxx-compiler", "build-c", "import", "build-cxx"}
    for v in result.checks:
        if v.name not in known:
            checks.append(with_fix(DoctorCheck(v.name, OK if v.ok else FAIL, v.detail),
                                   all_steps))
    all_cmds, _ = _step_commands(plan, sudo, all_steps)
    return DoctorReport(exe, tuple(checks), fix, tuple(all_cmds), plan)


def compiler_versions(facts: Mapping[str, Any], runner: Any) -> Dict[str, str]:
    """First line of `<compiler> --version` for each compiler found (read-only, concurrent)."""
    pending = {}
    for key in ("cc", "cxx"):
        path = facts["compilers"].get(key)
        if path:
            pending[key] = runner.start([path, "--version"], timeout=15)
    out: Dict[str, str] = {}
    for key, p in pending.items():
        res = p.result()
        first = (res.stdout.strip().splitlines() or [""])[0].strip()
        if res.ok and first:
            out[key] = first
    return out


def doctor(python: Optional[str], playbook: Optional[str] = None,
           progress: Any = None, deep: bool = False) -> DoctorReport:
    """Detect, plan (read-only) and verify. Changes nothing on the machine. Lists the
    consumers found (torch, triton, pip, cffi, cython); `deep` runs their checks."""
    from fixenv.engine import load_playbook, make_plan
    from fixenv.facts import gather
    from fixenv.runner import RecordingRunner
    from fixenv.verify import verify

    runner = RecordingRunner()
    if progress is not None:
        progress.phase("checking %s" % (python or "the target python"))
    try:
        facts = gather(runner, python)
        pb = load_playbook(playbook)
        plan = make_plan(pb, facts, runner, probe=True)
        if progress is not None:
            progress.phase("building a test extension with %s" % facts["python"]["executable"])
        # verify only compiles in a temp dir and imports: RecordingRunner lets that through
        # (nothing it runs is mutating) and refuses anything that would change the machine.
        result = verify(facts, runner)
        versions = compiler_versions(facts, runner)
        from fixenv.verify import consumer_report

        extra = consumer_report(facts, result, runner, deep=deep, progress=progress)
    finally:
        if progress is not None:
            progress.phase_done()
    report = build_report(facts, result, plan, playbook=playbook, compiler_versions=versions)
    return consumer_checks(report, extra, plan)


def consumer_checks(report: DoctorReport, checks: Sequence[Any], plan: Plan) -> DoctorReport:
    """The report with the consumer lines (issue 14) after its own checks; a failed consumer
    fails the report, with the check's own fix or else the plan's."""
    import dataclasses

    rows = []
    for c in checks:
        if c.ok:
            rows.append(DoctorCheck(c.name, OK, c.detail))
        else:
            fix = c.fix or report.fix
            rows.append(DoctorCheck(c.name, FAIL, c.detail, True, fix,
                                    report.fix_commands if fix == report.fix else ()))
    return dataclasses.replace(report, checks=tuple(report.checks) + tuple(rows))


# --------------------------------------------------------------------------- text


def render(report: DoctorReport, out: Any) -> None:
    """Print the report through a fixenv.ui.Out."""
    from fixenv.ui import HANG, check_rows, plain

    out.line(("fixenv doctor ", "bold"), (plain(report.python), ""))
    shown = [c for c in report.checks if out.verbosity >= 0 or c.status in (FAIL, WARN)]
    rows_in = []
    seen: Dict[Tuple[Optional[str], Tuple[str, ...]], str] = {}
    for c in shown:
        detail = c.detail
        if out.verbosity > 0 and c.more:
            detail = "\n".join([detail] + list(c.more))
        fix, cmds = c.fix, c.fix_commands
        if fix and cmds and (fix, cmds) in seen:  # the same fix as a check above: say so
            fix, cmds = "the same as for %s" % seen[(fix, cmds)], ()
        elif fix and cmds:
            seen[(fix, cmds)] = c.name
        rows_in.append({"name": c.name, "status": c.status, "detail": detail,
                        "fix": fix, "fix_commands": cmds})
    out.lines(check_rows(out, rows_in))
    if rows_in:
        out.line()
    fails = report.failures
    warns = [c for c in report.checks if c.status == WARN]
    if not fails:
        tail = " (%d warning%s)" % (len(warns), "" if len(warns) == 1 else "s") if warns else ""
        out.line(*out.verdict(True, "all good%s: " % tail), HANG,
                 ("%s can build C and C++ extensions" % plain(report.python), ""))
        return
    n = len(fails)
    out.line(*out.verdict(False, "%d problem%s (%s) break builds for this Python"
                          % (n, "" if n == 1 else "s", ", ".join(c.name for c in fails))))
    if report.fix:
        out.line(("  fix them all with: ", ""), (plain(report.fix), "bold"))
    else:
        out.line(("  fixenv has no automatic fix planned here; `fixenv plan` shows why", ""))
