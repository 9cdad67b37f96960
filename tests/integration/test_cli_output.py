"""Pleasant in a terminal, exact in a script: styled output on a TTY, plain ASCII without escape
codes in pipes or with NO_COLOR, a spinner with elapsed time and the last output line while a
step runs, and `--json` on every command (parsed, keys checked).

Terminal tests run the real `fixenv` under a pseudo-terminal.
"""
from __future__ import annotations

import errno
import json
import os
import pty
import re
import select
import subprocess
import sys
import time

import pytest

from fixenv.cli import app

SYSTEM_PY = "/usr/bin/python3.11"
FIXENV = os.path.join(os.path.dirname(sys.executable), "fixenv")
ESC = "\x1b["
needs_headers = pytest.mark.skipif(
    not os.path.isfile("/usr/include/python3.11/Python.h"),
    reason="needs /usr/bin/python3.11 with its headers (python3.11-dev)")

# Commands whose stdout is not fixenv's to format. Every other command must accept --json.
NO_JSON = {"exec": "runs the user's command with its own stdout; fixenv adds nothing to it"}


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env.update(TERM="xterm-256color", COLUMNS="120", LANG="C.UTF-8")
    env.update(extra)
    return env


def run_piped(*args, env=None):
    return subprocess.run([FIXENV, *args], capture_output=True, text=True, timeout=300,
                          env=env or clean_env())


def run_in_pty(*args, env=None, timeout=300) -> tuple:
    """Run fixenv with stdin/stdout/stderr on a pseudo-terminal; (exit code, all output)."""
    master, slave = pty.openpty()
    os.system("stty cols 120 rows 40 < %s" % os.ttyname(slave))
    proc = subprocess.Popen([FIXENV, *args], stdin=slave, stdout=slave, stderr=slave,
                            env=env or clean_env(), close_fds=True)
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError as exc:  # EIO: the child closed the terminal
                if exc.errno != errno.EIO:
                    raise
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(master)
    rc = proc.wait(timeout=30)
    return rc, b"".join(chunks).decode("utf-8", "replace")


def assert_plain(text: str) -> None:
    assert ESC not in text and "\x1b" not in text, repr(text[:400])
    text.encode("ascii")  # ASCII-safe: no ✓/✗, no box drawing


@needs_headers
@pytest.mark.parametrize("args", [
    ["doctor", "--python", SYSTEM_PY],
    ["plan", "--python", SYSTEM_PY],
    ["verify", "--python", SYSTEM_PY],
    ["detect", "--python", SYSTEM_PY],
    ["apply", "--yes", "--python", SYSTEM_PY],
])
def test_plain_when_piped(args):
    res = run_piped(*args)
    assert res.returncode == 0, res.stderr
    assert_plain(res.stdout)
    assert_plain(res.stderr)
    assert res.stdout.strip()


@needs_headers
def test_styled_on_a_terminal_and_plain_with_no_color():
    rc, out = run_in_pty("doctor", "--python", SYSTEM_PY)
    assert rc == 0, out
    assert ESC in out and "✓" in out
    assert re.search(r"\x1b\[[0-9;]*32m", out)  # green
    rc, out = run_in_pty("doctor", "--python", SYSTEM_PY, env=clean_env(NO_COLOR="1"))
    assert rc == 0, out
    assert_plain(out)
    assert "ok      headers" in out


@needs_headers
def test_force_color_and_no_color_wins():
    res = run_piped("verify", "--python", SYSTEM_PY, env=clean_env(FORCE_COLOR="1"))
    assert ESC in res.stdout and "✓" in res.stdout
    res = run_piped("verify", "--python", SYSTEM_PY, env=clean_env(FORCE_COLOR="1", NO_COLOR="1"))
    assert_plain(res.stdout)
    res = run_piped("verify", "--python", SYSTEM_PY, env=clean_env(NO_COLOR=""))
    assert_plain(res.stdout)  # piped anyway; an empty NO_COLOR does not count


def slow_playbook(tmp_path) -> str:
    script = tmp_path / "slow.sh"
    script.write_text("#!/bin/sh\necho 'Reading package lists...'\nsleep 1\n"
                      "echo 'Unpacking libfoo (1.2.3) ...'\nsleep 1.5\n"
                      "echo 'Setting up libfoo (1.2.3) ...'\n")
    script.chmod(0o755)
    pb = tmp_path / "pb.yaml"
    pb.write_text("name: slow\ndescription: a slow step\nsteps:\n"
                  "  - id: slow-step\n    kind: command\n    argv: [%s]\n"
                  "  - id: verify\n    kind: verify\n" % json.dumps(str(script)))
    return str(pb)


@needs_headers
def test_spinner_with_elapsed_time_and_last_line_on_a_terminal(tmp_path):
    rc, out = run_in_pty("apply", "--yes", "--python", SYSTEM_PY, "--playbook",
                         slow_playbook(tmp_path))
    assert rc == 0, out
    # the live line: spinner, step, elapsed time, the command's latest output line
    live = [ln for ln in re.split(r"[\r\n]", out) if "slow-step:" in ln and "0:00:0" in ln]
    assert live, out
    assert any("Unpacking libfoo (1.2.3) ..." in ln for ln in live), live
    assert any(ch in out for ch in "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")  # rich's "dots" spinner frames
    # replaced by one result line with the duration, then the recap
    assert re.search(r"✓.*slow-step.*\d+\.\ds", out)
    assert "done in" in out and "1 changed" in out


@needs_headers
def test_progress_is_line_prefixed_when_not_a_terminal(tmp_path):
    res = run_piped("apply", "--yes", "--python", SYSTEM_PY, "--playbook",
                    slow_playbook(tmp_path))
    assert res.returncode == 0, res.stderr
    assert_plain(res.stderr)
    err = res.stderr.splitlines()
    assert "[slow-step] Reading package lists..." in err
    assert "[slow-step] Setting up libfoo (1.2.3) ..." in err
    assert any(ln.startswith("==> slow-step: run ") for ln in err)
    assert any(ln.split()[:2] == ["changed", "slow-step"] for ln in err)
    # the recap is on stdout, plain
    assert_plain(res.stdout)
    assert "done in" in res.stdout and "1 changed" in res.stdout
    # --quiet: no progress lines, the recap's summary still there
    q = run_piped("-q", "apply", "--yes", "--python", SYSTEM_PY, "--playbook",
                  slow_playbook(tmp_path))
    assert q.returncode == 0
    assert "[slow-step]" not in q.stderr
    assert "1 changed" in q.stdout
    # docs/terminal.md: failures and the summary only (no step line, no verification lines)
    # (a lock notice may come first when another fixenv runs on this machine meanwhile)
    assert [ln for ln in (q.stdout + q.stderr).splitlines() if ln.strip()
            and not ln.startswith("fixenv: ")] == [
        ln for ln in q.stdout.splitlines() if ln.startswith("done in")], (q.stdout, q.stderr)
    # a failing step under -q: its line and the manager's last output lines are there
    fail = tmp_path / "fail.sh"
    fail.write_text("#!/bin/sh\necho 'E: Unable to locate package nope'\nexit 100\n")
    fail.chmod(0o755)
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nsteps:\n  - id: bad-step\n    kind: command\n"
                   "    argv: [%s]\n" % json.dumps(str(fail)))
    q = run_piped("-q", "apply", "--yes", "--python", SYSTEM_PY, "--playbook", str(bad))
    assert q.returncode == 1
    both = q.stdout + q.stderr
    assert "bad-step" in both and "E: Unable to locate package nope" in both, both
    assert "verify" not in both


def _commands():
    import typer.main

    group = typer.main.get_command(app)
    return {name: cmd for name, cmd in group.commands.items()}


def test_every_command_has_json():
    missing = []
    for name, cmd in _commands().items():
        opts = {o for p in cmd.params for o in getattr(p, "opts", [])}
        if "--json" not in opts and name not in NO_JSON:
            missing.append(name)
    assert not missing, "commands without --json: %s" % missing


@needs_headers
def test_json_of_every_core_command_parses_with_its_keys(tmp_path):
    detect = json.loads(run_piped("detect", "--python", SYSTEM_PY, "--json").stdout)
    assert set(detect) >= {"os", "managers", "privilege", "python", "compilers", "env"}
    assert set(detect["os"]) >= {"system", "id", "version", "like", "arch"}
    assert set(detect["privilege"]) >= {"root", "sudo"}
    assert set(detect["python"]) >= {"executable", "version", "implementation", "abiflags",
                                     "prefix", "base_prefix", "in_venv", "include",
                                     "has_headers", "provider"}
    assert set(detect["compilers"]) >= {"cc", "cxx"} and "CPATH" in detect["env"]

    pbs = json.loads(run_piped("playbooks", "--json").stdout)
    assert pbs and all(set(p) >= {"name", "path", "description", "steps"} for p in pbs)

    for args in (["plan", "--json"], ["plan", "--format", "json"]):
        plan = json.loads(run_piped(*args, "--python", SYSTEM_PY).stdout)
        assert isinstance(plan["changes_pending"], bool)
        for s in plan["steps"]:
            assert set(s) >= {"id", "status", "commands", "reason"}
            assert s["status"] in ("change", "ok", "skip")

    res = run_piped("apply", "--yes", "--json", "--python", SYSTEM_PY)
    data = json.loads(res.stdout)  # stdout is only the JSON: progress stays on stderr
    assert set(data["summary"]) >= {"ok", "changed", "failed", "skipped"}
    assert isinstance(data["verify"]["ok"], bool) and isinstance(data["steps"], list)

    ver = json.loads(run_piped("verify", "--json", "--python", SYSTEM_PY).stdout)
    assert isinstance(ver["ok"], bool)
    assert all(set(c) >= {"name", "ok", "detail"} for c in ver["checks"])

    doc = json.loads(run_piped("doctor", "--json", "--python", SYSTEM_PY).stdout)
    assert isinstance(doc["ok"], bool)
    assert all(set(c) >= {"name", "ok", "status", "detail", "fix"} for c in doc["checks"])


def test_version_and_completion():
    res = run_piped("--version")
    assert res.returncode == 0 and re.match(r"^fixenv \d+\.\d+", res.stdout), res.stderr
    res = run_piped("--show-completion", "bash", env=clean_env(SHELL="/bin/bash"))
    assert res.returncode == 0 and "_FIXENV_COMPLETE" in res.stdout, res.stderr


def test_rich_is_not_imported_for_plain_output(tmp_path):
    """Startup time (issue 7): piped output must not pay for rich."""
    code = ("import sys; from fixenv.cli import run; rc = run(['plan', '--python', %r]); "
            "sys.stderr.write('RICH=%%s' %% any(m == 'rich' or m.startswith('rich.') "
            "for m in sys.modules))" % sys.executable)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=clean_env())
    assert "RICH=False" in res.stderr, res.stderr


def test_a_broken_display_does_not_stop_apply(tmp_path):
    """Progress output failing (a closed terminal) must not abort a half-done install."""
    import io

    from fixenv.ui import ApplyFeedback

    class Broken(io.StringIO):
        def write(self, s):
            raise OSError(5, "Input/output error")

        def isatty(self):
            return False

    ev = tmp_path / "ev.jsonl"
    fb = ApplyFeedback(events=str(ev), stdout=io.StringIO(), stderr=Broken())
    fb.on_event("step_start", {"id": "a", "reason": "install a"})
    fb.on_line("Unpacking a ...")
    fb.on_event("step_end", {"id": "a", "status": "changed", "reason": "install a"})
    fb.__exit__(None, None, None)
    names = [json.loads(ln)["event"] for ln in ev.read_text().splitlines()]
    assert names == ["step_start", "step_end"]  # the event stream went on


@needs_headers
def test_verbosity_flags_before_or_after_the_command():
    env = clean_env(CPATH="/no/such/dir")
    before = run_piped("-q", "doctor", "--python", SYSTEM_PY, env=env)
    after = run_piped("doctor", "-q", "--python", SYSTEM_PY, env=env)
    assert before.returncode == after.returncode == 0
    assert before.stdout == after.stdout
    assert "headers" not in after.stdout and "warn    CPATH" in after.stdout
    verbose = run_piped("verify", "--python", SYSTEM_PY, "--verbose")
    assert verbose.returncode == 0, verbose.stderr
    normal = run_piped("doctor", "--python", SYSTEM_PY)
    assert "include dir" not in normal.stdout  # a flag of one run does not stick to the next


def test_long_rows_wrap_under_their_column_and_never_cut_a_word():
    from fixenv.ui import HANG, layout

    path = "/home/someone/.local/share/fixenv/sysroot/usr/include/python3.11/Python.h"
    row = [(" ✓ ", ""), ("headers       ", "bold"), HANG,
           ("Python.h is in %s, but CPATH (unset) does not reach it" % path, "dim")]
    lines = ["".join(t for t, _ in r) for r in layout(row, 80)]
    assert len(lines) > 1
    # within 80 columns, but for a word longer than the column: alone on its line, whole
    assert all(len(ln) <= 80 or len(ln.split()) == 1 for ln in lines), lines
    assert all(ln.startswith(" " * 17) for ln in lines[1:]), lines  # the hanging indent
    assert path + "," in [w for ln in lines for w in ln.split()]  # the path whole, never "…"
    assert " ".join("".join(lines).split()) == " ".join(
        "".join(t for t, _ in row if t).split())  # nothing lost, nothing added
    assert layout(row, None) == [[x for x in row if x != HANG]]  # pipes: one line, as is
    # a word longer than the column stays whole on a line of its own
    long = [("fix: ", ""), HANG, ("x" * 120, "")]
    assert ["".join(t for t, _ in r) for r in layout(long, 80)] == ["fix: " + "x" * 120]


def test_skip_reasons_in_words_and_the_condition_only_with_v():
    from fixenv.render import skip_words

    r = "not needed here: `python.provider == 'pyenv' and not python.has_headers` is false"
    assert skip_words(r) == ("not needed here: only when the target Python comes from pyenv "
                             "and its Python.h is missing")
    assert "`python.provider == 'pyenv'" in skip_words(r, verbose=True)
    assert "`" not in skip_words("not needed here: `cpath.rootless` is false")
    unknown = skip_words("not needed here: `os.weird_fact > 3` is false")
    assert "`" not in unknown and "-v" in unknown
    assert skip_words("Python.h is present in /usr/include/python3.11") == \
        "Python.h is present in /usr/include/python3.11"  # the playbook's own words stay


@pytest.mark.parametrize("option", ["--check", "--dry-run", "-n"])
def test_apply_dry_run_options_point_to_plan(option):
    res = run_piped("apply", option)
    assert res.returncode == 2
    assert "fixenv: error: apply has no %s option" % option in res.stderr
    assert "`fixenv plan`" in res.stderr and "Traceback" not in res.stderr


def test_advice_names_fixenv_as_it_was_invoked(tmp_path):
    from fixenv.render import invoked_as

    on_path = lambda name: "/usr/bin/" + name  # noqa: E731
    nowhere = lambda name: "/usr/bin/python3" if name.startswith("python") else None  # noqa
    assert invoked_as("/tmp/fixenv.pyz", which=on_path) == "fixenv"
    pyz = tmp_path / "fixenv.pyz"
    pyz.write_bytes(b"#!/usr/bin/env python3\nPK\x03\x04rest")
    py = os.path.basename(sys.executable)
    assert invoked_as(str(pyz), which=nowhere) == "%s %s" % (py, pyz)
    odd = tmp_path / "fixenv-tool"  # a zipapp renamed: still recognised by its content
    odd.write_bytes(pyz.read_bytes())
    assert invoked_as(str(odd), which=nowhere) == "%s %s" % (py, odd)
    assert invoked_as("/x/fixenv/__main__.py", which=nowhere) == "%s -m fixenv" % py


def test_one_change_pending_grammar():
    from fixenv.model import Command, Plan, PlannedStep
    from fixenv.ui import Out, plan_rows

    import io
    step = PlannedStep("a", "command", "a", "change", "run true",
                       commands=(Command(("true",), purpose="x"),))
    out = Out(io.StringIO(), color=False)
    last = "".join(t for t, _ in plan_rows(out, Plan("p", (step,), "/usr/bin/python3"))[-1])
    assert last.startswith("1 change pending - run `") and last.endswith(" apply` to make it")


def test_the_recap_says_what_was_done():
    from fixenv.render import past_tense

    assert past_tense("install python3.11-dev with apt") == "installed python3.11-dev with apt"
    assert past_tense("after the changes: build a C extension and import it with /p") == \
        "built a C extension and imported it with /p"
    assert past_tense("Python.h is present in /usr/include") == \
        "Python.h is present in /usr/include"  # a state, not an action: as it is


@needs_headers
def test_apply_recap_in_past_tense_and_one_word_per_status(tmp_path):
    res = run_piped("apply", "--yes", "--python", SYSTEM_PY, "--playbook",
                    slow_playbook(tmp_path))
    assert res.returncode == 0, res.stderr
    both = res.stdout + res.stderr
    assert "changed slow-step  ran " in both, both
    assert " run %s" % tmp_path not in res.stdout
    plan = run_piped("plan", "--python", SYSTEM_PY)
    words = {ln.split()[0] for ln in plan.stdout.splitlines()[1:-1] if ln.startswith(" ")}
    assert "skip" not in words  # the same word as apply's recap: skipped


def test_a_row_keeps_its_leading_indent_on_a_terminal():
    from fixenv.ui import layout

    rows = layout([("   > the output above shows why", "")], 200)
    assert ["".join(t for t, _ in r) for r in rows] == ["   > the output above shows why"]
    rows = layout([("   > " + "word " * 30, "")], 40)
    assert all("".join(t for t, _ in r).startswith("   ") for r in rows), rows


@needs_headers
def test_a_reader_that_stops_early_is_no_internal_error():
    """`fixenv plan | head -1`: the reader closes the pipe; fixenv stops quietly (141)."""
    p = subprocess.Popen([FIXENV, "plan", "--python", SYSTEM_PY], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=clean_env())
    p.stdout.close()  # gone before fixenv writes its first line
    err = p.stderr.read().decode()
    assert p.wait(60) == 141, err
    assert "internal error" not in err and "Traceback" not in err, err


def test_a_failed_step_never_ends_on_a_bare_colon(tmp_path):
    silent = tmp_path / "silent.sh"
    silent.write_text("#!/bin/sh\nexit 100\n")
    silent.chmod(0o755)
    pb = tmp_path / "pb.yaml"
    pb.write_text("name: silent\nsteps:\n  - id: silent-step\n    kind: command\n"
                  "    argv: [%s]\n" % json.dumps(str(silent)))
    for args in ([], ["-q"]):
        res = run_piped(*args, "apply", "--yes", "--playbook", str(pb), "--python",
                        sys.executable)
        assert res.returncode == 1, res.stderr
        for stream in (res.stdout, res.stderr):
            lines = stream.splitlines()
            for i, ln in enumerate(lines):
                if "exited 100:" in ln:
                    assert lines[i + 1].strip() == "(it printed nothing)", stream


@needs_headers
@pytest.mark.parametrize("cols", [80, 200])
@pytest.mark.parametrize("extra", [{}, {"NO_COLOR": "1"}, {"TERM": "dumb"}],
                         ids=["color", "no-color", "dumb"])
@pytest.mark.parametrize("args", [["plan"], ["doctor"], ["verify"]])
def test_output_fits_the_terminal(cols, extra, args, tmp_path):
    """Under a real pty of `cols` columns every line fits, but for a single word (a path)
    longer than its column, which stays whole; NO_COLOR and TERM=dumb have no escapes."""
    from tests.e2e.pty_session import PtySession

    env = clean_env(**extra)
    env.pop("COLUMNS", None)
    pyenv_py = "/root/.pyenv/versions/3.12.1/bin/python"  # long paths make long lines
    py = pyenv_py if os.path.isfile(pyenv_py) else SYSTEM_PY
    term = PtySession([FIXENV, *args, "--python", py], cols=cols, env=env)
    assert term.wait(120) == 0, term.text
    raw = term.raw.decode("utf-8", "replace")
    if extra:
        assert "\x1b" not in raw, repr(raw[:300])
    lines = [ln for ln in term.text.splitlines() if "\u280b" not in ln]  # spinner frames
    final = [ln for ln in lines if ln.strip()]
    assert final, term.text
    for ln in final:
        assert len(ln) <= cols or len(ln.split()) == 1 or (
            len(ln.split()) == 2 and ln.split()[0] in ("$", "fix:", "runs")), (cols, ln)
    assert not any("…" in ln or "..." in ln for ln in final), final  # nothing cut short
    if cols == 80 and args == ["plan"]:
        assert any(ln.startswith(" " * 10) for ln in final)  # wrapped under its column


@needs_headers
def test_a_ci_log_with_both_streams_shows_each_changed_step_once(tmp_path):
    """`fixenv apply --yes 2>&1 | tee log`: progress and recap share one file; the recap does
    not repeat the step lines the progress printed."""
    res = subprocess.run([FIXENV, "apply", "--yes", "--python", SYSTEM_PY, "--playbook",
                          slow_playbook(tmp_path)], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, env=clean_env(), timeout=300)
    assert res.returncode == 0, res.stdout
    lines = res.stdout.splitlines()
    assert sum(1 for ln in lines if ln.split()[:2] == ["changed", "slow-step"]) == 1, lines
    assert any(ln.startswith("done in") for ln in lines)
