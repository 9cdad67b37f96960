"""The Typer app, built from the one declaration of the command line (fixenv/clispec.py).

Each command is generated from its `Cmd`: its options become Typer options with the same
flags, defaults and help; the global flags are accepted before the command and after it;
the command calls the same function through `core.invoke` as the fast path does, so
errors map to exit codes in one place. Exit codes: fixenv/errors.py and README.md.
"""
from __future__ import annotations

import inspect
import sys
from typing import Any, Callable, Dict, List, Optional

import typer

from fixenv import __version__, clispec
from fixenv.commands import core

app = typer.Typer(
    add_completion=True, no_args_is_help=True, rich_markup_mode=None,
    pretty_exceptions_enable=False,
    help="Make Python.h reachable for the Python you run, install a compiler, and prove it.",
)


def _version(value: bool) -> None:
    if value:
        typer.echo("fixenv %s" % __version__)
        raise typer.Exit(0)


def _typer_option(o: clispec.Opt) -> Any:
    return typer.Option(o.default, *o.flags, help=o.help, metavar=o.metavar)


@app.callback()
def _main(
    ctx: typer.Context,
    debug: bool = typer.Option(False, "--debug", help=clispec.GLOBAL[0].help),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help=clispec.GLOBAL[1].help),
    quiet: bool = typer.Option(False, "--quiet", "-q", help=clispec.GLOBAL[2].help),
) -> None:
    ctx.obj = {"debug": debug, "verbose": verbose, "quiet": quiet}


def _make(cmd: clispec.Cmd) -> Callable[..., None]:
    """A Typer command function for `cmd`, with a signature made from its options."""
    globals_after = {"_" + o.dest: o for o in clispec.GLOBAL}

    def command(ctx: typer.Context, **kwargs: Any) -> None:
        before = dict(ctx.obj or {})
        after = {o.dest: bool(kwargs.pop("_" + o.dest, False)) for o in clispec.GLOBAL}
        flags = {k: bool(before.get(k)) or v for k, v in after.items()}
        if cmd.extra_args:
            kwargs["args"] = list(ctx.args)
        raise typer.Exit(core.invoke(cmd, kwargs, clispec.Settings(**flags)))

    params = [inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                annotation=typer.Context)]
    annotations: Dict[str, Any] = {"ctx": typer.Context, "return": None}
    if cmd.argument is not None:
        a = cmd.argument
        params.append(inspect.Parameter(a.dest, inspect.Parameter.KEYWORD_ONLY,
                                        default=typer.Argument(a.default, metavar=a.metavar,
                                                               help=a.help),
                                        annotation=Optional[str]))
        annotations[a.dest] = Optional[str]
    for o in cmd.options:
        kind = Optional[str] if o.value else bool
        params.append(inspect.Parameter(o.dest, inspect.Parameter.KEYWORD_ONLY,
                                        default=_typer_option(o), annotation=kind))
        annotations[o.dest] = kind
    for dest, o in globals_after.items():
        params.append(inspect.Parameter(dest, inspect.Parameter.KEYWORD_ONLY,
                                        default=_typer_option(o), annotation=bool))
        annotations[dest] = bool
    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = annotations
    command.__name__ = cmd.name
    command.__doc__ = cmd.help
    return command


for _cmd in clispec.COMMANDS:
    settings = ({"allow_extra_args": True, "ignore_unknown_options": True}
                if _cmd.extra_args else {})
    app.command(_cmd.name, help=_cmd.help, short_help=_cmd.help,
                context_settings=settings)(_make(_cmd))


def _bare_values(args: List[str]) -> List[str]:
    """An option whose value may be left out (`--consumers` alone = all): put it in."""
    bare = {f: o.bare for c in clispec.COMMANDS for o in c.options if o.bare for f in o.flags}
    out: List[str] = []
    for i, a in enumerate(args):
        out.append(a)
        if a in bare and (i + 1 >= len(args) or args[i + 1].startswith("-")):
            out.append(str(bare[a]))
    return out


def run(argv: Optional[List[str]] = None) -> int:
    """Entry point: run the app and map every outcome to a documented exit code."""
    args = _bare_values(list(sys.argv[1:] if argv is None else argv))
    debug = "--debug" in args
    try:
        rc = app(args=args, prog_name="fixenv", standalone_mode=False)
        # with standalone_mode=False Click returns the code of a typer.Exit
        return rc if isinstance(rc, int) else 0
    except BaseException as exc:  # noqa: BLE001 - usage errors and the like: one mapping
        return core.exit_code_for(exc, debug)
