"""Faults provoked for real inside a throwaway Debian 12 root (see rootfs.py):

- the dpkg lock held by another process (with fcntl, as apt and dpkg take it; `flock(1)`
  would not stop apt) -> fixenv names the holder, apt-get waits FIXENV_LOCK_TIMEOUT seconds,
  then `apply` exits 6 and nothing is installed;
- the mirror unreachable -> the step fails with apt's own output, later steps do not run;
- a package that does not exist -> the same, with apt's "Unable to locate package".
"""
from __future__ import annotations

import json
import subprocess
import time

import pytest

from . import rootfs

pytestmark = pytest.mark.e2e

HOLD = """
import fcntl, time
f = open('/var/lib/dpkg/lock-frontend', 'w')
fcntl.lockf(f, fcntl.LOCK_EX)
print('held', flush=True)
time.sleep(300)
"""


def _statuses(recap):
    return {s["id"]: s["status"] for s in recap["steps"]}


def test_dpkg_lock_held_waits_bounded_then_exits_6(debian_root):
    root = debian_root
    before = root.installed_packages()
    holder = subprocess.Popen(["chroot", str(root.merged), "python3", "-c", HOLD],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        t0 = time.monotonic()
        res = root.run([root.fixenv, "apply", "--yes", "--json"],
                       env={"FIXENV_LOCK_TIMEOUT": "3"}, check=False, timeout=600)
        took = time.monotonic() - t0
    finally:
        holder.kill()
        holder.wait()
    assert res.returncode == 6, (res.stdout[-3000:], res.stderr[-3000:])
    assert "Traceback" not in res.stderr
    assert ("/var/lib/dpkg/lock-frontend is held by process %d (python3); apt-get waits up "
            "to 3s for it (FIXENV_LOCK_TIMEOUT)" % holder.pid) in res.stderr
    recap = json.loads(res.stdout)
    failed = [s for s in recap["steps"] if s["status"] == "failed"]
    assert len(failed) == 1
    assert "FIXENV_LOCK_TIMEOUT=3s" in failed[0]["reason"]
    assert "lock-frontend" in failed[0]["output"]
    assert all(s["status"] != "changed" for s in recap["steps"])
    assert took < 300
    assert root.installed_packages() == before  # nothing installed, nothing half-installed


def _unreachable_mirror(root: rootfs.Root) -> None:
    for p in root.path("/etc/apt/sources.list.d").glob("*"):
        p.unlink()
    # port 9 (discard) on loopback: nothing listens, the connection is refused at once
    root.write("/etc/apt/sources.list", "deb http://127.0.0.1:9/debian bookworm main\n")
    root.wipe_apt_lists()


def test_unreachable_mirror_fails_the_step_with_apts_output(debian_root):
    root = debian_root
    _unreachable_mirror(root)
    before = root.installed_packages()
    res = root.run([root.fixenv, "apply", "--yes", "--json"], check=False, timeout=600)
    assert res.returncode == 1, (res.stdout[-3000:], res.stderr[-3000:])
    assert "Traceback" not in res.stderr
    recap = json.loads(res.stdout)
    st = _statuses(recap)
    assert st["python-headers"] == "failed", st
    failed = [s for s in recap["steps"] if s["id"] == "python-headers"][0]
    assert "127.0.0.1" in failed["output"] or "Unable to locate" in failed["output"]
    assert failed["commands"][0][-1] == "update" or "update" in failed["commands"][0]
    later = [s["status"] for s in recap["steps"]][list(st).index("python-headers") + 1:]
    assert "changed" not in later
    assert root.installed_packages() == before


def test_package_that_does_not_exist_fails_with_apts_message(debian_root):
    root = debian_root
    root.write("/tmp/pb.yaml", "name: t\nsteps:\n  - id: missing\n    kind: packages\n"
               "    manager: apt\n    packages: [fixenv-test-no-such-package]\n"
               "  - id: after\n    kind: command\n    argv: [touch, /tmp/after-ran]\n")
    res = root.run([root.fixenv, "apply", "--yes", "--json", "--playbook", "/tmp/pb.yaml"],
                   check=False, timeout=600)
    assert res.returncode == 1, (res.stdout[-3000:], res.stderr[-3000:])
    recap = json.loads(res.stdout)
    assert _statuses(recap) == {"missing": "failed", "after": "not_run"}
    failed = recap["steps"][0]
    assert "Unable to locate package fixenv-test-no-such-package" in failed["output"]
    assert not root.exists("/tmp/after-ran")


def test_ctrl_c_during_a_real_install_leaves_dpkg_consistent(debian_root):
    """Ctrl-C while dpkg unpacks: fixenv passes SIGINT on (apt-get lets dpkg finish), prints
    the recap, exits 130; dpkg's database is consistent and the next apply just works.
    (SIGTERM to apt-get here left "dpkg was interrupted, you must manually run
    'dpkg --configure -a'" and a package "in a mess".)"""
    import signal
    import threading

    root = debian_root
    p = subprocess.Popen(["chroot", str(root.merged), "/usr/bin/env", "-i",
                          "PATH=" + rootfs.CHROOT_PATH, "HOME=/root", "LANG=C.UTF-8",
                          root.fixenv, "apply", "--yes"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: list = []
    reader = threading.Thread(target=lambda: seen.extend(iter(p.stderr.readline, "")))
    reader.start()
    deadline = time.monotonic() + 600
    while not any("Unpacking" in ln for ln in seen) and p.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(1)
    p.send_signal(signal.SIGINT)
    out = p.stdout.read()
    p.wait(timeout=600)
    reader.join(30)
    err = "".join(seen)
    assert p.returncode == 130, (out[-2000:], err[-2000:])
    assert "Traceback" not in err
    assert "interrupted" in out and "not run" in out
    audit = root.run(["dpkg", "--audit"], check=False)
    assert audit.stdout.strip() == "" and audit.returncode == 0, audit.stdout
    again = root.run([root.fixenv, "apply", "--yes"], check=False, timeout=1200)
    assert again.returncode == 0, (again.stdout[-3000:], again.stderr[-3000:])
