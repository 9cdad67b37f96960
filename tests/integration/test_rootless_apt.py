"""rootless mode against the host's real `apt-cache show` (fixenv/rootless.py)."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from fixenv import rootless


@pytest.mark.skipif(shutil.which("apt-cache") is None, reason="needs apt (Debian/Ubuntu)")
def test_real_apt_cache_show_parses():
    res = subprocess.run(["apt-cache", "show", "--no-all-versions", "libc6"],
                         capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip("no package lists on this machine")
    got = rootless.parse_apt_show(res.stdout)
    policy = subprocess.run(["apt-cache", "policy", "libc6"], capture_output=True,
                            text=True).stdout
    assert "libc6" in got and ("Candidate: %s" % got["libc6"][0]) in policy
