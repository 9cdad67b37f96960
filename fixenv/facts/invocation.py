"""fixenv's own settings, from the environment it was started with: read here, with the rest
of detection, and nowhere else (planning gets them as facts, the executor and the renderers
as values). Every variable fixenv honours is in this list:

    FIXENV_LOCK_TIMEOUT  seconds `apply` waits for another fixenv, and apt-get for the dpkg
                         lock (a number >= 0, default 120; anything else is a usage error)
    FIXENV_LOCK_FILE     fixenv's own lock file (default: /run/fixenv.lock for root, else
                         $XDG_RUNTIME_DIR/fixenv.lock, else <tmp>/fixenv-<uid>.lock)
    NO_COLOR             no colour, no symbols, no live progress (no-color.org: set and not
                         empty)
    FORCE_COLOR          colour even when not a terminal (NO_COLOR wins)
    TERM=dumb            not a terminal for drawing purposes
    COLUMNS              the terminal's width (wins over the size the terminal reports)

Facts group ``invocation`` (always this run's, even with --facts: they are settings of the
run, not of the machine described)::

    lock_timeout: int    what the apt-get commands of the plan are told to wait
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional

from fixenv import errors

TIMEOUT_ENV = "FIXENV_LOCK_TIMEOUT"
FILE_ENV = "FIXENV_LOCK_FILE"
DEFAULT_TIMEOUT = 120


def _env(environ: Optional[Mapping[str, str]]) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def lock_timeout(environ: Optional[Mapping[str, str]] = None) -> float:
    """Seconds to wait for a lock: $FIXENV_LOCK_TIMEOUT (a number >= 0), else 120."""
    raw = _env(environ).get(TIMEOUT_ENV, "")
    if not raw.strip():
        return float(DEFAULT_TIMEOUT)
    try:
        value = float(raw)
    except ValueError:
        raise errors.UsageError("%s=%r is not a number of seconds" % (TIMEOUT_ENV, raw),
                                hint="e.g. %s=300 (0 means do not wait)" % TIMEOUT_ENV)
    if value < 0 or value != value:
        raise errors.UsageError("%s=%r must be 0 or more seconds" % (TIMEOUT_ENV, raw))
    return value


def lock_file(environ: Optional[Mapping[str, str]] = None) -> str:
    """Where fixenv's own lock lives (see the list above)."""
    env = _env(environ)
    override = env.get(FILE_ENV)
    if override:
        return override
    if hasattr(os, "geteuid") and os.geteuid() == 0 and os.path.isdir("/run"):
        return "/run/fixenv.lock"
    runtime = env.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime):
        return os.path.join(runtime, "fixenv.lock")
    import tempfile

    uid = os.geteuid() if hasattr(os, "geteuid") else 0
    return os.path.join(tempfile.gettempdir(), "fixenv-%d.lock" % uid)


def detect(environ: Optional[Mapping[str, str]] = None) -> Dict[str, Any]:
    """The ``invocation`` facts group."""
    return {"lock_timeout": int(round(lock_timeout(environ)))}


@dataclass(frozen=True)
class Terminal:
    """How output is drawn, from NO_COLOR, FORCE_COLOR, TERM and COLUMNS."""

    no_color: bool = False
    force_color: bool = False
    dumb: bool = False
    columns: Optional[int] = None


def terminal(environ: Optional[Mapping[str, str]] = None) -> Terminal:
    env = _env(environ)
    cols = env.get("COLUMNS", "")
    # no-color.org: "present and not an empty string"
    return Terminal(no_color=bool(env.get("NO_COLOR", "")),
                    force_color=bool(env.get("FORCE_COLOR", "")),
                    dumb=env.get("TERM") == "dumb",
                    columns=int(cols) if cols.isdigit() and int(cols) > 0 else None)
