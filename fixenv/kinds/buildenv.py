"""`kind: buildenv` — what builds that load their own output need beyond headers (issue 14).

    - id: build-env
      kind: buildenv
      what: env        # exec-capable TMPDIR / TORCHINDUCTOR_CACHE_DIR / TRITON_CACHE_DIR, and
                       # CC/CXX replaced when they name a missing or non-C/C++ program
    - id: openmp
      kind: buildenv
      what: openmp     # macOS: `brew install libomp` when clang has no omp.h (Inductor: torch
                       # 2.13 cpp_builder.py homebrew_libomp() asks `brew --prefix libomp`)
    - id: cxx17
      kind: buildenv
      what: cxx17      # a C++ compiler that rejects -std=c++17: blocked (no fix fixenv knows)

From the ``buildenv`` facts group (fixenv/facts/buildenv.py). The variables are persisted for
new shells as CPATH is (fixenv/profile.py: /etc/profile.d as root, else the user's start-up
files), in a block of their own with its own markers, so the CPATH block is never touched:
as root the file /etc/profile.d/fixenv-buildenv.sh (and fish's conf.d) is wholly ours; as a
user the block is merged into the same files the CPATH block goes to. Each line replaces only
the exact bad value it was planned for (or an unset variable), never a value the user chose
later. A variable fixed earlier keeps its line when a later plan fixes another one.
"""
from __future__ import annotations

import os
import re
from typing import Any, Dict, List, Mapping, Optional, Tuple

from fixenv import profile
from fixenv.kinds.common import PATH, PlanContext, checked
from fixenv.model import CHANGE, OK, SKIP, FileEdit, PlannedStep
from fixenv.playbook.model import Step
from fixenv.runner import Runner

KEYS = ("what",)
WHATS = ("env", "openmp", "cxx17")
BEGIN = "# >>> fixenv buildenv >>>"
END = "# <<< fixenv buildenv <<<"
HEADER = ("# Added by fixenv: temp/cache dirs and compilers for builds that load what they "
          "compile. Delete this block to undo.")
SYSTEM_FILE = "/etc/profile.d/fixenv-buildenv.sh"
SYSTEM_FISH_FILE = "/etc/fish/conf.d/fixenv-buildenv.fish"
VAR_LINE = re.compile(r"^# fixenv-var ([A-Z_][A-Z0-9_]*)$")
VARS = ("TMPDIR", "TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR", "CC", "CXX")
DIR_VARS = ("TMPDIR", "TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR")  # made when missing
BLOCKED = "blocked"  # fixenv.model.BLOCKED (not imported: older models lack it)


def validate(raw: Dict[str, Any], ctx: Any, kp: str) -> Dict[str, Any]:
    what = ctx.string(raw, "what", kp, default="env")
    if what not in WHATS:
        raise ctx.error(kp + ".what", "%r is not one of %s" % (what, ", ".join(WHATS)))
    return {"what": what}


# --------------------------------------------------------------------------- the snippets


def sh_chunk(var: str, old: str, new: str, why: str, mkdir: bool) -> str:
    pattern = "''" if not old else profile._q(old)
    act = "%s=%s; export %s" % (var, profile._q(new), var)
    if mkdir:
        act = "mkdir -p %s 2>/dev/null; %s" % (profile._q(new), act)
    return "# fixenv-var %s\n# %s\ncase \"${%s-}\" in %s) %s ;; esac\n" % (
        var, why.replace("\n", " "), var, pattern, act)


def fish_chunk(var: str, old: str, new: str, why: str, mkdir: bool) -> str:
    test = "not set -q %s; or test -z \"$%s\"" % (var, var) if not old else \
        "test \"$%s\" = %s" % (var, profile._q(old))
    body = ["    mkdir -p %s 2>/dev/null" % profile._q(new)] if mkdir else []
    body.append("    set -gx %s %s" % (var, profile._q(new)))
    return "# fixenv-var %s\n# %s\nif %s\n%s\nend\n" % (var, why.replace("\n", " "), test,
                                                         "\n".join(body))


def find_block(text: str) -> Optional[Tuple[int, int]]:
    """Our block (its own markers), found as profile finds the CPATH block."""
    return profile.find_block(text, BEGIN, END)


def chunks(text: Optional[str]) -> Dict[str, str]:
    """The per-variable chunks of our block in `text` ({VAR: its lines})."""
    found = find_block(text or "")
    if not found:
        return {}
    out: Dict[str, str] = {}
    cur: Optional[str] = None
    for line in (text or "")[found[0]:found[1]].splitlines(True):
        m = VAR_LINE.match(line.rstrip("\n"))
        if m:
            cur = m.group(1)
            out[cur] = line
        elif line.startswith(END) or line.startswith(BEGIN):
            cur = None
        elif cur is not None:
            out[cur] += line
    return out


def block(parts: Mapping[str, str]) -> str:
    return BEGIN + "\n" + HEADER + "\n" + "".join(parts[v] for v in sorted(parts)) + END + "\n"


def merged(text: Optional[str], new: Mapping[str, str]) -> str:
    """`text` with our block holding the old chunks plus `new` (same var: the new one)."""
    parts = chunks(text)
    parts.update(new)
    blk = block(parts)
    text = text or ""
    found = find_block(text)
    if found:
        return text[:found[0]] + blk + text[found[1]:]
    if not text:
        return blk
    return text + ("\n" if text.endswith("\n") else "\n\n") + blk


# --------------------------------------------------------------------------- planning


def _fixes(facts: Mapping[str, Any], step: Step) -> List[Tuple[str, str, str, str]]:
    out = []
    for var, fx in sorted((facts.get("buildenv") or {}).get("fix_env", {}).items()):
        if var not in VARS:
            continue
        new = checked(str(fx.get("to") or ""), PATH, "path", step)
        old = str(fx.get("from") or "")
        profile._q(old)  # refuses quotes/backslashes/control characters in a facts file
        why = str(fx.get("why") or "")
        out.append((var, old, new, why))
    return out


def _edits(fixes: List[Tuple[str, str, str, str]], root: bool, user: Mapping[str, Any],
           probe: bool) -> Tuple[List[FileEdit], bool]:
    """One whole-file write per start-up file (read now, when planning for this machine)."""
    edits: List[FileEdit] = []
    done = probe
    for t in _targets(root, user):
        new = {}
        for var, old, to, why in fixes:
            mk = var in DIR_VARS and to not in ("/var/tmp", "/tmp")
            new[var] = (fish_chunk if t.shell == "fish" else sh_chunk)(var, old, to, why, mk)
        text = profile.read(t.path) if probe else None
        content = merged(text, new)
        done = done and text == content
        edits.append(FileEdit(t.path, content, profile.WRITE, root=root))
    return edits, done


def plan_removal(root: bool, user: Mapping[str, Any]) -> List[FileEdit]:
    """What `fixenv reset` removes of this step's work: our whole files, and our block in a
    user's start-up file (the rest of it kept). Read now: reset acts on this machine."""
    out: List[FileEdit] = []
    targets = _targets(True, user) + _targets(False, user) if root else _targets(False, user)
    for t in targets:
        text = profile.read(t.path)
        found = find_block(text or "")
        if text is None or found is None:
            continue
        rest = text[:found[0]] + text[found[1]:]
        if t.whole and not rest.strip():
            out.append(FileEdit(t.path, "", profile.REMOVE, root=t.path.startswith("/etc/"),
                                before=text, guarded=True))
        else:
            out.append(FileEdit(t.path, rest, profile.WRITE, root=t.path.startswith("/etc/"),
                                before=text, guarded=True, backup=False))
    return out


def _targets(root: bool, user: Mapping[str, Any]) -> List[profile.Target]:
    if root:
        out = [profile.Target(SYSTEM_FILE, "sh", True)]
        if (user.get("system") or {}).get("fish"):
            out.append(profile.Target(SYSTEM_FISH_FILE, "fish", True))
        return out
    out = []
    for t in profile.targets(root=False, user=user):
        if t.shell == "fish":
            out.append(profile.Target(os.path.join(os.path.dirname(t.path),
                                                   "fixenv-buildenv.fish"), "fish", True))
        else:
            out.append(t)
    return out


def plan(step: Step, facts: Mapping[str, Any], runner: Runner, pctx: PlanContext) -> PlannedStep:
    what = step.spec["what"]
    be = facts.get("buildenv") or {}
    if what == "openmp":
        return _plan_openmp(step, facts, be)
    if what == "cxx17":
        if be.get("cxx17") is False:
            return PlannedStep(step.id, step.kind, step.name, BLOCKED,
                               "%s rejects -std=c++17 (Torch Inductor passes it)"
                               % (facts["compilers"].get("cxx") or "the C++ compiler"),
                               ways_out=("install a newer C++ compiler (GCC >= 8 or clang >= 5, "
                                         "e.g. gcc-toolset-12 on RHEL 8) and set CXX to it",))
        if be.get("cxx17") is True:
            return PlannedStep(step.id, step.kind, step.name, OK,
                               "the C++ compiler accepts -std=c++17")
        return PlannedStep(step.id, step.kind, step.name, OK,
                           "-std=c++17 not probed (`fixenv doctor --deep` tries it)")
    fixes = _fixes(facts, step)
    if not fixes:
        reason = "temp and cache dirs are exec-capable"
        if be.get("noexec") and be.get("exec_dir"):
            reason = ("%s mounted noexec; no build fixenv knows loads code from there"
                      % ", ".join(n["path"] for n in be["noexec"]))
        elif be.get("noexec"):
            reason = "no exec-capable directory found to use instead of %s" % ", ".join(
                n["path"] for n in be["noexec"])
            return PlannedStep(step.id, step.kind, step.name, BLOCKED, reason,
                               ways_out=("export TMPDIR=<a directory on an exec-capable file "
                                         "system> (and TORCHINDUCTOR_CACHE_DIR, "
                                         "TRITON_CACHE_DIR)",))
        return PlannedStep(step.id, step.kind, step.name, OK, reason)
    root = bool(facts["privilege"].get("root"))
    edits, done = _edits(fixes, root, facts.get("user") or {}, pctx.probe)
    where = ", ".join(e.path for e in edits)
    if pctx.probe and done:
        return PlannedStep(step.id, step.kind, step.name, OK,
                           "persisted in %s; this shell predates it: start a new login shell"
                           % where)
    what_txt = "; ".join("%s=%s for new shells (%s)" % (v, to, why) for v, _, to, why in fixes)
    data = tuple(("set:" + v, to) for v, _, to, _ in fixes)
    return PlannedStep(step.id, step.kind, step.name, CHANGE, what_txt, files=tuple(edits),
                       data=data)


def _plan_openmp(step: Step, facts: Mapping[str, Any], be: Mapping[str, Any]) -> PlannedStep:
    if be.get("openmp") is None:
        return PlannedStep(step.id, step.kind, step.name, SKIP,
                           "not macOS: gcc ships omp.h")
    if be["openmp"]:
        return PlannedStep(step.id, step.kind, step.name, OK, "libomp's omp.h is installed")
    if "brew" not in facts.get("managers", []):
        return PlannedStep(step.id, step.kind, step.name, BLOCKED,
                           "clang has no omp.h and Homebrew is not installed",
                           ways_out=("install Homebrew, then `brew install libomp`",))
    from fixenv.backends import brew

    return PlannedStep(step.id, step.kind, step.name, CHANGE,
                       "clang has no OpenMP (omp.h): Torch Inductor's CPU code needs libomp",
                       commands=tuple(brew.install(["libomp"], facts=facts)))


def env_after(facts: Mapping[str, Any]) -> Dict[str, str]:
    """The variables a new shell gets after this step applied (for consumer checks run by
    apply in this process, whose own environment predates the fix)."""
    return {v: str(fx["to"]) for v, fx in ((facts.get("buildenv") or {}).get("fix_env")
                                            or {}).items() if v in VARS and fx.get("to")}


def persisted_env(facts: Mapping[str, Any]) -> Dict[str, str]:
    """env_after(facts) when this step's block is already in the start-up files (a new
    shell gets those values), else {}. Only reads files when there is something to fix."""
    want = env_after(facts)
    if not want:
        return {}
    root = bool(facts["privilege"].get("root"))
    for t in _targets(root, facts.get("user") or {}):
        if t.shell == "sh" and set(want) <= set(chunks(profile.read(t.path))):
            return want
    return {}
