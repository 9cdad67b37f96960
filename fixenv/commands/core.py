"""The command functions, free of Typer, and the one place errors become exit codes.

Both front ends (the Typer app, fixenv/cli.py, and the start-up fast path,
fixenv/fastpath.py) are built from fixenv/clispec.py and call `invoke`, which runs the
command's function with its keyword arguments and the global `Settings`, and maps what it
raises to the documented exit code (`exit_code_for`). Each function returns its exit code;
expected failures raise FixenvError. There is no global mutable state.
"""
from __future__ import annotations

import json
import sys
from typing import Any, Dict, Optional, Tuple

from fixenv import errors
from fixenv.clispec import Cmd, Settings

DEFAULT = Settings()


def echo(text: str, err: bool = False) -> None:
    stream = sys.stderr if err else sys.stdout
    try:
        stream.write(text + "\n")
        stream.flush()
    except BrokenPipeError:  # `fixenv plan --json | head`: the reader is gone; stop quietly
        from fixenv.ui import _silence

        _silence(stream)
        raise SystemExit(141)  # 128 + SIGPIPE, as text output does


def out_json(data: Any) -> None:
    echo(json.dumps(data, indent=2, sort_keys=False))


def report(exc: BaseException, debug: bool) -> Optional[int]:
    """One line (+ hint) and the exit code for an expected failure or Ctrl-C; None otherwise."""
    if isinstance(exc, errors.FixenvError):
        if debug:
            raise exc
        echo("fixenv: %s%s" % ("" if exc.calm else "error: ", exc.message), err=True)
        if exc.hint:
            echo("fixenv: hint: %s" % exc.hint, err=True)
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        echo("fixenv: interrupted", err=True)
        return errors.INTERRUPTED
    return None


def internal(exc: BaseException) -> int:
    echo("fixenv: internal error: %s: %s (this is a bug; rerun with --debug for the "
         "traceback)" % (type(exc).__name__, exc), err=True)
    return errors.INTERNAL


def exit_code_for(exc: BaseException, debug: bool) -> int:
    """THE mapping of an exception to an exit code (both front ends use it): fixenv's own
    errors and Ctrl-C to their documented codes with one line, Click/Typer's usage errors to
    2, anything else to 70 (a bug) — re-raised with --debug."""
    if isinstance(exc, SystemExit):
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    code = report(exc, debug)
    if code is not None:
        return code
    if "typer" in sys.modules or "click" in sys.modules:
        from fixenv.interrupt import click_exit

        code = click_exit(exc)  # typer.Exit, usage errors (one line naming the option)
        if code is not None:
            return code
    if debug or not isinstance(exc, Exception):
        raise exc
    return internal(exc)


def invoke(cmd: Cmd, kwargs: Dict[str, Any], settings: Settings) -> int:
    """Run a command's function; its exit code, or the one for what it raised."""
    from fixenv.clispec import target

    try:
        rc = target(cmd)(settings=settings, **kwargs)
        return rc if isinstance(rc, int) else errors.OK
    except BaseException as exc:  # noqa: BLE001 - every outcome becomes an exit code
        return exit_code_for(exc, settings.debug)


def gather_facts(python: Optional[str]):
    from fixenv.facts import gather
    from fixenv.runner import RecordingRunner

    return gather(RecordingRunner(), python)


def plan_for(python: Optional[str], facts_file: Optional[str], playbook: Optional[str],
             rootless: bool = False) -> Tuple[Dict[str, Any], Any]:
    """Facts and the plan: probed on this machine, or read from a --facts file."""
    from fixenv.runner import RecordingRunner

    if facts_file and python:
        raise errors.UsageError("--facts and --python conflict: a facts file already names "
                                "its Python", hint="drop one of them")
    if facts_file:
        from fixenv.engine import load_playbook, make_plan
        from fixenv.facts import load_file

        pb = load_playbook(playbook)
        facts = load_file(facts_file)
        if rootless:
            from fixenv.cpath import update_facts
            update_facts(facts, force_rootless=True)
        return facts, make_plan(pb, facts, RecordingRunner(), probe=False)
    runner = RecordingRunner()
    from fixenv.facts import begin

    # The probes' processes start first and run while the playbook loads (its imports and
    # YAML are most of a plan's start-up); a playbook error stops them.
    gathering = begin(runner, python)
    try:
        from fixenv.engine import load_playbook, make_plan

        pb = load_playbook(playbook)
    except BaseException:
        gathering.discard()
        raise
    facts = gathering.finish()
    if rootless:
        from fixenv.cpath import update_facts
        update_facts(facts, force_rootless=True)
    return facts, make_plan(pb, facts, runner, probe=True)


def detect(python: Optional[str] = None, as_json: bool = False, *,
           settings: Settings = DEFAULT) -> int:
    facts = gather_facts(python)
    if as_json:
        out_json(facts)
    else:
        from fixenv.render import facts_text
        from fixenv.ui import Out, facts_rows

        out = Out()
        out.lines(facts_rows(out, facts_text(facts)))
    return errors.OK


def plan(dry_run: bool = False, python: Optional[str] = None, facts_file: Optional[str] = None,
         playbook: Optional[str] = None, as_json: bool = False, exit_code: bool = False,
         fmt: str = "text", rootless: bool = False, *, settings: Settings = DEFAULT) -> int:
    if fmt not in ("text", "json", "shell"):
        raise errors.UsageError("--format %s: choose text, json or shell" % fmt)
    if as_json and fmt == "shell":
        raise errors.UsageError("--json and --format shell conflict", hint="pick one")
    facts, p = plan_for(python, facts_file, playbook, rootless)
    sudo = not facts["privilege"]["root"]
    if fmt == "shell":
        from fixenv.shellscript import render as shell_script

        sys.stdout.write(shell_script(p, facts))
    elif as_json or fmt == "json":
        out_json(p.to_json())
    else:
        from fixenv.ui import Out, plan_rows

        out = Out(verbosity=settings.verbosity)
        out.lines(plan_rows(out, p, sudo))
    if exit_code and p.blocked:
        return errors.BLOCKED  # 12: a step has no known fix here
    if exit_code and p.changes_pending:
        return errors.CHANGES_PENDING
    return errors.OK


def confirm(yes: bool, n: int, plan: Any = None, sudo: bool = False) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise errors.NotConfirmed("apply would change this machine and there is no terminal to "
                                  "ask: pass --yes", hint="`fixenv plan` shows what would change")
    from fixenv.ui import ask_apply  # lists the changes, then asks; no/EOF/Ctrl-C raise

    ask_apply(plan, sudo)


def apply(yes: bool = False, python: Optional[str] = None, playbook: Optional[str] = None,
          as_json: bool = False, events: Optional[str] = None, jsonl: bool = False,
          rootless: bool = False, consumers: Optional[str] = None, *,
          settings: Settings = DEFAULT) -> int:
    """Plan, ask, execute exactly the plan's actions (its verify step included)."""
    from fixenv.executor import execute
    from fixenv.outcome import exit_code
    from fixenv.runner import RecordingRunner, Runner
    from fixenv.ui import ApplyFeedback

    def refresh() -> Any:
        """Facts after the changes (the headers now exist): what the verification uses."""
        from fixenv.facts import gather

        return gather(RecordingRunner(), python)

    with ApplyFeedback(as_json=as_json, events="-" if jsonl else events,
                       verbosity=settings.verbosity) as fb:  # progress, events, the recap
        facts, p = plan_for(python, None, playbook, rootless is True)
        if consumers is not None:  # issue 14: the plan's Verify actions also run the consumers
            p = _with_consumers(p, consumers)
        fb.start(p)
        if p.changes_pending:
            confirm(yes, sum(1 for s in p.steps if s.status == "change"), p,
                    not facts["privilege"]["root"])

        def on_event(name: str, data: Dict[str, Any]) -> None:
            if name == "verify_start":
                fb.verifying(data["python"])
            else:
                fb.on_event(name, data)

        recap = execute(p, facts, Runner(), on_event=on_event, on_line=fb.on_line,
                        refresh_facts=refresh)
        fb.finish(recap)
    return exit_code(recap)


def _with_consumers(p: Any, spec: str) -> Any:
    """The plan with `--consumers` in its Verify actions (what apply then runs, and shows)."""
    import dataclasses

    from fixenv.model import Verify

    steps = []
    for s in p.steps:
        acts = tuple(dataclasses.replace(a, consumers=(spec,)) if isinstance(a, Verify) else a
                     for a in s.actions)
        if acts != s.actions:
            s = dataclasses.replace(s, actions=acts, reason=s.reason + "; then the consumers' "
                                    "own builds (%s)" % spec)
        steps.append(s)
    return dataclasses.replace(p, steps=tuple(steps))


def verify(python: Optional[str] = None, as_json: bool = False,
           consumers: Optional[str] = None, *, settings: Settings = DEFAULT) -> int:
    from fixenv.runner import Runner
    from fixenv.verify import verify as run_verify

    facts = gather_facts(python)
    result = run_verify(facts, Runner())
    if consumers is not None:  # issue 14: torch.compile, Triton, pip, cffi, Cython too
        from fixenv.verify import with_consumers

        result = with_consumers(result, facts, Runner(), consumers)
    if as_json:
        out_json(result.to_json())
    else:
        from fixenv.ui import Out, verify_rows

        out = Out(verbosity=settings.verbosity)
        out.lines(verify_rows(out, result))
    return errors.OK if result.ok else errors.FAILED


def doctor(python: Optional[str] = None, playbook: Optional[str] = None, as_json: bool = False,
           deep: bool = False, *, settings: Settings = DEFAULT) -> int:
    from fixenv.commands.doctor import doctor as run_doctor, render
    from fixenv.ui import Out, Progress

    progress = Progress(verbosity=-1)  # a spinner on a terminal; nothing otherwise
    report_ = run_doctor(python, playbook, progress=progress if progress.live else None,
                         deep=deep)
    progress.close()
    if as_json:
        out_json(report_.to_json())
    else:
        render(report_, Out(verbosity=settings.verbosity))
    return errors.OK if report_.ok else errors.FAILED


def playbooks(as_json: bool = False, *, settings: Settings = DEFAULT) -> int:
    from fixenv.engine import bundled, load_playbook

    rows = []
    for name, path in sorted(bundled().items()):
        pb = load_playbook(path)
        rows.append({"name": name, "path": path, "description": pb.description,
                     "steps": [s.id for s in pb.steps]})
    if as_json:
        out_json(rows)
    else:
        echo("\n".join("%-16s %s" % (r["name"], r["description"]) for r in rows))
    return errors.OK


def explain(log: Optional[str] = None, python: Optional[str] = None,
            facts_file: Optional[str] = None, playbook: Optional[str] = None,
            as_json: bool = False, do_apply: bool = False, yes: bool = False, *,
            settings: Settings = DEFAULT) -> int:
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
        echo("fixenv explain: " + e.summary, err=True)
        if not as_json:
            echo(explanation_text(e), err=True)
        # the apply command itself (same plan, same feedback), its other options at defaults
        return apply(yes=yes, python=e.planned_for, playbook=playbook, as_json=as_json,
                     settings=settings)
    sudo = e.facts is not None and not e.facts["privilege"]["root"]
    if as_json:
        out_json(e.to_json())
    else:  # the shared output rules: colour on a terminal, plain ASCII when piped/NO_COLOR
        from fixenv.explain import print_explanation

        print_explanation(e, sudo)
    if not e.recognised:
        return errors.NOT_RECOGNISED
    if do_apply:  # recognised, but nothing fixenv can apply here (see the advice printed)
        raise errors.StepFailed("--apply: fixenv has no plan for this failure on this machine",
                                hint="follow the advice above")
    return errors.OK
