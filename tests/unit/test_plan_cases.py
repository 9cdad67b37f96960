"""Planner cases as data: tests/cases/plan/*.json (facts → exact plan).

Each file holds:
  description  what the case is about (one line)
  facts        a detect-shaped document (the keys `plan --facts` requires, plus what the case
               needs); it goes through the same validate() as `plan --facts FILE`
  installed    optional {package or version name: version}: when present the plan probes the
               (fake) machine — every read-only query a backend makes is answered in that
               tool's real output format by FakeMachine below, and an unknown query fails
               the test. Without it, the plan is made as from a facts file (probe=False) and
               must not run anything at all.
  apt_lists    optional, default true: whether apt package lists exist (probed cases)
  expect       changes_pending (bool) and steps: {step id: {status, commands[, root,
               reason_contains]}} compared exactly. Every `packages`/`command` step of the
               playbook must be listed; other kinds (env, verify) only when listed.
               Optional `queries`: the exact read-only argv list the plan ran.

Adding a case is adding a file; no code changes.
"""
from __future__ import annotations

import copy
import glob
import json
import os
from typing import Dict, List, Mapping, Sequence

import pytest

from fixenv.backends import apt
from fixenv.engine import load_playbook, make_plan
from fixenv.facts import validate
from fixenv.runner import Pending, RecordingRunner, Result

CASES_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "cases", "plan")
CASE_FILES = sorted(glob.glob(os.path.join(CASES_DIR, "*.json")))
MY_KINDS = ("packages", "command")


def _uv_key(request: str) -> str:
    """"3.13.1t" → "cpython-3.13.1+freethreaded-linux-x86_64-gnu" (uv's list format)."""
    variant = ""
    if request.endswith("t"):
        request, variant = request[:-1], "+freethreaded"
    elif request.endswith("d"):
        request, variant = request[:-1], "+debug"
    return "cpython-%s%s-linux-x86_64-gnu" % (request, variant)


class FakeMachine(RecordingRunner):
    """Answers the read-only queries of every backend from `installed`, in the format the
    real tool prints; refuses anything mutating (RecordingRunner) or unknown."""

    def __init__(self, installed: Mapping[str, str]):
        super().__init__()
        self.installed = dict(installed)

    def _answer(self, argv: Sequence[str]) -> Result:
        a = list(argv)
        inst = self.installed

        def res(out: str, rc: int = 0, err: str = "") -> Result:
            return Result(tuple(a), rc, out, err)

        if a[:2] == ["dpkg-query", "-W"]:
            names = a[3:]
            out = "".join("%s\tii \t%s\n" % (n, inst[n]) for n in names if n in inst)
            missing = [n for n in names if n not in inst]
            err = "".join("dpkg-query: no packages found matching %s\n" % n for n in missing)
            return res(out, 1 if missing else 0, err)
        if a[:2] == ["apt-cache", "policy"]:
            return res("".join("%s:\n  Installed: %s\n  Candidate: 1.0-1\n"
                               % (n, inst.get(n, "(none)")) for n in a[2:]))
        if a[:3] == ["rpm", "-q", "--whatprovides"] and len(a) == 6:
            name = a[5]
            if name in inst:
                return res("%s\t%s\n" % (name, inst[name]))
            return res("no package provides %s\n" % name, 1)
        if a[:3] == ["apk", "info", "-e"]:
            return res("".join(n + "\n" for n in a[3:] if n in inst))
        if a[:2] == ["pacman", "-Q"]:
            missing = [n for n in a[2:] if n not in inst]
            return res("".join("%s %s\n" % (n, inst[n]) for n in a[2:] if n in inst),
                       1 if missing else 0,
                       "".join("error: package '%s' was not found\n" % n for n in missing))
        if a[:3] == ["brew", "list", "--versions"]:
            return res("".join("%s %s\n" % (n, inst[n]) for n in a[3:] if n in inst),
                       0 if all(n in inst for n in a[3:]) else 1)
        if a[0] in ("conda", "mamba", "micromamba") and a[1:3] == ["list", "-p"] \
                and a[4:] == ["--json"]:
            return res(json.dumps([{"name": n, "version": v, "channel": "conda-forge"}
                                   for n, v in inst.items()]))
        if a == ["pyenv", "versions", "--bare"]:
            return res("".join(n + "\n" for n in inst))
        if a == ["uv", "python", "list", "--only-installed"]:
            return res("".join("%s    /root/.local/share/uv/python/%s/bin/python3\n"
                               % (_uv_key(n), _uv_key(n)) for n in inst))
        if a == ["xcode-select", "-p"]:
            if "command-line-tools" in inst:
                return res("/Library/Developer/CommandLineTools\n")
            return res("", 2, "xcode-select: error: unable to get active developer directory")
        raise AssertionError("the fake machine was asked an unexpected query: %r" % (a,))

    def start(self, argv, *, mutating=False, env=None, timeout=120, input=None, cwd=None):
        args = tuple(argv)
        self._before(args, mutating)  # records; refuses mutating=True
        return Pending(None, args, 0.0, timeout, immediate=self._answer(args))


def load_case(path: str) -> Dict:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def plan_case(case: Dict, path: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("FIXENV_LOCK_TIMEOUT", raising=False)
    facts = validate(copy.deepcopy(case["facts"]), path)
    playbook = load_playbook(case.get("playbook"))
    if "installed" in case:
        monkeypatch.setattr(apt, "have_lists", lambda *a, **k: case.get("apt_lists", True))
        runner: RecordingRunner = FakeMachine(case["installed"])
        plan = make_plan(playbook, facts, runner, probe=True)
    else:
        runner = RecordingRunner()
        plan = make_plan(playbook, facts, runner, probe=False)
        assert runner.calls == [], "planning from a facts file ran %r" % (runner.calls,)
    return playbook, plan, runner


@pytest.mark.parametrize("path", CASE_FILES, ids=[os.path.basename(p)[:-5] for p in CASE_FILES])
def test_plan_case(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    case = load_case(path)
    playbook, plan, runner = plan_case(case, path, monkeypatch)
    expect = case["expect"]
    got = {s.id: s for s in plan.steps}
    mine = [s.id for s in playbook.steps if s.kind in MY_KINDS]
    unlisted = [i for i in mine if i not in expect["steps"]]
    assert not unlisted, "%s: expect.steps must list every packages/command step; missing %s" \
        % (os.path.basename(path), unlisted)
    for sid, want in expect["steps"].items():
        assert sid in got, "no step %r in the plan (steps: %s)" % (sid, list(got))
        step = got[sid]
        actual = {"status": step.status, "commands": [list(c.argv) for c in step.commands]}
        assert actual == {"status": want["status"], "commands": want["commands"]}, \
            "%s step %r: %s" % (os.path.basename(path), sid, step.reason)
        if "root" in want:
            assert [c.root for c in step.commands] == want["root"], sid
        for text in want.get("reason_contains", []):
            assert text in step.reason, "%s: %r not in reason %r" % (sid, text, step.reason)
    if "changes_pending" in expect:
        assert plan.changes_pending is expect["changes_pending"]
    if "queries" in expect:
        assert [list(c) for c in runner.calls] == expect["queries"]


def _all_cases() -> List[Dict]:
    return [load_case(p) for p in CASE_FILES]


def test_there_are_at_least_40_cases() -> None:
    assert len(CASE_FILES) >= 40, len(CASE_FILES)


# Every row of KNOWLEDGE.md §2 (provider × OS) has at least one case that plans a change.
ROWS = {
    "debian 12 system": lambda f: f["os"]["id"] == "debian" and f["os"]["version"] == "12"
    and f["python"]["provider"] == "apt",
    "debian 13 system": lambda f: f["os"]["id"] == "debian" and f["os"]["version"] == "13",
    "ubuntu 22.04": lambda f: f["os"]["id"] == "ubuntu" and f["os"]["version"] == "22.04",
    "ubuntu 24.04": lambda f: f["os"]["id"] == "ubuntu" and f["os"]["version"] == "24.04",
    "debian debug": lambda f: f["python"]["provider"] == "apt" and "d" in f["python"]["abiflags"],
    "fedora": lambda f: f["os"]["id"] == "fedora",
    "fedora free-threaded": lambda f: f["os"]["id"] == "fedora" and "t" in f["python"]["abiflags"],
    "el8": lambda f: f["os"]["id"] in ("rhel", "rocky", "almalinux") and
    f["os"]["version"].startswith("8"),
    "el9": lambda f: f["os"]["id"] in ("rhel", "rocky", "almalinux") and
    f["os"]["version"].startswith("9"),
    "amazon linux 2": lambda f: f["os"]["id"] == "amzn" and f["os"]["version"] == "2",
    "amazon linux 2023": lambda f: f["os"]["id"] == "amzn" and f["os"]["version"] == "2023",
    "opensuse": lambda f: f["os"]["id"].startswith("opensuse"),
    "alpine": lambda f: f["os"]["id"] == "alpine" and f["python"]["provider"] == "apk",
    "arch": lambda f: f["os"]["id"] == "arch",
    "homebrew": lambda f: f["python"]["provider"] == "brew",
    "macos clt": lambda f: f["python"]["provider"] == "xcode",
    "conda": lambda f: f["python"]["provider"] == "conda",
    "pyenv": lambda f: f["python"]["provider"] == "pyenv",
    "uv": lambda f: f["python"]["provider"] == "uv",
    "docker slim (source)": lambda f: f["python"]["provider"] == "source",
    "venv over system": lambda f: f["python"]["in_venv"] and f["python"]["provider"] == "apt",
    # issue 11: rules read in the distributions' own packaging
    "fedora 3.13t": lambda f: f["os"]["id"] == "fedora" and f["python"]["abiflags"] == "t"
    and f["python"]["version"].startswith("3.13."),
    "fedora 3.14t": lambda f: f["os"]["id"] == "fedora" and f["python"]["abiflags"] == "t"
    and f["python"]["version"].startswith("3.14."),
    "fedora debug": lambda f: f["os"]["id"] == "fedora" and f["python"]["abiflags"] == "d",
    "opensuse free-threaded": lambda f: f["os"]["id"].startswith("opensuse")
    and "t" in f["python"]["abiflags"],
    "deadsnakes nogil": lambda f: f["python"]["provider"] == "apt"
    and "t" in f["python"]["abiflags"],
    "debian testing": lambda f: f["os"]["id"] == "debian" and f["os"]["version"] in (None,
                                                                                     "forky/sid"),
    "ubuntu 26.04": lambda f: f["os"]["id"] == "ubuntu" and f["os"]["version"] == "26.04",
    "rootless fedora non-default": lambda f: f["os"]["id"] == "fedora"
    and not f["privilege"]["root"] and not f["privilege"]["sudo"],
    "rootless rhel non-default": lambda f: f["os"]["id"] == "rhel"
    and not f["privilege"]["root"] and not f["privilege"]["sudo"],
    "rootless alma non-default": lambda f: f["os"]["id"] == "almalinux"
    and not f["privilege"]["root"] and not f["privilege"]["sudo"]
    and f["python"]["version"].startswith("3.9") and f["os"]["version"].startswith("8"),
}


@pytest.mark.parametrize("row", sorted(ROWS))
def test_every_knowledge_row_has_a_changing_case(row: str) -> None:
    hits = [c for c in _all_cases() if ROWS[row](c["facts"]) and c["expect"].get(
        "changes_pending")]
    assert hits, "no planner case plans a change for %s" % row


BLOCKED_ROWS = {
    "apt free-threaded (Debian has no package)": lambda f: f["python"]["provider"] == "apt"
    and "t" in f["python"]["abiflags"] and f["os"]["id"] == "debian",
    "openSUSE debug": lambda f: f["os"]["id"].startswith("opensuse")
    and "d" in f["python"]["abiflags"],
    "RHEL 8 debug": lambda f: f["os"]["id"] == "rhel" and "d" in f["python"]["abiflags"],
    "no rule (source build)": lambda f: f["python"]["provider"] == "source",
    "no rule (unknown owner)": lambda f: f["python"]["provider"] == "unknown",
    "no rule (AUR python)": lambda f: f["python"]["provider"] == "pacman"
    and f["python"].get("provider_detail") not in (None, "python"),
}


@pytest.mark.parametrize("row", sorted(BLOCKED_ROWS))
def test_a_target_with_no_known_package_is_blocked_not_nothing_to_do(row: str) -> None:
    """Python.h missing and no package known: the header step is `blocked`, with its reason
    and ways out asserted by the case (never `skip`, never an invented package)."""
    hits = [c for c in _all_cases() if BLOCKED_ROWS[row](c["facts"])
            and not c["facts"]["python"]["has_headers"]
            and (c["facts"]["privilege"]["root"] or c["facts"]["privilege"]["sudo"])]
    assert hits, "no planner case for %s" % row
    for c in hits:
        want = c["expect"]["steps"]["python-headers"]
        assert want["status"] == "blocked" and want["commands"] == [], c["description"]
        assert want.get("reason_contains"), "%s: say why and the ways out" % c["description"]
        assert c["expect"]["changes_pending"] is False


def test_fake_machine_refuses_unknown_queries() -> None:
    with pytest.raises(AssertionError):
        FakeMachine({}).run(["rm", "-rf", "/"])


def test_a_case_with_a_wrong_expectation_fails(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path) -> None:
    """The comparison is real: altering one argv word of a passing case makes it fail."""
    path = os.path.join(CASES_DIR, "fedora40-default-312.json")
    case = load_case(path)
    case["expect"]["steps"]["python-headers"]["commands"][-1][-1] = "python3.12-devel"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(case))
    with pytest.raises(AssertionError):
        test_plan_case(str(bad), monkeypatch)


CLI_CASES = ["debian12-system-311", "fedora40-default-312", "conda-env-on-debian",
             "macos-clt-python39", "docker-python312-slim"]
