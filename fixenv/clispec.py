"""The command line, declared once: every command, its options, defaults and help.

Two front ends are built from this table and nothing else:

* fixenv/fastpath.py parses the hot commands (detect, plan, apply, verify) without importing
  Typer — Typer, its vendored Click and pydantic cost ~80 ms and ~10 MiB per process, more
  than the work itself;
* fixenv/cli.py builds the Typer app (help, completion, usage errors, every other command).

Both call the same function (`Cmd.target`) with the same keyword arguments and a `Settings`
(the global flags); there is no global mutable state. The global flags --debug, -v/--verbose
and -q/--quiet are accepted before the command and after it, for every command.
This module imports nothing heavy.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple


@dataclass(frozen=True)
class Opt:
    dest: str  # the keyword argument of the command function
    flags: Tuple[str, ...]
    value: bool = False  # takes a value (else a flag: True when given)
    default: Any = None
    help: str = ""
    metavar: Optional[str] = None
    # `--consumers` alone means "all": the value is optional
    bare: Optional[str] = None

    def __post_init__(self) -> None:
        if not self.value and self.default is None:
            object.__setattr__(self, "default", False)


@dataclass(frozen=True)
class Cmd:
    name: str
    target: str  # "module:function"
    help: str
    options: Tuple[Opt, ...] = ()
    argument: Optional[Opt] = None  # one optional positional argument (explain's log)
    extra_args: bool = False  # everything after the options is passed on (exec)
    fast: bool = False  # served by the fast path too


@dataclass(frozen=True)
class Settings:
    """The global flags, handed to every command function."""

    debug: bool = False
    verbose: bool = False
    quiet: bool = False

    @property
    def verbosity(self) -> int:
        return -1 if self.quiet else (1 if self.verbose else 0)


GLOBAL: Tuple[Opt, ...] = (
    Opt("debug", ("--debug",), help="Show tracebacks for errors."),
    Opt("verbose", ("--verbose", "-v"), help="Show more: commands, output lines, details."),
    Opt("quiet", ("--quiet", "-q"), help="Show only problems and the result."),
)

PYTHON = Opt("python", ("--python", "-p"), True, None, metavar="PATH",
             help="Target interpreter (default: the active venv, else python3).")
JSON = Opt("as_json", ("--json",), help="Print JSON instead of text.")
PLAYBOOK = Opt("playbook", ("--playbook",), True, None, metavar="NAME|PATH",
               help="A bundled playbook name or a path (default: python-headers).")
ROOTLESS = Opt("rootless", ("--rootless",),
               help="Fetch headers without root into the user's data dir and set CPATH "
                    "(automatic when not root and `sudo -n` is refused).")
CONSUMERS = Opt("consumers", ("--consumers",), True, None, metavar="[all|NAMES]", bare="all",
                help="Also build with the consumers the target has: torch.compile, Triton, "
                     "pip, cffi, Cython (all found, or e.g. torch,pip).")
FACTS = Opt("facts_file", ("--facts",), True, None, metavar="FILE",
            help="Plan for the machine this facts JSON describes.")

CORE = "fixenv.commands.core:"
ENV = "fixenv.commands.envcmds:"

COMMANDS: Tuple[Cmd, ...] = (
    Cmd("detect", CORE + "detect",
        "Show the facts fixenv plans from (OS, managers, target Python, compilers).",
        (PYTHON, JSON), fast=True),
    Cmd("plan", CORE + "plan", "Show what apply would do, step by step. Changes nothing.", (
        Opt("dry_run", ("--dry-run",), help="Accepted; plan never changes anything."),
        PYTHON, FACTS, PLAYBOOK, JSON,
        Opt("exit_code", ("--exit-code",),
            help="Exit 10 when changes are pending, 12 when a step is blocked, 0 when none."),
        Opt("fmt", ("--format",), True, "text", metavar="text|json|shell",
            help="text, json (= --json), or shell: a POSIX sh script of the same actions."),
        ROOTLESS), fast=True),
    Cmd("apply", CORE + "apply",
        "Run the plan (headers and a compiler as needed), then verify.", (
            Opt("yes", ("--yes", "-y"), help="Do not ask before changing things."),
            PYTHON, PLAYBOOK, JSON,
            Opt("events", ("--events",), True, None, metavar="FILE|-",
                help="Write a JSON-lines event stream (- = stdout)."),
            Opt("jsonl", ("--jsonl",), help="The event stream on stdout (--events -)."),
            ROOTLESS, CONSUMERS), fast=True),
    Cmd("verify", CORE + "verify",
        "Build and import a C extension with the target Python; fail if it does not work.",
        (PYTHON, JSON, CONSUMERS), fast=True),
    Cmd("doctor", CORE + "doctor",
        "Check the target Python, headers, compilers and a test build; say how to fix each.",
        (PYTHON, PLAYBOOK, JSON,
         Opt("deep", ("--deep",), help="Also run the consumer checks (torch.compile, Triton, "
                                       "pip, cffi, Cython) and the -std=c++17 probe."))),
    Cmd("explain", CORE + "explain",
        "Read a failed build's log, say what is wrong, and plan the fix (exit 11: not "
        "recognised).",
        (PYTHON,
         Opt("facts_file", ("--facts",), True, None, metavar="FILE",
             help="Judge and plan for the machine this facts JSON describes."),
         PLAYBOOK, JSON,
         Opt("do_apply", ("--apply",), help="Go on to apply the plan, then verify."),
         Opt("yes", ("--yes", "-y"), help="With --apply: do not ask.")),
        argument=Opt("log", (), True, None, metavar="[FILE|-]",
                     help="The failed build's log (- or nothing: stdin).")),
    Cmd("playbooks", CORE + "playbooks", "List the bundled playbooks.", (JSON,)),
    Cmd("env", ENV + "env_command",
        "Print what to `eval` for the fixed CPATH in this shell: eval \"$(fixenv env)\".",
        (PYTHON,
         Opt("shell", ("--shell",), True, None, metavar="bash|zsh|fish|sh",
             help="Shell syntax to print (default: from $SHELL)."),
         Opt("unset", ("--unset",),
             help="Print what takes fixenv's dirs out of CPATH in this shell."),
         JSON)),
    Cmd("exec", ENV + "exec_command",
        "Run one command with the fixed CPATH: fixenv exec -- python train.py",
        (PYTHON,), extra_args=True),
    Cmd("reset", ENV + "reset_command",
        "Remove what fixenv wrote for CPATH (profile blocks, rootless headers).",
        (Opt("keep_sysroot", ("--keep-sysroot",),
             help="Keep the headers fetched in rootless mode."), JSON)),
)

BY_NAME: Dict[str, Cmd] = {c.name: c for c in COMMANDS}


def target(cmd: Cmd) -> Any:
    """The function a command calls."""
    import importlib

    module, _, func = cmd.target.partition(":")
    return getattr(importlib.import_module(module), func)


def defaults(cmd: Cmd) -> Dict[str, Any]:
    out = {o.dest: o.default for o in cmd.options}
    if cmd.argument is not None:
        out[cmd.argument.dest] = cmd.argument.default
    return out


__all__ = ["Opt", "Cmd", "Settings", "GLOBAL", "COMMANDS", "BY_NAME", "target", "defaults",
           "field"]
