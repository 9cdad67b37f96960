"""`fixenv explain` against the log corpus in tests/logs, plus its parts.

Corpus layout: tests/logs/<case>/log.txt (or `log:` in expect.yaml pointing at another case's
log) and tests/logs/<case>/expect.yaml; facts files (what `fixenv detect --json` said on the
machine the case is judged on) live in tests/logs/facts/. Real logs come from
scripts/make-explain-corpus.py; reconstructed ones cite the public reports they follow.
"""
from __future__ import annotations

import io
import json
import re
import time
from pathlib import Path

import pytest
import yaml

from fixenv import errors, explain as ex
from fixenv.cli import run
from fixenv.facts import load_file

LOGS = Path(__file__).resolve().parents[1] / "logs"
FACTS = LOGS / "facts"
CASES = sorted(p.name for p in LOGS.iterdir() if (p / "expect.yaml").is_file())


def case_files(name: str):
    spec = yaml.safe_load((LOGS / name / "expect.yaml").read_text())
    log = (LOGS / name / spec.get("log", "log.txt")).resolve()
    return spec, log, FACTS / spec["facts"]


def cli_json(capsys, *argv: str, stdin: bytes = None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    rc = run(["explain", *argv, "--json"])
    out = capsys.readouterr().out
    return rc, json.loads(out) if out.strip() else None


# --------------------------------------------------------------------------- the corpus


def test_corpus_is_big_enough_and_mixed():
    specs = {c: case_files(c)[0] for c in CASES}
    public = [c for c, s in specs.items() if s["origin"] == "reconstructed"]
    assert len(public) >= 40, "at least 40 cases from public reports"
    assert sum(1 for s in specs.values() if s["origin"] == "real") >= 6
    for c, s in specs.items():
        assert s.get("source"), "%s: every case names its source" % c
        if s["origin"] == "reconstructed":
            assert s["source"].startswith("https://github.com/"), c
            assert s["source"] in (s.get("cites") or []) or s.get("log"), c
            assert s.get("how"), "%s: say what was trimmed" % c
    negatives = [c for c, s in specs.items() if s["expect"]["exit"] == errors.NOT_RECOGNISED]
    assert len(negatives) >= 10


def check_case(case: str, got: dict, rc: int) -> list:
    """Every way `fixenv explain --json` disagrees with the case's expectation (empty: right).
    Used by the corpus test and by scripts/explain-corpus-table.py."""
    spec, _log, facts = case_files(case)
    exp = spec["expect"]
    wrong = []

    def differs(what, want, have):
        if want != have:
            wrong.append("%s: want %r, got %r" % (what, want, have))

    differs("exit", exp["exit"], rc)
    if got is None:
        return wrong + ["no JSON"]
    differs("class", exp["class"], got.get("class"))
    lg = got.get("log") or {}
    if exp["class"] is None:
        if got.get("plan") is not None or got.get("failures"):
            wrong.append("a plan or failures for an unrecognised log")
        if lg.get("header") is not None:
            wrong.append("claims a missing header %r" % lg.get("header"))
        return wrong
    for key in ("tool", "compiler", "header", "source", "platform"):
        if key in exp:
            differs(key, exp[key], lg.get(key))
    for t in exp.get("tools", []):
        if t not in (lg.get("tools") or []):
            wrong.append("tools: %r not among %r" % (t, lg.get("tools")))
    if "source_suffix" in exp and not str(lg.get("source")).endswith(exp["source_suffix"]):
        wrong.append("source: want *%s, got %r" % (exp["source_suffix"], lg.get("source")))
    for d in exp.get("include_dirs", []):
        if d not in (lg.get("include_dirs") or []):
            wrong.append("include dir %s not found" % d)
    if "python" in exp:
        if exp["python"] is None:
            differs("python", None, lg.get("python"))
        elif lg.get("python") is None:
            wrong.append("python: want %r, got None" % exp["python"])
        else:
            for k, v in exp["python"].items():
                differs("python." + k, v, lg["python"].get(k))
    if "match" in exp:
        differs("match", exp["match"], (got.get("match") or {}).get("same"))
    advice = got.get("advice") or []
    for text in exp.get("advice", []):
        if not any(text in a for a in advice):
            wrong.append("advice lacks %r" % text)
    for text in exp.get("not_advice", []):
        if any(text in a for a in advice):
            wrong.append("advice must not say %r" % text)
    if "plan" in exp:
        if exp["plan"] is None:
            if got.get("plan") is not None or got.get("apply_command") is not None:
                wrong.append("a plan where there must be none")
        elif got.get("plan") is None:
            wrong.append("no plan")
        else:
            steps = {s["id"]: s for s in got["plan"]["steps"]}
            for sid, want in exp["plan"].items():
                step = steps.get(sid)
                if step is None:
                    wrong.append("plan lacks step %s" % sid)
                    continue
                differs("plan.%s.status" % sid, want["status"], step["status"])
                if "packages" in want:
                    install = list(step["commands"][-1]) if step["commands"] else []
                    while install and (install[0] == "env" or "=" in install[0]):
                        install.pop(0)  # `env VAR=value manager ...`
                    differs("plan.%s.manager" % sid, want["manager"], install[:1] and install[0])
                    differs("plan.%s.packages" % sid, want["packages"],
                            install[-len(want["packages"]):])
            if got["plan"]["changes_pending"]:
                if not str(got.get("apply_command")).startswith("fixenv apply --yes --python "):
                    wrong.append("no apply command")
                differs("planned_for", json.loads(facts.read_text())["python"]["executable"],
                        got.get("planned_for"))
    return wrong


def run_case(case: str, capsys) -> tuple:
    spec, log, facts = case_files(case)
    rc = run(["explain", str(log), "--facts", str(facts), "--json"])
    out = capsys.readouterr().out
    return rc, json.loads(out) if out.strip() else None


@pytest.mark.parametrize("case", CASES)
def test_corpus_case(case, capsys):
    rc, got = run_case(case, capsys)
    wrong = check_case(case, got, rc)
    assert not wrong, "\n".join(wrong) + "\n" + json.dumps(got, indent=1)[:3000]


@pytest.mark.parametrize("case", CASES)
def test_corpus_text_names_problem_and_fix(case, capsys):
    """The text a stranger reads says the problem and, when there is one, the command."""
    spec, log, facts = case_files(case)
    rc = run(["explain", str(log), "--facts", str(facts)])
    out = capsys.readouterr().out
    assert rc == spec["expect"]["exit"]
    if spec["expect"]["class"] is None:
        assert out.startswith("not recognised")
        return
    assert out.startswith("problem    ")
    assert ex.CLASS_TEXT[spec["expect"]["class"]] in out
    if spec["expect"].get("plan"):
        assert "to fix it, run:  fixenv apply --yes --python " in out


# --------------------------------------------------------------------------- messy input


REAL_TORCH = LOGS / "torch-inductor-no-python-h" / "log.txt"
DEBIAN_FACTS = FACTS / "debian12-venv-gcc.json"


def _class_of(capsys, data: bytes, monkeypatch) -> tuple:
    rc, got = cli_json(capsys, "-", "--facts", str(DEBIAN_FACTS), stdin=data,
                       monkeypatch=monkeypatch)
    return rc, got


def test_stdin_crlf_and_ansi(capsys, monkeypatch):
    raw = REAL_TORCH.read_bytes()
    coloured = re.sub(rb"fatal error:", b"\x1b[01;31m\x1b[Kfatal error:\x1b[m\x1b[K", raw)
    coloured = coloured.replace(b"\n", b"\r\n")
    rc, got = _class_of(capsys, coloured, monkeypatch)
    assert rc == 0 and got["class"] == "missing-python-header"
    assert got["log"]["header"] == "Python.h"
    assert "/usr/include/python3.11" in got["log"]["include_dirs"]


def test_partial_log_only_the_tail(capsys, monkeypatch):
    lines = REAL_TORCH.read_bytes().splitlines(keepends=True)
    rc, got = _class_of(capsys, b"".join(lines[-8:]), monkeypatch)
    assert rc == 0 and got["class"] == "missing-python-header"


def test_partial_log_cut_mid_line(capsys, monkeypatch):
    raw = REAL_TORCH.read_bytes()
    cut = raw[: raw.index(b"Python.h: No such file") + len(b"Python.h: No such file or dir")]
    rc, got = _class_of(capsys, cut, monkeypatch)
    # the error line itself is cut: the Inductor warning still names the include dir
    assert rc == 11 or got["class"] == "missing-python-header"


def test_large_log_is_fast(capsys, monkeypatch):
    noise = b"".join(b"step %d loss 0.%04d lr 3e-4 \x1b[32mok\x1b[0m\r\n" % (i, i % 9999)
                     for i in range(200000))
    data = noise + REAL_TORCH.read_bytes() + noise[:1000]
    t0 = time.monotonic()
    rc, got = _class_of(capsys, data, monkeypatch)
    assert rc == 0 and got["class"] == "missing-python-header"
    assert time.monotonic() - t0 < 10
    assert got["log"]["lines"] > 200000


def test_not_utf8(capsys, monkeypatch):
    data = b"spam.c:2:10: fatal error: Python.h: Aucun fichier ou dossier de ce type \xe9\n"
    rc, got = _class_of(capsys, data, monkeypatch)
    assert rc == 11  # a translated gcc message is not one fixenv knows (yet): said honestly


def test_progress_bar_carriage_returns():
    lines = ex.read_log(b"  10%\r  50%\r 100% done\nnext\n")
    assert lines[:2] == [" 100% done", "next"]


def test_empty_log_is_no_log(capsys, monkeypatch):
    """docs/explain.md: no log on stdin is exit 3 (bad input), not 11 (not recognised)."""
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"")))
    assert run(["explain", "-", "--facts", str(DEBIAN_FACTS)]) == errors.INPUT
    assert "no log" in capsys.readouterr().err


def test_missing_file_is_bad_input(capsys, tmp_path):
    assert run(["explain", str(tmp_path / "nope.log")]) == errors.INPUT
    assert "nope.log" in capsys.readouterr().err
    assert run(["explain", str(tmp_path)]) == errors.INPUT


def test_facts_conflicts_with_apply(capsys):
    assert run(["explain", str(REAL_TORCH), "--facts", str(DEBIAN_FACTS), "--apply"]) == \
        errors.USAGE


# --------------------------------------------------------------------------- recognisers


# One real-looking line per recogniser: every entry of the data file must be exercised.
SAMPLES = {
    "inductor-invalid-cxx": ("InvalidCxxCompiler: No working C++ compiler found in "
                             "torch._inductor.config.cpp.cxx: (None, 'g++')", "no-compiler"),
    "triton-no-cc": ("RuntimeError: Failed to find C compiler. Please specify via CC "
                     "environment variable.", "no-compiler"),
    "setuptools-command-not-found": ("error: command 'gcc' failed: No such file or directory",
                                     "no-compiler"),
    "distutils-unable-to-execute": ("unable to execute 'x86_64-linux-gnu-gcc': No such file or "
                                    "directory", "no-compiler"),
    "exec-not-found": ("FileNotFoundError: [Errno 2] No such file or directory: 'c++'",
                       "no-compiler"),
    "shell-not-found": ("/bin/sh: 1: gcc: not found", "no-compiler"),
    "cmake-no-compiler": ("  No CMAKE_CXX_COMPILER could be found.", "no-compiler"),
    "gcc-python-header": ("src/x.c:5:10: fatal error: Python.h: No such file or directory",
                          "missing-python-header"),
    "clang-python-header": ("x.c:1:10: fatal error: 'Python.h' file not found",
                            "missing-python-header"),
    "tcc-python-header": ("C:/Temp/tmp1/cuda_utils.c:14: error: include file 'Python.h' not "
                          "found", "missing-python-header"),
    "msvc-python-header": (r"C:\Temp\tmp\main.c(12): fatal error C1083: Cannot open include "
                           r"file: 'Python.h': No such file or directory",
                           "missing-python-header"),
    "distutils-cannot-compile": ("SystemError: Cannot compile 'Python.h'. Perhaps you need to "
                                 "install python-dev|python-devel.", "missing-python-header"),
    "ld-libpython": ("/usr/bin/ld: cannot find -lpython3.11: No such file or directory",
                     "missing-libpython"),
    "gcc-omp-h": ("/x/cpp_prefix.h:4:10: fatal error: omp.h: No such file or directory",
                  "missing-openmp"),
    "clang-omp-h": ("/x/cpp_prefix.h:4:10: fatal error: 'omp.h' file not found",
                    "missing-openmp"),
    "ld-gomp": ("ld: library not found for -lomp", "missing-openmp"),
    "clang-no-fopenmp": ("clang: error: unsupported option '-fopenmp'", "missing-openmp"),
    "gcc-killed": ("g++: fatal error: Killed signal terminated program cc1plus",
                   "compiler-crash"),
    "gcc-ice": ("x.cpp:10:1: internal compiler error: Segmentation fault", "compiler-crash"),
    "clang-crash": ("clang++: error: unable to execute command: Killed", "compiler-crash"),
    "out-of-memory-compiler": ("virtual memory exhausted: Cannot allocate memory",
                               "compiler-crash"),
    "gcc-other-header": ("x.c:2:10: fatal error: cuda.h: No such file or directory",
                         "missing-other-header"),
    "msvc-other-header": (r"C:\Temp\tmp1\main.c(1): fatal error C1083: Cannot open include "
                          "file: 'cuda.h': No such file or directory", "missing-other-header"),
    "clang-other-header": ("x.c:2:10: fatal error: 'zlib.h' file not found",
                           "missing-other-header"),
}


def test_every_recogniser_has_a_sample():
    ids = {r.id for r in ex.load_rules().failures}
    assert ids == set(SAMPLES)


@pytest.mark.parametrize("rid", sorted(SAMPLES))
def test_recogniser_sample(rid):
    line, cls = SAMPLES[rid]
    found = ex.scan(ex.read_log(line.encode()))
    assert [(f.id, f.cls) for f in found.failures] == [(rid, cls)]


def test_priority_compiler_before_header():
    log = ("x.c:1:10: fatal error: Python.h: No such file or directory\n"
           "error: command 'gcc' failed: No such file or directory\n")
    logf = ex.scan(ex.read_log(log.encode()))
    assert ex.primary_class(logf) == "no-compiler"
    assert {f.cls for f in logf.failures} == {"no-compiler", "missing-python-header"}


def test_bad_rules_file_names_the_entry(tmp_path):
    bad = tmp_path / "r.yaml"
    bad.write_text("classes: [a]\nfailures:\n  - {id: x, class: a, needle: n, regex: '(('}\n"
                   "tools: []\norigins: []\n")
    with pytest.raises(errors.InputError, match="'x'"):
        ex.load_rules(str(bad))
    bad.write_text("classes: [a]\nfailures:\n  - {id: y, class: b, needle: n, regex: 'z'}\n"
                   "tools: []\norigins: []\n")
    with pytest.raises(errors.InputError, match="unknown class 'b'"):
        ex.load_rules(str(bad))


# --------------------------------------------------------------------------- what -I says


@pytest.mark.parametrize("include,origin,xy,prefix", [
    ("/usr/include/python3.13", "system", "3.13", "/usr"),
    ("/root/.pyenv/versions/3.12.1/include/python3.12", "pyenv", "3.12",
     "/root/.pyenv/versions/3.12.1"),
    ("/home/u/miniconda3/envs/torch/include/python3.11", "conda", "3.11",
     "/home/u/miniconda3/envs/torch"),
    ("/opt/conda/include/python3.10", "conda", "3.10", "/opt/conda"),
    ("/home/u/.local/share/uv/python/cpython-3.12.7-linux-x86_64-gnu/include/python3.12",
     "uv", "3.12", "/home/u/.local/share/uv/python/cpython-3.12.7-linux-x86_64-gnu"),
    ("/install/include/python3.13t", "python-build-standalone", "3.13", "/install"),
    ("/usr/local/include/python3.12", "usr-local", "3.12", "/usr/local"),
    ("/opt/homebrew/opt/python@3.12/Frameworks/Python.framework/Versions/3.12/include/"
     "python3.12", "brew", "3.12",
     "/opt/homebrew/opt/python@3.12/Frameworks/Python.framework/Versions/3.12"),
    ("/Library/Frameworks/Python.framework/Versions/3.13/include/python3.13", "python.org",
     "3.13", "/Library/Frameworks/Python.framework/Versions/3.13"),
    ("/opt/python/3.9.18/include/python3.9", "other", "3.9", "/opt/python/3.9.18"),
])
def test_origin_of_include_dir(include, origin, xy, prefix):
    logf = ex.scan(["g++ x.cpp -I%s -o x.so" % include,
                    "x.cpp:1:10: fatal error: Python.h: No such file or directory"])
    py = logf.python
    assert (py.origin, py.version, py.prefix) == (origin, xy, prefix)
    if origin == "pyenv":
        assert "pyenv install --force 3.12.1" in py.advice
    if include.endswith("t"):
        assert py.abiflags == "t"


def _py(**kw):
    base = {"executable": "/usr/bin/python3.11", "version": "3.11.2", "prefix": "/usr",
            "base_prefix": "/usr", "include": "/usr/include/python3.11",
            "include_candidates": ["/usr/include/python3.11"]}
    base.update(kw)
    return base


def test_judge():
    rules = ex.load_rules()
    sys311 = ex._python_from_include("/usr/include/python3.11", rules, None)
    sys313 = ex._python_from_include("/usr/include/python3.13", rules, None)
    local311 = ex._python_from_include("/usr/local/include/python3.11", rules, None)
    assert ex.judge(sys311, _py()).same is True
    assert ex.judge(sys313, _py()).same is False
    assert ex.judge(local311, _py()).same is False
    # Debian posix_local: the target's own candidates include /usr/local/include/python3.11
    assert ex.judge(local311, _py(include_candidates=["/usr/local/include/python3.11",
                                                      "/usr/include/python3.11"])).same is True
    assert ex.judge(None, _py()).same is None
    venv = ex.LogPython("3.11", "", None, "/opt/venv", "site-packages", "d", "", "/opt/venv")
    assert ex.judge(venv, _py(prefix="/opt/venv")).same is True
    assert ex.judge(venv, _py(prefix="/srv/other")).same is False


def test_command_from_python_list_repr():
    line = ("subprocess.CalledProcessError: Command '['/usr/bin/gcc', '/tmp/t/main.c', "
            "'-I/tmp/t', '-I/usr/include/python3.12']' returned non-zero exit status 1.")
    logf = ex.scan([line])
    assert logf.compiler == "/usr/bin/gcc"
    assert logf.include_dirs == ("/tmp/t", "/usr/include/python3.12")
    assert logf.source == "/tmp/t/main.c"


# --------------------------------------------------------------------------- this machine


def test_facts_files_are_valid():
    for f in sorted(FACTS.glob("*.json")):
        load_file(str(f))


def test_apply_on_unrecognised_log_exits_11(capsys, monkeypatch):
    rc, got = cli_json(capsys, "-", "--apply", "--yes", stdin=b"all fine\n",
                       monkeypatch=monkeypatch)
    assert rc == errors.NOT_RECOGNISED and got["recognised"] is False
