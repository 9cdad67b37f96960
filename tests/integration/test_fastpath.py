"""The Typer-free fast path must behave exactly like the Typer app for what it serves."""
from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys

import pytest
import typer

from fixenv import clispec, fastpath
from fixenv.cli import app
from tests.factsfix import make_facts

FACTS = make_facts()  # Debian 12 as root, python3.11 without headers


def _typer_params(command: str):
    group = typer.main.get_command(app)
    return {p.name: p for p in group.commands[command].params}


@pytest.mark.parametrize("cmd", clispec.COMMANDS, ids=[c.name for c in clispec.COMMANDS])
def test_the_typer_app_is_built_from_the_declaration(cmd):
    """Every declared option is a Typer option with the same flags and default, plus the
    global flags after the command; nothing else."""
    params = _typer_params(cmd.name)
    want = {o.dest: (tuple(o.flags), o.default) for o in cmd.options}
    want.update({"_" + o.dest: (tuple(o.flags), False) for o in clispec.GLOBAL})
    if cmd.argument is not None:
        want[cmd.argument.dest] = ((), None)
    got = {n: (tuple(p.opts) + tuple(p.secondary_opts) if p.param_type_name == "option"
               else (), p.default) for n, p in params.items()}
    assert got == want


@pytest.mark.parametrize("cmd", clispec.COMMANDS, ids=[c.name for c in clispec.COMMANDS])
def test_command_functions_take_exactly_the_declared_options(cmd):
    sig = inspect.signature(clispec.target(cmd)).parameters
    names = {o.dest for o in cmd.options} | ({cmd.argument.dest} if cmd.argument else set())
    names |= {"args"} if cmd.extra_args else set()
    assert set(sig) - {"settings"} == names
    for o in cmd.options:
        assert sig[o.dest].default == o.default, (cmd.name, o.dest)
    assert sig["settings"].kind is inspect.Parameter.KEYWORD_ONLY


def test_fast_commands_are_the_hot_ones():
    assert sorted(fastpath.FAST) == ["apply", "detect", "plan", "verify"]


@pytest.mark.parametrize("argv,expected", [
    (["plan", "--python", "/x", "--json"], ("plan", {"python": "/x", "as_json": True}, {})),
    (["-q", "plan", "--facts=f.json", "-v"], ("plan", {"facts_file": "f.json"},
                                             {"quiet": True, "verbose": True})),
    (["--debug", "apply", "-y", "-p", "/x"], ("apply", {"yes": True, "python": "/x"},
                                             {"debug": True})),
    # every form the Typer app takes, the fast path takes too (they used to fall through)
    (["apply", "-yq"], ("apply", {"yes": True}, {"quiet": True})),
    (["plan", "-p/x"], ("plan", {"python": "/x"}, {})),
    (["plan", "-p=/x"], ("plan", {"python": "/x"}, {})),
    (["apply", "--events", "-"], ("apply", {"events": "-"}, {})),
    (["detect", "-q"], ("detect", {}, {"quiet": True})),
    (["verify", "--consumers"], ("verify", {"consumers": "all"}, {})),
    (["verify", "--consumers", "torch,pip"], ("verify", {"consumers": "torch,pip"}, {})),
    (["plan", "--help"], None),
    (["plan", "--python"], None),
    (["plan", "--python", "--json"], None),
    (["plan", "-yx"], None),
    (["doctor"], None),
    (["--version"], None),
    ([], None),
])
def test_parse_serves_only_what_it_understands(argv, expected):
    assert fastpath.parse(argv) == expected


def _both(args, tmp_path):
    # fixenv on PATH, so advice names it the same way whichever path printed it
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep +
               os.environ.get("PATH", ""))
    fast = subprocess.run([sys.executable, "-m", "fixenv"] + args, capture_output=True,
                          text=True, env=env)
    slow = subprocess.run([sys.executable, "-c", "import sys; from fixenv.cli import run; "
                           "sys.exit(run(sys.argv[1:]))"] + args, capture_output=True, text=True,
                          env=env)
    return fast, slow


@pytest.mark.parametrize("args", [
    ["plan", "--json", "--exit-code"],
    ["plan", "--format", "shell"],
    ["plan", "--format", "yaml"],
    ["plan"],
])
def test_fast_and_typer_paths_give_the_same_output_and_exit_code(args, tmp_path):
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps(FACTS))
    fast, slow = _both(args + ["--facts", str(facts)], tmp_path)
    assert (fast.returncode, fast.stdout, fast.stderr) == \
        (slow.returncode, slow.stdout, slow.stderr)


def test_errors_are_mapped_the_same_way(tmp_path):
    fast, slow = _both(["verify", "--python", str(tmp_path / "nope")], tmp_path)
    assert fast.returncode == slow.returncode == 3
    assert fast.stderr == slow.stderr
    assert fast.stderr.startswith("fixenv: error: --python")


def test_the_fast_path_does_not_import_typer(tmp_path):
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps(FACTS))
    code = ("import sys; from fixenv.fastpath import run; rc = run(['plan', '--json', "
            "'--facts', %r]); sys.stderr.write('rc=%%s typer=%%s' %% (rc, 'typer' in "
            "sys.modules))" % str(facts))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.stderr.endswith("rc=0 typer=False"), res.stderr
