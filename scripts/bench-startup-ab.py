#!/usr/bin/env python3
"""A/B of fixenv's start-up between two commits on this machine: plan, nothing to do.

    python3 scripts/bench-startup-ab.py REV_A REV_B [N]

Each revision is exported with `git archive` and installed non-editable into its own venv
made from /usr/bin/python3.11 (as scripts/bench.sh does); then `fixenv plan --python
/usr/bin/python3.11` of A and of B run alternately N times (default 30). Alternating on the
same machine is what makes two commits comparable on a VM whose speed drifts by the hour.
Prints the median and minimum wall time of each. Not run by CI.
"""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = os.environ.get("BENCH_PYTHON", "/usr/bin/python3.11")


def install(rev: str, into: Path) -> Path:
    src = into / "src"
    src.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    venv = into / "venv"
    subprocess.run([PYTHON, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
                    str(src)], check=True)
    return venv / "bin" / "fixenv"


def main() -> int:
    if len(sys.argv) not in (3, 4):
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    revs = sys.argv[1:3]
    runs = int(sys.argv[3]) if len(sys.argv) == 4 else 30
    work = Path(tempfile.mkdtemp(prefix="fixenv-ab-"))
    try:
        exes = [install(rev, work / str(i)) for i, rev in enumerate(revs)]
        times: list[list[float]] = [[], []]
        for _ in range(runs + 2):  # the first two rounds warm the page cache
            for i, exe in enumerate(exes):
                t0 = time.perf_counter()
                subprocess.run([str(exe), "plan", "--python", PYTHON], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                times[i].append(time.perf_counter() - t0)
        for rev, ts in zip(revs, times):
            ts = ts[2:]
            print("%-12s plan median %.4f s  min %.4f s  (%d runs)"
                  % (rev, statistics.median(ts), min(ts), len(ts)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
