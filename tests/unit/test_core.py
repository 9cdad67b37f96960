"""Core engine: expressions, templates, loader, apt parsers, planner, CLI contracts."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.factsfix import make_facts
from fixenv.backends import apt
from fixenv.engine import load_playbook, make_plan
from fixenv.errors import InputError
from fixenv.facts import normalize, validate
from fixenv.facts.known import is_known
from fixenv.facts.python import parse_probe
from fixenv.playbook import expr, template
from fixenv.playbook.loader import load_text
from fixenv.runner import RecordingRunner, Result

DATA = Path(__file__).resolve().parent.parent / "data"


def step(plan, step_id):
    return next(s for s in plan.steps if s.id == step_id)


def debian_facts(**py) -> dict:
    return make_facts(python=py, validated=True)


# ---- expressions ---------------------------------------------------------------------------

@pytest.mark.parametrize("src,expected", [
    ("python.provider == 'apt'", True),
    ("python.provider != 'apt'", False),
    ("python.minor >= 11 and os.family == 'debian'", True),
    ("python.minor > 11 or not python.has_headers", True),
    ("os.id in ['debian', 'ubuntu']", True),
    ("os.id not in ('fedora',)", True),
    ("compilers.cc", False),
    ("not compilers.cc or not compilers.cxx", True),
    ("python.debug == false", True),
    ("env.CPATH == null", True),
])
def test_expressions_evaluate_against_facts(src, expected):
    e = expr.parse(src, is_known)
    assert e.evaluate(debian_facts()) is expected


@pytest.mark.parametrize("src,message", [
    ("python.nosuch == 1", "unknown fact 'python.nosuch'"),
    ("__import__('os').system('x')", "not allowed"),
    ("python.version.upper", "unknown fact"),
    ("1 +", "not a valid expression"),
    ("python.minor + 1 > 2", "not allowed"),
    ("[x for x in managers]", "not allowed"),
])
def test_expressions_refuse_unknown_facts_and_code(src, message):
    with pytest.raises(expr.ExprError, match=message.replace("(", r"\(")):
        expr.parse(src, is_known)


def test_comparison_with_null_is_false_not_an_error():
    e = expr.parse("compilers.cc > 'a'", is_known)
    assert e.evaluate(debian_facts()) is False


# ---- templates -----------------------------------------------------------------------------

def test_template_renders_fact_paths_and_splices_lists():
    f = debian_facts()
    assert template.parse("python{{ python.xy }}-dev", is_known).render(f) == "python3.11-dev"
    assert template.parse("{{ managers }}", is_known).render_list(f) == ["apt"]


@pytest.mark.parametrize("src", ["{{ python.nope }}", "{{ python.xy | upper }}", "{{ a }",
                                 "{{ os.id }} }}"])
def test_template_refuses_unknown_or_malformed(src):
    with pytest.raises(template.TemplateError):
        template.parse(src, is_known)


def test_template_null_value_is_an_error_at_render_time():
    t = template.parse("{{ compilers.cc }}", is_known)
    with pytest.raises(template.TemplateError, match="no value"):
        t.render(debian_facts())


# ---- loader --------------------------------------------------------------------------------

def test_bundled_playbook_loads_and_has_the_core_steps():
    pb = load_playbook()
    ids = [s.id for s in pb.steps]
    assert "python-headers" in ids and "compiler" in ids and ids[-1] == "verify"
    assert ids.index("python-headers") < ids.index("compiler")


def test_loader_error_names_file_line_column_and_key_path():
    text = "name: x\nsteps:\n  - id: a\n    kind: packages\n    packages: [x]\n    whn: true\n"
    with pytest.raises(InputError) as err:
        load_text(text, "pb.yaml")
    msg = str(err.value)
    assert msg.startswith("pb.yaml:6:5: steps[0].whn: unknown key 'whn'")
    assert "did you mean 'when'" in msg


def test_loader_expression_error_points_into_the_expression():
    text = "name: x\nsteps:\n  - id: a\n    kind: verify\n    when: python.xy == '3' and os.nope\n"
    with pytest.raises(InputError) as err:
        load_text(text, "pb.yaml")
    assert str(err.value).startswith("pb.yaml:5:32: steps[0].when: unknown fact 'os.nope'")


def test_loader_refuses_duplicate_yaml_keys():
    with pytest.raises(InputError, match="pb.yaml:3:1: .*duplicate key 'name'"):
        load_text("name: x\nsteps: []\nname: y\n", "pb.yaml")


# ---- apt parsers on stored outputs ---------------------------------------------------------

def test_parse_dpkg_query_reads_installed_versions():
    text = (DATA / "dpkg" / "query-installed.txt").read_text()
    got = apt.parse_dpkg_query(text + "python3.12-dev\tun \t\n")
    assert got["python3.11-dev"] == "3.11.2-6+deb12u6"
    assert got["build-essential"] == "12.9"
    assert got["python3.12-dev"] is None


def test_parse_policy_finds_candidates_and_none():
    got = apt.parse_policy((DATA / "dpkg" / "policy.txt").read_text())
    assert got == {"python3.11-dev": "3.11.2-6+deb12u9", "python3.99-dev": None}


def test_probe_parser_prefers_the_first_include_dir_that_exists(tmp_path):
    inc = tmp_path / "include" / "python3.12"
    inc.mkdir(parents=True)
    (inc / "Python.h").write_text("")
    raw = {"fixenv_probe": 1, "executable": "/x/python", "version": "3.12.1", "prefix": "/x",
           "base_prefix": "/x", "include_sysconfig": "/nonexistent/include/python3.12",
           "include_posix_prefix": str(inc), "includepy": "/install/include/python3.12",
           "abiflags": ""}
    facts = parse_probe(json.dumps(raw), "/x/python")
    assert facts["include"] == str(inc) and facts["has_headers"] is True
    assert facts["sysconfig_include"] == "/nonexistent/include/python3.12"


def test_probe_parser_refuses_non_python_output():
    with pytest.raises(InputError, match="not a Python interpreter"):
        parse_probe("hello", "/bin/echo")


# ---- planner -------------------------------------------------------------------------------

class FakeAptRunner(RecordingRunner):
    """Answers dpkg-query / apt-cache like a Debian box with the given packages."""

    def __init__(self, installed: dict, candidates: dict):
        super().__init__()
        self.installed, self.candidates = installed, candidates

    def run(self, argv, **kw):
        self._before(tuple(argv), kw.get("mutating", False))
        if argv[0] == "dpkg-query":
            out = "".join("%s\tii \t%s\n" % (n, v) for n, v in self.installed.items()
                          if n in argv)
            return Result(tuple(argv), 0 if out else 1, out, "")
        if argv[:2] == ["apt-cache", "policy"]:
            out = "".join("%s:\n  Installed: (none)\n  Candidate: %s\n" % (n, self.candidates.get(
                n, "(none)")) for n in argv[2:])
            return Result(tuple(argv), 0, out, "")
        raise AssertionError("unexpected command %r" % (argv,))


def test_plan_installs_versioned_dev_package_and_compiler(monkeypatch):
    monkeypatch.setattr(apt, "have_lists", lambda *a: True)
    runner = FakeAptRunner({}, {"python3.11-dev": "3.11.2-6", "build-essential": "12.9"})
    plan = make_plan(load_playbook(), debian_facts(), runner)
    by_id = {s.id: s for s in plan.steps}
    assert by_id["python-headers"].status == "change"
    assert [list(c.argv) for c in by_id["python-headers"].commands] == [
        ["apt-get", "-o", "DPkg::Lock::Timeout=120", "install", "-y",
         "--no-install-recommends", "python3.11-dev"]]
    assert by_id["compiler"].commands[0].argv[-1] == "build-essential"
    assert plan.changes_pending


def test_plan_refreshes_lists_only_when_needed(monkeypatch):
    monkeypatch.setattr(apt, "have_lists", lambda *a: False)
    runner = FakeAptRunner({}, {})
    plan = make_plan(load_playbook(), debian_facts(), runner)
    cmds = [list(c.argv) for c in step(plan, "python-headers").commands]
    assert cmds[0][-1] == "update" and cmds[1][-1] == "python3.11-dev"
    monkeypatch.setattr(apt, "have_lists", lambda *a: True)
    runner = FakeAptRunner({}, {"python3.11-dev": "1", "build-essential": "1"})
    plan = make_plan(load_playbook(), debian_facts(), runner)
    assert all(c.argv[-1] != "update" for s in plan.steps for c in s.commands)


def test_plan_reports_installed_packages_as_ok_with_version():
    runner = FakeAptRunner({"python3.11-dev": "3.11.2-6"}, {})
    # has_headers false: with headers found the step is ok without asking dpkg at all.
    facts = debian_facts(has_headers=False)
    facts["compilers"] = {"cc": "/usr/bin/gcc", "cxx": "/usr/bin/g++"}
    plan = make_plan(load_playbook(), facts, runner)
    assert step(plan, "python-headers").status == "ok"
    assert step(plan, "python-headers").reason == "python3.11-dev 3.11.2-6 is installed"
    assert not plan.changes_pending


def test_debug_build_gets_dbg_and_dev(monkeypatch):
    monkeypatch.setattr(apt, "have_lists", lambda *a: True)
    runner = FakeAptRunner({}, {"python3.11-dbg": "1", "python3.11-dev": "1",
                                "build-essential": "1"})
    plan = make_plan(load_playbook(), debian_facts(abiflags="d"), runner)
    assert step(plan, "python-headers").commands[-1].argv[-2:] == ("python3.11-dbg",
                                                                    "python3.11-dev")


def test_plan_never_runs_a_mutating_command():
    runner = RecordingRunner()
    with pytest.raises(Exception, match="refused"):
        runner.run(["apt-get", "install", "-y", "x"], mutating=True)
    assert runner.calls == [("apt-get", "install", "-y", "x")]


def test_facts_validate_names_the_missing_key():
    facts = debian_facts()
    del facts["python"]["provider"]
    with pytest.raises(InputError, match=r"python\.provider: missing"):
        validate(json.loads(json.dumps(facts)), "f.json")


def test_normalize_derives_but_never_overwrites():
    facts = debian_facts(abiflags="t")
    assert facts["python"]["xy"] == "3.11" and facts["python"]["freethreaded"] is True
    assert facts["os"]["family"] == "debian" and facts["system_manager"] == "apt"
    again = normalize(facts)
    assert again["python"]["xy"] == "3.11"


def test_probe_parser_ignores_includepy_outside_the_prefix(tmp_path):
    """A relocated copy must not borrow the original install's headers through INCLUDEPY."""
    original = tmp_path / "orig" / "include" / "python3.12"
    original.mkdir(parents=True)
    (original / "Python.h").write_text("")
    raw = {"fixenv_probe": 1, "executable": "/copy/bin/python", "version": "3.12.1",
           "prefix": "/copy", "base_prefix": "/copy", "platform": "linux",
           "include_sysconfig": "/copy/include/python3.12",
           "include_posix_prefix": "/copy/include/python3.12", "includepy": str(original),
           "abiflags": ""}
    facts = parse_probe(json.dumps(raw), "/copy/bin/python")
    assert facts["has_headers"] is False
    assert facts["include"] == "/copy/include/python3.12"
