"""The Typer-free fast path must behave exactly like the Typer app for what it serves."""
from __future__ import annotations

import inspect
import json
import subprocess
import sys

import pytest
import typer

from fixenv import fastpath
from fixenv.cli import app
from fixenv.commands import core

FACTS = {
    "os": {"system": "Linux", "id": "debian", "version": "12", "like": [], "arch": "x86_64"},
    "managers": ["apt"],
    "privilege": {"root": True, "sudo": False},
    "python": {"executable": "/usr/bin/python3.11", "version": "3.11.2",
               "implementation": "CPython", "abiflags": "", "prefix": "/usr",
               "base_prefix": "/usr", "in_venv": False, "include": "/usr/include/python3.11",
               "has_headers": False, "provider": "apt"},
    "compilers": {"cc": None, "cxx": None},
    "env": {"CPATH": None},
}
HANDLED_ELSEWHERE = {"--help", "-v", "--verbose", "-q", "--quiet"}


def _typer_params(command: str):
    group = typer.main.get_command(app)
    return [p for p in group.commands[command].params if p.name not in ("_verbose", "_quiet")]


@pytest.mark.parametrize("command", sorted(fastpath.COMMANDS))
def test_fast_tables_match_the_typer_options(command):
    flags, values = fastpath.COMMANDS[command]
    typer_opts = {}
    for p in _typer_params(command):
        for opt in list(p.opts) + list(p.secondary_opts):
            typer_opts[opt] = (p.name, bool(getattr(p, "is_flag", False)))
    fast = {o: (n, True) for o, n in flags.items()}
    fast.update({o: (n, False) for o, n in values.items()})
    assert {o: v for o, v in typer_opts.items() if o not in HANDLED_ELSEWHERE} == fast


@pytest.mark.parametrize("command", sorted(fastpath.COMMANDS))
def test_core_defaults_match_the_typer_defaults(command):
    sig = inspect.signature(getattr(core, command)).parameters
    for p in _typer_params(command):
        assert p.name in sig, "%s: core.%s lacks %s" % (command, command, p.name)
        assert sig[p.name].default == p.default, (command, p.name)


@pytest.mark.parametrize("argv,expected", [
    (["plan", "--python", "/x", "--json"], ("plan", {"python": "/x", "as_json": True}, {})),
    (["-q", "plan", "--facts=f.json", "-v"], ("plan", {"facts_file": "f.json"},
                                             {"quiet": True, "verbose": True})),
    (["--debug", "apply", "-y", "-p", "/x"], ("apply", {"yes": True, "python": "/x"},
                                             {"debug": True})),
    (["plan", "--help"], None),
    (["plan", "--python"], None),
    (["plan", "--python", "--json"], None),
    (["detect", "-v"], None),
    (["doctor"], None),
    (["--version"], None),
    ([], None),
])
def test_parse_serves_only_what_it_understands(argv, expected):
    assert fastpath.parse(argv) == expected


def _both(args, tmp_path):
    fast = subprocess.run([sys.executable, "-m", "fixenv"] + args, capture_output=True,
                          text=True)
    slow = subprocess.run([sys.executable, "-c", "import sys; from fixenv.cli import run; "
                           "sys.exit(run(sys.argv[1:]))"] + args, capture_output=True, text=True)
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
