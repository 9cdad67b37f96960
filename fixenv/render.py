"""Text renderings of facts, plans, recaps and verification (JSON is `to_json()`)."""
from __future__ import annotations

from typing import Any, List, Mapping

from fixenv.model import Plan, Recap, VerifyResult

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


def plan_text(plan: Plan, sudo: bool = False) -> str:
    lines: List[str] = ["plan for %s (playbook %s)" % (plan.target, plan.playbook)]
    for s in plan.steps:
        lines.append("%s %-6s %s: %s" % (MARK.get(s.status, "?"), s.status, s.id, s.reason))
        for c in s.commands:
            lines.append("      $ %s" % c.display(sudo))
        for f in s.files:
            lines.append("      %s %s:" % (FILE_ACTIONS.get(f.action, f.action), f.path))
            lines += ["        | " + ln for ln in f.content.splitlines()]
    n = sum(1 for s in plan.steps if s.status == "change")
    lines.append("%d change%s pending" % (n, "" if n == 1 else "s") if n else
                 "nothing to do")
    return "\n".join(lines)


def verify_text(result: VerifyResult) -> str:
    lines = ["verify %s" % result.python]
    for c in result.checks:
        lines.append("%s %-12s %s" % ("✓" if c.ok else "✗", c.name,
                                      c.detail.replace("\n", "\n" + " " * 15)))
        if c.fix:
            lines.append("  fix: %s" % c.fix)
    lines.append("verification passed" if result.ok else "verification FAILED")
    return "\n".join(lines)


def recap_text(recap: Recap) -> str:
    lines = []
    for s in recap.steps:
        lines.append("%-8s %s: %s" % (s.status, s.id, s.reason.replace("\n", "\n" + " " * 9)))
    j = recap.to_json()["summary"]
    lines.append("recap: ok=%d changed=%d failed=%d skipped=%d%s" % (
        j["ok"], j["changed"], j["failed"], j["skipped"],
        " not_run=%d" % j["not_run"] if j["not_run"] else ""))
    if recap.verify is not None:
        lines.append(verify_text(recap.verify))
    return "\n".join(lines)
