"""One outcome model: how a step ended, why, and the exit code — decided here, once.

The executor (fixenv/executor.py) gives every step of the plan one StepOutcome; a failed one
carries a `cause` classified from the command's output by `classify`. The exit code of an
apply (`exit_code`), the recap, doctor and the event stream's `run_end` all derive from
the same Recap through this module, so they cannot disagree.

Causes (StepOutcome.cause, `--json` `steps[].cause`):

    lock              a package manager's lock stayed busy past FIXENV_LOCK_TIMEOUT  -> 6
    sudo-refused      `sudo -n` would not run the command without a password         -> 4
    privilege         root is needed and there is neither root nor `sudo -n`          -> 4
    interrupted       Ctrl-C / SIGTERM                                                -> 130
    dpkg-interrupted  an earlier dpkg run was cut off (`dpkg --configure -a` first)   -> 1
    network           the package manager could not reach its repositories            -> 1
    package-missing   the package manager does not know a package                     -> 1
    file              a file could not be written                                     -> 1
    command           any other non-zero exit                                         -> 1
"""
from __future__ import annotations

import re
from typing import Final, Mapping, Optional, Sequence, Tuple

from fixenv import errors

LOCK: Final = "lock"
SUDO_REFUSED: Final = "sudo-refused"
PRIVILEGE: Final = "privilege"
INTERRUPTED: Final = "interrupted"
DPKG_INTERRUPTED: Final = "dpkg-interrupted"
NETWORK: Final = "network"
PACKAGE_MISSING: Final = "package-missing"
FILE: Final = "file"
COMMAND: Final = "command"

# Output patterns, most specific first. Each is what the real tool prints.
_PATTERNS: Tuple[Tuple[str, "re.Pattern[str]"], ...] = (
    (LOCK, re.compile(r"Could not get lock|Unable to acquire the dpkg frontend lock|"
                      r"Unable to lock directory|dpkg frontend lock was locked by another "
                      r"process|dpkg status database is locked by another process|"
                      r"Waiting for process with pid \d+ to finish|"  # dnf
                      r"System management is locked by the application|"  # zypper
                      r"unable to lock database|"  # pacman
                      r"Unable to lock database: Resource temporarily unavailable")),  # apk
    (SUDO_REFUSED, re.compile(r"sudo: (a password is required|a terminal is required|"
                              r"sorry, you must have a tty)|is not in the sudoers file|"
                              r"is not allowed to execute")),
    (DPKG_INTERRUPTED, re.compile(r"dpkg was interrupted, you must manually run")),
    (NETWORK, re.compile(r"Temporary failure resolving|Could not resolve|Failed to fetch|"
                         r"Could not connect to|Connection timed out|Network is unreachable|"
                         r"Curl error|Cannot download repomd|Failed to download metadata|"
                         r"Download \(curl\) error|Failed to retrieve|"
                         r"temporary error \(try again later\)")),
    (PACKAGE_MISSING, re.compile(r"Unable to locate package|has no installation candidate|"
                                 r"No match for argument|No package .* available|"
                                 r"not found in package names|unable to select packages|"
                                 r"target not found|No available formula|"
                                 r"PackagesNotFoundError")),
)

SUDO_REFUSED_RE = dict(_PATTERNS)[SUDO_REFUSED]
LOCK_RE = dict(_PATTERNS)[LOCK]


def classify(output: str) -> str:
    """The cause of a failed command, from what it printed."""
    for cause, pattern in _PATTERNS:
        if pattern.search(output or ""):
            return cause
    return COMMAND


def is_sudo_refusal(output: str) -> bool:
    return bool(SUDO_REFUSED_RE.search(output or ""))


def is_lock_failure(output: str) -> bool:
    return bool(LOCK_RE.search(output or ""))


def advice(cause: str, *, lock_env: str = "", lock_timeout: float = 0.0,
           root_commands: Sequence[str] = ()) -> str:
    """What the recap says before the command's own error, for a cause."""
    if cause == LOCK:
        return ("the package manager's lock stayed busy past %s=%gs; "
                % (lock_env, lock_timeout))
    if cause == DPKG_INTERRUPTED:
        return ("an earlier dpkg run was cut off; repair it first with `dpkg --configure -a` "
                "(as root), then run fixenv again; ")
    if cause == SUDO_REFUSED:
        return ("sudo refused to run it without a password; run these yourself, then fixenv "
                "again: %s. " % "; ".join(root_commands))
    if cause == NETWORK:
        return "the package manager could not reach its repositories (network or mirror); "
    if cause == PACKAGE_MISSING:
        return "the package manager does not know a package fixenv asked for; "
    return ""


# ----------------------------------------------------------------------------- exit codes

_CODE: Mapping[str, int] = {
    LOCK: errors.LOCKED,
    SUDO_REFUSED: errors.PRIVILEGE,
    PRIVILEGE: errors.PRIVILEGE,
    INTERRUPTED: errors.INTERRUPTED,
}


def exit_code(recap: object) -> int:
    """THE exit code of an apply, from its recap: 130 interrupted, 6 a lock timed out,
    4 sudo refused, 1 a step or the verification failed, 12 a step is blocked (no known fix
    here), else 0."""
    if getattr(recap, "interrupted", False):
        return errors.INTERRUPTED
    steps = list(getattr(recap, "steps", ()))
    for s in steps:
        if getattr(s, "status", "") == "failed":
            return _CODE.get(getattr(s, "cause", None) or COMMAND, errors.FAILED)
    if any(getattr(s, "status", "") == "blocked" for s in steps):
        return errors.BLOCKED
    verify = getattr(recap, "verify", None)
    if verify is not None and not verify.ok:
        return errors.FAILED
    return errors.OK


def exception_code(exc: BaseException) -> Optional[int]:
    """The exit code for an expected failure or Ctrl-C; None for anything else (a bug)."""
    if isinstance(exc, errors.FixenvError):
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        return errors.INTERRUPTED
    return None
