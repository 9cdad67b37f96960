#!/usr/bin/env python3
"""Time the consumer checks (issue 14) and what `apply --consumers` adds to a no-op apply.

Usage:  python3 scripts/bench-consumers.py --python /path/to/venv/bin/python [--runs 3]

The target should have torch, triton, cffi, Cython (and pip with setuptools that can build a
wheel) installed, and its headers and compilers in place, so that `apply` has nothing to
change. Prints, per consumer, the `seconds` of each run and the median, then the median
wall time of `fixenv apply --yes` with and without `--consumers`. Not run by CI.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from typing import Dict, List


def fixenv(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fixenv", *args], capture_output=True,
                          text=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", required=True)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    times: Dict[str, List[float]] = {}
    for _ in range(a.runs):
        res = fixenv("verify", "--python", a.python, "--consumers", "--json")
        for c in json.loads(res.stdout)["checks"]:
            if "seconds" in c:
                times.setdefault(c["name"], []).append(c["seconds"])
                if not c["ok"]:
                    print("%s FAILED: %s" % (c["name"], c["detail"][:300]), file=sys.stderr)
    print("check            runs (s)                 median (s)")
    for name, ts in times.items():
        print("%-16s %-24s %.2f" % (name, " ".join("%.2f" % t for t in ts),
                                    statistics.median(ts)))
    walls: Dict[str, List[float]] = {"apply": [], "apply --consumers": []}
    for _ in range(a.runs):
        for label, extra in (("apply", []), ("apply --consumers", ["--consumers"])):
            t0 = time.monotonic()
            res = fixenv("apply", "--yes", "--python", a.python, "--json", *extra)
            walls[label].append(time.monotonic() - t0)
            if res.returncode != 0:
                print("%s exited %d: %s" % (label, res.returncode, res.stderr[-500:]),
                      file=sys.stderr)
    for label, ts in walls.items():
        print("%-18s median %.2f s (runs: %s)" % (label, statistics.median(ts),
                                                  " ".join("%.2f" % t for t in ts)))
    print("--consumers adds %.2f s to a no-op apply" % (
        statistics.median(walls["apply --consumers"]) - statistics.median(walls["apply"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
