"""No injection: hostile values from facts, probes or templates are refused, never run.

Every hostile case runs `fixenv plan` (and `apply` where it can get that far) with every
program that could change the machine replaced on PATH by a trap that logs its argv; the
test proves nothing ran by finding the trap log without a single TRAP line and the marker
file a successful injection would create absent.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from fixenv.runner import RecordingRunner, Runner
from tests.robust_helpers import (assert_one_error, build_traps, load_facts, run_fixenv,
                                       trap_lines, write_exe, write_facts)

INPUT = 3


@pytest.fixture
def traps(tmp_path):
    trap_dir, log = tmp_path / "trap-bin", tmp_path / "trap.log"
    build_traps(trap_dir, log, os.environ.get("PATH", "/usr/bin:/bin"))
    marker = tmp_path / "PWNED"
    return trap_dir, log, marker


def _hostile(tmp_path, marker, where, value):
    facts = load_facts()
    section, key = where.split(".", 1) if "." in where else (None, where)
    value = value.replace("MARKER", str(marker))
    if section:
        facts[section][key] = value
    else:
        facts[key] = value
    return write_facts(tmp_path / "hostile.json", facts), value


HOSTILE_FACTS = [
    ("python.version", "3.11; touch MARKER"),
    ("python.version", "$(touch MARKER)"),
    ("python.version", "`touch MARKER`"),
    ("python.version", "3.11\ntouch MARKER"),
    ("python.version", "3.11.2\n"),
    ("python.xy", "-oAPT::Update::Pre-Invoke::=touch MARKER"),
    ("python.xy", "3.11 && touch MARKER"),
    ("python.abiflags", "; touch MARKER"),
    ("python.include", "/usr/include/python3.11:/tmp/evil"),
    ("python.include", "/usr/include/python3.11\ntouch MARKER"),
    ("python.include", "relative/include"),
    ("python.provider", "apt; touch MARKER"),
    ("python.executable", "/usr/bin/python3\n"),
    ("env.CPATH", "/x\ntouch MARKER"),
    ("os.id", "debian; touch MARKER"),
    # os.version is not refused but described (os.version null + version_note; it reaches
    # no argv): tests/unit/test_osinfo.py::test_a_hostile_os_version_runs_nothing
    ("system_manager", "apt; touch MARKER"),
    ("managers", ["apt", "-oAPT::Update::Pre-Invoke::=touch"]),
]


@pytest.mark.parametrize("where,value", HOSTILE_FACTS,
                         ids=["%s=%r" % (w, v) for w, v in HOSTILE_FACTS])
def test_hostile_fact_value_is_refused_naming_the_key(tmp_path, traps, where, value):
    trap_dir, log, marker = traps
    if isinstance(value, list):
        facts = load_facts()
        facts[where] = value
        path = write_facts(tmp_path / "hostile.json", facts)
    else:
        path, value = _hostile(tmp_path, marker, where, value)
    res = run_fixenv(["plan", "--facts", str(path)], path_prefix=trap_dir)
    assert_one_error(res, INPUT, where)
    assert trap_lines(log) == []
    assert not marker.exists()


def _fake_python(tmp_path: Path, **override) -> Path:
    """An executable that answers fixenv's probe like a Python would, with some values
    replaced. It is a shell script, so it can claim anything."""
    answer = {"fixenv_probe": 1, "executable": str(tmp_path / "python3"),
              "realpath": str(tmp_path / "python3"), "base_executable": str(tmp_path / "python3"),
              "version": "3.11.2", "implementation": "cpython", "abiflags": "",
              "prefix": str(tmp_path), "base_prefix": str(tmp_path), "in_venv": False,
              "include_sysconfig": str(tmp_path / "include" / "python3.11"),
              "ext_suffix": ".so", "platform": "linux"}
    answer.update(override)
    text = json.dumps(answer).replace("'", "'\\''")
    return write_exe(tmp_path / "python3", "#!/bin/sh\nprintf '%%s' '%s'\n" % text)


@pytest.mark.parametrize("key,value", [
    ("version", "3.11; touch MARKER"),
    ("version", "$(touch MARKER)"),
    ("include_sysconfig", "/tmp/inc:/etc"),
    ("prefix", "/usr\ntouch MARKER"),
    ("abiflags", "$(touch MARKER)"),
])
def test_hostile_probe_answer_is_refused_by_plan_and_apply(tmp_path, traps, key, value):
    trap_dir, log, marker = traps
    value = value.replace("MARKER", str(marker))
    py = _fake_python(tmp_path, **{key: value})
    for cmd in (["plan"], ["apply", "--yes"]):
        res = run_fixenv(cmd + ["--python", str(py)], path_prefix=trap_dir,
                         env={"FIXENV_LOCK_FILE": str(tmp_path / "lock")})
        line = assert_one_error(res, INPUT, "the probe of %s" % py)
        assert {"include_sysconfig": "python.include"}.get(key, "python." + key) in line
    assert trap_lines(log) == []
    assert not marker.exists()


PLAYBOOK_HOSTILE = [
    # a package name that is an apt option
    ('kind: packages\n    manager: apt\n    packages: ["-oAPT::Update::Pre-Invoke::=touch MARKER"]',
     "refusing package name"),
    ('kind: packages\n    manager: apt\n    packages: ["python3-dev; touch MARKER"]',
     "refusing package name"),
    ('kind: packages\n    manager: apt\n    packages: ["python3-dev\\n"]', "refusing package name"),
    # a template that renders an option from a fact (env values are free text)
    ('kind: command\n    argv: ["echo", "{{ env.CPATH }}"]', "must not become an option"),
    ('kind: command\n    argv: ["echo", "x; touch MARKER"]', "control or shell characters"),
    ('kind: command\n    argv: ["echo", "$(touch MARKER)"]', "control or shell characters"),
    ('kind: command\n    argv: ["echo", "a | touch MARKER"]', "control or shell characters"),
    ('kind: command\n    argv: ["-rf", "/"]', "refusing program"),
    ('kind: command\n    argv: ["touch MARKER; echo"]', "refusing program"),
    ('kind: command\n    argv: ["echo"]\n    creates: "/tmp/$(touch MARKER)"', "refusing path"),
]


@pytest.mark.parametrize("body,fragment", PLAYBOOK_HOSTILE,
                         ids=[b.split("\n")[-1].strip() for b, _ in PLAYBOOK_HOSTILE])
def test_hostile_value_reaching_argv_from_a_playbook_is_refused(tmp_path, traps, body, fragment):
    trap_dir, log, marker = traps
    pb = tmp_path / "pb.yaml"
    pb.write_text("name: hostile\nsteps:\n  - id: evil\n    %s\n"
                  % body.replace("MARKER", str(marker)))
    facts = load_facts()
    facts["env"]["CPATH"] = "-oAPT::Update::Pre-Invoke::=touch %s" % marker
    fpath = write_facts(tmp_path / "facts.json", facts)
    res = run_fixenv(["plan", "--facts", str(fpath), "--playbook", str(pb)],
                     path_prefix=trap_dir)
    line = assert_one_error(res, INPUT, "pb.yaml:3:", "step 'evil'", fragment)
    assert str(tmp_path) in line
    assert trap_lines(log) == []
    assert not marker.exists()


def test_a_playbook_option_written_by_its_author_is_allowed(tmp_path):
    """Leading '-' is refused only when a fact put it there: `-v` written in the playbook is
    the author's choice (a playbook is code)."""
    pb = tmp_path / "pb.yaml"
    pb.write_text('name: fine\nsteps:\n  - id: ok\n    kind: command\n'
                  '    argv: ["ldconfig", "-v", "-I{{ python.include }}"]\n')
    res = run_fixenv(["plan", "--json", "--facts", str(load_and_write(tmp_path)),
                      "--playbook", str(pb)])
    assert res.returncode == 0, res.stderr
    step = json.loads(res.stdout)["steps"][0]
    assert step["commands"] == [["ldconfig", "-v", "-I/usr/include/python3.11"]]


def load_and_write(tmp_path: Path) -> Path:
    return write_facts(tmp_path / "facts.json", load_facts())


def test_the_runner_refuses_shell_strings_and_non_string_words():
    for bad in ("rm -rf /", b"rm -rf /", [], ["echo", 1], ["echo", None]):
        with pytest.raises(TypeError):
            Runner().run(bad)  # type: ignore[arg-type]


def test_the_recording_runner_refuses_a_mutating_call_before_starting_it(tmp_path):
    marker = tmp_path / "ran"
    from fixenv.errors import MutationRefused
    with pytest.raises(MutationRefused):
        RecordingRunner().run(["touch", str(marker)], mutating=True)
    assert not marker.exists()


def test_no_shell_anywhere_in_fixenv():
    """Structural: nothing in the package starts a shell or passes shell=True."""
    root = Path(__file__).resolve().parents[2] / "fixenv"
    offenders = []
    for p in root.rglob("*.py"):
        text = p.read_text()
        for needle in ("shell=True", "os.system(", "os.popen(", "commands.getoutput"):
            if needle in text:
                offenders.append("%s: %s" % (p.relative_to(root), needle))
        if "subprocess" in text and p.name != "runner.py":
            offenders.append("%s: uses subprocess outside runner.py" % p.relative_to(root))
    assert offenders == []


def test_playbooks_load_only_from_named_paths_or_the_bundled_set(tmp_path):
    """A playbook in the current directory is never picked up by name: only a path the user
    gives (with a / or .yaml) or a bundled name."""
    (tmp_path / "python-headers").write_text("name: evil\nsteps:\n  - id: x\n"
                                                  "    kind: command\n    argv: [reboot]\n")
    res = run_fixenv(["plan", "--json", "--facts", str(load_and_write(tmp_path)),
                      "--playbook", "python-headers"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["playbook"] == "python-headers"
    assert "reboot" not in res.stdout


def test_the_error_hint_says_a_playbook_is_code(tmp_path):
    pb = tmp_path / "pb.yaml"
    pb.write_text('name: t\nsteps:\n  - id: evil\n    kind: command\n    argv: ["a;b"]\n')
    res = run_fixenv(["plan", "--facts", str(load_and_write(tmp_path)), "--playbook", str(pb)])
    assert_one_error(res, INPUT, "refusing program")
    assert "a playbook is code" in res.stderr
