"""Run a command the way a terminal does: in the foreground process group of a
pseudo-terminal (its own session, the pty as controlling terminal), and type into it.

Writing ``\\x03`` to the master is a real Ctrl-C: the tty line discipline sends SIGINT to the
whole foreground process group, exactly as a terminal emulator or tmux does -- unlike
``os.kill(pid, SIGINT)``, which reaches one process only.
"""
from __future__ import annotations

import errno
import fcntl
import os
import re
import select
import signal
import struct
import termios
import time
from typing import List, Mapping, Optional, Sequence

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-B]|\x1b[=>]")


class PtySession:
    """One child in the foreground of a fresh pty, ``cols`` columns wide."""

    def __init__(self, argv: Sequence[str], *, cols: int = 80, rows: int = 24,
                 env: Optional[Mapping[str, str]] = None) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        pid = os.fork()
        if pid == 0:  # child: new session, the pty its controlling terminal, fds 0-2 on it
            try:
                os.close(master)
                os.setsid()
                fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
                for fd in (0, 1, 2):
                    os.dup2(slave, fd)
                if slave > 2:
                    os.close(slave)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                if env is None:
                    os.execvp(argv[0], list(argv))
                os.execvpe(argv[0], list(argv), dict(env))
            finally:
                os._exit(127)
        os.close(slave)
        self.pid = pid
        self.fd = master
        self.raw = b""
        self.returncode: Optional[int] = None

    @property
    def text(self) -> str:
        """Everything the terminal showed so far, escape codes removed."""
        return ANSI.sub("", self.raw.decode("utf-8", "replace")).replace("\r", "")

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(self.fd, 65536)
        except OSError as exc:  # EIO: every slave fd closed (the child is gone)
            if exc.errno != errno.EIO:
                raise
            return False
        if not chunk:
            return False
        self.raw += chunk
        return True

    def expect(self, pattern: str, timeout: float = 600) -> None:
        """Read until ``pattern`` (a regex) shows in the output; AssertionError otherwise."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while not rx.search(self.text):
            if time.monotonic() > deadline or not self._read(0.2):
                if rx.search(self.text):
                    return
                raise AssertionError("%r not seen; output so far:\n%s"
                                     % (pattern, self.text[-4000:]))

    def send(self, data: bytes) -> None:
        os.write(self.fd, data)

    def wait(self, timeout: float = 600) -> int:
        """Read until the child exits; its exit code (128+N when killed by signal N)."""
        deadline = time.monotonic() + timeout
        while self.returncode is None:
            alive = self._read(0.2)
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                while self._read(0.2) and len(select.select([self.fd], [], [], 0)[0]):
                    pass
                self.returncode = (128 + os.WTERMSIG(status) if os.WIFSIGNALED(status)
                                   else os.WEXITSTATUS(status))
                break
            if not alive:
                time.sleep(0.05)
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                raise AssertionError("still running after %ss:\n%s" % (timeout, self.text[-4000:]))
        os.close(self.fd)
        return self.returncode

    def lines(self) -> List[str]:
        return self.text.splitlines()


def chroot_argv(merged: str, argv: Sequence[str], *, path: str, home: str = "/root",
                userspec: Optional[str] = None, extra_env: Mapping[str, str] = ()) -> List[str]:
    """``chroot [--userspec] ROOT env -i VARS... argv``: chroot and env exec, so the last
    program keeps the pid that leads the pty's foreground process group."""
    full = ["chroot"] + (["--userspec=" + userspec] if userspec else []) + [merged]
    env = {"PATH": path, "HOME": home, "LANG": "C.UTF-8", "TERM": "xterm-256color"}
    env.update(dict(extra_env))
    return full + ["/usr/bin/env", "-i"] + ["%s=%s" % kv for kv in env.items()] + list(argv)
