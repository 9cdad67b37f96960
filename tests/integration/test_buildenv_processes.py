"""The build-environment probes that run the real g++ and sh (fixenv/facts/buildenv.py);
the pure checks are in tests/unit/test_buildenv.py."""
from __future__ import annotations

import subprocess

import pytest

from fixenv.facts import buildenv
from fixenv.kinds import buildenv as kind
from fixenv.runner import Runner


def test_cxx17_probe_runs_the_real_compiler(tmp_path):
    gxx = subprocess.run(["sh", "-c", "command -v g++"], capture_output=True, text=True)
    if gxx.returncode:
        pytest.skip("no g++")
    assert buildenv.probe_cxx17(gxx.stdout.strip(), Runner()) is True
    # a "compiler" that rejects the flag, as an old g++ 4.8 does
    old = tmp_path / "g++-4.8"
    old.write_text("#!/bin/sh\necho \"g++: error: unrecognized command line option "
                   "'-std=c++17'\" >&2\nexit 1\n")
    old.chmod(0o755)
    assert buildenv.probe_cxx17(str(old), Runner()) is False
    assert buildenv.probe_cxx17(None, Runner()) is None


def _sh(snippet, env):
    return subprocess.run(["sh", "-c", snippet + 'printf "%s|%s" "${TMPDIR-}" "${CC-}"'],
                          env=env, capture_output=True, text=True).stdout


def test_the_sh_chunk_replaces_only_the_bad_value(tmp_path):
    chunk = kind.sh_chunk("TMPDIR", "/mnt/noexec", "/var/tmp", "noexec", mkdir=False)
    assert _sh(chunk, {"TMPDIR": "/mnt/noexec"}) == "/var/tmp|"
    assert _sh(chunk, {"TMPDIR": "/home/me/tmp"}) == "/home/me/tmp|"  # the user's later choice
    unset = kind.sh_chunk("TMPDIR", "", str(tmp_path / "t"), "why", mkdir=True)
    assert _sh(unset, {}) == str(tmp_path / "t") + "|"
    assert (tmp_path / "t").is_dir()  # made by the snippet
    cc = kind.sh_chunk("CC", "gcc-99", "/usr/bin/gcc", "no such program", mkdir=False)
    assert _sh(cc + unset, {"CC": "gcc-99"}).endswith("|/usr/bin/gcc")


def test_cxx20_is_a_note_not_a_failure(tmp_path):
    gxx = subprocess.run(["sh", "-c", "command -v g++"], capture_output=True, text=True)
    if gxx.returncode:
        pytest.skip("no g++")
    # g++ 12 accepts both; a g++ 9 (RHEL 8's gcc-toolset-9) spells C++20 -std=c++2a only
    assert buildenv.probe_std(gxx.stdout.strip(), Runner(), "c++20") is True
    old = tmp_path / "g++-9"
    old.write_text('#!/bin/sh\ncase "$1" in -std=c++20) echo "g++: error: unrecognized '
                   'command-line option -std=c++20" >&2; exit 1 ;; esac\nexit 0\n')
    old.chmod(0o755)
    assert buildenv.probe_std(str(old), Runner(), "c++17") is True
    assert buildenv.probe_std(str(old), Runner(), "c++20") is False
    group = {"cxx17": True, "cxx20": False}
    assert buildenv.problems(group) == []
    assert "rejects -std=c++20" in buildenv.notes(group)[0]
