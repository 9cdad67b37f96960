"""Ctrl-C typed at a real terminal while `fixenv apply --yes` installs packages.

A terminal sends SIGINT to its whole foreground process group. When fixenv started apt-get
in that group, apt-get *and dpkg* got the signal: with /dev/pts in the root apt gives dpkg a
pty and a session of its own, so only apt-get saw it (apt stops after the dpkg run); without
/dev/pts (a chroot or container entered from a terminal outside it, or Dpkg::Use-Pty=0) dpkg
sat in the terminal's group and died mid-unpack: `dpkg --audit` reported packages "in a mess"
and the next apply failed with "dpkg was interrupted, you must manually run 'dpkg --configure
-a'". Each test here runs fixenv as the foreground process group of a fresh pty
(tests/e2e/pty_session.py) in a throwaway Debian root and types ``\\x03`` while apt unpacks.
"""
from __future__ import annotations

import os
import subprocess

import pytest

from . import rootfs
from .pty_session import PtySession, chroot_argv

pytestmark = pytest.mark.e2e


def _without_devpts(root: rootfs.Root) -> None:
    """Take /dev/pts away inside the root (as in a chroot entered from outside): apt cannot
    give dpkg a pty, so dpkg stays in the caller's process group."""
    pts = root.path("/dev/pts")
    if os.path.ismount(pts):
        subprocess.run(["umount", str(pts)], check=True)
    assert not os.path.ismount(pts)


def _ctrl_c_while_unpacking(root: rootfs.Root, argv, *, userspec=None, home="/root",
                            cols: int = 80) -> PtySession:
    term = PtySession(chroot_argv(str(root.merged), argv, path=rootfs.CHROOT_PATH,
                                  userspec=userspec, home=home), cols=cols)
    term.expect(r"Unpacking ", timeout=900)
    term.send(b"\x03")
    term.wait(timeout=900)
    return term


def _assert_dpkg_consistent(root: rootfs.Root, term: PtySession) -> None:
    audit = root.run(["dpkg", "--audit"], check=False)
    assert audit.returncode == 0 and audit.stdout.strip() == "", (audit.stdout,
                                                                   term.text[-3000:])


def _assert_next_apply_works(root: rootfs.Root, user=None) -> None:
    again = root.run([root.fixenv, "apply", "--yes"], user=user, check=False, timeout=1800)
    assert again.returncode == 0, (again.stdout[-3000:], again.stderr[-3000:])


def _assert_truthful_recap(term: PtySession) -> None:
    text = term.text
    assert term.returncode == 130, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    # the message names the package manager, not the `env`/`sudo` wrapper
    assert "letting apt-get stop at a safe point" in text, text[-3000:]
    assert "letting env " not in text and "letting sudo " not in text
    assert "interrupted" in text
    # nothing is claimed as interrupted with a plain exit code: either the step finished
    # (then it is shown as changed) or it says how the command ended
    failed = [ln for ln in text.splitlines() if ln.lstrip().startswith(("✗ ", "FAILED "))
              and "interrupted" in ln]
    assert not any("exit 0)" in ln or "exit -" in ln for ln in failed), text[-3000:]


@pytest.mark.parametrize("devpts", [True, False], ids=["devpts", "no-devpts"])
def test_ctrl_c_in_a_terminal_leaves_dpkg_consistent(make_root, devpts):
    root = make_root("base")
    if not devpts:
        _without_devpts(root)
    term = _ctrl_c_while_unpacking(root, [root.fixenv, "apply", "--yes"])
    _assert_dpkg_consistent(root, term)
    _assert_truthful_recap(term)
    _assert_next_apply_works(root)


def test_ctrl_c_in_a_terminal_through_sudo_n(make_root):
    """A user with NOPASSWD sudo: fixenv runs `sudo -n apt-get ...`; the same Ctrl-C."""
    root = make_root("base")
    root.apt_install("sudo")
    root.add_user("dev")
    root.write("/etc/sudoers.d/dev", "dev ALL=(ALL) NOPASSWD: ALL\n", mode=0o440)
    _without_devpts(root)
    uid, gid, home = root._passwd("dev")
    term = _ctrl_c_while_unpacking(root, [root.fixenv, "apply", "--yes"],
                                   userspec="%d:%d" % (uid, gid), home=home)
    _assert_dpkg_consistent(root, term)
    _assert_truthful_recap(term)
    _assert_next_apply_works(root, user="dev")


def test_exec_passes_ctrl_c_to_the_program_like_a_shell(debian_root):
    """`fixenv exec` runs the user's own program in the terminal's foreground (it may read
    the terminal): each Ctrl-C reaches it once; fixenv, like a shell, waits for it (also
    through a second Ctrl-C) and exits with its code."""
    root = debian_root
    script = ('n=0; trap \'n=$((n+1)); echo got-INT-$n; [ $n -ge 2 ] && exit 7\' INT; '
              'echo ready; while :; do sleep 0.1; done')
    term = PtySession(chroot_argv(str(root.merged), [root.fixenv, "exec", "--", "sh", "-c",
                                                     script], path=rootfs.CHROOT_PATH))
    term.expect(r"ready")
    term.send(b"\x03")
    term.expect(r"got-INT-1", timeout=30)
    term.send(b"\x03")
    assert term.wait(timeout=60) == 7, term.text
    assert term.text.count("got-INT-1") == 1 and term.text.count("got-INT-2") == 1, term.text
    assert "Traceback" not in term.text and "fixenv:" not in term.text, term.text
