"""Serve the hot commands without importing Typer.

`fixenv plan`, `apply`, `verify` and `detect` run on every boot, CI job and image build.
Importing Typer (and through it Click, and in Typer >= 0.29 pydantic) costs ~80 ms and
~10 MiB on a 2-core machine, more than the work itself. So the console script first tries
this parser: it understands exactly the options below and calls the same functions the
Typer commands call (fixenv/commands/core.py). Anything else — --help, --version, another
command, an option it does not know, a missing value — goes to the Typer app unchanged, so
usage errors and help are Typer's. tests/unit/test_fastpath.py checks that these tables
match the Typer commands' options and defaults.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

# command -> (flags: option -> parameter, options with a value: option -> parameter)
COMMANDS: Dict[str, Tuple[Dict[str, str], Dict[str, str]]] = {
    "detect": ({"--json": "as_json"},
               {"--python": "python", "-p": "python"}),
    "plan": ({"--dry-run": "dry_run", "--json": "as_json", "--exit-code": "exit_code",
              "--rootless": "rootless"},
             {"--python": "python", "-p": "python", "--facts": "facts_file",
              "--playbook": "playbook", "--format": "fmt"}),
    "apply": ({"--yes": "yes", "-y": "yes", "--json": "as_json", "--jsonl": "jsonl",
               "--rootless": "rootless"},
              {"--python": "python", "-p": "python", "--playbook": "playbook",
               "--events": "events", "--consumers": "consumers"}),
    "verify": ({"--json": "as_json"},
               {"--python": "python", "-p": "python", "--consumers": "consumers"}),
}
# -v/-q are accepted after these commands too (as the Typer app does)
VERBOSITY_AFTER = {"plan", "apply", "verify"}
GLOBAL = {"--debug": "debug", "--verbose": "verbose", "-v": "verbose", "--quiet": "quiet",
          "-q": "quiet"}


def parse(argv: Sequence[str]) -> Optional[Tuple[str, Dict[str, Any], Dict[str, bool]]]:
    """(command, keyword arguments, global flags), or None to let Typer handle argv."""
    state: Dict[str, bool] = {}
    i = 0
    while i < len(argv) and argv[i] in GLOBAL:
        state[GLOBAL[argv[i]]] = True
        i += 1
    if i >= len(argv) or argv[i] not in COMMANDS:
        return None
    command = argv[i]
    flags, values = COMMANDS[command]
    kwargs: Dict[str, Any] = {}
    i += 1
    while i < len(argv):
        arg = argv[i]
        if arg in flags:
            kwargs[flags[arg]] = True
        elif command in VERBOSITY_AFTER and arg in ("-v", "--verbose", "-q", "--quiet"):
            state[GLOBAL[arg]] = True
        elif arg in values:
            if i + 1 >= len(argv) or argv[i + 1].startswith("-"):
                return None  # let Typer say what is missing
            kwargs[values[arg]] = argv[i + 1]
            i += 1
        elif arg.startswith("--") and "=" in arg and arg.split("=", 1)[0] in values:
            name, value = arg.split("=", 1)
            kwargs[values[name]] = value
        else:
            return None
        i += 1
    return command, kwargs, state


def run(argv: List[str]) -> Optional[int]:
    """Run argv if this parser understands it; None means "use the Typer app"."""
    if "--consumers" in argv:  # a bare --consumers means all of them
        from fixenv.consumers import bare_flag

        argv = bare_flag(argv)
    parsed = parse(argv)
    if parsed is None:
        return None
    command, kwargs, state = parsed
    from fixenv.commands import core

    core.STATE.update(state)
    func: Callable[..., int] = getattr(core, command)
    try:
        return func(**kwargs)
    except BaseException as exc:  # noqa: BLE001 - mapped exactly as fixenv.cli.run does
        if isinstance(exc, SystemExit):
            code = exc.code
            return code if isinstance(code, int) else (0 if code is None else 1)
        code = core.report(exc, bool(state.get("debug")))
        if code is not None:
            return code
        if state.get("debug") or not isinstance(exc, Exception):
            raise
        return core.internal(exc)
