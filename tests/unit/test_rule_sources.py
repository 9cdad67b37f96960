"""The header/compiler/build-dependency rules as data: every rule of the bundled playbook names
the primary source it was checked against (or says it has none and is `verified: false`, which
the plan's reason shows); `blocked:` / `no_rule:` are validated like every other key
(file:line:col) and plan a `blocked` step with its ways out."""
from __future__ import annotations

import json
import os

import pytest

from tests.factsfix import make_facts

from fixenv.engine import load_playbook, make_plan
from fixenv.errors import InputError
from fixenv.facts import validate
from fixenv.model import BLOCKED
from fixenv.playbook.loader import load_text
from fixenv.runner import RecordingRunner

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MATRIX = os.path.join(ROOT, "docs", "support-matrix.md")
RULE_STEPS = ("pyenv-build-deps", "python-headers", "compiler")


def _rules():
    pb = load_playbook()
    for step in pb.steps:
        if step.id in RULE_STEPS:
            for rule in step.spec["rules"]:
                yield step.id, rule


def test_every_bundled_rule_names_its_source():
    rules = list(_rules())
    assert len(rules) > 30
    for sid, rule in rules:
        assert rule["source"], "%s %s has no `source:`" % (sid, rule["keypath"])
        if not rule["verified"]:
            assert rule["source"].startswith("none"), (sid, rule["keypath"], rule["source"])


# the phrase docs/support-matrix.md uses for each unverified rule (by its package template)
UNVERIFIED_IN_MATRIX = {
    "python{{ python.xy_nodot }}-devel": "Amazon Linux 2 `python38-devel`",
    "command-line-tools": "macOS Command Line Tools",
}


def test_the_matrix_lists_every_unverified_rule():
    text = open(MATRIX, encoding="utf-8").read()
    gaps = text[text.index("Unverified rules"):]
    gaps = gaps[:gaps.index("\n- ", 1)]
    unverified = [(sid, rule) for sid, rule in _rules() if not rule["verified"]]
    assert unverified
    for sid, rule in unverified:
        (pkg,) = rule["packages"]
        assert UNVERIFIED_IN_MATRIX[pkg.source] in gaps, (sid, rule["keypath"], pkg.source)


def _facts(**over):
    """Amazon Linux 2 with yum's python3.8 (no headers), from the shared facts fixture."""
    f = make_facts(os={"id": "amzn", "version": "2", "like": ["centos", "rhel"]},
                   managers=["yum"],
                   python={"executable": "/usr/bin/python3.8", "version": "3.8.16",
                           "include": "/usr/include/python3.8", "provider": "yum", **over},
                   compilers={"cc": "/usr/bin/gcc", "cxx": "/usr/bin/g++"})
    return validate(f, "facts")


def test_an_unverified_rule_says_so_in_the_plan():
    plan = make_plan(load_playbook(), _facts(), RecordingRunner(), probe=False)
    step = {s.id: s for s in plan.steps}["python-headers"]
    assert step.status == "change" and "(unverified rule)" in step.reason
    assert [list(c.argv) for c in step.commands][-1] == ["yum", "install", "-y",
                                                        "python38-devel"]


def test_a_verified_rule_does_not():
    f = _facts()
    f["os"].update({"id": "fedora", "version": "43", "like": [], "major": "43",
                    "default_python": "3.14"})
    f["python"].update({"provider": "dnf"})
    f["managers"], f["system_manager"] = ["dnf"], "dnf"
    plan = make_plan(load_playbook(), f, RecordingRunner(), probe=False)
    step = {s.id: s for s in plan.steps}["python-headers"]
    assert step.status == "change" and "unverified" not in step.reason


PB = """name: t
steps:
  - id: headers
    kind: packages
%s
"""


@pytest.mark.parametrize("body,where,words", [
    ("""    rules:
      - when: python.debug
        blocked: "no package"
        packages: [x]""", "t.yaml:8:19", "a `blocked:` rule installs nothing"),
    ("""    rules:
      - packages: [x]
        ways_out: ["uv python install 3.12"]""", "t.yaml:7:19", "`ways_out:` belongs to a"),
    ("""    no_rule:
      ways_out: [x]
    rules:
      - packages: [x]""", "t.yaml:6:7", "missing required key 'reason'"),
    ("""    no_rule:
      reason: x
      why: y
    rules:
      - packages: [x]""", "t.yaml:7:7", "unknown key 'why'"),
    ("""    no_rule: "just a string"
    rules:
      - packages: [x]""", "t.yaml:5:14", "expected a mapping"),
    ("""    rules:
      - packages: [x]
        verified: "no\"""", "t.yaml:7:19", "expected"),
    ("""    rules:
      - blocked: "{{ python.nope }}\"""", "t.yaml:6:18", "python.nope"),
])
def test_bad_blocked_keys_are_located_errors(body, where, words):
    with pytest.raises(InputError) as exc:
        load_text(PB % body, "t.yaml")
    assert where in str(exc.value) and words in str(exc.value), str(exc.value)


def test_a_blocked_rule_and_no_rule_plan_blocked_with_ways_out():
    pb = load_text(PB % """    no_rule:
      reason: "nothing known for {{ python.executable }}"
      ways_out: ["uv python install {{ python.version }}"]
    rules:
      - when: python.debug
        blocked: "no debug package for {{ python.xy }}"
        ways_out: ["pyenv install --debug {{ python.version }}", "ask your admin"]
      - when: python.provider == 'dnf'
        packages: [python3-devel]""", "t.yaml")
    plan = make_plan(pb, _facts(abiflags="d"), RecordingRunner(), probe=False)
    (step,) = plan.steps
    assert step.status == BLOCKED and step.commands == ()
    assert step.reason == ("no debug package for 3.8; ways out: `pyenv install --debug 3.8.16`;"
                           " ask your admin")
    assert plan.changes_pending is False
    plan = make_plan(pb, _facts(), RecordingRunner(), probe=False)  # provider yum: no rule
    (step,) = plan.steps
    assert step.status == BLOCKED
    assert step.reason.startswith("nothing known for /usr/bin/python3.8; ways out: `uv python")
    if hasattr(step, "ways_out"):
        assert tuple(step.ways_out) == ("uv python install 3.8.16",)
    # without no_rule an unmatched step does not apply: skip, as before
    pb = load_text(PB % """    rules:
      - when: python.provider == 'dnf'
        packages: [python3-devel]""", "t.yaml")
    (step,) = make_plan(pb, _facts(), RecordingRunner(), probe=False).steps
    assert step.status == "skip"


def test_blocked_is_in_the_json_plan():
    plan = make_plan(load_playbook(), _facts(provider="unknown"), RecordingRunner(),
                     probe=False)
    out = json.loads(json.dumps(plan.to_json()))
    step = {s["id"]: s for s in out["steps"]}["python-headers"]
    assert step["status"] == "blocked" and step["commands"] == []
    assert "no known package provides Python.h" in step["reason"]
