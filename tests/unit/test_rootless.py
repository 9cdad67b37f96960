"""Issue 4: rootless mode — where headers go and the commands that fetch them
(fixenv/rootless.py, fixenv/kinds/rootless.py)."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from fixenv import rootless
from fixenv.engine import load_playbook, make_plan
from fixenv.facts import normalize
from fixenv.runner import RecordingRunner

SHOW = """Package: libpython3.11-dev
Version: 3.11.2-6+deb12u6
Architecture: amd64
Filename: pool/main/p/python3.11/libpython3.11-dev_3.11.2-6+deb12u6_amd64.deb
Description: Header files and a static library for Python (v3.11)
 Header files, a static library and development tools for building
 Python (v3.11) modules.

Package: python3.11-dev
Version: 1:3.11.2-6
Architecture: amd64

Package: python3.11-dev
Version: 3.11.0-1
Architecture: amd64
"""


def test_parse_apt_show_takes_the_first_stanza_of_each_package():
    assert rootless.parse_apt_show(SHOW) == {
        "libpython3.11-dev": ("3.11.2-6+deb12u6", "amd64"),
        "python3.11-dev": ("1:3.11.2-6", "amd64"),
    }
    assert rootless.parse_apt_show("") == {}


def test_deb_filename_quotes_the_epoch_like_apt():
    assert rootless.deb_filename("python3.11-dev", "1:3.11.2-6", "amd64") == \
        "python3.11-dev_1%3a3.11.2-6_amd64.deb"
    assert rootless.deb_filename("libpython3.11-dev", "3.11.2-6+deb12u6", "amd64") == \
        "libpython3.11-dev_3.11.2-6+deb12u6_amd64.deb"


def test_sysroot_locations():
    assert rootless.sysroot_dir({"HOME": "/home/u"}, False) == \
        "/home/u/.local/share/fixenv/sysroot"
    assert rootless.sysroot_dir({"HOME": "/home/u", "XDG_DATA_HOME": "/x"}, False) == \
        "/x/fixenv/sysroot"
    assert rootless.sysroot_dir({"HOME": "/root"}, True) == rootless.SYSTEM_SYSROOT
    assert rootless.sysroot_dir({"FIXENV_SYSROOT": "/srv/s/"}, True) == "/srv/s"


def test_packages_for_the_target():
    assert rootless.apt_packages({"xy": "3.11"}) == ["libpython3.11-dev", "python3.11-dev"]
    assert "libpython3.11-dbg" in rootless.apt_packages({"xy": "3.11", "debug": True})
    assert rootless.rpm_packages({"xy": "3.12"}, "3.12") == ["python3-devel"]
    assert rootless.rpm_packages({"xy": "3.11"}, "3.9") == ["python3.11-devel"]
    assert rootless.rpm_packages({"xy": "3.14", "freethreaded": True}) == [
        "python3.14-freethreading-devel"]


def test_apt_commands_need_no_root_and_unpack_every_download():
    names = ["libpython3.11-dev", "python3.11-dev"]
    cands = rootless.parse_apt_show(SHOW)
    cmds = rootless.apt_commands(names, cands, "/h/.local/share/fixenv/sysroot", root=False)
    assert not any(c.root for c in cmds)
    argvs = [list(c.argv) for c in cmds]
    dl = "/h/.local/share/fixenv/sysroot.downloads"
    assert argvs[0] == ["mkdir", "-p", dl, "/h/.local/share/fixenv/sysroot"]
    assert argvs[1] == ["env", "-C", dl, "apt-get", "-q", "download",
                        "libpython3.11-dev=3.11.2-6+deb12u6", "python3.11-dev=1:3.11.2-6"]
    assert argvs[2] == ["dpkg-deb", "-x", dl + "/libpython3.11-dev_3.11.2-6+deb12u6_amd64.deb",
                        "/h/.local/share/fixenv/sysroot"]
    assert argvs[3][2].endswith("python3.11-dev_1%3a3.11.2-6_amd64.deb")
    assert argvs[-1][:2] == ["rm", "-f"] and len(argvs[-1]) == 4
    as_root = rootless.apt_commands(names, cands, "/var/lib/fixenv/sysroot", root=True)
    assert "APT::Sandbox::User=root" in as_root[1].argv


def test_without_package_lists_a_private_copy_is_refreshed():
    cmds = rootless.apt_private_lists_commands(["libpython3.11-dev"], "/h/s", root=False)
    update = next(c.argv for c in cmds if "update" in c.argv)
    assert "Dir::State::Lists=/h/s.apt/lists" in update and not any(c.root for c in cmds)


def _facts(**py):
    f = {"os": {"system": "Linux", "id": "debian", "version": "12", "like": [],
                "arch": "x86_64"},
         "managers": ["apt"], "privilege": {"root": False, "sudo": False},
         "python": {"executable": "/usr/bin/python3.11", "version": "3.11.2",
                    "implementation": "CPython", "abiflags": "", "prefix": "/usr",
                    "base_prefix": "/usr", "in_venv": False,
                    "include": "/usr/include/python3.11", "has_headers": False,
                    "provider": "apt", "multiarch": "x86_64-linux-gnu", **py},
         "compilers": {"cc": "/usr/bin/gcc", "cxx": "/usr/bin/g++"},
         "env": {"CPATH": None}}
    return normalize(f)


def test_plan_for_an_unprivileged_user_is_the_rootless_route(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.delenv("FIXENV_SYSROOT", raising=False)
    plan = make_plan(load_playbook(), _facts(), RecordingRunner(), probe=False)
    steps = {s.id: s for s in plan.steps}
    assert steps["python-headers"].status == "skip"
    assert steps["rootless-headers"].status == "change"
    assert not any(c.root for c in steps["rootless-headers"].commands)
    cp = steps["cpath"]
    assert cp.status == "change" and not any(f.root for f in cp.files)
    sysroot = str(tmp_path / ".local/share/fixenv/sysroot")
    assert dict(cp.data)["value"] == "%s/usr/include/python3.11:%s/usr/include" % (
        sysroot, sysroot)
    assert str(tmp_path / ".profile") in [f.path for f in cp.files]


def test_plan_for_a_sudo_user_installs_the_package_instead():
    f = _facts()
    f["privilege"]["sudo"] = True
    f.pop("cpath")
    normalize(f)
    steps = {s.id: s for s in make_plan(load_playbook(), f, RecordingRunner(),
                                        probe=False).steps}
    assert steps["rootless-headers"].status == "skip"
    assert steps["python-headers"].status == "change"
    assert steps["cpath"].status == "ok"


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


def test_remove_sysroot_only_removes_a_sysroot(tmp_path):
    other = tmp_path / "notes"
    other.mkdir()
    assert rootless.remove_sysroot(str(other)) is False and other.exists()
    s = tmp_path / "sysroot"
    (s / "usr" / "include" / "python3.11").mkdir(parents=True)
    os.makedirs(rootless.download_dir(str(s)))
    assert rootless.remove_sysroot(str(s)) is True
    assert not s.exists() and not os.path.exists(rootless.download_dir(str(s)))
