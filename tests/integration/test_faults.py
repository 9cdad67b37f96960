"""Faults: each one provoked for real, and what fixenv does about it.

- the package manager fails (package not found, network unreachable, any non-zero exit):
  the step fails, its output is shown, later steps do not run, the recap says what was done
  and what was not (exit 1);
- the package manager's lock is held: fixenv says so, apt-get waits a bounded time, then
  `apply` exits 6 (the real dpkg lock is exercised in tests/e2e/test_robustness.py);
- `sudo -n` refused: exit 4 with the exact command to run;
- Ctrl-C / SIGTERM during apply: exit 130, the recap, the running command stopped, no
  half-written file;
- a start-up file cannot be written (read-only file system, disk full): the original is
  intact, no temp file is left, the earlier backup is kept;
- two `fixenv apply` at once: the second waits (bounded, announced) or refuses; never both.

The package manager here is a fake `apt-get` first on PATH (real fixenv, real processes):
these faults cannot be provoked on this host's real apt without changing the host.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from fixenv import outcome
from fixenv import engine, errors, lock
from fixenv.files import BACKUP_SUFFIX, atomic_write
from fixenv.model import CHANGE, Command, FileEdit, Plan, PlannedStep
from fixenv.runner import Runner
from tests.robust_helpers import fixenv_argv, run_fixenv, write_exe

PY = next((p for p in ("/usr/bin/python3.11", "/usr/bin/python3") if os.path.exists(p)), None)
needs_apt = pytest.mark.skipif(PY is None or not os.path.exists("/usr/bin/dpkg-query"),
                               reason="needs a Debian system python and dpkg-query")

FAKE_APT = r"""#!/bin/sh
# A stand-in apt-get: logs each call with start/end times, then behaves as $FAKE_APT_MODE says.
log="$FAKE_APT_LOG"
echo "start $$ $(date +%s.%N) $*" >> "$log"
trap 'echo "term $$" >> "$log"; exit 143' TERM INT
case "$FAKE_APT_MODE:$*" in
  notfound:*install*)
    echo "Reading package lists..."
    echo "E: Unable to locate package fixenv-test-no-such-package"
    exit 100 ;;
  network:*update*)
    echo "Err:1 http://mirror.invalid/debian bookworm InRelease"
    echo "  Temporary failure resolving 'mirror.invalid'"
    echo "E: Failed to fetch http://mirror.invalid/debian/dists/bookworm/InRelease"
    exit 100 ;;
  exit2:*install*)
    echo "dpkg: error processing archive fixenv-test-no-such-package (--unpack):" >&2
    exit 2 ;;
  locked:*install*)
    echo "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 4242 (apt-get)"
    echo "E: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), is another process using it?"
    exit 100 ;;
  dpkgbroken:*install*)
    echo "E: dpkg was interrupted, you must manually run 'dpkg --configure -a' to correct the problem."
    exit 100 ;;
  sleep:*install*)
    echo "Unpacking slowly..."
    sleep "${FAKE_APT_SLEEP:-30}" &
    wait $!
    ;;
esac
echo "end $$ $(date +%s.%N) $*" >> "$log"
exit 0
"""

PLAYBOOK = """\
name: faults
steps:
  - id: first
    kind: command
    argv: [touch, "{marker1}"]
  - id: pkg
    kind: packages
    manager: apt
    packages: [fixenv-test-no-such-package]
  - id: after
    kind: command
    argv: [touch, "{marker2}"]
"""


@pytest.fixture
def world(tmp_path):
    """A fake apt-get on PATH, a playbook of three steps, a private fixenv lock file."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    write_exe(bindir / "apt-get", FAKE_APT)
    pb = tmp_path / "pb.yaml"
    pb.write_text(PLAYBOOK.format(marker1=tmp_path / "first-done",
                                  marker2=tmp_path / "after-done"))

    class W:
        path = tmp_path
        playbook = pb
        log = tmp_path / "apt.log"
        first = tmp_path / "first-done"
        after = tmp_path / "after-done"

        def env(self, mode, **extra):
            e = {"FAKE_APT_MODE": mode, "FAKE_APT_LOG": str(self.log),
                 "FIXENV_LOCK_FILE": str(tmp_path / "fixenv.lock")}
            e.update(extra)
            return e

        def apply(self, mode, *extra, **env):
            return run_fixenv(["apply", "--yes", "--python", PY, "--playbook", str(pb)]
                              + list(extra), env=self.env(mode, **env), path_prefix=bindir)

        def popen(self, mode, *extra, **env):
            e = dict(os.environ, PATH="%s:%s" % (bindir, os.environ["PATH"]))
            e.pop("FIXENV_LOCK_TIMEOUT", None)
            e.update(self.env(mode, **env))
            return subprocess.Popen(fixenv_argv() + ["apply", "--yes", "--python", PY,
                                                     "--playbook", str(pb)] + list(extra),
                                    env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, stdin=subprocess.DEVNULL)

        def calls(self):
            return self.log.read_text().splitlines() if self.log.exists() else []

    return W()


def _statuses(recap):
    return {s["id"]: s["status"] for s in recap["steps"]}


# ----------------------------------------------------------------- the package manager fails

@needs_apt
@pytest.mark.parametrize("mode,shown", [
    ("notfound", "Unable to locate package fixenv-test-no-such-package"),
    ("network", "Temporary failure resolving 'mirror.invalid'"),
    ("exit2", "dpkg: error processing archive"),
])
def test_package_manager_failure_stops_the_run_and_says_what_was_done(world, mode, shown):
    res = world.apply(mode, "--json")
    assert res.returncode == errors.FAILED, res.stderr
    assert "Traceback" not in res.stderr
    recap = json.loads(res.stdout)
    assert _statuses(recap) == {"first": "changed", "pkg": "failed", "after": "not_run"}
    assert recap["summary"]["changed"] == 1 and recap["summary"]["failed"] == 1
    assert recap["summary"]["not_run"] == 1
    failed = [s for s in recap["steps"] if s["status"] == "failed"][0]
    assert shown in failed["output"] and shown in failed["reason"]
    assert "exited %d" % (2 if mode == "exit2" else 100) in failed["reason"]
    assert recap["verify"]["ok"] is False  # nothing verified after a failure
    assert world.first.exists() and not world.after.exists()


@needs_apt
def test_an_interrupted_dpkg_from_before_gets_the_repair_command(world):
    res = world.apply("dpkgbroken", "--json")
    assert res.returncode == errors.FAILED
    failed = [s for s in json.loads(res.stdout)["steps"] if s["status"] == "failed"][0]
    assert failed["reason"].startswith("an earlier dpkg run was cut off; repair it first with "
                                       "`dpkg --configure -a` (as root), then run fixenv again")
    assert not world.after.exists()


@needs_apt
def test_package_manager_failure_in_text_mode_shows_output_and_the_recap(world):
    res = world.apply("notfound")
    assert res.returncode == errors.FAILED
    both = res.stdout + res.stderr
    assert "Unable to locate package fixenv-test-no-such-package" in both
    assert "not run" in both or "not_run" in both
    assert "Traceback" not in both
    assert not world.after.exists()


# ----------------------------------------------------------------- package-manager lock

@needs_apt
def test_package_lock_timeout_exits_6_and_names_the_variable(world):
    res = world.apply("locked", "--json", FIXENV_LOCK_TIMEOUT="1")
    assert res.returncode == errors.LOCKED, (res.stdout, res.stderr)
    recap = json.loads(res.stdout)
    failed = [s for s in recap["steps"] if s["status"] == "failed"][0]
    assert "FIXENV_LOCK_TIMEOUT=1s" in failed["reason"]
    assert "Could not get lock" in failed["output"]
    # the configured bound reached apt-get itself
    assert any("DPkg::Lock::Timeout=1 install" in c for c in world.calls())
    assert not world.after.exists()


_HOLD = """
import fcntl, os, sys, time
f = open(sys.argv[1], "a")
getattr(fcntl, sys.argv[2])(f, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(60)
"""


@contextlib.contextmanager
def _held(path: Path, how: str = "lockf"):
    path.parent.mkdir(parents=True, exist_ok=True)
    p = subprocess.Popen([sys.executable, "-c", _HOLD, str(path), how], stdout=subprocess.PIPE,
                         text=True)
    try:
        assert p.stdout.readline().strip() == "held"
        yield p.pid
    finally:
        p.kill()
        p.wait()


def test_a_held_dpkg_lock_is_seen_read_only_with_its_holder(tmp_path):
    front = tmp_path / "var/lib/dpkg/lock-frontend"
    lists = tmp_path / "var/lib/apt/lists/lock"
    front.parent.mkdir(parents=True)
    lists.parent.mkdir(parents=True)
    front.write_text("")
    lists.write_text("")
    install = ["sudo", "-n", "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "x"]
    assert lock.package_lock_held(install, root=str(tmp_path)) is None
    with _held(front) as pid:
        held = lock.package_lock_held(install, root=str(tmp_path))
        assert held is not None and held[0] == "/var/lib/dpkg/lock-frontend" and held[1] == pid
        assert "python" in held[2]
        # `apt-get update` does not take the dpkg lock, so it is not reported as waiting
        assert lock.package_lock_held(["apt-get", "update"], root=str(tmp_path)) is None
    with _held(lists):
        assert lock.package_lock_held(["apt-get", "update"], root=str(tmp_path))[0] == \
            "/var/lib/apt/lists/lock"
    # flock(1)-style locks do not stop apt (it uses fcntl locks), so they are not reported
    with _held(front, how="flock"):
        assert lock.package_lock_held(install, root=str(tmp_path)) is None
    # checking never created or changed the lock file
    assert front.read_text() == ""


def test_the_notice_says_what_holds_the_lock_and_how_long_apt_waits(tmp_path, monkeypatch):
    monkeypatch.setenv("FIXENV_LOCK_TIMEOUT", "7")
    monkeypatch.setattr(lock, "package_lock_held",
                        lambda argv, root="/": ("/var/lib/dpkg/lock-frontend", 4242, "apt-get"))
    from fixenv.facts import invocation

    note = lock.package_wait_notice(["apt-get", "install", "x"], invocation.lock_timeout())
    assert note == ("/var/lib/dpkg/lock-frontend is held by process 4242 (apt-get); apt-get "
                    "waits up to 7s for it (FIXENV_LOCK_TIMEOUT)")


def test_the_notice_names_the_wait_the_planned_command_carries(monkeypatch):
    # the plan's apt-get says how long it waits; the notice repeats that, not a later setting
    from fixenv.executor import Executor
    from fixenv.runner import RecordingRunner

    ex = Executor(RecordingRunner(), environ={"FIXENV_LOCK_TIMEOUT": "9"})
    assert ex._package_wait(["apt-get", "-o", "DPkg::Lock::Timeout=33", "install", "x"]) == 33
    assert ex._package_wait(["dnf", "install", "-y", "x"]) == 9


# ----------------------------------------------------------------- fixenv's own lock

@needs_apt
def test_second_apply_refuses_after_a_bounded_wait_naming_the_first(world):
    first = world.popen("sleep", FAKE_APT_SLEEP="20")
    try:
        _wait_for(lambda: any(c.startswith("start") and "install" in c for c in world.calls()))
        started = len([c for c in world.calls() if c.startswith("start")])
        t0 = time.monotonic()
        second = world.apply("sleep", FIXENV_LOCK_TIMEOUT="1")
        waited = time.monotonic() - t0
        lines = second.stderr.strip().splitlines()
        assert second.returncode == errors.LOCKED, second.stderr
        wait = [ln for ln in lines if "waiting up to 1s" in ln]
        assert len(wait) == 1 and "pid %d" % first.pid in wait[0]
        assert lines[-2].startswith("fixenv: error: ") and "nothing was changed" in lines[-2]
        assert lines[-1].startswith("fixenv: hint: ") and "FIXENV_LOCK_TIMEOUT" in lines[-1]
        assert "Traceback" not in second.stderr
        assert waited < 60
        # the second never started a package command
        assert len([c for c in world.calls() if c.startswith("start")]) == started
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=30)


@needs_apt
def test_second_apply_waits_for_the_first_and_they_never_overlap(world):
    first = world.popen("sleep", FAKE_APT_SLEEP="10")
    _wait_for(lambda: any(c.startswith("start") and "install" in c for c in world.calls()))
    second = world.apply("sleep", FIXENV_LOCK_TIMEOUT="60", FAKE_APT_SLEEP="0")
    first.communicate(timeout=60)
    assert first.returncode in (0, 1), first.returncode  # 1: verify of the fake install
    assert second.returncode in (0, 1), second.stderr
    assert "waiting up to 60s" in second.stderr and "finished; going on" in second.stderr
    spans = {}
    for line in world.calls():
        kind, pid, stamp = line.split()[:3]
        if kind in ("start", "end"):
            spans.setdefault(pid, {})[kind] = float(stamp)
    installs = sorted(spans.values(), key=lambda s: s["start"])
    assert len(installs) >= 2
    for a, b in zip(installs, installs[1:]):
        assert a["end"] <= b["start"], "two package commands overlapped"


def test_lock_file_symlink_is_refused(tmp_path):
    target = tmp_path / "victim"
    target.write_text("precious\n")
    link = tmp_path / "fixenv.lock"
    link.symlink_to(target)
    with pytest.raises(errors.LockedError, match="symlink"):
        with lock.apply_lock(str(link), wait=0):
            pass
    assert target.read_text() == "precious\n"


def _wait_for(cond, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


# ----------------------------------------------------------------- Ctrl-C and SIGTERM

@needs_apt
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_during_apply_exits_130_with_the_recap(world, sig):
    p = world.popen("sleep", "--json", FAKE_APT_SLEEP="30")
    _wait_for(lambda: any("install" in c for c in world.calls()))
    p.send_signal(sig)
    out, err = p.communicate(timeout=30)
    assert p.returncode == errors.INTERRUPTED, (out, err)
    assert "Traceback" not in err
    recap = json.loads(out)
    assert recap["interrupted"] is True
    assert _statuses(recap) == {"first": "changed", "pkg": "failed", "after": "not_run"}
    failed = [s for s in recap["steps"] if s["status"] == "failed"][0]
    assert failed["reason"].startswith("interrupted while running `")
    assert "apt-get" in failed["reason"]
    # the running package command was stopped (SIGTERM first), and nothing after it ran
    _wait_for(lambda: any(c.startswith("term") for c in world.calls()), timeout=10)
    assert not world.after.exists()


@needs_apt
def test_interrupt_in_text_mode_prints_the_recap(world):
    p = world.popen("sleep", FAKE_APT_SLEEP="30")
    _wait_for(lambda: any("install" in c for c in world.calls()))
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == errors.INTERRUPTED
    assert "interrupted" in out + err and "Traceback" not in err


def _plan_writing(path: Path, content: str, action: str = "write") -> Plan:
    return Plan(playbook="t", steps=(
        PlannedStep("write", "env", "write", CHANGE, "write %s" % path,
                    files=(FileEdit(str(path), content, action),)),
        PlannedStep("after", "command", "after", CHANGE, "touch",
                    commands=(Command(("touch", str(path) + ".after")),)),
    ))


FACTS = {"privilege": {"root": True, "sudo": False}}


def test_interrupt_while_writing_a_file_leaves_the_original_and_no_temp_file(tmp_path,
                                                                             monkeypatch):
    rc = tmp_path / ".bashrc"
    rc.write_text("# the user's own\nalias ll='ls -l'\n")
    monkeypatch.setenv("FIXENV_LOCK_FILE", str(tmp_path / "lock"))

    def ctrl_c(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", ctrl_c)  # Ctrl-C lands in the middle of the write
    recap = engine.apply_plan(_plan_writing(rc, "# >>> fixenv >>>\nX\n# <<< fixenv <<<\n",
                                            "block"), FACTS, Runner())
    assert recap.interrupted
    assert [(s.id, s.status) for s in recap.steps] == [("write", "failed"),
                                                        ("after", "not_run")]
    assert outcome.exit_code(recap) == errors.INTERRUPTED
    assert rc.read_text() == "# the user's own\nalias ll='ls -l'\n"
    leftovers = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".fixenv-"))
    assert leftovers == []
    assert not (tmp_path / ".bashrc.after").exists()


# ----------------------------------------------------------------- writes that fail

@contextlib.contextmanager
def _tmpfs(size: str):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    d = tempfile.mkdtemp(prefix="fixenv-tmpfs-")
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s" % size, "tmpfs", d],
                         capture_output=True, text=True)
    if res.returncode != 0:
        os.rmdir(d)
        pytest.skip("cannot mount a tmpfs here: %s" % res.stderr.strip())
    try:
        yield Path(d)
    finally:
        subprocess.run(["umount", d], capture_output=True)
        os.rmdir(d)


def test_write_to_a_read_only_file_system_keeps_the_original(tmp_path, monkeypatch):
    monkeypatch.setenv("FIXENV_LOCK_FILE", str(tmp_path / "lock"))
    with _tmpfs("1m") as fs:
        rc = fs / ".bashrc"
        rc.write_text("# mine\n")
        subprocess.run(["mount", "-o", "remount,ro", str(fs)], check=True)
        recap = engine.apply_plan(_plan_writing(rc, "# >>> fixenv >>>\nX\n# <<< fixenv <<<\n",
                                                "block"), FACTS, Runner())
        assert [(s.id, s.status) for s in recap.steps] == [("write", "failed"),
                                                            ("after", "not_run")]
        reason = recap.steps[0].reason
        assert "Read-only file system" in reason and "the original is unchanged" in reason
        assert rc.read_text() == "# mine\n"
        assert sorted(p.name for p in fs.iterdir()) == [".bashrc"]
        assert outcome.exit_code(recap) == errors.FAILED


def test_write_to_a_full_disk_keeps_the_original_and_the_earlier_backup(tmp_path, monkeypatch):
    monkeypatch.setenv("FIXENV_LOCK_FILE", str(tmp_path / "lock"))
    with _tmpfs("64k") as fs:
        rc = fs / ".profile"
        rc.write_text("# mine\n" * 20)
        backup = fs / (".profile" + BACKUP_SUFFIX)
        backup.write_text("# the first backup\n")
        filler = fs / "filler"
        with open(filler, "wb", buffering=0) as fh:  # fill the disk to the last block
            try:
                while True:
                    fh.write(b"\0" * 4096)
                    fh.flush()
            except OSError:
                pass
        recap = engine.apply_plan(_plan_writing(rc, "x" * 200000), FACTS, Runner())
        assert recap.steps[0].status == "failed"
        assert "No space left on device" in recap.steps[0].reason
        assert rc.read_text() == "# mine\n" * 20
        assert backup.read_text() == "# the first backup\n"
        assert sorted(p.name for p in fs.iterdir()) == sorted([".profile", backup.name,
                                                               "filler"])


# ----------------------------------------------------------------- nothing lost

def test_atomic_write_keeps_a_backup_mode_and_owner(tmp_path):
    p = tmp_path / "rc"
    p.write_text("old\n")
    p.chmod(0o640)
    if os.geteuid() == 0:
        os.chown(p, 12345, 12345)
    made = atomic_write(str(p), "new\n")
    assert made == str(p) + BACKUP_SUFFIX
    assert Path(made).read_text() == "old\n"
    assert p.read_text() == "new\n"
    assert p.stat().st_mode & 0o777 == 0o640
    if os.geteuid() == 0:
        assert (p.stat().st_uid, p.stat().st_gid) == (12345, 12345)


def test_atomic_write_through_a_symlink_keeps_the_link(tmp_path):
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    real = dotfiles / "bashrc"
    real.write_text("mine\n")
    link = tmp_path / ".bashrc"
    link.symlink_to(real)
    atomic_write(str(link), "mine\nours\n")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == "mine\nours\n"
    assert (dotfiles / ("bashrc" + BACKUP_SUFFIX)).read_text() == "mine\n"


def test_atomic_write_writes_utf8_whatever_the_locale(tmp_path):
    p = tmp_path / "rc"
    code = ("from fixenv.files import atomic_write; atomic_write(%r, 'caf\\u00e9 \\u2713\\n')"
            % str(p))
    env = dict(os.environ, LC_ALL="C", LANG="C", PYTHONUTF8="0", PYTHONCOERCECLOCALE="0")
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    assert p.read_bytes() == "café ✓\n".encode("utf-8")


def test_a_users_file_is_never_deleted(tmp_path, monkeypatch):
    monkeypatch.setenv("FIXENV_LOCK_FILE", str(tmp_path / "lock"))
    rc = tmp_path / ".zshenv"
    rc.write_text("export EDITOR=vi\n# >>> fixenv >>>\nX\n# <<< fixenv <<<\n")
    recap = engine.apply_plan(_plan_writing(rc, "", "remove"), FACTS, Runner())
    assert recap.steps[0].status == "failed"
    assert "refusing to delete" in recap.steps[0].reason
    assert rc.read_text().startswith("export EDITOR=vi\n")


# ----------------------------------------------------------------- sudo -n refused

@needs_apt
@pytest.mark.skipif(os.geteuid() != 0, reason="switching to another user needs root")
@pytest.mark.parametrize("probe_ok", [False, True], ids=["no-sudo-at-all", "sudo-n-true-only"])
def test_sudo_refused_gives_exit_4_and_the_exact_command(probe_ok):
    import shutil

    if not shutil.which("setpriv"):
        pytest.skip("setpriv not available")
    d = Path(tempfile.mkdtemp(prefix="fixenv-sudo-"))
    try:
        d.chmod(0o777)
        bindir = d / "bin"
        bindir.mkdir()
        write_exe(bindir / "sudo", "#!/bin/sh\n%s\necho 'sudo: a password is required' >&2\n"
                  "exit 1\n" % ('[ "$1 $2" = "-n true" ] && exit 0' if probe_ok else ""))
        write_exe(bindir / "apt-get", FAKE_APT)
        pb = d / "pb.yaml"
        pb.write_text("name: t\nsteps:\n  - id: pkg\n    kind: packages\n    manager: apt\n"
                      "    packages: [fixenv-test-no-such-package]\n")
        env = {"PATH": "%s:/usr/bin:/bin" % bindir, "HOME": str(d), "LANG": "C.UTF-8",
               "FIXENV_LOCK_FILE": str(d / "lock"), "FAKE_APT_LOG": str(d / "apt.log"),
               "FAKE_APT_MODE": "ok"}
        from tests.robust_helpers import world_readable_fixenv

        argv = world_readable_fixenv(d / "fixenv-copy")  # whatever the checkout's permissions
        res = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
                             + argv + ["apply", "--yes", "--python", PY,
                                                "--playbook", str(pb)],
                             env=env, capture_output=True, text=True, timeout=120,
                             stdin=subprocess.DEVNULL)
        both = res.stdout + res.stderr
        assert res.returncode == errors.PRIVILEGE, both
        assert "Traceback" not in both
        install = ("apt-get -o DPkg::Lock::Timeout=120 install -y --no-install-recommends "
                   "fixenv-test-no-such-package")
        if probe_ok:  # sudo -n said yes to `true`, no to apt-get: the step failed, saying how
            assert "run these yourself, then fixenv again: sudo env " \
                "DEBIAN_FRONTEND=noninteractive apt-get" in both
        else:  # no sudo at all: refused before anything ran
            assert "fixenv: hint: ask an admin to run: sudo " in both
        line = [ln for ln in both.splitlines() if install in ln]
        assert line and "sudo " in line[0]
        assert not (d / "apt.log").exists()  # apt-get itself never ran
    finally:
        import shutil as _sh
        _sh.rmtree(d, ignore_errors=True)


@needs_apt
def test_interrupt_during_verification_still_prints_the_recap(tmp_path):
    """Ctrl-C after the changes, while the C extension is being compiled: exit 130 and the
    recap of what was changed."""
    started = tmp_path / "cc-started"
    slow_cc = write_exe(tmp_path / "slowcc", "#!/bin/sh\ntouch %s\nsleep 60\nexec gcc \"$@\"\n"
                        % started)
    pb = tmp_path / "pb.yaml"
    pb.write_text("name: t\nsteps:\n  - id: a\n    kind: command\n    argv: [touch, %s]\n"
                  "  - id: v\n    kind: verify\n" % (tmp_path / "a-done"))
    e = dict(os.environ, CC=str(slow_cc), FIXENV_LOCK_FILE=str(tmp_path / "lock"))
    p = subprocess.Popen(fixenv_argv() + ["apply", "--yes", "--json", "--python", PY,
                                          "--playbook", str(pb)], env=e,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         stdin=subprocess.DEVNULL)
    _wait_for(started.exists, timeout=60)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == errors.INTERRUPTED, (out, err)
    assert "Traceback" not in err
    recap = json.loads(out)
    assert recap["interrupted"] is True
    assert _statuses(recap) == {"a": "changed", "v": "ok"}
    assert recap["verify"]["skipped"] is True  # it never finished


# ----------------------------------------------------------------- one outcome model

def _run_end(path):
    return [json.loads(ln) for ln in path.read_text().splitlines()][-1]


@needs_apt
def test_the_event_stream_ends_with_the_exit_code_the_process_exits_with(world, tmp_path):
    """A lock time-out (6), a missing package (1) and Ctrl-C (130): run_end.exit_code and the
    failed step's cause come from the same outcome as the process's exit code."""
    ev = tmp_path / "events.jsonl"
    res = world.apply("locked", "--events", str(ev), FIXENV_LOCK_TIMEOUT="1")
    assert res.returncode == errors.LOCKED
    end = _run_end(ev)
    assert end["exit_code"] == errors.LOCKED and end["ok"] is False
    ends = [json.loads(ln) for ln in ev.read_text().splitlines() if '"step_end"' in ln]
    assert [e["cause"] for e in ends if e["status"] == "failed"] == ["lock"]

    res = world.apply("notfound", "--events", str(ev))
    assert res.returncode == errors.FAILED and _run_end(ev)["exit_code"] == errors.FAILED
    ends = [json.loads(ln) for ln in ev.read_text().splitlines() if '"step_end"' in ln]
    assert [e["cause"] for e in ends if e["status"] == "failed"] == ["package-missing"]

    world.log.unlink()  # wait for this run's install, not the earlier ones'
    p = world.popen("sleep", "--events", str(ev), FAKE_APT_SLEEP="30")
    _wait_for(lambda: any("install" in c for c in world.calls()))
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == errors.INTERRUPTED, (out, err)
    assert _run_end(ev)["exit_code"] == errors.INTERRUPTED
    starts = [json.loads(ln) for ln in ev.read_text().splitlines() if '"step_start"' in ln]
    assert starts and all(s["actions"] for s in starts)  # the actions, as planned
