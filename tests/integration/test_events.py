"""The JSON-lines event stream of `fixenv apply --events FILE|-` / `--jsonl`.

Real runs on this machine: a tiny playbook whose command step touches a file in tmp_path (or
fails on purpose), applied for the system Python (which has its headers, so the final
verification really builds and imports an extension).
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest

from fixenv.errors import FAILED, INPUT, USAGE
from fixenv.events import EventStream
from fixenv.model import Check, Plan, PlannedStep, Recap, StepOutcome, VerifyResult

SYSTEM_PY = "/usr/bin/python3.11"
FIXENV = os.path.join(os.path.dirname(sys.executable), "fixenv")
ISO_TIME = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"

needs_headers = pytest.mark.skipif(
    not os.path.exists("/usr/include/python3.11/Python.h"),
    reason="needs /usr/bin/python3.11 with its headers (python3.11-dev)")


def playbook(tmp_path, argv, creates=None) -> str:
    lines = ["name: events-test", "description: one command step, then verify", "steps:",
             "  - id: skipped-one", "    kind: command", "    when: python.major == 2",
             '    argv: ["true"]',
             "  - id: touch", "    kind: command", "    argv: %s" % json.dumps(argv)]
    if creates:
        lines.append("    creates: %s" % json.dumps(creates))
    lines += ["  - id: verify", "    kind: verify"]
    p = tmp_path / "pb.yaml"
    p.write_text("\n".join(lines) + "\n")
    return str(p)


def fixenv(*args, **kw):
    return subprocess.run([FIXENV, *args], capture_output=True, text=True, timeout=300, **kw)


def parse_lines(text: str) -> list:
    events = [json.loads(ln) for ln in text.splitlines() if ln.strip()]
    for e in events:
        assert {"event", "step", "time"} <= set(e), e
        assert __import__("re").match(ISO_TIME, e["time"]), e["time"]
    return events


def check_step_ends(events, plan_ids):
    ends = [e["step"] for e in events if e["event"] == "step_end"]
    assert ends == plan_ids  # exactly one per step, in plan order


@needs_headers
def test_events_file_for_a_real_change(tmp_path):
    marker = tmp_path / "marker"
    pb = playbook(tmp_path, ["touch", str(marker)], creates=str(marker))
    ev = tmp_path / "events.jsonl"
    res = fixenv("apply", "--yes", "--python", SYSTEM_PY, "--playbook", pb, "--events", str(ev))
    assert res.returncode == 0, res.stderr
    assert marker.exists()
    events = parse_lines(ev.read_text())
    names = [e["event"] for e in events]
    assert names[0] == "run_start" and names[-1] == "run_end"
    assert names == ["run_start", "step_end", "step_start", "command_start", "command_end",
                     "step_end", "step_end", "verify", "run_end"]
    start = events[0]
    assert start["target"] == SYSTEM_PY and start["changes_pending"] is True
    assert [s["id"] for s in start["steps"]] == ["skipped-one", "touch", "verify"]
    check_step_ends(events, ["skipped-one", "touch", "verify"])
    by = {(e["event"], e["step"]): e for e in events}
    assert by[("command_start", "touch")]["argv"] == ["touch", str(marker)]
    assert by[("command_end", "touch")]["rc"] == 0
    assert by[("step_end", "touch")]["status"] == "changed"
    assert by[("step_end", "skipped-one")]["status"] == "skipped"
    verify = by[("verify", None)]
    assert verify["ok"] is True and {c["name"] for c in verify["checks"]} >= {"build-c", "import"}
    end = events[-1]
    assert end["ok"] is True and end["exit_code"] == 0
    assert end["summary"] == {"ok": 1, "changed": 1, "failed": 0, "skipped": 1, "not_run": 0,
                              "blocked": 0}
    # elapsed only grows
    el = [e["elapsed"] for e in events]
    assert el == sorted(el)
    # the text recap still went to stdout
    assert "1 changed" in res.stdout

    # second run: nothing to change, still a complete stream
    res = fixenv("apply", "--yes", "--python", SYSTEM_PY, "--playbook", pb, "--events", str(ev))
    assert res.returncode == 0, res.stderr
    events = parse_lines(ev.read_text())
    assert [e["event"] for e in events] == ["run_start", "step_end", "step_end", "step_end",
                                            "verify", "run_end"]
    assert events[0]["changes_pending"] is False
    assert {e["step"]: e["status"] for e in events if e["event"] == "step_end"}["touch"] == "ok"


@needs_headers
def test_jsonl_on_stdout_for_a_failing_step(tmp_path):
    pb = playbook(tmp_path, ["false"])
    res = fixenv("apply", "--yes", "--python", SYSTEM_PY, "--playbook", pb, "--jsonl")
    assert res.returncode == FAILED
    events = parse_lines(res.stdout)  # every stdout line is an event
    names = [e["event"] for e in events]
    assert "verify" not in names  # apply does not verify after a failed step
    check_step_ends(events, ["skipped-one", "touch", "verify"])
    by = {(e["event"], e["step"]): e for e in events}
    assert by[("command_end", "touch")]["rc"] == 1
    assert by[("step_end", "touch")]["status"] == "failed"
    assert by[("step_end", "verify")]["status"] == "not_run"
    assert events[-1]["event"] == "run_end" and events[-1]["ok"] is False
    assert events[-1]["exit_code"] == FAILED
    assert "failed" in res.stderr  # the human recap moved to stderr


def test_json_and_jsonl_both_on_stdout_is_a_usage_error():
    res = fixenv("apply", "--yes", "--json", "--jsonl", "--python", sys.executable)
    assert res.returncode == USAGE
    assert "both want stdout" in res.stderr


def test_unwritable_events_file_is_bad_input(tmp_path):
    res = fixenv("apply", "--yes", "--python", sys.executable, "--events",
                 str(tmp_path / "no" / "such" / "dir" / "ev.jsonl"))
    assert res.returncode == INPUT
    assert res.stderr.startswith("fixenv: error: --events")


def test_an_error_before_any_step_still_ends_the_stream(tmp_path):
    ev = tmp_path / "ev.jsonl"
    res = fixenv("apply", "--yes", "--python", str(tmp_path / "nope"), "--events", str(ev))
    assert res.returncode == INPUT
    events = parse_lines(ev.read_text())
    assert events[-1]["event"] == "run_end" and events[-1]["exit_code"] == INPUT
    assert "nope" in events[-1]["error"]


def test_stream_unit_order_and_fields():
    buf = io.StringIO()
    stream = EventStream(buf)
    plan = Plan("pb", (PlannedStep("a", "packages", "A", "ok", "installed"),
                       PlannedStep("b", "packages", "B", "change", "install b"),
                       PlannedStep("c", "packages", "C", "skip", "not here")), target="/py")
    stream.run_start(plan)
    stream.on_event("step_start", {"id": "b", "reason": "install b"})
    stream.on_event("command", {"id": "b", "argv": ["apt-get", "install", "b"]})
    stream.on_event("command_end", {"id": "b", "argv": ["apt-get", "install", "b"], "rc": 0,
                                    "seconds": 1.5})
    stream.on_event("step_end", {"id": "b", "status": "changed", "reason": "install b"})
    recap = Recap((StepOutcome("a", "ok", "installed"), StepOutcome("b", "changed", "install b"),
                   StepOutcome("c", "skipped", "not here")),
                  VerifyResult("/py", (Check("build-c", True, "built"),)))
    stream.steps_done(recap)
    stream.verify(recap.verify)
    stream.run_end(recap, 0)
    events = parse_lines(buf.getvalue())
    assert [(e["event"], e["step"]) for e in events] == [
        ("run_start", None), ("step_end", "a"), ("step_start", "b"), ("command_start", "b"),
        ("command_end", "b"), ("step_end", "b"), ("step_end", "c"), ("verify", None),
        ("run_end", None)]
    assert events[4]["seconds"] == 1.5
    assert events[1]["status"] == "ok" and events[6]["status"] == "skipped"
