#!/usr/bin/env python3
"""Write the corpus table of docs/explain.md from tests/logs/*/expect.yaml.

Usage:  python scripts/explain-corpus-table.py          # rewrite the table in docs/explain.md
        python scripts/explain-corpus-table.py --check  # exit 1 when the table is stale

The table lists every case with its source (a public report, or this project's real run)
and the verdict the case asserts; tests/unit/test_explain.py checks fixenv against the same
expectations, and tests/unit/test_explain_table.py fails when the table is not current.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Dict, List

import yaml

REPO = Path(__file__).resolve().parents[1]
LOGS = REPO / "tests" / "logs"
DOC = REPO / "docs" / "explain.md"
BEGIN = "<!-- corpus-table:begin (scripts/explain-corpus-table.py writes this table) -->"
END = "<!-- corpus-table:end -->"


def _source(spec: Dict[str, Any]) -> str:
    src = str(spec.get("source") or "")
    if src.startswith("https://github.com/"):
        parts = src[len("https://github.com/"):].split("/")
        if len(parts) >= 4 and parts[2] in ("issues", "pull"):
            return "[%s#%s](%s)" % ("/".join(parts[:2]), parts[3], src)
    if spec.get("origin") == "real":
        return "real run (scripts/make-explain-corpus.py)"
    return src


def _verdict(exp: Dict[str, Any]) -> str:
    if exp.get("class") is None:
        return "not recognised (exit %s); no header or compiler claimed" % exp["exit"]
    parts: List[str] = []
    if exp.get("tool"):
        parts.append(str(exp["tool"]))
    if exp.get("platform"):
        parts.append("%s log" % {"windows": "Windows", "macos": "macOS"}.get(
            exp["platform"], exp["platform"]))
    if exp.get("header"):
        parts.append("`%s`" % exp["header"])
    py = exp.get("python", "unset")
    if py is None:
        parts.append("Python not shown")
    elif isinstance(py, dict):
        desc = "Python %s" % py.get("version", "?") if py.get("version") else "Python"
        extra = [str(py[k]) for k in ("origin", "env") if py.get(k)]
        parts.append(desc + (" (%s)" % ", ".join(extra) if extra else ""))
    match = exp.get("match", "unset")
    if match is True:
        parts.append("the target's")
    elif match is False:
        parts.append("not the target")
    plan = exp.get("plan", "unset")
    if plan is None:
        parts.append("no plan")
    elif isinstance(plan, dict):
        changes = ["%s %s" % (v.get("manager", ""), " ".join(v.get("packages", [])))
                   for v in plan.values() if v.get("status") == "change"]
        parts.append("plan: " + ("; ".join(c.strip() for c in changes) if changes
                                 else "nothing to install"))
    if exp.get("advice"):
        parts.append("advice: " + ", ".join("`%s`" % a.replace("`", "") for a in exp["advice"]))
    return "; ".join(parts)


def table() -> str:
    rows = ["| case | source | class | verdict asserted |", "|---|---|---|---|"]
    cases = sorted(p.parent.name for p in LOGS.glob("*/expect.yaml"))
    for case in cases:
        spec = yaml.safe_load((LOGS / case / "expect.yaml").read_text(encoding="utf-8"))
        exp = spec["expect"]
        cls = exp.get("class") or "(none)"
        rows.append("| %s | %s | %s | %s |" % (case, _source(spec), cls,
                                              _verdict(exp).replace("|", "\\|")))
    counts: Dict[str, int] = {}
    for case in cases:
        spec = yaml.safe_load((LOGS / case / "expect.yaml").read_text(encoding="utf-8"))
        key = spec["expect"].get("class") or "not recognised"
        counts[key] = counts.get(key, 0) + 1
    public = sum(1 for case in cases if yaml.safe_load(
        (LOGS / case / "expect.yaml").read_text(encoding="utf-8"))["origin"] == "reconstructed")
    summary = ("%d cases (%d from public reports, %d real runs): %s." % (
        len(cases), public, len(cases) - public,
        ", ".join("%s %d" % (k, v) for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))))
    return "\n".join([BEGIN, "", summary, ""] + rows + ["", END])


def render(doc: str) -> str:
    if BEGIN not in doc or END not in doc:
        raise SystemExit("%s: the markers %r ... %r are missing" % (DOC, BEGIN, END))
    head, rest = doc.split(BEGIN, 1)
    _old, tail = rest.split(END, 1)
    return head + table() + tail


def main(argv: List[str]) -> int:
    doc = DOC.read_text(encoding="utf-8")
    new = render(doc)
    if "--check" in argv:
        if new != doc:
            print("docs/explain.md: the corpus table is stale; run "
                  "python scripts/explain-corpus-table.py", file=sys.stderr)
            return 1
        return 0
    if new != doc:
        DOC.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
