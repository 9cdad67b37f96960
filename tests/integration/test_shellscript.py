"""`fixenv plan --format shell`: a POSIX sh script that does what apply does.

The scripts here are really run with /bin/sh (dash on Debian) against files in tmp_path, and
compared with what fixenv's own apply (engine.apply_plan) does with the same plan. The e2e
test (tests/e2e/test_shell_format.py) does the same for package installs in a Debian root.
"""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from fixenv.cli import app, run
from tests.factsfix import make_facts
from fixenv.engine import apply_plan
from fixenv.errors import USAGE
from fixenv.facts import gather
from fixenv.engine import resolve
from fixenv.model import Command, FileEdit, Plan, PlannedStep, Verify
from fixenv.runner import RecordingRunner, Runner
from fixenv.shellscript import exec_line, render

SYSTEM_PY = "/usr/bin/python3.11"
HOSTILE = [
    "it's",
    'say "hi"',
    "$(touch PWNED)",
    "`touch PWNED`",
    "a;b|c&d",
    "$HOME ${HOME} $((1+1))",
    "back\\slash",
    "new\nline",
    "tab\there",
    "*",
    "-n",
    "",
    "FIXENV_EOF",
]

FACTS_FILE = make_facts(root=False, sudo=True)  # Debian 12, a sudo-capable user


def sh_syntax_ok(script: str, tmp_path) -> None:
    p = tmp_path / "syntax.sh"
    p.write_text(script)
    res = subprocess.run(["sh", "-n", str(p)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr + "\n" + script


@pytest.fixture(scope="module")
def host_facts():
    if not os.path.exists(os.path.join("/usr/include/python3.11", "Python.h")):
        pytest.skip("needs /usr/bin/python3.11 with python3.11-dev")
    facts = gather(RecordingRunner(), SYSTEM_PY)
    if not facts["compilers"]["cc"] or not facts["compilers"]["cxx"]:
        pytest.skip("needs a C and a C++ compiler on the host")
    return facts


def _run_script(script: str, tmp_path, *, path_env: str = "/usr/bin:/bin", name="fix.sh"):
    p = tmp_path / name
    p.write_text(script)
    return subprocess.run(["sh", str(p)], capture_output=True, text=True, cwd=str(tmp_path),
                          env={"PATH": path_env, "HOME": str(tmp_path), "LANG": "C.UTF-8"},
                          timeout=120)


def verify_plan(python: str) -> Plan:
    """A plan with only a verify step (its Verify action)."""
    return Plan("p", (PlannedStep("verify", "verify", "verify", "ok", "build and import",
                                  actions=(Verify(python),)),), target=python)


def test_exec_line_is_the_exact_argv_quoted():
    cmd = Command(("apt-get", "install", "-y", "python3.11-dev"), root=True,
                  env=(("DEBIAN_FRONTEND", "noninteractive"),))
    step = PlannedStep("h", "packages", "h", "change", "", (cmd,))
    sudo = resolve(step, {"privilege": {"root": False, "sudo": True}}).execs[0]
    assert exec_line(sudo) == ("sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y "
                               "python3.11-dev")
    as_root = resolve(step, {"privilege": {"root": True, "sudo": False}}).execs[0]
    assert exec_line(as_root) == ("env DEBIAN_FRONTEND=noninteractive apt-get install -y "
                                  "python3.11-dev")
    plain = resolve(PlannedStep("p", "command", "p", "change", "",
                                (Command(("printf", "%s", "it's $x")),)),
                    {"privilege": {"root": True}}).execs[0]
    assert exec_line(plain) == "printf %s 'it'\"'\"'s $x'"


def test_plan_format_shell_from_facts_file(tmp_path, capsys):
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps(FACTS_FILE))
    assert run(["plan", "--facts", str(facts), "--format", "shell"]) == 0
    script = capsys.readouterr().out
    assert script.startswith("#!/bin/sh\n")
    assert "\nset -eu\n" in script
    # not root: root commands go through `sudo -n`, exactly as apply runs them
    assert "sudo -n env DEBIAN_FRONTEND=noninteractive apt-get" in script
    assert "as_root" not in script  # no logic of its own: the plan's argv, rendered
    # made for the facts' user (no uid in this file: the documented default, 1000)
    assert 'if [ "$(id -u)" -ne 1000 ]; then' in script
    assert script.index("python3.11-dev") < script.index("build-essential") \
        < script.index("fixenv verify --python /usr/bin/python3.11")
    sh_syntax_ok(script, tmp_path)


def test_format_option_errors(tmp_path):
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps(FACTS_FILE))
    assert run(["plan", "--facts", str(facts), "--format", "yaml"]) == USAGE
    assert run(["plan", "--facts", str(facts), "--format", "shell", "--json"]) == USAGE
    res = CliRunner().invoke(app, ["plan", "--facts", str(facts), "--format", "json"])
    assert res.exit_code == 0
    assert json.loads(res.stdout)["changes_pending"] is True


def _hostile_plan(tmp_path, facts) -> Plan:
    """Steps whose argv, file paths and content are full of shell metacharacters."""
    d = tmp_path / "it's a $(dir) `x`"
    d.mkdir()
    existing = d / "old; rm -rf ~"
    existing.write_text("before\n")
    existing.chmod(0o640)
    content = "".join(h + "\n" for h in HOSTILE) + "'\"$x\n"
    steps = (
        PlannedStep("skipme", "command", "nothing", "skip", "not needed: `$(touch PWNED)`"),
        PlannedStep("echo", "command", "echo", "change", "print hostile words\nsecond line",
                    (Command(("printf", "<%s>\\n") + tuple(HOSTILE),
                             env=(("FIXENV_T", "a b'$c"),)),
                     Command(("sh", "-c", 'printf "%s\\n" "$FIXENV_T" > "$1"', "sh",
                              str(d / "env out")), env=(("FIXENV_T", "a b'$c"),)))),
        PlannedStep("files", "env", "files", "change", "write files",
                    files=(FileEdit(str(d / "new $(file)\nx"), content),
                           FileEdit(str(existing), "after\nFIXENV_EOF\n"),
                           FileEdit(str(d / "no newline"), "last line without newline"))),
    )
    return Plan("hostile", steps, target=facts["python"]["executable"])


def _tree(root) -> dict:
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = os.path.join(dirpath, f)
            out[os.path.relpath(p, root)] = (open(p, "rb").read(),
                                             stat.S_IMODE(os.stat(p).st_mode))
    return out


def test_hostile_words_survive_and_match_apply(tmp_path, host_facts):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    plan_a = _hostile_plan(a, host_facts)
    plan_b = _hostile_plan(b, host_facts)
    script = render(plan_b, host_facts)
    sh_syntax_ok(script, tmp_path)
    res = _run_script(script, tmp_path)
    assert res.returncode == 0, res.stderr + script
    printed = res.stdout
    expected = "".join("<%s>\n" % h for h in HOSTILE)
    assert printed == expected
    assert not list(tmp_path.rglob("PWNED")) and not os.path.exists("PWNED")

    lines = []
    recap = apply_plan(plan_a, host_facts, Runner(), on_line=lines.append)
    assert not recap.failed, recap.to_json()
    assert "\n".join(lines) + "\n" == expected  # apply streamed the same output
    # the same files, bytes and modes (backups included), whoever wrote them
    assert _tree(a) == _tree(b)
    tree = _tree(b)
    old = [k for k in tree if k.endswith("old; rm -rf ~")][0]
    assert tree[old] == (b"after\nFIXENV_EOF\n", 0o640)
    assert tree[old + ".fixenv-backup"][0] == b"before\n"
    assert [v for k, v in tree.items() if k.endswith("no newline")][0][0] == \
        b"last line without newline"
    assert [v for k, v in tree.items() if k.endswith("env out")][0][0] == b"a b'$c\n"


def test_script_verifies_by_hand_without_fixenv_on_path(tmp_path, host_facts):
    script = render(verify_plan(SYSTEM_PY), host_facts)
    res = _run_script(script, tmp_path, path_env="/usr/bin:/bin")
    assert res.returncode == 0, res.stderr
    assert "verification passed" in res.stderr


def test_script_uses_fixenv_verify_when_on_path(tmp_path, host_facts):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    os.symlink(os.path.join(os.path.dirname(sys.executable), "fixenv"), bindir / "fixenv")
    script = render(verify_plan(SYSTEM_PY), host_facts)
    res = _run_script(script, tmp_path, path_env="%s:/usr/bin:/bin" % bindir)
    assert res.returncode == 0, res.stderr
    assert "verify /usr/bin/python3.11" in res.stdout  # fixenv verify's own report


def test_script_verification_fails_on_wrong_headers(tmp_path, host_facts):
    """A target whose include dir holds another version's headers must fail the script."""
    other = "/root/.pyenv/versions/3.12.1/bin/python"
    if not os.path.exists(other):
        pytest.skip("needs pyenv 3.12.1")
    facts = json.loads(json.dumps(host_facts))
    facts["python"].update(executable=other, major=3, minor=12, xy="3.12",
                           ext_suffix=".cpython-312-x86_64-linux-gnu.so")
    script = render(verify_plan(other), facts)
    res = _run_script(script, tmp_path, path_env="/usr/bin:/bin")
    assert res.returncode != 0
    assert "not for the target Python version" in res.stderr


def test_script_refuses_another_machine(tmp_path, host_facts):
    facts = json.loads(json.dumps(host_facts))
    facts["python"]["executable"] = str(tmp_path / "no such python")
    res = _run_script(render(Plan("p", ()), facts), tmp_path)
    assert res.returncode == 1
    assert "is not here" in res.stderr


def test_block_edit_of_a_user_file_matches_apply_and_refuses_a_changed_file(tmp_path,
                                                                           host_facts):
    profile = pytest.importorskip("fixenv.profile")
    if not hasattr(profile, "BLOCK"):
        pytest.skip("fixenv.profile has no block edits")
    block = profile.sh_block("CPATH", ["/usr/include/python3.11", "/usr/include"])
    files = {}
    for name in ("a", "b"):
        d = tmp_path / name
        d.mkdir()
        f = d / ".bashrc"
        f.write_text("# my rc\nalias ll='ls -l'\n")
        files[name] = f
    step = lambda f: PlannedStep("cpath", "env", "CPATH", "change", "persist CPATH",  # noqa
                                 files=(FileEdit(str(f), block, profile.BLOCK),))
    apply_plan(Plan("p", (step(files["a"]),)), host_facts, Runner())
    script = render(Plan("p", (step(files["b"]),)), host_facts)
    res = _run_script(script, tmp_path)
    assert res.returncode == 0, res.stderr
    assert files["a"].read_text() == files["b"].read_text()
    assert block in files["b"].read_text()
    assert (tmp_path / "b" / ".bashrc.fixenv-backup").read_text() == "# my rc\nalias ll='ls -l'\n"
    # the script was made for the file as it was: a changed file is not overwritten
    files["b"].write_text("# edited since\n")
    res = _run_script(script, tmp_path, name="again.sh")
    assert res.returncode == 1 and "changed since this script was made" in res.stderr
    assert files["b"].read_text() == "# edited since\n"


def test_env_value_is_exported_for_later_steps(tmp_path, host_facts):
    out = tmp_path / "seen"
    steps = (
        PlannedStep("cpath", "env", "CPATH", "change", "set CPATH",
                    data=(("name", "FIXENV_TEST_VAR"), ("value", "/x y:/z"))),
        PlannedStep("show", "command", "show", "change", "show it",
                    (Command(("sh", "-c", 'printf %s "$FIXENV_TEST_VAR" > "$1"', "sh",
                              str(out))),)),
    )
    script = render(Plan("p", steps), host_facts)
    res = _run_script(script, tmp_path)
    assert res.returncode == 0, res.stderr
    assert out.read_text() == "/x y:/z"


def test_set_e_stops_at_the_first_failing_command(tmp_path, host_facts):
    marker = tmp_path / "after"
    steps = (
        PlannedStep("bad", "command", "bad", "change", "fails", (Command(("false",)),)),
        PlannedStep("later", "command", "later", "change", "never runs",
                    (Command(("touch", str(marker))),)),
    )
    res = _run_script(render(Plan("p", steps), host_facts), tmp_path)
    assert res.returncode != 0
    assert not marker.exists()


def test_real_plan_for_the_host_is_valid_sh(tmp_path, host_facts):
    res = CliRunner().invoke(app, ["plan", "--python", SYSTEM_PY, "--format", "shell"])
    assert res.exit_code == 0, res.output
    sh_syntax_ok(res.stdout, tmp_path)
    if shutil.which("bash"):
        p = tmp_path / "s.sh"
        p.write_text(res.stdout)
        assert subprocess.run(["bash", "-n", str(p)]).returncode == 0
