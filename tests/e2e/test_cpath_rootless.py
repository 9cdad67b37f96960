"""Issue 4, end to end: CPATH persisted for new login shells, rootless mode, reset.

In a throwaway Debian 12 root with build-essential preinstalled and *no* python3.11-dev:

* an unprivileged user without sudo runs `fixenv apply --yes`: the header packages are
  fetched with `apt-get download` and unpacked under ~/.local/share/fixenv/sysroot, CPATH is
  written into the user's start-up files; a NEW login shell of that user compiles a file
  including Python.h with `g++ -I/usr/include/python3.11` (which does not exist: CPATH does
  the work, as for Torch Inductor) and the module imports with python3.11; nothing was
  written outside the user's home; `fixenv reset` restores the files and the compile fails
  again;
* as root, `fixenv apply --rootless` unpacks into /var/lib/fixenv/sysroot and writes
  /etc/profile.d/fixenv.sh: a new login shell of any user compiles; reset undoes it;
* an unprivileged user with no compiler gets exit 4 and the one command an admin must run.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from . import rootfs
from .fixenvrun import describe

pytestmark = pytest.mark.e2e

MISSING_INC = "/usr/include/python3.11"  # what sysconfig says; absent without python3.11-dev
EXT_C = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#if PY_MAJOR_VERSION != 3 || PY_MINOR_VERSION != 11
#error "compiled against the headers of another Python"
#endif
static PyObject *answer(PyObject *self, PyObject *unused) { return PyLong_FromLong(42); }
static PyMethodDef methods[] = {{"answer", answer, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "e2emod", NULL, -1, methods};
PyMODINIT_FUNC PyInit_e2emod(void) { return PyModule_Create(&def); }
"""
# What Inductor does: the C++ compiler, -I<sysconfig include>, the environment for the rest.
BUILD = ("cd && g++ -x c++ -shared -fPIC -I%s e2e.c -o e2emod.so && "
         "python3.11 -c 'import sys; sys.path.insert(0, \".\"); import e2emod; "
         "print(e2emod.answer())'" % MISSING_INC)


def _describe(res: subprocess.CompletedProcess) -> str:
    return describe(res, tail=4000, words=6)


def fixenv(root: rootfs.Root, *args: str, user: str | None = None,
           rc: int | None = 0) -> subprocess.CompletedProcess:
    res = root.run([root.fixenv, *args], user=user, check=False)
    if rc is not None:
        assert res.returncode == rc, _describe(res)
    return res


def login_shell(root: rootfs.Root, user: str, script: str) -> subprocess.CompletedProcess:
    """A new login shell of `user` (reads /etc/profile, /etc/profile.d, ~/.profile)."""
    return root.run(["su", "-", user, "-c", script], check=False, timeout=300)


def add_user(root: rootfs.Root, user: str) -> str:
    root.add_user(user)
    uid, gid, home = root._passwd(user)
    root.write(f"{home}/e2e.c", EXT_C)
    os.chown(root.path(f"{home}/e2e.c"), uid, gid)
    return home


def upper_listing(root: rootfs.Root) -> dict[str, tuple]:
    """Every entry of the overlay's upper dir (what changed in the root) with size+mtime."""
    upper = root.scratch / "upper"
    out = {}
    for dirpath, dirnames, filenames in os.walk(upper):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            rel = "/" + str(p.relative_to(upper))
            if p.is_dir() and not p.is_symlink() and any(
                    (low / rel.lstrip("/")).is_dir() for low in root.lowers):
                continue  # an existing dir copied up because something changed inside it
            out[rel] = (st.st_mode, st.st_size, st.st_mtime_ns if not p.is_dir() else 0)
    return out


def changed_outside(before: dict, after: dict, allowed: str, uid: int) -> list[str]:
    changed = [p for p in after if before.get(p) != after[p]] + [p for p in before
                                                                 if p not in after]
    # The only exception: apply's empty lock file (fixenv/lock.py), runtime state kept in
    # $XDG_RUNTIME_DIR or, without one (as here), the temp dir; it holds no setting.
    lock = "/tmp/fixenv-%d.lock" % uid
    return sorted(p for p in changed
                  if not (p in (allowed, lock) or p.startswith(allowed + "/")))


def assert_compile_fails(res: subprocess.CompletedProcess) -> None:
    assert res.returncode != 0, _describe(res)
    assert "Python.h" in res.stderr, _describe(res)


def test_unprivileged_user_rootless_login_shell_compiles_and_reset_undoes(make_root):
    root = make_root("compiler")
    assert "python3.11-dev" not in root.installed_packages()
    home = add_user(root, "alice")
    assert not root.exists("/usr/bin/sudo")  # no sudo at all: not root, `sudo -n` refused
    profile_before = {n: root.path(f"{home}/{n}").read_bytes() for n in (".profile", ".bashrc")}
    assert_compile_fails(login_shell(root, "alice", BUILD))

    plan = json.loads(fixenv(root, "plan", "--json", user="alice").stdout)
    steps = {s["id"]: s for s in plan["steps"]}
    assert steps["python-headers"]["status"] == "skip"
    assert steps["rootless-headers"]["status"] == "change"
    words = [w for argv in steps["rootless-headers"]["commands"] for w in argv]
    assert "download" in words and "dpkg-deb" in words and "sudo" not in words
    sysroot = f"{home}/.local/share/fixenv/sysroot"
    assert [f["path"] for f in steps["cpath"]["files"]][:1] == [f"{home}/.profile"]
    assert f"{sysroot}/usr/include/python3.11:{sysroot}/usr/include" in \
        steps["cpath"]["files"][0]["content"]

    before = upper_listing(root)
    res = fixenv(root, "apply", "--yes", "--json", user="alice")
    recap = json.loads(res.stdout)
    assert recap["verify"]["ok"] is True, _describe(res)
    checks = {c["name"]: c for c in recap["verify"]["checks"]}
    assert checks["inductor"]["ok"] and "(missing)" in checks["inductor"]["detail"]
    assert "python3.11-dev" not in root.installed_packages()
    assert root.exists(f"{sysroot}/usr/include/python3.11/Python.h")
    assert root.exists(f"{sysroot}/usr/include/x86_64-linux-gnu/python3.11/pyconfig.h")
    assert not root.exists(MISSING_INC)
    outside = changed_outside(before, upper_listing(root), home, root._passwd("alice")[0])
    assert outside == [], outside

    # the proof: a NEW login shell of the user compiles like Inductor and imports
    res = login_shell(root, "alice", BUILD)
    assert res.returncode == 0 and res.stdout.strip().endswith("42"), _describe(res)
    # idempotent: a second plan has nothing to do; the profile holds one block
    again = json.loads(fixenv(root, "plan", "--json", user="alice",
                              rc=0).stdout)
    assert again["changes_pending"] is False, again
    assert root.path(f"{home}/.profile").read_text().count("# >>> fixenv >>>") == 1
    assert root.exists(f"{home}/.profile.fixenv-backup")

    # a shell started before apply (this chroot env never read the profile): verify fails
    # and says what to do instead of sending the user round in circles
    res = fixenv(root, "verify", "--json", user="alice", rc=1)
    fixes = " ".join(c.get("fix") or "" for c in json.loads(res.stdout)["checks"])
    assert "new login shell" in fixes and "fixenv env" in fixes, _describe(res)
    # doctor in the same old shell gives the same fix as verify (issue 15), not "none planned"
    res = fixenv(root, "doctor", "--json", user="alice", rc=1)
    doc = json.loads(res.stdout)
    dfix = [c["fix"] for c in doc["checks"] if c["status"] == "fail"]
    assert dfix and all("new login shell" in f and "fixenv env" in f for f in dfix), dfix
    assert "none planned" not in res.stdout and "new login shell" in (doc["fix"] or "")

    # fixenv exec / fixenv env in a shell that never read the profile
    res = root.run([root.fixenv, "exec", "--", "sh", "-c", BUILD], user="alice", check=False)
    assert res.returncode == 0 and res.stdout.strip().endswith("42"), _describe(res)
    res = root.run([root.fixenv, "exec", "--", "sh", "-c", "exit 7"], user="alice",
                   check=False)
    assert res.returncode == 7, _describe(res)
    res = root.run(["sh", "-c", 'eval "$(%s env)" && %s' % (root.fixenv, BUILD)],
                   user="alice", check=False)
    assert res.returncode == 0 and res.stdout.strip().endswith("42"), _describe(res)

    # reset: blocks out, sysroot gone, the user's files as they were, compile fails again
    out = json.loads(fixenv(root, "reset", "--json", user="alice").stdout)
    assert {r["path"] for r in out["removed"]} >= {f"{home}/.profile"}
    assert out["sysroot_removed"] == sysroot
    for name, data in profile_before.items():
        assert root.path(f"{home}/{name}").read_bytes() == data, name
    assert not root.exists(sysroot)
    assert_compile_fails(login_shell(root, "alice", BUILD))


def test_root_system_wide_route_makes_any_users_login_shell_compile(make_root):
    root = make_root("compiler")
    res = fixenv(root, "apply", "--yes", "--rootless", "--json")
    recap = json.loads(res.stdout)
    assert recap["verify"]["ok"] is True, _describe(res)
    assert "python3.11-dev" not in root.installed_packages()
    sysroot = "/var/lib/fixenv/sysroot"
    assert root.exists(f"{sysroot}/usr/include/python3.11/Python.h")
    text = root.path("/etc/profile.d/fixenv.sh").read_text()
    assert f"{sysroot}/usr/include/python3.11:{sysroot}/usr/include" in text

    add_user(root, "bob")  # a user created afterwards, never touched by fixenv
    res = login_shell(root, "bob", BUILD)
    assert res.returncode == 0 and res.stdout.strip().endswith("42"), _describe(res)
    assert "fixenv" not in root.path("/home/bob/.profile").read_text()

    out = json.loads(fixenv(root, "reset", "--json").stdout)
    assert {"path": "/etc/profile.d/fixenv.sh", "action": "remove"} in out["removed"]
    assert not root.exists("/etc/profile.d/fixenv.sh") and not root.exists(sysroot)
    assert_compile_fails(login_shell(root, "bob", BUILD))


def test_unprivileged_user_without_a_compiler_is_told_what_an_admin_must_run(make_root):
    root = make_root("base")
    home = add_user(root, "carol")
    before = upper_listing(root)
    res = fixenv(root, "apply", "--yes", user="carol", rc=4)
    assert "build-essential" in res.stderr and "sudo" in res.stderr, _describe(res)
    assert changed_outside(before, upper_listing(root), home, root._passwd("carol")[0]) == []


FISH_BUILD = ("cd; and g++ -x c++ -shared -fPIC -I%s e2e.c -o e2emod.so; and "
              "python3.11 -c 'import sys; sys.path.insert(0, \".\"); import e2emod; "
              "print(e2emod.answer())'" % MISSING_INC)


def test_zsh_fish_and_ksh_users_get_it_in_their_own_start_up_files(make_root):
    root = make_root("compiler")
    root.apt_install("zsh", "fish", "ksh")
    homes = {}
    for user, shell in (("zed", "/usr/bin/zsh"), ("finn", "/usr/bin/fish"),
                        ("kim", "/bin/ksh")):
        homes[user] = add_user(root, user)
        root.run(["usermod", "--shell", shell, user])
        fixenv(root, "apply", "--yes", user=user)
    zed, finn = homes["zed"], homes["finn"]
    assert "# >>> fixenv >>>" in root.path(f"{zed}/.zshenv").read_text()
    fish_conf = f"{finn}/.config/fish/conf.d/fixenv.fish"
    assert "set -gx CPATH" in root.path(fish_conf).read_text()
    for user in ("zed", "kim"):  # zsh reads ~/.zshenv, ksh as a login shell ~/.profile
        res = login_shell(root, user, BUILD)
        assert res.returncode == 0 and res.stdout.strip().endswith("42"), (user, _describe(res))
    res = login_shell(root, "finn", FISH_BUILD)
    assert res.returncode == 0 and res.stdout.strip().endswith("42"), _describe(res)
    # fish: `fixenv env --shell fish | source` in a shell without the conf.d file
    res = root.run(["fish", "--no-config", "-c",
                    "%s env --shell fish | source; and %s" % (root.fixenv, FISH_BUILD)],
                   user="finn", check=False)
    assert res.returncode == 0 and res.stdout.strip().endswith("42"), _describe(res)
    # reset as the fish user deletes the conf.d file (it is wholly fixenv's)
    fixenv(root, "reset", user="finn")
    assert not root.exists(fish_conf)
    res = login_shell(root, "finn", FISH_BUILD)
    assert res.returncode != 0 and "Python.h" in res.stderr, _describe(res)

    # root, system-wide: zsh and fish do not read /etc/profile.d, so fixenv also writes a
    # block into /etc/zsh/zshenv and /etc/fish/conf.d/fixenv.fish; new users get it
    zshenv = root.path("/etc/zsh/zshenv").read_bytes()
    fixenv(root, "apply", "--yes", "--rootless")
    for user, shell, script in (("zoe", "/usr/bin/zsh", BUILD),
                                ("fay", "/usr/bin/fish", FISH_BUILD)):
        add_user(root, user)
        root.run(["usermod", "--shell", shell, user])
        res = login_shell(root, user, script)
        assert res.returncode == 0 and res.stdout.strip().endswith("42"), (user, _describe(res))
    fixenv(root, "reset")
    assert root.path("/etc/zsh/zshenv").read_bytes() == zshenv
    assert not root.exists("/etc/fish/conf.d/fixenv.fish")
    assert not root.exists("/etc/profile.d/fixenv.sh")


def test_a_users_broken_cpath_is_reported_and_repaired_in_new_shells(make_root):
    """alice's own ~/.profile exports CPATH with another Python's headers and an empty
    element (= the current directory); fixenv run from her login shell reports both, and
    her next login shell has exactly fixenv's dirs; reset gives her file back unchanged."""
    root = make_root("compiler")
    home = add_user(root, "alice")
    with open(root.path(f"{home}/.profile"), "a") as fh:
        fh.write('export CPATH="/usr/include/python3.9:"\n')
    mine = root.path(f"{home}/.profile").read_bytes()
    res = login_shell(root, "alice", "%s plan --json" % root.fixenv)
    assert res.returncode == 0, _describe(res)
    cp = {s["id"]: s for s in json.loads(res.stdout)["steps"]}["cpath"]
    assert cp["status"] == "change"
    assert "/usr/include/python3.9" in cp["reason"] and "current directory" in cp["reason"]
    res = login_shell(root, "alice", "%s apply --yes --json" % root.fixenv)
    assert res.returncode == 0 and json.loads(res.stdout)["verify"]["ok"], _describe(res)
    sysroot = f"{home}/.local/share/fixenv/sysroot"
    res = login_shell(root, "alice", 'printf "[%s]" "$CPATH"')
    assert res.stdout == f"[{sysroot}/usr/include/python3.11:{sysroot}/usr/include]", \
        _describe(res)
    res = login_shell(root, "alice", BUILD)
    assert res.returncode == 0 and res.stdout.strip().endswith("42"), _describe(res)
    fixenv(root, "reset", user="alice")
    assert root.path(f"{home}/.profile").read_bytes() == mine


def test_rootless_on_a_fresh_image_without_package_lists(make_root):
    """No /var/lib/apt/lists (a fresh container image) and no root to refresh them: fixenv
    refreshes a private copy of the lists under the user's data dir and goes on."""
    root = make_root("compiler")
    root.wipe_apt_lists()
    home = add_user(root, "alice")
    before = upper_listing(root)
    res = fixenv(root, "apply", "--yes", "--json", user="alice")
    recap = json.loads(res.stdout)
    assert recap["verify"]["ok"] is True, _describe(res)
    ran = [w for s in recap["steps"] for argv in s["commands"] for w in argv]
    assert "update" in ran and not root.apt_lists()  # the system's lists stay empty
    assert changed_outside(before, upper_listing(root), home, root._passwd("alice")[0]) == []
    res = login_shell(root, "alice", BUILD)
    assert res.returncode == 0 and res.stdout.strip().endswith("42"), _describe(res)
