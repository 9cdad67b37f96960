"""Issue 14: the build environment beyond headers (fixenv/facts/buildenv.py) and its step kind
(fixenv/kinds/buildenv.py): noexec temp/cache dirs, CC/CXX naming no compiler, C++17, OpenMP."""
from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

from fixenv.facts import buildenv
from fixenv.kinds import buildenv as kind

NOEXEC = getattr(os, "ST_NOEXEC", 8)


def fake_statvfs(noexec_prefixes):
    def statvfs(path):
        bad = any(path == p or path.startswith(p.rstrip("/") + "/") for p in noexec_prefixes)
        return SimpleNamespace(f_flag=NOEXEC if bad else 0)
    return statvfs


def which_from(table):
    return lambda name: table.get(name)


WHICH = which_from({"gcc": "/usr/bin/gcc", "g++": "/usr/bin/g++", "cc": "/usr/bin/cc"})


def test_a_noexec_tmpdir_is_found_and_var_tmp_planned_for_root(tmp_path):
    tmpdir = tmp_path / "scratch"
    tmpdir.mkdir()
    env = {"TMPDIR": str(tmpdir), "HOME": str(tmp_path / "home")}
    got = buildenv.detect(env, root=True, which=WHICH, statvfs=fake_statvfs([str(tmpdir)]))
    assert got["noexec"] == [{"what": "TMPDIR", "path": str(tmpdir)}]
    assert got["exec_dir"] == "/var/tmp"
    assert got["fix_env"] == {"TMPDIR": {"from": str(tmpdir), "to": "/var/tmp",
                                         "why": "%s is mounted noexec" % tmpdir}}
    assert buildenv.problems(got)[0].startswith("%s (TMPDIR) is mounted noexec" % tmpdir)


def test_nothing_noexec_means_nothing_to_fix(tmp_path):
    env = {"HOME": str(tmp_path)}
    got = buildenv.detect(env, which=WHICH, statvfs=fake_statvfs([]))
    assert got["noexec"] == [] and got["fix_env"] == {} and got["compiler_env"] == []
    assert buildenv.problems(got) == []


def test_a_user_gets_a_dir_under_the_cache_and_triton_cache_moved():
    from pathlib import Path
    home = Path("/home/fixenv-test-user")  # need not exist: its parent's mount decides
    env = {"HOME": str(home), "TRITON_CACHE_DIR": "/tmp/fixenv-test-triton"}
    got = buildenv.detect(env, root=False, which=WHICH, statvfs=fake_statvfs(["/tmp"]))
    exec_dir = str(home / ".cache" / "fixenv-tmp")
    assert got["exec_dir"] == exec_dir
    assert got["fix_env"]["TMPDIR"]["to"] == exec_dir
    assert got["fix_env"]["TMPDIR"]["from"] == ""  # unset: /tmp was the temp dir
    assert got["fix_env"]["TRITON_CACHE_DIR"] == {
        "from": "/tmp/fixenv-test-triton", "to": exec_dir + "/triton-cache",
        "why": "/tmp/fixenv-test-triton is mounted noexec"}


def test_the_real_statvfs_reads_a_real_mount():
    # /proc is mounted noexec on Linux (nosuid,nodev,noexec); / is not, on this test machine
    if not os.path.ismount("/proc") or getattr(os, "ST_NOEXEC", None) is None:
        pytest.skip("no /proc mount")
    opts = open("/proc/mounts").read()
    proc_line = next(ln for ln in opts.splitlines() if ln.split()[1] == "/proc")
    assert buildenv.is_noexec("/proc/self") is ("noexec" in proc_line.split()[3].split(","))
    assert buildenv.is_noexec("/definitely/not/here") is buildenv.is_noexec("/")


@pytest.mark.parametrize("var,value,problem", [
    ("CC", "gcc-99", "CC=gcc-99: no such program"),
    ("CC", "python3", "CC=python3 is not a C compiler"),
    ("CXX", "gcc", "CXX=gcc is a C compiler driver"),
    ("CXX", "/nope/bin/g++", "CXX=/nope/bin/g++: no such program"),
])
def test_cc_and_cxx_that_name_no_usable_compiler(var, value, problem):
    which = which_from({"gcc": "/usr/bin/gcc", "g++": "/usr/bin/g++", "python3": "/usr/bin/python3"})
    got = buildenv.detect({var: value, "HOME": "/root"}, which=which, statvfs=fake_statvfs([]))
    assert [c["var"] for c in got["compiler_env"]] == [var]
    assert got["compiler_env"][0]["problem"].startswith(problem)
    want = "/usr/bin/gcc" if var == "CC" else "/usr/bin/g++"
    assert got["fix_env"][var]["to"] == want and got["fix_env"][var]["from"] == value


@pytest.mark.parametrize("value", ["gcc", "ccache gcc", "x86_64-linux-gnu-gcc-12 -O2",
                                   "/usr/bin/gcc"])
def test_usable_cc_values_are_left_alone(value):
    which = which_from({"gcc": "/usr/bin/gcc", "ccache": "/usr/bin/ccache",
                        "x86_64-linux-gnu-gcc-12": "/usr/bin/x86_64-linux-gnu-gcc-12"})
    if value.startswith("/") and not os.access(value, os.X_OK):
        pytest.skip("no /usr/bin/gcc here")
    got = buildenv.detect({"CC": value, "HOME": "/root"}, which=which, statvfs=fake_statvfs([]))
    assert got["compiler_env"] == []


def test_openmp_on_macos_only():
    mac = buildenv.detect({"HOME": "/Users/a"}, system="Darwin", which=WHICH,
                          statvfs=fake_statvfs([]), isfile=lambda p: False)
    assert mac["openmp"] is False
    assert "no OpenMP for clang" in buildenv.problems(mac)[0]
    brewed = buildenv.detect({"HOME": "/Users/a"}, system="Darwin", which=WHICH,
                             statvfs=fake_statvfs([]),
                             isfile=lambda p: p == "/opt/homebrew/opt/libomp/include/omp.h")
    assert brewed["openmp"] is True
    linux = buildenv.detect({"HOME": "/root"}, which=WHICH, statvfs=fake_statvfs([]))
    assert linux["openmp"] is None


# --------------------------------------------------------------------------- the snippets


def test_a_second_fix_keeps_the_first_in_the_block():
    a = {"TMPDIR": kind.sh_chunk("TMPDIR", "", "/var/tmp", "noexec", False)}
    text = kind.merged("export FOO=1\n", a)
    assert text.startswith("export FOO=1\n\n" + kind.BEGIN)
    b = {"CC": kind.sh_chunk("CC", "x", "/usr/bin/gcc", "bad", False)}
    text2 = kind.merged(text, b)
    assert set(kind.chunks(text2)) == {"TMPDIR", "CC"}
    assert text2.count(kind.BEGIN) == 1 and text2.startswith("export FOO=1\n")
    assert kind.merged(text2, b) == text2  # idempotent
    # the CPATH block's markers are not ours: it is never matched or replaced
    from fixenv import profile
    assert profile.find_block(text2) is None


def test_quotes_in_a_facts_value_are_refused():
    with pytest.raises(ValueError):
        kind.sh_chunk("TMPDIR", "/x'; rm -rf / #", "/var/tmp", "why", False)


def test_a_compiler_variable_is_never_made_a_directory(tmp_path):
    facts = {"privilege": {"root": True}, "user": {"system": {}}, "compilers": {},
             "buildenv": {"fix_env": {
                 "CC": {"from": "gcc-99", "to": "/usr/bin/gcc", "why": "no such program"},
                 "TMPDIR": {"from": "", "to": str(tmp_path / "t"), "why": "noexec"}}}}
    edits, _ = kind._edits(kind._fixes(facts, _step()), True, facts["user"], probe=False)
    text = edits[0].content
    cc_line = next(ln for ln in text.splitlines() if ln.startswith('case "${CC-}"'))
    assert "mkdir" not in cc_line
    tmp_line = next(ln for ln in text.splitlines() if ln.startswith('case "${TMPDIR-}"'))
    assert "mkdir -p '%s'" % (tmp_path / "t") in tmp_line


def _step():
    from types import SimpleNamespace
    return SimpleNamespace(id="build-env", where="playbook:1:1", kind="buildenv",
                           spec={"what": "env"})


def test_reset_removes_the_buildenv_block_and_keeps_the_rest(tmp_path, monkeypatch, capsys):
    """`fixenv reset` undoes the build-env step too: its block leaves the user's file (the
    rest kept byte for byte), its whole fish file is deleted."""
    from fixenv.commands.envcmds import reset_command
    from fixenv.kinds import buildenv

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("SHELL", "/bin/sh")
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    mine = "# my profile\nexport EDITOR=vi\n"
    blk = buildenv.block({"CC": buildenv.sh_chunk("CC", "gcc-99", "/usr/bin/gcc", "gone", False)})
    (tmp_path / ".profile").write_text(mine + "\n" + blk)
    fish = tmp_path / ".config" / "fish" / "conf.d"
    fish.mkdir(parents=True)
    (fish / "fixenv-buildenv.fish").write_text(
        buildenv.block({"CC": buildenv.fish_chunk("CC", "gcc-99", "/usr/bin/gcc", "x", False)}))
    assert reset_command() == 0
    assert (tmp_path / ".profile").read_text() == mine + "\n"
    assert not (fish / "fixenv-buildenv.fish").exists()
    out = capsys.readouterr().out
    assert "removed the fixenv block from %s" % (tmp_path / ".profile") in out
    assert reset_command() == 0 and "nothing to reset" in capsys.readouterr().out
