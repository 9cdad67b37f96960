"""The command line: parse, call the engine, render, map errors to exit codes.

Heavy modules are imported inside the commands that need them, so `plan` stays fast.
Exit codes: see fixenv/errors.py and README.md.
"""
from __future__ import annotations

import sys
from typing import Any, List, Optional

import typer

from fixenv import __version__, errors

app = typer.Typer(
    add_completion=True, no_args_is_help=True, rich_markup_mode=None,
    pretty_exceptions_enable=False,
    help="Make Python.h reachable for the Python you run, install a compiler, and prove it.",
)

from fixenv.commands import core

STATE = core.STATE  # shared with the fast path (fixenv/fastpath.py)

PythonOpt = typer.Option(None, "--python", "-p", metavar="PATH",
                         help="Target interpreter (default: the active venv, else python3).")
JsonOpt = typer.Option(False, "--json", help="Print JSON instead of text.")
PlaybookOpt = typer.Option(None, "--playbook", metavar="NAME|PATH",
                           help="A bundled playbook name or a path (default: python-headers).")


def _flag(name: str):
    def set_flag(value: bool) -> None:
        if value:
            STATE[name] = True
    return set_flag


# -v/-q also after the command (`fixenv doctor -q`), not only before it (`fixenv -q doctor`)
VerboseOpt = typer.Option(False, "--verbose", "-v", callback=_flag("verbose"), expose_value=False,
                          help="Show more: commands, output lines, details.")
QuietOpt = typer.Option(False, "--quiet", "-q", callback=_flag("quiet"), expose_value=False,
                        help="Show only problems and the result.")


def _version(value: bool) -> None:
    if value:
        typer.echo("fixenv %s" % __version__)
        raise typer.Exit(0)


@app.callback()
def _main(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
    verbose: bool = typer.Option(False, "--verbose", "-v",
                                 help="Show more: commands, output lines, details."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Show only problems and the result."),
) -> None:
    STATE["debug"] = debug
    STATE["verbose"], STATE["quiet"] = verbose, quiet


def _out(data: Any, as_json: bool, text: str) -> None:
    if as_json:
        core.out_json(data)
    else:
        core.echo(text)


def _facts(python: Optional[str]):
    return core.gather_facts(python)


@app.command()
def detect(python: Optional[str] = PythonOpt, as_json: bool = JsonOpt) -> None:
    """Show the facts fixenv plans from (OS, managers, target Python, compilers)."""
    raise typer.Exit(core.detect(python, as_json))


@app.command()
def playbooks(as_json: bool = JsonOpt) -> None:
    """List the bundled playbooks."""
    from fixenv.engine import bundled, load_playbook

    rows = []
    for name, path in sorted(bundled().items()):
        pb = load_playbook(path)
        rows.append({"name": name, "path": path, "description": pb.description,
                     "steps": [s.id for s in pb.steps]})
    _out(rows, as_json, "\n".join("%-16s %s" % (r["name"], r["description"]) for r in rows))


ConsumersOpt = typer.Option(None, "--consumers", metavar="[all|NAMES]",
                            help="Also build with the consumers the target has: torch.compile, "
                                 "Triton, pip, cffi, Cython (all found, or e.g. torch,pip).")
RootlessOpt = typer.Option(False, "--rootless",
                           help="Fetch headers without root into the user's data dir and set "
                                "CPATH (automatic when not root and `sudo -n` is refused).")


def _plan(python: Optional[str], facts_file: Optional[str], playbook: Optional[str],
          rootless: bool = False):
    return core.plan_for(python, facts_file, playbook, rootless)


@app.command()
def plan(
    dry_run: bool = typer.Option(False, "--dry-run", help="Accepted; plan never changes anything."),
    python: Optional[str] = PythonOpt,
    facts_file: Optional[str] = typer.Option(None, "--facts", metavar="FILE",
                                             help="Plan for the machine this facts JSON describes."),
    playbook: Optional[str] = PlaybookOpt,
    as_json: bool = JsonOpt,
    exit_code: bool = typer.Option(False, "--exit-code",
                                   help="Exit 10 when changes are pending, 0 when none."),
    fmt: str = typer.Option("text", "--format", metavar="text|json|shell",
                            help="text, json (= --json), or shell: a POSIX sh script that does "
                                 "what apply would."),
    _verbose: bool = VerboseOpt, _quiet: bool = QuietOpt,
    rootless: bool = RootlessOpt,
) -> None:
    """Show what apply would do, step by step. Changes nothing."""
    raise typer.Exit(core.plan(dry_run=dry_run, python=python, facts_file=facts_file,
                               playbook=playbook, as_json=as_json, exit_code=exit_code, fmt=fmt,
                               rootless=rootless))


def _confirm(yes: bool, n: int) -> None:
    core.confirm(yes, n)


@app.command()
def apply(
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before changing things."),
    python: Optional[str] = PythonOpt,
    playbook: Optional[str] = PlaybookOpt,
    as_json: bool = JsonOpt,
    events: Optional[str] = typer.Option(None, "--events", metavar="FILE|-",
                                         help="Write a JSON-lines event stream (- = stdout)."),
    jsonl: bool = typer.Option(False, "--jsonl", help="The event stream on stdout (--events -)."),
    _verbose: bool = VerboseOpt, _quiet: bool = QuietOpt,
    rootless: bool = RootlessOpt,
    consumers: Optional[str] = ConsumersOpt,
) -> None:
    """Run the plan (installs headers and a compiler as needed), then verify."""
    raise typer.Exit(core.apply(yes=yes, python=python, playbook=playbook, as_json=as_json,
                                events=events, jsonl=jsonl, rootless=rootless is True,
                                consumers=consumers))


@app.command("verify")
def verify_cmd(python: Optional[str] = PythonOpt, as_json: bool = JsonOpt,
               _verbose: bool = VerboseOpt, _quiet: bool = QuietOpt,
               consumers: Optional[str] = ConsumersOpt) -> None:
    """Build and import a C extension with the target Python; fail if it does not work."""
    raise typer.Exit(core.verify(python, as_json, consumers))


@app.command()
def doctor(python: Optional[str] = PythonOpt, playbook: Optional[str] = PlaybookOpt,
           as_json: bool = JsonOpt, _verbose: bool = VerboseOpt,
           _quiet: bool = QuietOpt,
           deep: bool = typer.Option(False, "--deep", help="Also run the consumer checks "
                                     "(torch.compile, Triton, pip, cffi, Cython) and the "
                                     "-std=c++17 probe.")) -> None:
    """Check the target Python, headers, compilers and a test build; say how to fix each."""
    from fixenv.commands.doctor import doctor as run_doctor, render
    from fixenv.ui import Out, Progress, verbosity

    progress = Progress(verbosity=-1)  # a spinner on a terminal; nothing otherwise
    report = run_doctor(python, playbook, progress=progress if progress.live else None,
                        deep=deep)
    progress.close()
    if as_json:
        _out(report.to_json(), True, "")
    else:
        render(report, Out(verbosity=verbosity(STATE)))
    if not report.ok:
        raise typer.Exit(errors.FAILED)


@app.command()
def explain(
    log: Optional[str] = typer.Argument(None, metavar="[FILE|-]",
                                        help="The failed build's log (- or nothing: stdin)."),
    python: Optional[str] = PythonOpt,
    facts_file: Optional[str] = typer.Option(None, "--facts", metavar="FILE",
                                             help="Judge and plan for the machine this facts "
                                                  "JSON describes."),
    playbook: Optional[str] = PlaybookOpt,
    as_json: bool = JsonOpt,
    do_apply: bool = typer.Option(False, "--apply", help="Go on to apply the plan, then verify."),
    yes: bool = typer.Option(False, "--yes", "-y", help="With --apply: do not ask."),
) -> None:
    """Read a failed build's log, say what is wrong, and plan the fix (exit 11: not recognised)."""
    from fixenv.explain import explain as run_explain, explanation_text, read_source

    if facts_file and (python or do_apply):
        raise errors.UsageError("--facts describes another machine: it conflicts with "
                                "--python and --apply", hint="drop --facts")
    facts = None
    if facts_file:
        from fixenv.facts import load_file

        facts = load_file(facts_file)
    e = run_explain(read_source(log, sys.stdin), facts=facts, python=python,
                    facts_from_file=bool(facts_file), playbook=playbook)
    if do_apply and e.recognised and e.plan is not None:
        typer.echo("fixenv explain: " + e.summary, err=True)
        if not as_json:
            typer.echo(explanation_text(e), err=True)
        # the apply command itself (same plan, same feedback); its other options at defaults
        import inspect

        given = {"yes": yes, "python": e.planned_for, "playbook": playbook, "as_json": as_json}
        apply(**{n: given[n] if n in given else getattr(p.default, "default", p.default)
                 for n, p in inspect.signature(apply).parameters.items()})
        return
    sudo = bool(e.facts) and not e.facts["privilege"]["root"]
    if as_json:
        _out(e.to_json(), True, "")
    else:  # the shared output rules: colour on a terminal, plain ASCII when piped/NO_COLOR
        from fixenv.explain import print_explanation

        print_explanation(e, sudo)
    if not e.recognised:
        raise typer.Exit(errors.NOT_RECOGNISED)
    if do_apply:  # recognised, but nothing fixenv can apply here (see the advice printed)
        raise errors.StepFailed("--apply: fixenv has no plan for this failure on this machine",
                                hint="follow the advice above")


ShellOpt = typer.Option(None, "--shell", metavar="bash|zsh|fish|sh",
                        help="Shell syntax to print (default: from $SHELL).")


@app.command("env")
def env_cmd(python: Optional[str] = PythonOpt, shell: Optional[str] = ShellOpt,
            unset: bool = typer.Option(False, "--unset", help="Print what takes fixenv's "
                                       "dirs out of CPATH in this shell."),
            as_json: bool = JsonOpt) -> None:
    """Print what to `eval` for the fixed CPATH in this shell: eval "$(fixenv env)"."""
    from fixenv.commands.envcmds import env_command

    env_command(python, shell, unset, as_json)


@app.command("exec", context_settings={"allow_extra_args": True,
                                       "ignore_unknown_options": True})
def exec_cmd(ctx: typer.Context, python: Optional[str] = PythonOpt) -> None:
    """Run one command with the fixed CPATH: fixenv exec -- python train.py"""
    from fixenv.commands.envcmds import exec_command

    raise typer.Exit(exec_command(python, list(ctx.args)))


@app.command()
def reset(keep_sysroot: bool = typer.Option(False, "--keep-sysroot",
                                            help="Keep the headers fetched in rootless mode."),
          as_json: bool = JsonOpt) -> None:
    """Remove what fixenv wrote for CPATH (profile blocks, rootless headers)."""
    from fixenv.commands.envcmds import reset_command

    reset_command(keep_sysroot, as_json)


def run(argv: Optional[List[str]] = None) -> int:
    """Entry point: run the app and map every outcome to a documented exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--consumers" in args:  # a bare --consumers means all of them
        from fixenv.consumers import bare_flag

        args = bare_flag(args)
    debug = "--debug" in args
    try:
        rc = app(args=args, prog_name="fixenv", standalone_mode=False)
        # with standalone_mode=False Click returns the code of a typer.Exit
        return rc if isinstance(rc, int) else 0
    except (errors.FixenvError, KeyboardInterrupt) as exc:
        code = core.report(exc, debug)
        assert code is not None
        return code
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        from fixenv.interrupt import click_exit

        code = click_exit(exc)  # typer.Exit, usage errors (one line naming the option), Abort
        if code is not None:
            return code
        if debug:
            raise
        return core.internal(exc)
