"""Stopping cleanly: Click/Typer's own exceptions mapped to one line and an exit code, and
SIGTERM/SIGHUP treated like Ctrl-C while `apply` changes the machine.

Why SIGTERM too: provisioning scripts stop a slow run with `timeout` (SIGTERM), CI runners
with SIGTERM then SIGKILL. Python's default for SIGTERM kills the process on the spot, before
`finally:` blocks run, so a temp file or the lock file's owner line could be left behind.
Raising KeyboardInterrupt instead sends the run through the same path as Ctrl-C: the
running command is stopped, no file is half-written, the recap is printed, exit 130.
"""
from __future__ import annotations

import contextlib
import signal
import sys
from typing import Iterator, Optional

from fixenv import errors



# What users of Ansible (--check, --diff), Terraform and make (-n) type for "show, don't do"
DRY_RUN_OPTIONS = frozenset(("--check", "--dry-run", "--dryrun", "-n", "--diff", "--noop",
                             "--what-if", "--simulate", "-s"))


def _echo(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def click_exit(exc: BaseException) -> Optional[int]:
    """The exit code for an exception Click or Typer raised, printing its one-line message;
    None when `exc` is not one of theirs (then it is a bug in fixenv)."""
    # Imported here, not at the top: `apply` imports this module for its signal handling,
    # and the typer-free fast path (fixenv/fastpath.py) must not pay for Click.
    import typer

    try:  # Typer >= 0.20 vendors Click as typer._click; older Typers depend on click itself.
        from typer._click.exceptions import ClickException, UsageError
    except ImportError:  # pragma: no cover - depends on the installed Typer
        from click.exceptions import ClickException, UsageError  # type: ignore[no-redef]

    if isinstance(exc, typer.Exit) or type(exc).__name__ == "Exit":
        code = getattr(exc, "exit_code", 0)
        return code if isinstance(code, int) else 0
    if isinstance(exc, typer.Abort) or type(exc).__name__ == "Abort":
        _echo("fixenv: aborted")
        return errors.INTERRUPTED
    if isinstance(exc, UsageError):
        if type(exc).__name__ == "NoArgsIsHelpError":
            exc.show()  # the help text itself
            return errors.USAGE
        ctx = getattr(exc, "ctx", None)
        where = ctx.command_path if ctx is not None else "fixenv"
        option = getattr(exc, "option_name", None)
        if where.endswith(" apply") and option in DRY_RUN_OPTIONS:
            # Ansible's --check, Terraform's plan, make -n: fixenv's is a command of its own
            _echo("fixenv: error: apply has no %s option: it changes the machine" % option)
            _echo("fixenv: hint: `fixenv plan` shows what apply would do and changes nothing "
                  "(`fixenv plan --exit-code` exits 10 when changes are pending)")
            return errors.USAGE
        _echo("fixenv: error: %s" % exc.format_message())
        _echo("fixenv: hint: see `%s --help`" % where)
        return errors.USAGE
    if isinstance(exc, ClickException):
        _echo("fixenv: error: %s" % exc.format_message())
        return getattr(exc, "exit_code", errors.USAGE) or errors.USAGE
    return None


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt("signal %d" % signum)


@contextlib.contextmanager
def terminate_is_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise KeyboardInterrupt like Ctrl-C does."""
    previous = {}
    for name in ("SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is None:
            continue
        try:
            previous[sig] = signal.signal(sig, _raise_interrupt)
        except (ValueError, OSError):  # not the main thread, or not allowed here
            pass
    try:
        yield
    finally:
        for sig, handler in previous.items():
            try:
                signal.signal(sig, handler)
            except (ValueError, OSError):
                pass
