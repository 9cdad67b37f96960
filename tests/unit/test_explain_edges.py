"""`fixenv explain`: input edges, output rules, and the reasoning behind the corpus classes
(each test would fail on the code before issue 12)."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from fixenv import errors, explain as ex
from fixenv.cli import run

LOGS = Path(__file__).resolve().parents[1] / "logs"
FACTS = LOGS / "facts"
DEBIAN = FACTS / "debian12-venv-gcc.json"
UBUNTU = FACTS / "ubuntu2204-py310-venv.json"
ROOT = Path(__file__).resolve().parents[2]


def _stdin(monkeypatch, data: bytes) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))


# --------------------------------------------------------------------------- input edges


@pytest.mark.parametrize("data", [b"", b"\n", b"  \n\t\n"])
def test_empty_stdin_is_exit_3(data, capsys, monkeypatch):
    _stdin(monkeypatch, data)
    assert run(["explain", "-"]) == errors.INPUT
    err = capsys.readouterr().err
    assert err.startswith("fixenv: error: no log") and "Traceback" not in err


def test_empty_file_is_exit_3(tmp_path, capsys):
    f = tmp_path / "build.log"
    f.write_bytes(b"")
    assert run(["explain", str(f)]) == errors.INPUT
    assert str(f) in capsys.readouterr().err


@pytest.mark.parametrize("data,n", [(b"a\nb\nc\n", 3), (b"a\nb\nc", 3), (b"a\n", 1),
                                    (b"a\r\nb\r\n", 2), (b"a\n\n", 2)])
def test_line_count(data, n, capsys, monkeypatch):
    _stdin(monkeypatch, data)
    assert run(["explain", "-"]) == errors.NOT_RECOGNISED
    out = capsys.readouterr().out
    assert "(read %d line%s;" % (n, "" if n == 1 else "s") in out
    assert ex.scan(ex.read_log(data)).lines == n


def test_line_numbers_are_the_editors(capsys, monkeypatch):
    _stdin(monkeypatch, b"one\ntwo\nx.c:1:10: fatal error: Python.h: No such file or directory\n")
    run(["explain", "-", "--facts", str(DEBIAN), "--json"])
    got = json.loads(capsys.readouterr().out)
    assert got["failures"][0]["line"] == 3 and got["log"]["lines"] == 3


# --------------------------------------------------------------------------- output rules


class _Tty(io.StringIO):
    encoding = "utf-8"

    def isatty(self) -> bool:
        return True


def _explanation(case: str, facts: Path = DEBIAN):
    log = (LOGS / case / "log.txt").read_bytes()
    from fixenv.facts import load_file

    return ex.explain(log, facts=load_file(str(facts)), facts_from_file=True)


def test_piped_text_is_plain(capsys):
    assert run(["explain", str(LOGS / "pip-setuptools-no-gcc" / "log.txt"), "--facts",
                str(FACTS / "debian12-venv-nocc.json")]) == 0
    out = capsys.readouterr().out
    assert "\x1b[" not in out
    out.encode("ascii")  # our words and marks are ASCII when piped (this log is ASCII too)
    assert "to fix it, run:  fixenv apply --yes --python /opt/venv/bin/python" in out


def test_terminal_gets_colour_and_no_color_wins(monkeypatch):
    e = _explanation("pip-setuptools-no-gcc", FACTS / "debian12-venv-nocc.json")
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    tty = _Tty()
    ex.print_explanation(e, stream=tty)
    assert "\x1b[" in tty.getvalue() and "problem" in tty.getvalue()
    for env in ({"NO_COLOR": "1"}, {"TERM": "dumb"}):
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        tty = _Tty()
        ex.print_explanation(e, stream=tty)
        assert "\x1b[" not in tty.getvalue()
        tty.getvalue().encode("ascii")
        monkeypatch.delenv("NO_COLOR", raising=False)
        monkeypatch.setenv("TERM", "xterm-256color")


def test_plain_text_says_the_same_as_the_terminal(monkeypatch):
    import re

    e = _explanation("windows-msvc-c1083-russian-embedded")
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.delenv("NO_COLOR", raising=False)
    tty = _Tty()
    ex.print_explanation(e, stream=tty)
    styled = re.sub(r"\x1b\[[0-9;]*m", "", tty.getvalue())
    words = lambda t: [w for w in t.split() if w.isalpha()]  # noqa: E731
    assert words(styled) == words(ex.explanation_text(e))


# --------------------------------------------------------------------------- the classes


def _scan(text: str) -> ex.LogFacts:
    return ex.scan(ex.read_log(text.encode()))


def test_user_site_is_the_system_python():
    logf = _scan(
        '  File "/home/alex/.local/lib/python3.10/site-packages/torch/_inductor/codecache.py", '
        'line 1, in x\n'
        "/tmp/torchinductor_alex/ab/cab.cpp:1:10: fatal error: Python.h: No such file or "
        "directory\n")
    py = logf.python
    assert (py.origin, py.prefix, py.version, py.env, py.env_prefix) == (
        "system", "/usr", "3.10", "user-site", None)
    target = {"executable": "/usr/bin/python3.10", "version": "3.10.12", "prefix": "/usr",
              "base_prefix": "/usr", "include": "/usr/include/python3.10"}
    assert ex.judge(py, target).same is True
    assert "python3.10-dev" in py.advice


def test_pip_build_isolation_is_not_the_users_venv():
    logf = _scan(
        '  File "/tmp/pip-build-env-51aln3oa/overlay/lib/python3.12/site-packages/setuptools/'
        'build_meta.py", line 1, in x\n'
        '  File "/home/u/proj/.venv/lib/python3.12/site-packages/pip/_internal/main.py", '
        "line 1, in y\n"
        "src/m.c:1:10: fatal error: Python.h: No such file or directory\n")
    assert logf.python.env_prefix == "/home/u/proj/.venv"
    logf = _scan("gcc -I/tmp/pip-build-env-x1/overlay/include -I/usr/include/python3.12 -c m.c\n"
                 "m.c:1:10: fatal error: Python.h: No such file or directory\n")
    assert logf.python.env == "build-isolation" and logf.python.env_prefix is None


def test_venv_include_names_the_venv():
    logf = _scan("x86_64-linux-gnu-gcc -fPIC -I/srv/app/.venv/include -I/usr/include/python3.11 "
                 "-c m.c -o m.o\nm.c:1:10: fatal error: Python.h: No such file or directory\n")
    assert (logf.python.origin, logf.python.env, logf.python.env_prefix) == (
        "system", "venv", "/srv/app/.venv")


@pytest.mark.parametrize("inc", [
    "/Library/Developer/CommandLineTools/Library/Frameworks/Python3.framework/Versions/3.9/"
    "Headers",
    "/Applications/Xcode.app/Contents/Developer/Library/Frameworks/Python3.framework/Versions/"
    "3.9/Headers",
    "/Library/Developer/CommandLineTools/Library/Frameworks/Python3.framework/Versions/3.9/"
    "include/python3.9",
])
def test_apples_python_headers_mean_the_command_line_tools(inc, capsys, monkeypatch):
    log = ("clang -I%s -c m.c -o m.o\nm.c:1:10: fatal error: 'Python.h' file not found\n" % inc)
    py = _scan(log).python
    assert (py.origin, py.version) == ("xcode", "3.9")
    assert "xcode-select --install" in py.advice
    _stdin(monkeypatch, log.encode())
    run(["explain", "-", "--facts", str(DEBIAN), "--json"])
    got = json.loads(capsys.readouterr().out)
    assert got["log"]["platform"] == "macos" and got["plan"] is None
    assert not any("apt-get" in a or "-dev" in a for a in got["advice"])


def test_triton_stub_is_triton_even_under_inductor():
    logf = _scan("torch._dynamo.exc.BackendCompilerFailed: backend='inductor' raised:\n"
                 "/tmp/tmpq3x0w1ne/cuda_utils.c:6:10: fatal error: Python.h: No such file or "
                 "directory\n")
    assert logf.tools[0] == "triton" and "inductor" in logf.tools
    # a project's own main.c is not Triton's
    assert _scan("gcc -c src/main.c\nsrc/main.c:1:10: fatal error: Python.h: No such file or "
                 "directory\n").tool == "compiler"


def test_conda_missing_compiler_is_a_compiler(capsys):
    run(["explain", str(LOGS / "inductor-conda-docker-no-cxx" / "log.txt"), "--facts",
         str(DEBIAN), "--json"])
    got = json.loads(capsys.readouterr().out)
    assert got["class"] == "no-compiler" and got["plan"] is None
    text = " ".join(got["advice"])
    assert "gxx_linux-64" in text and "force-reinstall" not in text and "python=" not in text


def test_cuda_h_is_the_cuda_toolkits(capsys):
    run(["explain", str(LOGS / "conda-triton-cuda-h" / "log.txt"), "--facts",
         str(FACTS / "conda-linux-py311.json"), "--json"])
    got = json.loads(capsys.readouterr().out)
    assert got["class"] == "missing-other-header" and got["plan"] is None
    text = " ".join(got["advice"])
    assert "CUDA toolkit" in text and "reinstall it" not in text and "python=" not in text


def test_unplaced_log_gets_no_plan_unless_asked(capsys, monkeypatch):
    log = b"spam.c:1:10: fatal error: Python.h: No such file or directory\n"
    _stdin(monkeypatch, log)
    assert run(["explain", "-", "--facts", str(DEBIAN), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["match"]["same"] is None and got["plan"] is None
    assert any("fixenv plan --python /opt/venv/bin/python" in a for a in got["advice"])
    assert not any("nothing to change" in a for a in got["advice"])


def test_windows_log_on_linux_says_what_to_do_there(capsys):
    assert run(["explain", str(LOGS / "windows-msvc-groundingdino-c1083-chinese" / "log.txt"),
                "--facts", str(DEBIAN)]) == 0
    out = capsys.readouterr().out
    assert "made on    Windows" in out and "fixenv cannot fix that machine from here" in out
    assert "developer environment" in out and "to fix it, run" not in out


@pytest.mark.parametrize("line", [
    "/usr/bin/ld: cannot find -lcuda: No such file or directory",
    "torch._inductor.exc.CppCompileError: C++ compile error",
    "g++: error: /tmp/torchinductor_u/ab/cab.cpp: No such file or directory",
    "fatal error: 'flagser/src/flagser-count.cpp' file not found",
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB.",
])
def test_not_ours_is_not_recognised(line, capsys, monkeypatch):
    _stdin(monkeypatch, (line + "\n").encode())
    assert run(["explain", "-", "--json"]) == errors.NOT_RECOGNISED
    got = json.loads(capsys.readouterr().out)
    assert got["failures"] == [] and got["log"]["header"] is None and got["plan"] is None
