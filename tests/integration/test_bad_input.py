"""Bad input -> one clear error line naming the place, a documented exit code, no traceback.

Each case runs the real `fixenv` console script. A case passes only when:
- the exit code is the documented one (2 usage, 3 bad input),
- stderr is exactly `fixenv: error: ...` plus at most one `fixenv: hint: ...` line,
- that error line names the place (file:line:column and key path for YAML, the key for a
  facts file, the option for CLI misuse) and what is wrong,
- stdout is empty and there is no "Traceback" anywhere.
The fixture files are in tests/badinput/; docs/robustness.md lists every case.
"""
from __future__ import annotations

import glob
import json
import os
import time
from pathlib import Path

import pytest

from tests.robust_helpers import (BADINPUT, GOOD_FACTS, assert_one_error, load_facts,
                                       run_fixenv, write_exe, write_facts)

USAGE, INPUT = 2, 3
PB = BADINPUT

# (fixture, [fragments the error line must hold]) -- planned from a facts file, so only the
# playbook is judged (no probing of this machine).
PLAYBOOK_CASES = [
    ("syntax-error.yaml", ["syntax-error.yaml:6:1:", "YAML syntax error", "expected ',' or ']'"]),
    ("tab-indent.yaml", ["tab-indent.yaml:3:1:", "YAML syntax error"]),
    ("wrong-type-list.yaml", ["wrong-type-list.yaml:5:15:", "steps[0].packages",
                              "expected a list of strings, got int 5"]),
    ("wrong-type-name.yaml", ["wrong-type-name.yaml:1:7:", "name: expected a string"]),
    ("wrong-type-bool.yaml", ["wrong-type-bool.yaml:6:16:", "steps[0].reinstall",
                              "expected true or false"]),
    ("wrong-type-steps.yaml", ["wrong-type-steps.yaml:3:3:", "steps: expected a list of steps"]),
    ("wrong-type-step.yaml", ["wrong-type-step.yaml:3:5:", "steps[0]:", "expected a step"]),
    ("unknown-key-step.yaml", ["unknown-key-step.yaml:5:5:", "steps[0].pakages",
                               "did you mean 'packages'?"]),
    ("unknown-key-top.yaml", ["unknown-key-top.yaml:2:1:", "stepz", "did you mean 'steps'?"]),
    ("unknown-key-rule.yaml", ["unknown-key-rule.yaml:7:9:", "steps[0].rules[0].managr",
                               "did you mean 'manager'?"]),
    ("unknown-kind.yaml", ["unknown-kind.yaml:4:11:", "steps[0].kind",
                           "unknown step kind 'packgaes'", "did you mean 'packages'?"]),
    ("missing-kind.yaml", ["missing-kind.yaml:3:5:", "steps[0]", "missing required key 'kind'"]),
    ("missing-id.yaml", ["missing-id.yaml:3:5:", "steps[0]", "missing required key 'id'"]),
    ("bad-step-id.yaml", ["bad-step-id.yaml:3:9:", "steps[0].id", "'Bad Id!'"]),
    ("duplicate-id.yaml", ["duplicate-id.yaml:5:9:", "steps[1].id", "duplicate step id 'same'",
                           "first at duplicate-id.yaml:3:9"]),
    ("duplicate-key.yaml", ["duplicate-key.yaml:2:1:", "duplicate key 'name'"]),
    ("template-unknown-fact.yaml", ["template-unknown-fact.yaml:5:23:", "steps[0].packages[0]",
                                    "unknown fact 'python.xyz'"]),
    ("template-expression.yaml", ["template-expression.yaml:5:23:", "only fact paths"]),
    ("template-unbalanced.yaml", ["template-unbalanced.yaml:5:", "unbalanced"]),
    ("when-unknown-fact.yaml", ["when-unknown-fact.yaml:5:11:", "steps[0].when",
                                "unknown fact 'python.colour'"]),
    ("when-call.yaml", ["when-call.yaml:5:11:", "steps[0].when", "Call is not allowed"]),
    ("when-syntax.yaml", ["when-syntax.yaml:5:11:", "not a valid expression"]),
    ("when-attribute-trick.yaml", ["when-attribute-trick.yaml:5:11:",
                                   "unknown fact 'python.version.__class__'"]),
    ("empty.yaml", ["empty.yaml:1:1:", "the playbook is empty"]),
    ("comments-only.yaml", ["comments-only.yaml:1:1:", "the playbook is empty"]),
    ("no-steps.yaml", ["no-steps.yaml:2:8:", "steps", "no steps"]),
    ("not-a-mapping.yaml", ["not-a-mapping.yaml:1:1:", "a playbook is a mapping"]),
    ("argv-shell-string.yaml", ["argv-shell-string.yaml:5:11:", "steps[0].argv",
                                "not a shell string"]),
    ("rules-and-packages.yaml", ["rules-and-packages.yaml:5:15:", "steps[0].packages",
                                 "goes inside each rule"]),
    ("env-bad-var.yaml", ["env-bad-var.yaml:5:10:", "steps[0].var", "not supported"]),
    ("recursive-alias.yaml", ["recursive-alias.yaml:3:5:", "recursive alias"]),
    ("alias-bomb.yaml", ["alias-bomb.yaml:", "more than 20000 values", "alias bomb"]),
    ("python-tag.yaml", ["python-tag.yaml:1:7:", "python/name:os.system"]),
    ("python-tag-seq.yaml", ["python-tag-seq.yaml:2:8:", "steps",
                             "python/object/apply:os.system is not allowed"]),
    ("non-utf8.yaml", ["non-utf8.yaml:1:10:", "not UTF-8", "0xe9"]),
]


def test_every_fixture_playbook_has_a_case():
    listed = {name for name, _ in PLAYBOOK_CASES}
    on_disk = {os.path.basename(p) for p in glob.glob(str(PB / "*.yaml"))}
    assert on_disk == listed
    assert len(PLAYBOOK_CASES) >= 30


@pytest.mark.parametrize("name,fragments", PLAYBOOK_CASES, ids=[c[0] for c in PLAYBOOK_CASES])
def test_bad_playbook(name, fragments):
    res = run_fixenv(["plan", "--facts", str(GOOD_FACTS), "--playbook", name], cwd=PB)
    assert_one_error(res, INPUT, *fragments)


def test_bad_playbook_with_json_output_still_one_error_line_and_empty_stdout():
    res = run_fixenv(["plan", "--json", "--facts", str(GOOD_FACTS), "--playbook",
                      "unknown-kind.yaml"], cwd=PB)
    assert_one_error(res, INPUT, "unknown-kind.yaml:4:11:")


def test_bad_playbook_given_to_apply_changes_nothing_and_says_where(tmp_path):
    res = run_fixenv(["apply", "--yes", "--python", "/usr/bin/python3",
                      "--playbook", str(PB / "duplicate-id.yaml")],
                     env={"FIXENV_LOCK_FILE": str(tmp_path / "lock")})
    assert_one_error(res, INPUT, "duplicate-id.yaml:5:9:")


# ------------------------------------------------------------------ playbook paths

def test_playbook_path_that_does_not_exist(tmp_path):
    res = run_fixenv(["plan", "--facts", str(GOOD_FACTS), "--playbook",
                      str(tmp_path / "nope.yaml")])
    assert_one_error(res, INPUT, str(tmp_path / "nope.yaml"), "no such file")


def test_playbook_path_that_is_a_directory(tmp_path):
    res = run_fixenv(["plan", "--facts", str(GOOD_FACTS), "--playbook", str(tmp_path)])
    assert_one_error(res, INPUT, str(tmp_path), "is a directory")


def test_unknown_bundled_playbook_name_lists_the_bundled_ones():
    res = run_fixenv(["plan", "--facts", str(GOOD_FACTS), "--playbook", "no-such-book"])
    line = assert_one_error(res, INPUT, "no-such-book")
    assert "python-headers" in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file; an unreadable file "
                    "needs a non-root user")
def test_playbook_that_cannot_be_read(tmp_path):  # pragma: no cover - root in CI
    p = tmp_path / "secret.yaml"
    p.write_text("name: x\n")
    p.chmod(0)
    assert_one_error(run_fixenv(["plan", "--facts", str(GOOD_FACTS), "--playbook", str(p)]),
                     INPUT, "secret.yaml")


# ------------------------------------------------------------------ facts files

FACTS_CASES = [
    ("not-json.json", ["not-json.json:1:27:", "not valid JSON"]),
    ("missing-python-version.json", ["missing-python-version.json", "python.version: missing"]),
    ("wrong-type-root.json", ["wrong-type-root.json", "privilege.root",
                              "expected true/false"]),
    ("non-utf8.json", ["non-utf8.json", "not UTF-8"]),
    ("a-list.json", ["a-list.json", "expected an object"]),
]


@pytest.mark.parametrize("name,fragments", FACTS_CASES, ids=[c[0] for c in FACTS_CASES])
def test_bad_facts_file(name, fragments):
    res = run_fixenv(["plan", "--facts", name], cwd=PB / "facts")
    assert_one_error(res, INPUT, *fragments)


def test_facts_file_that_does_not_exist(tmp_path):
    assert_one_error(run_fixenv(["plan", "--facts", str(tmp_path / "f.json")]), INPUT,
                     "f.json", "No such file")


def test_facts_file_that_is_a_directory(tmp_path):
    assert_one_error(run_fixenv(["plan", "--facts", str(tmp_path)]), INPUT, "is a directory")


def test_facts_file_nested_absurdly_deep(tmp_path):
    p = tmp_path / "deep.json"
    p.write_text("[" * 100000 + "]" * 100000)
    assert_one_error(run_fixenv(["plan", "--facts", str(p)]), INPUT, "deep.json",
                     "nested too deeply")


@pytest.mark.parametrize("section,key", [("os", "arch"), ("python", "include"),
                                         ("compilers", "cxx"), ("env", "CPATH")])
def test_facts_file_missing_a_key_names_that_key(tmp_path, section, key):
    facts = load_facts()
    del facts[section][key]
    res = run_fixenv(["plan", "--facts", str(write_facts(tmp_path / "f.json", facts))])
    assert_one_error(res, INPUT, "%s.%s: missing" % (section, key))


def test_facts_file_with_the_wrong_python_xy_for_its_version(tmp_path):
    facts = load_facts()
    facts["python"]["xy"] = "3.12"
    res = run_fixenv(["plan", "--facts", str(write_facts(tmp_path / "f.json", facts))])
    assert_one_error(res, INPUT, "python.xy", "does not match python.version '3.11.2'")


# ------------------------------------------------------------------ --python targets

def test_python_that_does_not_exist(tmp_path):
    assert_one_error(run_fixenv(["plan", "--python", str(tmp_path / "python9")]), INPUT,
                     "--python", "python9", "no such file")


def test_python_name_not_on_path():
    assert_one_error(run_fixenv(["plan", "--python", "python-fixenv-nonexistent"]), INPUT,
                     "--python python-fixenv-nonexistent", "no such command on PATH")


def test_python_that_is_a_directory(tmp_path):
    assert_one_error(run_fixenv(["plan", "--python", str(tmp_path)]), INPUT,
                     "--python", "is a directory")


def test_python_that_is_not_executable(tmp_path):
    p = tmp_path / "python3"
    p.write_text("#!/bin/sh\n")
    assert_one_error(run_fixenv(["plan", "--python", str(p)]), INPUT, "--python",
                     "not executable")


@pytest.mark.parametrize("program", ["/bin/true", "/bin/echo", "/bin/false"])
def test_python_that_is_some_other_program(program):
    if not os.path.exists(program):
        pytest.skip("%s not on this machine" % program)
    assert_one_error(run_fixenv(["plan", "--python", program]), INPUT, program,
                     "not a Python interpreter")


def test_python_that_is_a_script_printing_garbage(tmp_path):
    p = write_exe(tmp_path / "python3", "#!/bin/sh\necho 'Hello, I am definitely Python'\n")
    assert_one_error(run_fixenv(["plan", "--python", str(p)]), INPUT, str(p),
                     "not a Python interpreter", "Hello, I am")


def test_python_that_answers_json_but_not_the_probe(tmp_path):
    p = write_exe(tmp_path / "python3", "#!/bin/sh\necho '{\"version\": \"3.11.2\"}'\n")
    assert_one_error(run_fixenv(["plan", "--python", str(p)]), INPUT, str(p),
                     "did not answer the probe like a Python interpreter")


def test_python_26_is_refused_clearly(tmp_path):
    probe = {"fixenv_probe": 1, "executable": str(tmp_path / "python2.6"), "version": "2.6.9",
             "prefix": "/usr", "base_prefix": "/usr", "include_sysconfig": "/usr/include/python2.6"}
    p = write_exe(tmp_path / "python2.6", "#!/bin/sh\necho '%s'\n" % json.dumps(probe))
    assert_one_error(run_fixenv(["plan", "--python", str(p)]), INPUT, "Python 2.6.9",
                     "fixenv supports targets from 2.7 on")


def test_python_too_old_for_the_probe_syntax_is_refused_clearly(tmp_path):
    # What a Python 2.5 or 1.x says to the probe: a SyntaxError on stderr.
    p = write_exe(tmp_path / "python2.5", "#!/bin/sh\necho '  File \"<string>\", line 12' >&2\n"
                  "echo 'SyntaxError: invalid syntax' >&2\nexit 1\n")
    assert_one_error(run_fixenv(["plan", "--python", str(p)]), INPUT, str(p),
                     "not a supported Python", ">= 2.7")


def test_python_that_crashes(tmp_path):
    p = write_exe(tmp_path / "python3", "#!/bin/sh\necho 'Fatal Python error: init' >&2\n"
                  "exit 134\n")
    assert_one_error(run_fixenv(["plan", "--python", str(p)]), INPUT, str(p), "exited 134",
                     "Fatal Python error")


def test_python_that_hangs_times_out_instead_of_hanging(tmp_path):
    """A script that never answers (and leaves a grandchild holding the pipes) is given up on
    after the probe's 30 s, not after the grandchild ends."""
    p = write_exe(tmp_path / "python3", "#!/bin/sh\nsleep 300\n")
    t0 = time.monotonic()
    res = run_fixenv(["plan", "--python", str(p)], timeout=120)
    assert time.monotonic() - t0 < 60
    assert_one_error(res, INPUT, str(p), "timed out after 30s")


def _pyenv(version_prefix: str) -> str:
    found = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/%s*/bin/python" %
                                                version_prefix)))
    if not found:
        pytest.skip("no pyenv Python %s on this machine" % version_prefix)
    return found[-1]


def test_python_27_is_a_supported_target():
    py = _pyenv("2.7")
    res = run_fixenv(["detect", "--json", "--python", py])
    assert res.returncode == 0, res.stderr
    facts = json.loads(res.stdout)
    assert facts["python"]["version"].startswith("2.7.")
    assert facts["python"]["has_headers"] is True
    res = run_fixenv(["plan", "--json", "--python", py])
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr


# ------------------------------------------------------------------ CLI misuse

def test_facts_and_python_conflict_names_both_options():
    res = run_fixenv(["plan", "--facts", str(GOOD_FACTS), "--python", "/usr/bin/python3"])
    assert_one_error(res, USAGE, "--facts", "--python", "conflict")


def test_unknown_option_is_named():
    assert_one_error(run_fixenv(["plan", "--bogus"]), USAGE, "--bogus")


def test_option_missing_its_value_is_named():
    assert_one_error(run_fixenv(["plan", "--playbook"]), USAGE, "--playbook",
                     "requires an argument")


def test_unknown_command_is_named():
    assert_one_error(run_fixenv(["plna"]), USAGE, "plna")


def test_bad_lock_timeout_is_a_usage_error_naming_the_variable():
    res = run_fixenv(["plan", "--facts", str(GOOD_FACTS)], env={"FIXENV_LOCK_TIMEOUT": "soon"})
    assert_one_error(res, USAGE, "FIXENV_LOCK_TIMEOUT", "'soon'", "not a number")


def test_a_traceback_only_with_debug():
    args = ["--playbook", "unknown-kind.yaml", "--facts", str(GOOD_FACTS)]
    quiet = run_fixenv(["plan"] + args, cwd=PB)
    assert_one_error(quiet, INPUT, "unknown-kind.yaml:4:11:")
    loud = run_fixenv(["--debug", "plan"] + args, cwd=PB)
    assert loud.returncode != 0
    assert "Traceback" in loud.stderr and "InputError" in loud.stderr


@pytest.mark.parametrize("option", ["--playbook", "--facts"])
def test_an_endless_file_is_refused_not_read_forever(option):
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    args = ["plan", option, "/dev/zero"]
    if option == "--playbook":
        args += ["--facts", str(GOOD_FACTS)]
    assert_one_error(run_fixenv(args, timeout=60), INPUT, "/dev/zero", "larger than 4 MiB")


def test_apply_without_yes_and_without_a_terminal_is_not_confirmed(tmp_path):
    pb = tmp_path / "pb.yaml"
    pb.write_text("name: t\nsteps:\n  - id: a\n    kind: command\n"
                  "    argv: [touch, %s]\n" % (tmp_path / "ran"))
    res = run_fixenv(["apply", "--python", "/usr/bin/python3", "--playbook", str(pb)],
                     env={"FIXENV_LOCK_FILE": str(tmp_path / "lock")})
    assert res.returncode == 5, res.stderr
    assert "fixenv: error: apply would change this machine and there is no terminal to ask: " \
        "pass --yes" in res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "ran").exists()


def test_every_row_of_the_robustness_table_names_a_test_that_exists():
    """docs/robustness.md promises a test per row: each row names one, and it exists."""
    import re

    repo = Path(__file__).resolve().parents[2]
    defined = set()
    for p in (repo / "tests").rglob("test_*.py"):
        defined |= set(re.findall(r"^def (test_\w+)", p.read_text(), re.M))
    rows = [ln for ln in (repo / "docs" / "robustness.md").read_text().splitlines()
            if ln.startswith("| ") and not ln.startswith("| Input") and "---" not in ln
            and not ln.startswith("| Fault |") and not ln.startswith("| Value |")
            and not ln.startswith("| What was tried") and not ln.startswith("| Case |")]
    assert len(rows) >= 60
    for row in rows:
        last = row.rstrip(" |").rsplit("|", 1)[-1]
        names = re.findall(r"(test_\w+)(\.py|\.\.\.)?", last)
        params = re.findall(r"`\[[^\]]+\]`", last)
        assert names or params, row
        for name, tail in names:
            if tail == ".py":
                assert list((repo / "tests").rglob(name + ".py")), (name, row)
            elif tail == "...":
                assert any(d.startswith(name) for d in defined), (name, row)
            else:
                assert name in defined, (name, row)
