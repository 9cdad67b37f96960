"""Issue 4: rootless mode — where headers go and the commands that fetch them
(fixenv/rootless.py, fixenv/kinds/rootless.py)."""
from __future__ import annotations

import os

import pytest

from tests.factsfix import make_facts

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


def test_apt_downloads_add_the_lib_packages_the_rule_names_depend_on():
    """The names come from the header rule; apt-get download resolves no dependencies."""
    assert rootless.apt_closure(["python3.11-dev"]) == ["libpython3.11-dev", "python3.11-dev"]
    assert rootless.apt_closure(["python3.11-dbg", "python3.11-dev"]) == [
        "libpython3.11-dbg", "python3.11-dbg", "libpython3.11-dev", "python3.11-dev"]
    assert rootless.apt_closure(["python3.13-nogil", "python3.13-dev"]) == [
        "libpython3.13-nogil", "python3.13-nogil", "libpython3.13-dev", "python3.13-dev"]
    assert rootless.apt_closure(["python3-dev"]) == ["python3-dev"]  # not a versioned name
    assert not hasattr(rootless, "rpm_packages"), "a second copy of the package rules"


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
    return normalize(make_facts(root=False, sudo=False,
                                python=dict({"multiarch": "x86_64-linux-gnu"}, **py),
                                compilers={"cc": "/usr/bin/gcc", "cxx": "/usr/bin/g++"}))


def test_plan_for_an_unprivileged_user_is_the_rootless_route(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.delenv("FIXENV_SYSROOT", raising=False)
    f = _facts()
    if "user" in f:  # planning reads the user's home from the facts (fixenv/facts/user.py)
        f["user"] = {"name": "user", "home": str(tmp_path)}
        f.pop("cpath", None)
        f = normalize(f)
    plan = make_plan(load_playbook(), f, RecordingRunner(), probe=False)
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


def test_remove_sysroot_only_removes_a_sysroot(tmp_path):
    other = tmp_path / "notes"
    other.mkdir()
    assert rootless.remove_sysroot(str(other)) is False and other.exists()
    s = tmp_path / "sysroot"
    (s / "usr" / "include" / "python3.11").mkdir(parents=True)
    os.makedirs(rootless.download_dir(str(s)))
    assert rootless.remove_sysroot(str(s)) is True
    assert not s.exists() and not os.path.exists(rootless.download_dir(str(s)))


def _rpm_facts(os_id, version, py_version, like=(), manager="dnf", abiflags="", root=False):
    xy = ".".join(py_version.split(".")[:2])
    return normalize(make_facts(
        root=root, os={"id": os_id, "version": version, "like": list(like)}, managers=[manager],
        python={"executable": "/usr/bin/python%s%s" % (xy, abiflags), "version": py_version,
                "abiflags": abiflags, "include": "/usr/include/python%s%s" % (xy, abiflags),
                "provider": manager},
        compilers={"cc": "/usr/bin/gcc", "cxx": "/usr/bin/g++"}))


@pytest.mark.parametrize("os_id,version,like,py,abiflags,manager,want", [
    ("fedora", "42", (), "3.11.13", "", "dnf", "python3.11-devel"),      # default is 3.13
    ("fedora", "42", (), "3.13.5", "", "dnf", "python3-devel"),          # the default
    ("fedora", "41", (), "3.13.1", "t", "dnf", "python3.13-freethreading"),
    ("fedora", "43", (), "3.14.0", "t", "dnf", "python3.14-freethreading-devel"),
    ("fedora", "43", (), "3.14.0", "d", "dnf", "python3-debug"),
    ("rhel", "9.6", ("fedora",), "3.12.9", "", "dnf", "python3.12-devel"),
    ("almalinux", "9.4", ("rhel", "centos", "fedora"), "3.11.9", "", "dnf", "python3.11-devel"),
    ("almalinux", "8.10", ("rhel", "centos", "fedora"), "3.9.20", "", "dnf", "python39-devel"),
    ("rocky", "10.0", ("rhel", "centos", "fedora"), "3.12.9", "", "dnf", "python3-devel"),
    ("amzn", "2023", ("fedora",), "3.11.11", "", "dnf", "python3.11-devel"),
])
def test_rootless_rpm_fetch_is_the_rooted_rule(os_id, version, like, py, abiflags, manager,
                                               want):
    """One source of package knowledge: the rootless fetch downloads exactly the package the
    rooted plan would install (the same rule of the python-headers step)."""
    pb = load_playbook()
    rootless_plan = make_plan(pb, _rpm_facts(os_id, version, py, like, manager, abiflags),
                              RecordingRunner(), probe=False)
    rooted = _rpm_facts(os_id, version, py, like, manager, abiflags, root=True)
    rooted_plan = make_plan(pb, rooted, RecordingRunner(), probe=False)
    fetch = {s.id: s for s in rootless_plan.steps}["rootless-headers"]
    install = {s.id: s for s in rooted_plan.steps}["python-headers"]
    download = [list(c.argv) for c in fetch.commands if "download" in c.argv]
    assert download and download[0][-1] == want, (fetch.reason, download)
    assert install.commands[-1].argv[-1] == want, install.reason
    assert {s.id: s for s in rooted_plan.steps}["rootless-headers"].status == "skip"


def test_rootless_is_blocked_where_the_rule_is():
    """A free-threaded Debian interpreter has no package: the rootless route says so too."""
    f = _facts(abiflags="t", executable="/usr/bin/python3.13t", version="3.13.5",
               include="/usr/include/python3.13t")
    plan = make_plan(load_playbook(), f, RecordingRunner(), probe=False)
    step = {s.id: s for s in plan.steps}["rootless-headers"]
    assert step.status == "blocked" and "uv python install 3.13.5t" in step.reason
    assert step.commands == ()
    # and CPATH is not pointed at the sysroot the blocked step would have filled: no edit
    # of the user's start-up files for headers that never arrive
    cp = {s.id: s for s in plan.steps}["cpath"]
    assert cp.status == "skip", (cp.status, cp.reason)
    assert "'rootless-headers'" in cp.reason and "blocked" in cp.reason
    assert cp.files == () and cp.actions == ()
    assert plan.blocked == ("rootless-headers",)


def test_a_blocked_rootless_fetch_still_repairs_a_broken_cpath():
    """Another version's header dir in CPATH is still dropped; the sysroot is not added."""
    f = _facts(abiflags="t", executable="/usr/bin/python3.13t", version="3.13.5",
               include="/usr/include/python3.13t")
    f["env"]["CPATH"] = "/usr/include/python3.11"
    f.pop("cpath")
    f = normalize(f)
    cp = {s.id: s for s in make_plan(load_playbook(), f, RecordingRunner(),
                                     probe=False).steps}["cpath"]
    assert cp.status == "change", cp.reason
    assert "no sysroot dirs: step 'rootless-headers' is blocked" in cp.reason
    assert "sysroot" not in dict(cp.data).get("value", ""), cp.data
    assert f["cpath"]["sysroot"] not in str([a for a in cp.actions])


def test_a_rootless_step_must_name_an_earlier_packages_step(tmp_path):
    from fixenv.errors import InputError
    from fixenv.playbook.loader import load_text

    text = ("name: x\nsteps:\n  - id: fetch\n    kind: rootless\n"
            "    packages_from: headers\n")
    with pytest.raises(InputError) as exc:
        load_text(text, "pb.yaml")
    assert "pb.yaml:5:20" in str(exc.value) and "'headers' is not an earlier" in str(exc.value)
    with pytest.raises(InputError) as exc:
        load_text("name: x\nsteps:\n  - id: fetch\n    kind: rootless\n", "pb.yaml")
    assert "pb.yaml:3:5" in str(exc.value) and "packages_from" in str(exc.value)
    # without packages_from: the step called python-headers, when there is one
    pb = load_text("name: x\nsteps:\n  - id: python-headers\n    kind: packages\n"
                   "    rules:\n      - packages: [python3-devel]\n"
                   "  - id: fetch\n    kind: rootless\n", "pb.yaml")
    fetch = pb.steps[1]
    assert fetch.spec["packages_from"] == "python-headers"
    assert fetch.spec["headers"] is pb.steps[0].spec  # the very rules, not a copy
