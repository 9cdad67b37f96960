"""Serve the hot commands without importing Typer, from the one declaration (clispec.py).

`fixenv plan`, `apply`, `verify` and `detect` run on every boot, CI job and image build.
Importing Typer (and through it Click, and in Typer >= 0.29 pydantic) costs ~80 ms and
~10 MiB on a 2-core machine, more than the work itself. So the console script first tries
this parser. Its tables are *derived* from fixenv/clispec.py, the declaration the Typer app
is built from too, so the two cannot drift; it calls the same function with the same
arguments. Anything it does not understand — --help, --version, another command, an
unknown option, a missing value — goes to the Typer app unchanged, so usage errors and help
are Typer's.

Understood forms: `--opt value`, `--opt=value`, `-p value`, `-pVALUE`, `-p=VALUE`, combined
short flags (`-yq`), `--events -`, and the global flags before or after the command.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

from fixenv import clispec

Parsed = Tuple[str, Dict[str, Any], Dict[str, bool]]


def _tables(cmd: clispec.Cmd) -> Tuple[Dict[str, clispec.Opt], Dict[str, clispec.Opt]]:
    flags: Dict[str, clispec.Opt] = {}
    values: Dict[str, clispec.Opt] = {}
    for o in cmd.options:
        for f in o.flags:
            (values if o.value else flags)[f] = o
    return flags, values


GLOBAL: Dict[str, str] = {f: o.dest for o in clispec.GLOBAL for f in o.flags}
FAST: Dict[str, clispec.Cmd] = {c.name: c for c in clispec.COMMANDS if c.fast}


def parse(argv: Sequence[str]) -> Optional[Parsed]:
    """(command, keyword arguments, global flags), or None to let Typer handle argv."""
    state: Dict[str, bool] = {}
    i = 0
    while i < len(argv) and argv[i] in GLOBAL:
        state[GLOBAL[argv[i]]] = True
        i += 1
    if i >= len(argv) or argv[i] not in FAST:
        return None
    cmd = FAST[argv[i]]
    flags, values = _tables(cmd)
    short_flags: Dict[str, Optional[clispec.Opt]] = {
        f[1]: o for f, o in flags.items() if len(f) == 2}
    short_flags.update({f[1]: None for f in GLOBAL if len(f) == 2})
    kwargs: Dict[str, Any] = {}
    i += 1
    while i < len(argv):
        arg = argv[i]
        if arg in flags:
            kwargs[flags[arg].dest] = True
        elif arg in GLOBAL:
            state[GLOBAL[arg]] = True
        elif arg in values:
            o = values[arg]
            nxt = argv[i + 1] if i + 1 < len(argv) else None
            if nxt is None or (nxt.startswith("-") and nxt != "-"):
                if o.bare is None:
                    return None  # let Typer say what is missing
                kwargs[o.dest] = o.bare
            else:
                kwargs[o.dest] = nxt
                i += 1
        elif arg.startswith("--") and "=" in arg and arg.split("=", 1)[0] in values:
            name, value = arg.split("=", 1)
            kwargs[values[name].dest] = value
        elif len(arg) > 2 and arg[0] == "-" and arg[1] != "-":
            head = "-" + arg[1]
            if head in values:  # -pVALUE / -p=VALUE
                kwargs[values[head].dest] = arg[2:][1:] if arg[2] == "=" else arg[2:]
            elif all(ch in short_flags for ch in arg[1:]):  # -yq
                for ch in arg[1:]:
                    opt = short_flags[ch]
                    if opt is None:
                        state[GLOBAL["-" + ch]] = True
                    else:
                        kwargs[opt.dest] = True
            else:
                return None
        else:
            return None
        i += 1
    return cmd.name, kwargs, state


def run(argv: List[str]) -> Optional[int]:
    """Run argv if this parser understands it; None means "use the Typer app"."""
    parsed = parse(argv)
    if parsed is None:
        return None
    name, kwargs, state = parsed
    from fixenv.commands.core import invoke

    return invoke(clispec.BY_NAME[name], kwargs, clispec.Settings(**state))
