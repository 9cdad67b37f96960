"""One error base class and the documented exit codes.

Every error fixenv raises on purpose is a FixenvError: the CLI prints its message as one
line (plus an optional hint) and exits with its code. Anything else is a bug (exit 70).
"""
from __future__ import annotations

from typing import Final, Optional

# Exit codes (documented in README.md, "Exit codes").
OK: Final = 0
FAILED: Final = 1  # a step or the verification failed
USAGE: Final = 2  # bad command-line usage (Click's own code)
INPUT: Final = 3  # bad input: playbook, facts file, --python target, log file
PRIVILEGE: Final = 4  # root is needed and neither root nor `sudo -n` is available
NOT_CONFIRMED: Final = 5  # apply needs --yes (no TTY) or the user said no
LOCKED: Final = 6  # another fixenv or the package manager held a lock past the timeout
CHANGES_PENDING: Final = 10  # plan --exit-code: there is something to do
NOT_RECOGNISED: Final = 11  # explain: the log shows no failure fixenv knows
BLOCKED: Final = 12  # a step has no known fix on this machine (plan --exit-code, apply)
INTERNAL: Final = 70  # a bug in fixenv (EX_SOFTWARE); rerun with --debug
INTERRUPTED: Final = 130  # Ctrl-C


class FixenvError(Exception):
    """An expected failure: one line for the user, an exit code, and what to do next."""

    exit_code: int = FAILED

    def __init__(self, message: str, *, hint: Optional[str] = None, exit_code: Optional[int] = None,
                 calm: bool = False):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.calm = calm  # an answer, not an error: printed as `fixenv: ...` without `error:`
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class InputError(FixenvError):
    """Bad input: a playbook, a facts file, a target interpreter, a log."""

    exit_code = INPUT


class UsageError(FixenvError):
    exit_code = USAGE


class PrivilegeError(FixenvError):
    exit_code = PRIVILEGE


class NotConfirmed(FixenvError):
    exit_code = NOT_CONFIRMED


class LockedError(FixenvError):
    exit_code = LOCKED


class MutationRefused(FixenvError):
    """The recording runner was asked to run a command that changes the machine."""

    exit_code = INTERNAL


class StepFailed(FixenvError):
    exit_code = FAILED
