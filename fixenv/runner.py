"""The one seam where fixenv starts processes.

Every probe, package-manager call and compiler run goes through a Runner. Commands are argv
lists, never shell strings. A missing executable is a result (rc 127), not a crash.

`Runner` runs things. `RecordingRunner` records every call and refuses any call marked
`mutating=True`: `plan` uses it, so planning cannot change the machine by construction.
"""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping, Optional, Sequence

from fixenv.errors import MutationRefused

LineCallback = Callable[[str], None]

NOT_FOUND_RC = 127
# After Ctrl-C, how long a running command may take to stop at a safe point (apt-get
# finishing a dpkg run) before it is killed.
STOP_GRACE = 300
TIMEOUT_RC = 124


@dataclass(frozen=True)
class Result:
    argv: tuple
    rc: int
    stdout: str
    stderr: str
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.rc == 0

    @property
    def output(self) -> str:
        """stdout and stderr together, for error messages."""
        both = (self.stdout.rstrip() + "\n" + self.stderr.rstrip()).strip()
        return both

    def tail(self, lines: int = 15) -> str:
        return "\n".join(self.output.splitlines()[-lines:])


def _check_argv(argv: Sequence[str]) -> tuple:
    if isinstance(argv, (str, bytes)) or not argv:
        raise TypeError("argv must be a non-empty list of strings, got %r" % (argv,))
    for a in argv:
        if not isinstance(a, str):
            raise TypeError("argv element is not a string: %r" % (a,))
    return tuple(argv)


# Programs that stop at a safe point on SIGINT and must get it alone, never their group: with
# no pty for dpkg (no /dev/pts in a chroot, Dpkg::Use-Pty=0) dpkg sits in apt-get's process
# group, and SIGINT to that group kills dpkg mid-unpack ("dpkg was interrupted, you must
# manually run 'dpkg --configure -a'"). apt-get itself catches SIGINT, lets the running dpkg
# finish and then stops; rpm-based managers block it during the transaction.
SAFE_POINT = frozenset(("apt-get", "apt", "aptitude", "dpkg", "dnf", "dnf5", "microdnf", "yum",
                        "zypper", "rpm", "pacman", "apk", "brew", "conda", "mamba",
                        "micromamba", "port"))
_SUDO_WITH_VALUE = frozenset(("-u", "-g", "-h", "-p", "-C", "-D", "-R", "-T", "-U"))


def program_of(argv: Sequence[str]) -> str:
    """The program doing the work, past `sudo [-n ...]` and `env [-i] K=V ...`: for
    `sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install ...` that is `apt-get`."""
    words = list(argv)
    i = 0
    while i < len(words):
        name = os.path.basename(words[i])
        if name == "sudo":
            i += 1
            while i < len(words) and words[i].startswith("-") and words[i] != "--":
                i += 2 if words[i] in _SUDO_WITH_VALUE else 1
            if i < len(words) and words[i] == "--":
                i += 1
            continue
        if name == "env":
            i += 1
            while i < len(words) and (words[i].startswith("-") or "=" in words[i]):
                i += 2 if words[i] in ("-u", "--unset", "-C", "--chdir") else 1
            continue
        return name
    return os.path.basename(words[-1]) if words else ""


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    """Signal the process group `proc` leads (it was started in a new session)."""
    try:
        os.killpg(proc.pid, sig)
    except OSError:
        try:
            proc.send_signal(sig)
        except OSError:
            pass


class Pending:
    """A started process whose result is collected later (for concurrent probes)."""

    def __init__(self, proc: Optional[subprocess.Popen], argv: tuple, started: float,
                 timeout: Optional[float], input: Optional[str] = None,
                 immediate: Optional[Result] = None):
        self._proc = proc
        self._argv = argv
        self._started = started
        self._timeout = timeout
        self._input = input
        self._result = immediate

    def discard(self) -> None:
        """Not needed after all (the command failed before it was read): stop it and reap it."""
        if self._result is not None or self._proc is None:
            return
        if self._proc.poll() is None:
            _signal_group(self._proc, signal.SIGKILL)
        self._proc.communicate()
        self._result = Result(self._argv, self._proc.returncode, "", "discarded", 0.0)

    def result(self) -> Result:
        if self._result is not None:
            return self._result
        assert self._proc is not None
        try:
            out, err = self._proc.communicate(self._input, timeout=self._timeout)
            rc = self._proc.returncode
        except subprocess.TimeoutExpired:
            # Kill the whole group: a grandchild (`sleep` in a script posing as python)
            # would otherwise hold the pipes open and communicate() would wait for it.
            _signal_group(self._proc, signal.SIGKILL)
            try:
                out, err = self._proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                out, err = "", ""
            rc = TIMEOUT_RC
            err = (err or "") + "\nfixenv: timed out after %ss" % self._timeout
        except BaseException as exc:  # Ctrl-C: the child is in its own session; pass it on
            proc = self._proc
            end = time.monotonic() + STOP_GRACE
            try:
                if program_of(self._argv) in SAFE_POINT:  # alone: see SAFE_POINT
                    proc.send_signal(signal.SIGINT)
                else:
                    _signal_group(proc, signal.SIGINT)  # what a terminal's Ctrl-C would do
                while True:
                    try:
                        proc.communicate(timeout=1)  # drains: it may write while stopping
                        break
                    except subprocess.TimeoutExpired:
                        if proc.poll() is not None:  # gone; a grandchild holds the pipes
                            _signal_group(proc, signal.SIGKILL)
                            break
                        if time.monotonic() > end:
                            raise
            except BaseException:  # a second Ctrl-C, or it would not stop: now
                _signal_group(proc, signal.SIGKILL)
                proc.wait()
            exc.fixenv_rc = proc.returncode  # type: ignore[attr-defined]
            raise
        self._result = Result(self._argv, rc, out or "", err or "",
                              time.monotonic() - self._started)
        return self._result


@dataclass
class Runner:
    """Runs argv lists. `env` overrides are merged over os.environ."""

    calls: List[tuple] = field(default_factory=list)

    def _env(self, env: Optional[Mapping[str, str]]) -> Optional[Dict[str, str]]:
        if env is None:
            return None
        merged = dict(os.environ)
        for k, v in env.items():
            if v is None:
                merged.pop(k, None)
            else:
                merged[k] = v
        return merged

    def start(self, argv: Sequence[str], *, mutating: bool = False,
              env: Optional[Mapping[str, str]] = None, timeout: Optional[float] = 120,
              input: Optional[str] = None, cwd: Optional[str] = None) -> Pending:
        """Start a process now; collect it with .result(). Used to run probes concurrently."""
        args = _check_argv(argv)
        self._before(args, mutating)
        started = time.monotonic()
        try:
            proc = subprocess.Popen(
                list(args), stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self._env(env), cwd=cwd,
                universal_newlines=True, errors="replace", start_new_session=True,
            )
        except (FileNotFoundError, PermissionError, NotADirectoryError, OSError) as exc:
            return Pending(None, args, started, timeout, immediate=Result(
                args, NOT_FOUND_RC, "", "%s: %s" % (args[0], exc.strerror or exc)))
        return Pending(proc, args, started, timeout, input)

    def run(self, argv: Sequence[str], *, mutating: bool = False,
            env: Optional[Mapping[str, str]] = None, timeout: Optional[float] = 120,
            input: Optional[str] = None, cwd: Optional[str] = None,
            on_line: Optional[LineCallback] = None) -> Result:
        """Run to completion. With on_line, output is streamed line by line as it comes."""
        if on_line is None:
            return self.start(argv, mutating=mutating, env=env, timeout=timeout,
                              input=input, cwd=cwd).result()
        args = _check_argv(argv)
        self._before(args, mutating)
        return self._stream(args, env, timeout, cwd, on_line)

    def _before(self, args: tuple, mutating: bool) -> None:
        self.calls.append(args)

    def passthrough(self, argv: Sequence[str], *, env: Optional[Mapping[str, str]] = None
                    ) -> int:
        """Run with this process's stdin/stdout/stderr (`fixenv exec`); returns the exit code
        (127 when the program cannot be started, 128+N when killed by signal N).

        Unlike `run`, the program stays in the terminal's foreground process group: it is the
        user's own program and may read the terminal, so Ctrl-C reaches it directly, as from
        a shell. fixenv, like a shell, ignores SIGINT while it waits."""
        args = _check_argv(argv)
        self._before(args, True)
        try:
            proc = subprocess.Popen(list(args), env=self._env(env))
        except OSError as exc:
            import sys
            sys.stderr.write("fixenv: %s: %s\n" % (args[0], exc.strerror or exc))
            return NOT_FOUND_RC
        previous = None
        try:
            try:
                previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
            except (ValueError, OSError):  # not the main thread
                previous = None
            rc = proc.wait()
        except KeyboardInterrupt:  # came before SIGINT was ignored: the child got it too
            rc = proc.wait()
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        return 128 - rc if rc < 0 else rc

    def _stream(self, args: tuple, env: Optional[Mapping[str, str]], timeout: Optional[float],
                cwd: Optional[str], on_line: LineCallback) -> Result:
        started = time.monotonic()
        try:
            # A session of its own: a terminal's Ctrl-C goes to its foreground process group,
            # and that must be fixenv alone. fixenv then decides what the command gets (see
            # below). No controlling terminal, stdin /dev/null: nothing can stop it with
            # SIGTTIN by reading the terminal (apt-get -y, sudo -n need no input).
            proc = subprocess.Popen(
                list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, env=self._env(env), cwd=cwd,
                universal_newlines=True, errors="replace", bufsize=1,
                start_new_session=True,
            )
        except OSError as exc:
            return Result(args, NOT_FOUND_RC, "", "%s: %s" % (args[0], exc.strerror or exc))
        lines: List[str] = []
        timed_out = threading.Event()

        def _kill() -> None:
            timed_out.set()
            proc.kill()

        timer = threading.Timer(timeout, _kill) if timeout else None
        if timer:
            timer.daemon = True
            timer.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append(line)
                on_line(line.rstrip("\n"))
            rc = proc.wait()
        except BaseException as exc:
            # Ctrl-C/SIGTERM: let the program stop at a safe point. A package manager gets
            # SIGINT alone (through sudo, which relays it): apt-get lets the running dpkg
            # finish, then stops; SIGINT to its group would kill dpkg too, and SIGTERM to
            # apt-get leaves "dpkg was interrupted, you must manually run 'dpkg --configure
            # -a'". Anything else gets SIGINT in its whole group, as from a terminal. A second
            # Ctrl-C, or STOP_GRACE seconds, ends the wait with SIGKILL to the group.
            name = program_of(args)
            on_line("fixenv: interrupted; letting %s stop at a safe point (Ctrl-C again "
                    "to kill it)" % name)
            def drain() -> None:  # it may write while stopping: keep its pipe flowing
                try:
                    assert proc.stdout is not None
                    for line in proc.stdout:
                        on_line(line.rstrip("\n"))
                except (OSError, ValueError):
                    pass

            reader = threading.Thread(target=drain, daemon=True)
            try:
                if name in SAFE_POINT:
                    proc.send_signal(signal.SIGINT)
                else:
                    _signal_group(proc, signal.SIGINT)
                reader.start()
                proc.wait(timeout=STOP_GRACE)
            except BaseException:
                _signal_group(proc, signal.SIGKILL)
                proc.kill()
                proc.wait()
            reader.join(2)  # not longer: a leftover grandchild may hold the pipe
            exc.fixenv_rc = proc.returncode  # type: ignore[attr-defined]
            raise
        finally:
            if timer:
                timer.cancel()
        err = ""
        if timed_out.is_set():
            rc = TIMEOUT_RC
            err = "fixenv: timed out after %ss" % timeout
        return Result(args, rc, "".join(lines), err, time.monotonic() - started)


@dataclass
class RecordingRunner(Runner):
    """Runs read-only probes, records everything, refuses anything that changes the machine."""

    def _before(self, args: tuple, mutating: bool) -> None:
        self.calls.append(args)
        if mutating:
            raise MutationRefused(
                "refused to run a changing command while planning: %s" % " ".join(args))
