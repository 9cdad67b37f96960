"""`--python` mistakes get one clear line and a way out, never a silent fallback:
a venv directory (-> its bin/python), a bare name (looked up on PATH like a shell does), a
pyenv shim that runs nothing here (-> the real interpreters), `--python ""`, and an
activated VIRTUAL_ENV that no longer exists (a warning naming what is used instead)."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from fixenv.errors import INPUT, InputError
from fixenv.facts.python import pyenv_versions_with, resolve_target

FIXENV = os.path.join(os.path.dirname(sys.executable), "fixenv")
PYENV = "/root/.pyenv"


def _exe(path, text="#!/bin/sh\nexit 0\n"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return str(path)


def test_empty_python_is_an_error_not_the_default(tmp_path):
    for value in ("", "  "):
        with pytest.raises(InputError, match="--python is empty"):
            resolve_target(value, {"PATH": str(tmp_path)})
    res = subprocess.run([FIXENV, "plan", "--python", ""], capture_output=True, text=True)
    assert res.returncode == INPUT
    assert res.stderr.startswith("fixenv: error: --python is empty"), res.stderr
    assert "Traceback" not in res.stderr


def test_a_venv_directory_suggests_its_interpreter(tmp_path):
    py = _exe(tmp_path / "venv" / "bin" / "python")
    with pytest.raises(InputError) as err:
        resolve_target(str(tmp_path / "venv"), {"PATH": ""})
    assert "is a directory, not an interpreter" in err.value.message
    assert err.value.hint == "did you mean --python %s?" % py
    # through the CLI: the error line and the hint line
    res = subprocess.run([FIXENV, "detect", "--python", str(tmp_path / "venv")],
                         capture_output=True, text=True)
    assert res.returncode == INPUT
    assert res.stderr.splitlines() == [
        "fixenv: error: --python %s: is a directory, not an interpreter" % (tmp_path / "venv"),
        "fixenv: hint: did you mean --python %s?" % py]


def test_a_bare_name_is_looked_up_on_path_like_a_shell(tmp_path):
    first = _exe(tmp_path / "a" / "python3.99")
    _exe(tmp_path / "b" / "python3.99")
    (tmp_path / "c").mkdir()
    path = os.pathsep.join([str(tmp_path / "c"), str(tmp_path / "a"), str(tmp_path / "b")])
    assert resolve_target("python3.99", {"PATH": path}) == first
    with pytest.raises(InputError, match="no such command on PATH"):
        resolve_target("python3.98", {"PATH": path})


def test_a_missing_name_that_pyenv_has_names_it(tmp_path):
    real = _exe(tmp_path / "pyenv" / "versions" / "3.99.1" / "bin" / "python3.99")
    with pytest.raises(InputError) as err:
        resolve_target("python3.99", {"PATH": "", "PYENV_ROOT": str(tmp_path / "pyenv")})
    assert real in (err.value.hint or "")
    assert pyenv_versions_with("python3.99", {"PYENV_ROOT": str(tmp_path / "pyenv")}) == [real]


def test_a_gone_virtual_env_warns_and_names_what_is_used(tmp_path, capsys):
    py3 = _exe(tmp_path / "bin" / "python3")
    got = resolve_target(None, {"PATH": str(tmp_path / "bin"),
                                "VIRTUAL_ENV": str(tmp_path / "gone")})
    assert got == py3
    err = capsys.readouterr().err
    assert err == ("fixenv: warning: VIRTUAL_ENV=%s does not exist; using python3 from PATH "
                   "instead: %s (deactivate, or pass --python)\n" % (tmp_path / "gone", py3))


@pytest.mark.skipif(not os.path.isdir(PYENV + "/shims") or
                    not os.path.isfile(PYENV + "/versions/3.12.1/bin/python3.12"),
                    reason="needs this machine's pyenv with 3.12.1")
def test_a_pyenv_shim_that_runs_nothing_here_names_the_real_interpreters(tmp_path):
    """The real pyenv: python3.12's shim under a pyenv version that lacks it fails."""
    env = dict(os.environ, PATH="%s/shims:%s/bin:/usr/bin:/bin" % (PYENV, PYENV),
               PYENV_ROOT=PYENV, PYENV_VERSION="3.11.7")
    res = subprocess.run([FIXENV, "detect", "--python", "python3.12"], capture_output=True,
                         text=True, env=env, cwd=str(tmp_path))
    assert res.returncode == INPUT, res.stderr
    lines = res.stderr.splitlines()
    assert lines[0].startswith("fixenv: error: %s/shims/python3.12 is a pyenv shim that runs "
                               "no interpreter here" % PYENV), lines
    assert lines[1] == ("fixenv: hint: name the real interpreter: --python "
                        "%s/versions/3.12.1/bin/python3.12" % PYENV), lines
    assert "Traceback" not in res.stderr


def test_a_playbook_error_stops_the_probe_that_started_before_it(tmp_path):
    """plan starts the target's probe before loading the playbook (they overlap); when the
    playbook is wrong the probe is killed and reaped, not waited for or left running."""
    marker = tmp_path / "probe-ran-to-the-end"
    slow = _exe(tmp_path / "python3", "#!/bin/sh\nsleep 20\ntouch %s\n" % marker)
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nsteps:\n  - id: x\n    kind: nosuchkind\n")
    started = time.monotonic()
    res = subprocess.run([FIXENV, "plan", "--python", slow, "--playbook", str(bad)],
                         capture_output=True, text=True, timeout=60)
    took = time.monotonic() - started
    assert res.returncode == INPUT, res.stderr
    assert "unknown step kind 'nosuchkind'" in res.stderr
    assert took < 10, took  # the 20 s probe was not waited for
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert "sleep 20" not in ps.splitlines(), "the probe's process is still running"
    assert not marker.exists()


def test_a_bad_playbook_is_reported_before_a_bad_python(tmp_path):
    """Both wrong: the order of the errors is the one plan always had (playbook first)."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps: [\n")
    res = subprocess.run([FIXENV, "plan", "--python", str(tmp_path / "nope"),
                          "--playbook", str(bad)], capture_output=True, text=True)
    assert res.returncode == INPUT
    assert res.stderr.startswith("fixenv: error: %s:" % bad), res.stderr
    # and alone, the bad Python still gets its own line
    res = subprocess.run([FIXENV, "plan", "--python", str(tmp_path / "nope")],
                         capture_output=True, text=True)
    assert res.returncode == INPUT
    assert "--python %s" % (tmp_path / "nope") in res.stderr.splitlines()[0], res.stderr
