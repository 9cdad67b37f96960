"""docs/explain.md's corpus table is generated from tests/logs by
scripts/explain-corpus-table.py; this fails when someone changes the corpus and not the doc."""
from __future__ import annotations

import runpy
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "explain-corpus-table.py"


def _mod():
    return runpy.run_path(str(SCRIPT))


def test_docs_table_is_current():
    m = _mod()
    doc = m["DOC"].read_text(encoding="utf-8")
    assert m["render"](doc) == doc, "run: python scripts/explain-corpus-table.py"


def test_table_lists_every_case_with_its_source():
    m = _mod()
    text = m["table"]()
    cases = sorted(p.parent.name for p in m["LOGS"].glob("*/expect.yaml"))
    for case in cases:
        row = next(line for line in text.splitlines() if line.startswith("| %s |" % case))
        assert "github.com" in row or "real run" in row, row


def test_a_stale_table_is_noticed():
    m = _mod()
    doc = m["DOC"].read_text(encoding="utf-8")
    stale = doc.replace("| gcc-plain-no-python-h |", "| gcc-plain-no-python-h-OLD |")
    assert stale != doc and m["render"](stale) != stale
    assert m["main"](["--check"]) == 0  # the committed doc is current
