"""Provider detection: pure parsers on stored outputs of the real ownership queries, the
path rules (conda, pyenv, uv, brew, Apple CLT, source), and the concurrent start/finish
pair gather() uses, run with real (tiny) programs on PATH."""
from __future__ import annotations

import os
import stat

import pytest

from tests.factsfix import make_facts

from fixenv.facts import normalize, provider
from fixenv.runner import RecordingRunner

# (manager, rc, stdout of the ownership query, expected package)
# apt lines are what `dpkg-query -S` prints on Debian 12; the others are the formats of
# `rpm -qf --queryformat '%{NAME}\n'`, `apk info --who-owns` and `pacman -Qqo` / `-Qo`.
OWNER_OUTPUTS = [
    ("apt", 0, "python3.11-minimal: /usr/bin/python3.11\n", "python3.11-minimal"),
    ("apt", 0, "python3.12-minimal: /usr/bin/python3.12\n", "python3.12-minimal"),
    ("apt", 0, "libpython3.11-dev:amd64, libpython3.11-dbg:amd64: /usr/include/python3.11\n",
     "libpython3.11-dev"),
    ("apt", 0, "diversion by dash from: /bin/sh\ndiversion by dash to: /bin/sh.distrib\n"
               "dash: /bin/sh\n", "dash"),
    ("apt", 1, "", None),  # "dpkg-query: no path found matching pattern ..." on stderr
    ("dnf", 0, "python3\n", "python3"),
    ("yum", 0, "python3\n", "python3"),
    ("dnf", 0, "python3.12\n", "python3.12"),
    ("zypper", 0, "python311-base\n", "python311-base"),
    ("dnf", 1, "file /usr/local/bin/python3.12 is not owned by any package\n", None),
    ("dnf", 0, "file /usr/local/bin/python3.12 is not owned by any package\n", None),
    ("apk", 0, "/usr/bin/python3.12 is owned by python3-3.12.8-r1\n", "python3"),
    ("apk", 0, "/usr/lib/libpython3.12.so.1.0 is owned by python3-3.12.8-r1\n", "python3"),
    ("apk", 0, "/usr/bin/python3.11 is owned by py3-foo-bar-1.2_rc3-r10\n", "py3-foo-bar"),
    ("apk", 1, "ERROR: /usr/local/bin/python3: Could not find owner package\n", None),
    ("pacman", 0, "python\n", "python"),
    ("pacman", 0, "/usr/bin/python3.12 is owned by python 3.12.7-1\n", "python"),
    ("pacman", 1, "", None),  # "error: No package owns /usr/local/bin/python3" on stderr
    ("pacman", 0, "error: No package owns /usr/local/bin/python3\n", None),
]


@pytest.mark.parametrize("manager,rc,out,expected", OWNER_OUTPUTS)
def test_parse_owner(manager, rc, out, expected):
    assert provider.parse_owner(manager, rc, out) == expected


def test_parse_owner_on_this_machines_dpkg_output():
    here = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "dpkg", "owner.txt")
    if not os.path.exists(here):
        pytest.skip("tests/data/dpkg/owner.txt not present")
    with open(here) as fh:
        assert provider.parse_owner("apt", 0, fh.read()) == "python3.11-minimal"


@pytest.mark.parametrize("manager,argv", [
    ("apt", ["dpkg-query", "-S", "/usr/bin/python3.11"]),
    ("dnf", ["rpm", "-qf", "--queryformat", "%{NAME}\n", "/usr/bin/python3.11"]),
    ("yum", ["rpm", "-qf", "--queryformat", "%{NAME}\n", "/usr/bin/python3.11"]),
    ("zypper", ["rpm", "-qf", "--queryformat", "%{NAME}\n", "/usr/bin/python3.11"]),
    ("apk", ["apk", "info", "--who-owns", "/usr/bin/python3.11"]),
    ("pacman", ["pacman", "-Qqo", "/usr/bin/python3.11"]),
    ("brew", None), ("conda", None), ("pyenv", None), ("uv", None),
])
def test_ownership_argv(manager, argv):
    assert provider.ownership_argv(manager, "/usr/bin/python3.11") == argv


def test_ownership_manager_picks_the_first_system_one():
    assert provider.ownership_manager(["pyenv", "dnf", "yum"]) == "dnf"
    assert provider.ownership_manager(["yum"]) == "yum"
    assert provider.ownership_manager(["brew", "conda", "uv"]) is None


HOME = {"HOME": "/home/ann"}


@pytest.mark.parametrize("real,base_prefix,env,platform,expected", [
    # pyenv: default root, and $PYENV_ROOT honoured (the default then no longer counts)
    ("/home/ann/.pyenv/versions/3.12.1/bin/python3.12", "/home/ann/.pyenv/versions/3.12.1",
     HOME, "linux", ("pyenv", "3.12.1")),
    ("/home/ann/.pyenv/versions/3.13.0t/bin/python3.13t", "/home/ann/.pyenv/versions/3.13.0t",
     HOME, "linux", ("pyenv", "3.13.0t")),
    ("/srv/pyenv/versions/3.11.7/bin/python3.11", "/srv/pyenv/versions/3.11.7",
     dict(HOME, PYENV_ROOT="/srv/pyenv"), "linux", ("pyenv", "3.11.7")),
    ("/home/ann/.pyenv/versions/3.11.7/bin/python3.11", "/home/ann/.pyenv/versions/3.11.7",
     dict(HOME, PYENV_ROOT="/srv/pyenv"), "linux", None),
    # uv: $UV_PYTHON_INSTALL_DIR, $XDG_DATA_HOME/uv/python, ~/.local/share/uv/python
    ("/home/ann/.local/share/uv/python/cpython-3.12.8-linux-x86_64-gnu/bin/python3.12",
     "/home/ann/.local/share/uv/python/cpython-3.12.8-linux-x86_64-gnu", HOME, "linux",
     ("uv", "cpython-3.12.8-linux-x86_64-gnu")),
    ("/data/xdg/uv/python/cpython-3.13.1+freethreaded-linux-x86_64-gnu/bin/python3.13t",
     "/data/xdg/uv/python/cpython-3.13.1+freethreaded-linux-x86_64-gnu",
     dict(HOME, XDG_DATA_HOME="/data/xdg"), "linux",
     ("uv", "cpython-3.13.1+freethreaded-linux-x86_64-gnu")),
    ("/opt/uvpy/cpython-3.11.11-linux-x86_64-gnu/bin/python3.11",
     "/opt/uvpy/cpython-3.11.11-linux-x86_64-gnu",
     dict(HOME, UV_PYTHON_INSTALL_DIR="/opt/uvpy"), "linux",
     ("uv", "cpython-3.11.11-linux-x86_64-gnu")),
    # Homebrew: Apple silicon, Intel (Cellar only), Linux; formula from the Cellar path
    ("/opt/homebrew/Cellar/python@3.12/3.12.8/Frameworks/Python.framework/Versions/3.12/bin/"
     "python3.12", "/opt/homebrew/Cellar/python@3.12/3.12.8/Frameworks/Python.framework/"
     "Versions/3.12", HOME, "darwin", ("brew", "python@3.12")),
    ("/usr/local/Cellar/python@3.11/3.11.9/Frameworks/Python.framework/Versions/3.11/bin/"
     "python3.11", "/usr/local/Cellar/python@3.11/3.11.9/Frameworks/Python.framework/"
     "Versions/3.11", dict(HOME, HOMEBREW_PREFIX="/usr/local"), "darwin",
     ("brew", "python@3.11")),
    ("/home/linuxbrew/.linuxbrew/Cellar/python@3.13/3.13.1/bin/python3.13",
     "/home/linuxbrew/.linuxbrew/Cellar/python@3.13/3.13.1", HOME, "linux",
     ("brew", "python@3.13")),
    ("/srv/brew/Cellar/python@3.12/3.12.8/bin/python3.12", "/srv/brew/Cellar/python@3.12/3.12.8",
     dict(HOME, HOMEBREW_PREFIX="/srv/brew"), "linux", ("brew", "python@3.12")),
    # a source build in /usr/local on an Intel Mac with Homebrew is not brew's
    ("/usr/local/bin/python3.12", "/usr/local", dict(HOME, HOMEBREW_PREFIX="/usr/local"),
     "darwin", None),
    # Apple's Command Line Tools Python, only on macOS
    ("/Library/Developer/CommandLineTools/Library/Frameworks/Python3.framework/Versions/3.9/"
     "bin/python3.9", "/Library/Developer/CommandLineTools/Library/Frameworks/Python3.framework/"
     "Versions/3.9", HOME, "darwin",
     ("xcode", "/Library/Developer/CommandLineTools/Library/Frameworks/Python3.framework/"
               "Versions/3.9/bin/python3.9")),
    ("/Applications/Xcode.app/Contents/Developer/usr/bin/python3", "/x", HOME, "linux", None),
    # nothing the path alone decides
    ("/usr/bin/python3.11", "/usr", HOME, "linux", None),
    ("/usr/local/bin/python3.12", "/usr/local", HOME, "linux", None),
])
def test_path_owner(real, base_prefix, env, platform, expected):
    assert provider.path_owner(real, base_prefix, env, platform) == expected


def test_conda_is_decided_by_conda_meta_in_the_base_prefix(tmp_path):
    env_prefix = tmp_path / "miniforge3" / "envs" / "torch"
    (env_prefix / "conda-meta").mkdir(parents=True)
    real = str(env_prefix / "bin" / "python3.12")
    assert provider.path_owner(real, str(env_prefix), HOME) == ("conda", str(env_prefix))
    # conda wins over a pyenv-looking path (miniforge installed through pyenv)
    env = dict(HOME, PYENV_ROOT=str(tmp_path))
    assert provider.path_owner(real, str(env_prefix), env)[0] == "conda"
    # without conda-meta it is not conda
    other = tmp_path / "plain"
    other.mkdir()
    assert provider.path_owner(str(other / "bin" / "python3"), str(other), HOME) is None


def test_pyenv_copy_inside_a_venv_is_judged_by_base_prefix():
    # `python -m venv --copies`: the binary lives in the venv, base_prefix in pyenv
    got = provider.path_owner("/work/venv/bin/python3.12", "/home/ann/.pyenv/versions/3.12.1",
                              HOME)
    assert got == ("pyenv", "3.12.1")


@pytest.mark.parametrize("real,owner,expected", [
    ("/usr/bin/python3.11", ("apt", "python3.11-minimal"), ("apt", "python3.11-minimal")),
    ("/usr/bin/python3.9", ("dnf", "python3"), ("dnf", "python3")),
    ("/usr/bin/python3.7", ("yum", "python3"), ("yum", "python3")),
    ("/usr/bin/python3.11", ("zypper", "python311-base"), ("zypper", "python311-base")),
    ("/usr/bin/python3.12", ("apk", "python3"), ("apk", "python3")),
    ("/usr/bin/python3.12", ("pacman", "python"), ("pacman", "python")),
    # the official Docker images: /usr/local, not in dpkg's database
    ("/usr/local/bin/python3.12", ("apt", None), ("source", "/PREFIX")),
    ("/opt/python/3.12/bin/python3.12", None, ("source", "/PREFIX")),
    ("/home/ann/builds/cpython/python", None, ("source", "/PREFIX")),
    # a file in /usr that no package owns: we do not pretend to know
    ("/usr/bin/python3.11", ("apt", None), ("unknown", None)),
    ("/usr/bin/python3.11", None, ("unknown", None)),
])
def test_decide(real, owner, expected):
    got = provider.decide(real, "/PREFIX", HOME, "linux", owner)
    assert (got["provider"], got["provider_detail"]) == expected
    assert got["provider"] in provider.PROVIDERS


def test_path_beats_the_package_database():
    got = provider.decide("/home/ann/.pyenv/versions/3.10.13/bin/python3.10",
                          "/home/ann/.pyenv/versions/3.10.13", HOME, "linux", ("apt", "bogus"))
    assert got == {"provider": "pyenv", "provider_detail": "3.10.13"}


@pytest.mark.parametrize("abiflags,debug,freethreaded", [
    ("", False, False), ("m", False, False), ("d", True, False), ("dm", True, False),
    ("t", False, True), ("td", True, True),
])
def test_debug_and_freethreaded_from_abiflags(abiflags, debug, freethreaded):
    facts = make_facts(os={"id": "fedora", "version": "41"}, managers=["dnf"],
                       python={"executable": "/usr/bin/python3.13" + abiflags,
                               "version": "3.13.1", "abiflags": abiflags,
                               "include": "/usr/include/python3.13" + abiflags,
                               "provider": "dnf"})
    py = normalize(facts)["python"]
    assert (py["debug"], py["freethreaded"], py["gil_disabled"]) == (debug, freethreaded,
                                                                     freethreaded)


# -- start/finish with real processes ---------------------------------------------------------

def _script(path, body):
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


@pytest.fixture
def fake_dpkg(tmp_path, monkeypatch):
    """A dpkg-query on PATH that owns /usr/bin/* (and logs each question)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "asked.log"
    _script(bindir / "dpkg-query", 'echo "$2" >> %s\ncase "$2" in\n'
            '  /usr/bin/*) echo "python3.11-minimal: $2"; exit 0;;\n'
            '  *) echo "dpkg-query: no path found matching pattern $2" >&2; exit 1;;\n'
            'esac\n' % log)
    monkeypatch.setenv("PATH", "%s:%s" % (bindir, os.environ.get("PATH", "")))
    # no dpkg file lists to short-cut through: every question goes to the fake dpkg-query
    monkeypatch.setattr(provider, "DPKG_INFO", str(tmp_path / "no-dpkg-info"))
    return log


def _asked(log):
    return log.read_text().split() if log.exists() else []


def test_start_skips_the_query_when_the_path_decides(fake_dpkg):
    runner = RecordingRunner()
    real = "/home/ann/.pyenv/versions/3.12.1/bin/python3.12"
    started = provider.start(runner, ["apt", "pyenv"], real, HOME)
    assert started is None and runner.calls == []
    got = provider.finish(runner, ["apt", "pyenv"], started,
                          {"executable": real, "base_executable": real,
                           "base_prefix": "/home/ann/.pyenv/versions/3.12.1",
                           "platform": "linux"}, HOME)
    assert got == {"provider": "pyenv", "provider_detail": "3.12.1"}
    assert runner.calls == [] and _asked(fake_dpkg) == []


def test_pyenv_shim_is_not_asked_about(fake_dpkg):
    runner = RecordingRunner()
    started = provider.start(runner, ["apt", "pyenv"], "/home/ann/.pyenv/shims/python3", HOME)
    assert started is None and runner.calls == []
    real = "/home/ann/.pyenv/versions/3.11.7/bin/python3.11"
    got = provider.finish(runner, ["apt", "pyenv"], started,
                          {"executable": "/home/ann/.pyenv/shims/python3",
                           "base_executable": real,
                           "base_prefix": "/home/ann/.pyenv/versions/3.11.7",
                           "platform": "linux"}, HOME)
    assert got == {"provider": "pyenv", "provider_detail": "3.11.7"}
    assert _asked(fake_dpkg) == []


def test_start_queries_once_and_finish_reuses_it(fake_dpkg):
    runner = RecordingRunner()
    started = provider.start(runner, ["apt"], "/usr/bin/python3.11", HOME)
    assert started is not None
    got = provider.finish(runner, ["apt"], started,
                          {"executable": "/usr/bin/python3", "base_executable": "/usr/bin/python3.11",
                           "base_prefix": "/usr", "platform": "linux"}, HOME)
    assert got == {"provider": "apt", "provider_detail": "python3.11-minimal"}
    assert runner.calls == [("dpkg-query", "-S", "/usr/bin/python3.11")]
    assert _asked(fake_dpkg) == ["/usr/bin/python3.11"]


def test_venv_asks_again_about_the_base_interpreter(fake_dpkg):
    # A venv made with --copies: the binary the user named is not the base one.
    runner = RecordingRunner()
    started = provider.start(runner, ["apt"], "/work/venv/bin/python3.11", HOME)
    got = provider.finish(runner, ["apt"], started,
                          {"executable": "/work/venv/bin/python", "in_venv": True,
                           "base_executable": "/usr/bin/python3.11", "base_prefix": "/usr",
                           "platform": "linux"}, HOME)
    assert got == {"provider": "apt", "provider_detail": "python3.11-minimal"}
    assert _asked(fake_dpkg) == ["/work/venv/bin/python3.11", "/usr/bin/python3.11"]


def test_unowned_usr_local_is_source(fake_dpkg):
    runner = RecordingRunner()
    started = provider.start(runner, ["apt"], "/usr/local/bin/python3.12", HOME)
    got = provider.finish(runner, ["apt"], started,
                          {"executable": "/usr/local/bin/python3", "base_prefix": "/usr/local",
                           "base_executable": "/usr/local/bin/python3.12",
                           "platform": "linux"}, HOME)
    assert got == {"provider": "source", "provider_detail": "/usr/local"}
    assert _asked(fake_dpkg) == ["/usr/local/bin/python3.12"]


def test_missing_query_program_means_not_owned(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no rpm here
    runner = RecordingRunner()
    started = provider.start(runner, ["dnf"], "/usr/bin/python3.9", HOME)
    got = provider.finish(runner, ["dnf"], started,
                          {"executable": "/usr/bin/python3.9", "base_prefix": "/usr",
                           "platform": "linux"}, HOME)
    assert got == {"provider": "unknown", "provider_detail": None}


# -- the real rpm and pacman binaries (Debian ships both), with an empty database -----------

@pytest.mark.parametrize("manager,program", [("dnf", "rpm"), ("zypper", "rpm"),
                                             ("pacman", "pacman")])
def test_real_tool_accepts_the_ownership_query_and_says_not_owned(manager, program, tmp_path):
    import shutil
    import subprocess

    if not shutil.which(program):
        pytest.skip("%s is not installed here" % program)
    (tmp_path / "local").mkdir()  # pacman's database layout
    argv = provider.ownership_argv(manager, "/usr/bin/python3")
    # the same argv, pointed at an empty database (so this machine's packages do not matter)
    argv = [argv[0], "--dbpath", str(tmp_path)] + argv[1:]
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=60)
    assert proc.returncode == 1
    said = proc.stdout + proc.stderr
    assert "not owned by any package" in said or "No package owns" in said, said
    assert "unknown option" not in said and "invalid option" not in said
    assert provider.parse_owner(manager, proc.returncode, proc.stdout) is None


def test_dpkg_list_owner_agrees_with_dpkg_query_on_this_machine():
    """The shortcut must give exactly dpkg-query -S's answer for Debian's interpreters."""
    import glob
    import shutil
    import subprocess

    if shutil.which("dpkg-query") is None:
        pytest.skip("not a dpkg system")
    pythons = [p for p in glob.glob("/usr/bin/python*") if not os.path.islink(p)
               and provider._INTERPRETER.match(os.path.basename(p))]
    if not pythons:
        pytest.skip("no Debian interpreter here")
    for path in pythons:
        out = subprocess.run(["dpkg-query", "-S", path], capture_output=True, text=True)
        want = provider.parse_owner("apt", out.returncode, out.stdout)
        assert provider.dpkg_list_owner(path) == want, path


def test_dpkg_list_owner_reads_only_interpreter_packages(tmp_path):
    info = tmp_path / "info"
    info.mkdir()
    (info / "python3.12-minimal.list").write_text("/.\n/usr/bin\n/usr/bin/python3.12\n")
    (info / "evil.list").write_text("/usr/bin/python3.13\n")
    (info / "python3.13-dbg:amd64.list").write_text("/usr/bin/python3.13d\n")
    assert provider.dpkg_list_owner("/usr/bin/python3.12", str(info)) == "python3.12-minimal"
    assert provider.dpkg_list_owner("/usr/bin/python3.13", str(info)) is None
    assert provider.dpkg_list_owner("/usr/bin/python3.13d", str(info)) == "python3.13-dbg"
    assert provider.dpkg_list_owner("/usr/local/bin/python3.12", str(info)) is None
    assert provider.dpkg_list_owner("/usr/bin/gcc", str(info)) is None
