"""Issue 16's grep-level fact, kept: fixenv's code reads the process environment only in
detection (fixenv/facts/), the executor, and the process seam under it (runner.py).
Planning gets everything as facts; the renderers get fixenv's own settings through
fixenv/facts/invocation.py. (Code *inside strings*, run by the target interpreter, is not
fixenv's process and is not counted: the AST sees only real attribute accesses.)"""
from __future__ import annotations

import ast
import os
from typing import List

import fixenv

PKG = os.path.dirname(os.path.abspath(fixenv.__file__))
ALLOWED = ("facts" + os.sep, "executor.py", "runner.py")


def environ_reads(source: str) -> List[int]:
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "environb", "getenv") \
                and isinstance(node.value, ast.Name) and node.value.id == "os":
            lines.append(node.lineno)
        if isinstance(node, ast.ImportFrom) and node.module == "os" \
                and any(a.name in ("environ", "environb", "getenv") for a in node.names):
            lines.append(node.lineno)
    return lines


def test_the_finder_sees_every_spelling():
    assert environ_reads("import os\nos.environ.get('X')\n") == [2]
    assert environ_reads("from os import getenv\n") == [1]
    assert environ_reads("s = 'os.environ[\"X\"]'\n") == []  # a string for another process


def test_only_detection_and_the_executor_read_the_environment():
    found = []
    for root, _, files in os.walk(PKG):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(root, name)
            rel = os.path.relpath(path, PKG)
            with open(path, encoding="utf-8") as fh:
                reads = environ_reads(fh.read())
            if reads and not rel.startswith(ALLOWED):
                found += ["fixenv/%s:%d" % (rel, n) for n in reads]
    assert found == []
