"""The bodies of detect, plan, apply and verify, free of Typer.

Both front ends call these: the Typer app (fixenv/cli.py) and the start-up fast path
(fixenv/fastpath.py), which serves the hot commands without importing Typer and Click
(~80 ms and ~10 MiB on a 2-core machine). Each returns the exit code; expected failures
raise FixenvError. Defaults here are the commands' defaults: a test checks they match the
Typer options.
"""
from __future__ import annotations

import json
import sys
from typing import Any, Dict, Optional, Tuple

from fixenv import errors

# Global flags (--debug, --verbose/-v, --quiet/-q), set by whichever front end parsed them.
STATE: Dict[str, Any] = {"debug": False}


def echo(text: str, err: bool = False) -> None:
    stream = sys.stderr if err else sys.stdout
    stream.write(text + "\n")
    stream.flush()


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


def gather_facts(python: Optional[str]):
    from fixenv.facts import gather
    from fixenv.runner import RecordingRunner

    return gather(RecordingRunner(), python)


def plan_for(python: Optional[str], facts_file: Optional[str], playbook: Optional[str],
             rootless: bool = False) -> Tuple[Dict[str, Any], Any]:
    """Facts and the plan: probed on this machine, or read from a --facts file."""
    from fixenv.engine import load_playbook, make_plan
    from fixenv.runner import RecordingRunner

    if facts_file and python:
        raise errors.UsageError("--facts and --python conflict: a facts file already names "
                                "its Python", hint="drop one of them")
    pb = load_playbook(playbook)
    if facts_file:
        from fixenv.facts import load_file

        facts = load_file(facts_file)
        if rootless:
            from fixenv.cpath import update_facts
            update_facts(facts, force_rootless=True)
        return facts, make_plan(pb, facts, RecordingRunner(), probe=False)
    runner = RecordingRunner()
    from fixenv.facts import gather

    facts = gather(runner, python)
    if rootless:
        from fixenv.cpath import update_facts
        update_facts(facts, force_rootless=True)
    return facts, make_plan(pb, facts, runner, probe=True)


def detect(python: Optional[str] = None, as_json: bool = False) -> int:
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
         fmt: str = "text", rootless: bool = False) -> int:
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
        from fixenv.ui import Out, plan_rows, verbosity

        out = Out(verbosity=verbosity(STATE))
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
          rootless: bool = False, consumers: Optional[str] = None) -> int:
    """Plan, ask, execute exactly the plan's actions (its verify step included)."""
    from fixenv.executor import execute
    from fixenv.outcome import exit_code
    from fixenv.runner import RecordingRunner, Runner
    from fixenv.ui import ApplyFeedback, verbosity

    def refresh() -> Any:
        """Facts after the changes (the headers now exist): what the verification uses."""
        from fixenv.facts import gather

        return gather(RecordingRunner(), python)

    with ApplyFeedback(as_json=as_json, events="-" if jsonl else events,
                       verbosity=verbosity(STATE)) as fb:  # progress, events, the recap
        facts, p = plan_for(python, None, playbook, rootless is True)
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
        if consumers is not None:  # issue 14: the consumers' own builds, after fixenv's
            from fixenv.verify import after_apply

            recap = after_apply(recap, python, consumers)
        fb.finish(recap)
    return exit_code(recap)


def verify(python: Optional[str] = None, as_json: bool = False,
           consumers: Optional[str] = None) -> int:
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
        from fixenv.ui import Out, verbosity, verify_rows

        out = Out(verbosity=verbosity(STATE))
        out.lines(verify_rows(out, result))
    return errors.OK if result.ok else errors.FAILED
