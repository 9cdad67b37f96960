"""Locks: one `fixenv apply` at a time, and a bounded, announced wait for the package manager.

fixenv's own lock
    `apply` holds an exclusive flock(2) on a lock file for as long as it changes the machine,
    so two runs (two provisioning scripts, a script and a person) never edit at once. The
    second one waits up to FIXENV_LOCK_TIMEOUT seconds (default 120), saying so and naming
    the first one's pid, then fails with exit 6 having changed nothing. The kernel drops
    the lock when its holder dies, so a killed run never leaves a stale lock behind.
    Lock file: $FIXENV_LOCK_FILE, else /run/fixenv.lock for root, else a per-user file in
    $XDG_RUNTIME_DIR or the temp directory. The file is never deleted (deleting lock files
    races with the next locker).

The package manager's lock
    apt-get is told to wait for the dpkg lock (`-o DPkg::Lock::Timeout=N`, same variable).
    Before running a package command fixenv asks the kernel, read-only (F_GETLK), whether
    that lock is held and by which process, and says it is waiting; when apt-get gives up,
    the failure is recognised and `apply` exits 6 rather than 1.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import struct
import sys
import time
from typing import Callable, Iterator, Optional, Sequence, Tuple

from fixenv.errors import LockedError
from fixenv.facts import invocation

TIMEOUT_ENV = invocation.TIMEOUT_ENV
FILE_ENV = invocation.FILE_ENV
POLL = 0.2

Say = Callable[[str], None]


def _stderr(message: str) -> None:
    sys.stderr.write("fixenv: %s\n" % message)
    sys.stderr.flush()


def _open(path: str) -> int:
    """Open (create) the lock file without following a symlink someone planted there."""
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise LockedError("lock file %s is a symlink; refusing to use it" % path,
                              hint="remove it, or set %s to another path" % FILE_ENV)
        raise LockedError("cannot open the lock file %s: %s" % (path, exc.strerror or exc),
                          hint="set %s to a file this user may create" % FILE_ENV)
    st = os.fstat(fd)
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        os.close(fd)
        raise LockedError("lock file %s belongs to uid %d, not to this user; refusing to use "
                          "it" % (path, st.st_uid), hint="set %s to a file of your own"
                          % FILE_ENV)
    return fd


def _holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 200).decode("utf-8", "replace").strip()
    except OSError:
        return "another fixenv"
    pid = text.split()[0] if text else ""
    return "another fixenv (pid %s)" % pid if pid.isdigit() else "another fixenv"


@contextlib.contextmanager
def apply_lock(path: str, wait: float, say: Say = _stderr) -> Iterator[str]:
    """Hold fixenv's own lock (`path`, from invocation.lock_file) for the block; wait up to
    `wait` seconds for another holder, then fail."""
    fd = _open(path)
    try:
        deadline = time.monotonic() + wait
        announced = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
            who = _holder(fd)
            if time.monotonic() >= deadline:
                raise LockedError(
                    "%s is applying changes (lock %s); gave up after waiting %gs, nothing "
                    "was changed" % (who, path, wait),
                    hint="let it finish and run again, or wait longer: %s=600 fixenv apply"
                         % TIMEOUT_ENV)
            if not announced:
                say("%s is applying changes (lock %s); waiting up to %gs for it (%s)"
                    % (who, path, wait, TIMEOUT_ENV))
                announced = True
            time.sleep(POLL)
        if announced:
            say("the other fixenv finished; going on")
        # Who holds it, for the message a waiter prints. Informational only: the lock is flock.
        os.ftruncate(fd, 0)
        os.pwrite(fd, ("%d %s\n" % (os.getpid(), " ".join(sys.argv[:3]))).encode(), 0)
        yield path
    finally:
        os.close(fd)  # releases the flock


# --------------------------------------------------------------------------- package managers

# Lock files package managers take with fcntl(F_SETLK) (not flock(2): holding them with
# `flock` does not stop apt). `apt-get update` takes only the lists lock.
DPKG_LOCKS = ("/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/lock", "/var/cache/apt/archives/lock")
LISTS_LOCK = ("/var/lib/apt/lists/lock",)


def package_locks(argv: Sequence[str]) -> Tuple[str, ...]:
    """The lock files the package command `argv` will wait for."""
    program = _program(argv)
    if program in ("apt-get", "apt"):
        return LISTS_LOCK if "update" in argv else DPKG_LOCKS
    if program == "dpkg":
        return DPKG_LOCKS[:2]
    return ()
def _program(argv: Sequence[str]) -> str:
    """The package manager a command runs, looking through `sudo -n` and `env K=V`."""
    words = list(argv)
    while words:
        head = os.path.basename(words[0])
        if head == "sudo":
            words = [w for w in words[1:]]
            while words and words[0].startswith("-"):
                words = words[1:]
            continue
        if head == "env":
            words = words[1:]
            while words and ("=" in words[0] or words[0].startswith("-")):
                words = words[1:]
            continue
        return head
    return ""


def _fcntl_holder(path: str) -> Optional[int]:
    """The pid holding a conflicting fcntl lock on `path` (0 if unknown), or None when free,
    absent or unreadable. Read-only: F_GETLK takes nothing."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        if sys.platform.startswith("linux"):
            fmt = "hhqqi4x"  # struct flock on Linux/LP64: type, whence, start, len, pid
        else:  # pragma: no cover - BSD/macOS order: start, len, pid, type, whence
            return None
        query = struct.pack(fmt, fcntl.F_WRLCK, 0, 0, 0, 0)
        answer = fcntl.fcntl(fd, fcntl.F_GETLK, query)
        l_type, _w, _s, _l, pid = struct.unpack(fmt, answer)
        if l_type == fcntl.F_UNLCK:
            return None
        return pid if pid > 0 else 0
    except (OSError, struct.error):
        return None
    finally:
        os.close(fd)


def _name_of(pid: int) -> str:
    try:
        with open("/proc/%d/comm" % pid) as fh:
            return fh.read().strip()
    except OSError:
        return ""


def package_lock_held(argv: Sequence[str], root: str = "/") -> Optional[Tuple[str, int, str]]:
    """(lock path, pid, process name) when `argv` will have to wait for a package manager's
    lock another process holds right now; None otherwise."""
    for path in package_locks(argv):
        pid = _fcntl_holder(os.path.join(root, path.lstrip("/")))
        if pid is not None:
            return path, pid, _name_of(pid) if pid else ""
    return None


def package_wait_notice(argv: Sequence[str], wait: float) -> Optional[str]:
    held = package_lock_held(argv)
    if held is None:
        return None
    path, pid, name = held
    who = "process %d%s" % (pid, " (%s)" % name if name else "") if pid else "another process"
    return ("%s is held by %s; %s waits up to %gs for it (%s)"
            % (path, who, _program(argv), wait, TIMEOUT_ENV))
