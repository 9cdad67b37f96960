"""The `Apply N changes? [y/N]` prompt, answered at a real terminal.

fixenv runs as the foreground process group of a fresh pseudo-terminal (its own session, the
pty its controlling terminal: tests/e2e/pty_session.py), so typing ``\\x03`` is a real Ctrl-C
(SIGINT to the whole group) and ``\\x04`` at the start of a line a real end of input.
The playbook has one `command` step that creates a file: changed only on "y".
"""
from __future__ import annotations

import os
import sys

import pytest

from tests.e2e.pty_session import PtySession

FIXENV = os.path.join(os.path.dirname(sys.executable), "fixenv")
SYSTEM_PY = "/usr/bin/python3.11"
needs_py = pytest.mark.skipif(not os.path.isfile(SYSTEM_PY), reason="needs /usr/bin/python3.11")


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env.update(TERM="xterm-256color", LANG="C.UTF-8")
    env.pop("COLUMNS", None)
    env.update(extra)
    return env


def _playbook(tmp_path) -> tuple:
    target = tmp_path / "made-by-the-step"
    pb = tmp_path / "pb.yaml"
    pb.write_text("name: prompt-test\nsteps:\n  - id: touch-it\n    kind: command\n"
                  "    argv: [touch, %s]\n    creates: %s\n" % (target, target))
    return str(pb), target


def _start(tmp_path, cols=80, **env):
    pb, target = _playbook(tmp_path)
    term = PtySession([FIXENV, "apply", "--playbook", pb, "--python", SYSTEM_PY], cols=cols,
                      env=_env(**env))
    term.expect(r"\[y/N\] ", timeout=120)
    return term, target


@needs_py
@pytest.mark.parametrize("cols", [80, 200])
def test_the_prompt_lists_the_exact_commands_before_asking(tmp_path, cols):
    term, target = _start(tmp_path, cols=cols)
    before = term.text.split("[y/N]")[0]
    # the exact command, never cut: on one line at 200 columns; at 80 the path goes on under
    # the command's column (a hanging indent), whole
    if cols >= 200:
        assert "$ touch %s" % target in [ln.strip() for ln in before.splitlines()], before
    else:
        assert "$ touch %s" % target in " ".join(before.split()), before
        assert str(target) in [ln.strip() for ln in before.splitlines()], before
    assert all(len(ln) <= cols for ln in before.splitlines() if str(target) not in ln), before
    assert "Apply 1 change? [y/N]" in term.text
    term.send(b"n\r")
    assert term.wait(60) == 5


@needs_py
def test_ctrl_c_at_the_prompt_exits_130_and_changes_nothing(tmp_path):
    term, target = _start(tmp_path)
    term.send(b"\x03")
    rc = term.wait(60)
    after = term.text.split("[y/N]")[1]
    assert rc == 130, term.text
    assert "internal error" not in term.text and "Abort" not in term.text, term.text
    assert "fixenv: interrupted at the prompt; nothing changed" in after, after
    assert "error:" not in after
    assert not target.exists()


@needs_py
@pytest.mark.parametrize("answer,word", [(b"\x04", "no answer (end of input)"),
                                         (b"n\r", "you answered no"),
                                         (b"\r", "you answered no"),
                                         (b"maybe\r", "you answered 'maybe'")])
def test_no_or_end_of_input_exits_5_with_one_calm_line(tmp_path, answer, word):
    term, target = _start(tmp_path)
    term.send(answer)
    rc = term.wait(60)
    after = term.text.split("[y/N]")[1]
    assert rc == 5, term.text
    assert word in after and "nothing changed" in after, after
    assert "error:" not in after and "internal error" not in after, after
    assert [ln for ln in after.splitlines() if ln.startswith("fixenv:")] == [
        ln for ln in after.splitlines() if "nothing changed" in ln]
    assert not target.exists()


@needs_py
@pytest.mark.parametrize("env", [{}, {"NO_COLOR": "1"}, {"TERM": "dumb"}],
                         ids=["color", "no-color", "dumb"])
def test_yes_applies(tmp_path, env):
    term, target = _start(tmp_path, **env)
    if env:
        assert "\x1b[" not in term.raw.decode("utf-8", "replace").split("[y/N]")[0]
    term.send(b"y\r")
    rc = term.wait(300)
    assert target.exists(), term.text
    assert rc == 0, term.text


@needs_py
def test_the_question_is_asked_where_the_person_looks(tmp_path):
    """stderr sent to a file (`2>log`), stdout still the terminal: the list and the
    question come out on the terminal, not in the file."""
    pb, target = _playbook(tmp_path)
    log = tmp_path / "err.log"
    term = PtySession(["sh", "-c", '"$0" apply --playbook "$1" --python "$2" 2>"$3"', FIXENV,
                       pb, SYSTEM_PY, str(log)], env=_env())
    term.expect(r"\[y/N\] ", timeout=120)
    assert "$ touch" in term.text
    term.send(b"n\r")
    assert term.wait(60) == 5
    assert "[y/N]" not in log.read_text()
