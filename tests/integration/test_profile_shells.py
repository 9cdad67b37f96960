"""The CPATH blocks fixenv writes, run by the real shells (bash, dash, ksh, zsh, fish)
(fixenv/profile.py); the text checks are in tests/unit/test_profile.py."""
from __future__ import annotations

import os
import shutil
import subprocess
from typing import Optional

import pytest

from fixenv import profile

from tests.unit.test_profile import DIRS, OURS

_files = []


def teardown_module(module) -> None:
    for p in _files:
        os.unlink(p)


def run_snippet(shell: str, snippet: str, cpath: Optional[str], times: int = 1) -> str:
    exe = shutil.which(shell)
    if exe is None:
        pytest.skip("%s is not installed here" % shell)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent"}
    if cpath is not None:
        env["CPATH"] = cpath
    if shell == "fish":
        # what a compiler started from fish sees (fish joins a *PATH list with ':')
        code = ("source %s; " % _tmpfile(snippet)) * times + \
            "sh -c 'echo \"[${CPATH-unset}]\"'"
        argv = [exe, "--no-config", "-c", code]
    else:
        code = (". %s; " % _tmpfile(snippet)) * times + 'echo "[${CPATH-unset}]"'
        argv = [exe, "-c", code]
    out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def _tmpfile(text: str) -> str:
    import tempfile

    fd, path = tempfile.mkstemp(suffix=".sh")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    _files.append(path)
    return path


@pytest.mark.parametrize("shell", ["dash", "bash", "zsh", "ksh"])
@pytest.mark.parametrize("before,after", [
    (None, OURS),
    ("", OURS),
    ("/opt/x", OURS + ":/opt/x"),
    (":/opt/x::", OURS + ":/opt/x"),                 # empty elements = "current directory"
    ("/opt/x:/opt/x", OURS + ":/opt/x"),             # duplicates
    ("/usr/include/python3.9:/opt/x", OURS + ":/opt/x"),  # another version's headers
    ("/s/usr/include:/opt/x", OURS + ":/opt/x"),     # ours already there, reordered
])
def test_sh_block_merges_like_the_rules(shell, before, after):
    block = profile.sh_block("CPATH", DIRS, ["/usr/include/python3.9"])
    assert run_snippet(shell, block, before) == "[%s]" % after
    # sourced twice (Debian's ~/.profile sources ~/.bashrc): the same value
    assert run_snippet(shell, block, before, times=2) == "[%s]" % after


def test_sh_block_with_nothing_to_add_only_cleans():
    block = profile.sh_block("CPATH", [], ["/usr/include/python3.9"])
    assert run_snippet("dash", block, "/usr/include/python3.9:") == "[unset]"
    assert run_snippet("dash", block, "/usr/include/python3.9::/x") == "[/x]"


def test_fish_block():
    block = profile.fish_block("CPATH", DIRS, ["/usr/include/python3.9"])
    assert run_snippet("fish", block, ":/usr/include/python3.9:/opt/x") == "[%s]" % ":".join(
        DIRS + ["/opt/x"])
