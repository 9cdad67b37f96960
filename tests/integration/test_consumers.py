"""Issue 14: consumer checks (fixenv/consumers.py) and their wiring (verify, doctor, CLI).

The real builds run with real interpreters here: the host's /usr/bin/python3.11 has pip,
setuptools and wheel (Debian's), so the pip check is real; torch/Triton/cffi/Cython run for
real in tests/e2e/test_consumers.py. Stand-in interpreters (scripts on disk) are used only
to make a consumer absent, fail or hang on purpose.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.factsfix import make_facts

from fixenv import consumers
from fixenv.errors import UsageError
from fixenv.facts import gather, validate
from fixenv.runner import RecordingRunner, Runner
from fixenv.verify import VerifyResult, with_consumers

HOST = "/usr/bin/python3.11"
LOGS = Path(__file__).resolve().parents[1] / "logs"


def host_facts():
    if not os.access(HOST, os.X_OK):
        pytest.skip("no %s" % HOST)
    return gather(RecordingRunner(), HOST)


def fake_python(tmp_path, body: str) -> str:
    """An executable posing as the target: `-c CODE` runs `body` (sh) instead."""
    exe = tmp_path / "python"
    exe.write_text("#!/bin/sh\n" + body + "\n")
    exe.chmod(0o755)
    return str(exe)


def facts_for(exe: str):
    f = host_facts()
    f = json.loads(json.dumps(f))
    f["python"]["executable"] = exe
    return f


def test_find_sees_the_host_pythons_pip_without_importing_anything():
    f = host_facts()
    inv = consumers.inventory(f, Runner())
    real = subprocess.run([HOST, "-c", "import setuptools, pip; print(pip.__version__, "
                           "setuptools.__version__)"], capture_output=True, text=True)
    pip_v, st_v = real.stdout.split()
    assert inv["pip"] == pip_v and inv["setuptools"] == st_v
    assert ("torch" in inv) == (subprocess.run([HOST, "-c", "import torch"],
                                               capture_output=True).returncode == 0)
    # the probe imports none of them: find_spec only
    code = consumers.FIND + "\nimport sys; sys.stderr.write(repr(sorted(m for m in " \
        "('pip', 'setuptools', 'torch', 'cffi', 'Cython') if m in sys.modules)))"
    res = subprocess.run([HOST, "-c", code], capture_output=True, text=True)
    assert res.stderr == "[]"


def test_the_pip_check_builds_a_real_wheel_with_the_targets_pip():
    f = host_facts()
    if "pip" not in consumers.find(f, Runner()):
        pytest.skip("pip cannot bdist_wheel with %s here" % HOST)
    (check,) = consumers.run(f, ["pip"], Runner(), timeout=300)
    assert check.ok, check.detail
    assert check.name == "consumer:pip" and check.seconds > 0
    assert "fixenv_pip_probe-0.1-cp311" in check.detail
    j = check.to_json()
    assert set(j) == {"name", "ok", "detail", "seconds"} and j["seconds"] > 0


def test_usable_needs_a_way_to_build():
    inv = {"pip": "23", "setuptools": "66.1.1", "cffi": "1.16", "cython": "3.0", "torch": "2"}
    assert consumers.usable(inv) == ["torch", "cffi", "cython"]  # no wheel, no bdist_wheel
    assert "pip" in consumers.usable(dict(inv, wheel="0.38"))
    assert "pip" in consumers.usable(dict(inv, setuptools="70.1.0"))
    assert consumers.usable({"cffi": "1", "cython": "3"}) == []  # nothing builds them
    assert consumers.usable({"cffi": "1", "distutils": ""}) == ["cffi"]


def test_select_and_the_bare_flag():
    found = ["torch", "pip"]
    assert consumers.select(None, found) == (["torch", "pip"], [])
    assert consumers.select("all", found) == (["torch", "pip"], [])
    assert consumers.select("pip,triton", found) == (["pip"], ["triton"])
    with pytest.raises(UsageError) as err:
        consumers.select("pip,numpy", found)
    assert "unknown consumer numpy" in err.value.message
    assert consumers.bare_flag(["verify", "--consumers"]) == ["verify", "--consumers=all"]
    assert consumers.bare_flag(["verify", "--consumers", "--json"]) == \
        ["verify", "--consumers=all", "--json"]
    assert consumers.bare_flag(["verify", "--consumers", "pip"]) == \
        ["verify", "--consumers", "pip"]


def test_a_consumer_that_fails_while_fixenvs_checks_pass_is_explained(tmp_path):
    # the real torch.compile log of a machine without Python.h, from a target whose own
    # checks pass: explain's recognisers say what is wrong
    log = (LOGS / "torch-inductor-no-python-h" / "log.txt").read_text()
    (tmp_path / "log.txt").write_text(log)
    exe = fake_python(tmp_path, "cat %s >&2; exit 1" % (tmp_path / "log.txt"))
    f = facts_for(HOST)
    f["python"]["executable"] = exe
    (check,) = consumers.run(f, ["torch"], Runner(), timeout=60, own_ok=True)
    assert not check.ok and check.name == "consumer:torch"
    assert check.detail.startswith("torch failed (exit 1) after ")
    assert "still wrong: PyTorch Inductor (torch.compile) failed: the Python headers are " \
           "missing" in check.detail
    assert "fatal error: Python.h" in check.detail  # the tail of its own output


def test_own_checks_failing_say_so_and_give_the_apply_command(tmp_path):
    exe = fake_python(tmp_path, "echo 'fatal error: Python.h: No such file' >&2; exit 1")
    f = facts_for(HOST)
    f["python"]["executable"] = exe
    (check,) = consumers.run(f, ["cffi"], Runner(), timeout=60, own_ok=False)
    assert "fixenv's own checks fail too" in check.detail
    assert check.fix == "fixenv apply --yes --python %s" % exe


def test_a_noexec_failure_names_the_directory(tmp_path):
    exe = fake_python(tmp_path, "echo 'ImportError: /scratch/x/_m.so: failed to map segment "
                                "from shared object' >&2; exit 1")
    f = facts_for(HOST)
    f["python"]["executable"] = exe
    f["buildenv"]["noexec"] = [{"what": "TMPDIR", "path": "/scratch"}]
    (check,) = consumers.run(f, ["triton"], Runner(), timeout=60, own_ok=True)
    assert "it cannot load the .so it built: /scratch (TMPDIR) is mounted noexec" in check.detail
    assert check.fix.startswith("fixenv apply --yes --python ")


def test_unrecognised_failures_say_so(tmp_path):
    exe = fake_python(tmp_path, "echo 'SyntaxError: invalid syntax' >&2; exit 1")
    f = facts_for(HOST)
    f["python"]["executable"] = exe
    (check,) = consumers.run(f, ["cython"], Runner(), timeout=60, own_ok=True)
    assert "not recognised by `fixenv explain`" in check.detail and check.fix is None


def test_a_hanging_consumer_times_out(tmp_path):
    exe = fake_python(tmp_path, "sleep 30")
    f = facts_for(HOST)
    f["python"]["executable"] = exe
    (check,) = consumers.run(f, ["torch"], Runner(), timeout=1, own_ok=True)
    assert not check.ok and "torch check timed out after 1s" in check.detail
    assert check.seconds < 10


def test_each_check_gets_private_dirs_inside_the_temp_dir_it_is_given(tmp_path):
    out = tmp_path / "env.txt"
    exe = fake_python(tmp_path, "env > %s; exit 3" % out)
    f = facts_for(HOST)
    f["python"]["executable"] = exe
    base = tmp_path / "tmp"
    base.mkdir()
    consumers.run(f, ["torch"], Runner(), timeout=30, env={"TMPDIR": str(base)}, own_ok=True)
    env = dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)
    work = env["FIXENV_CONSUMER_DIR"]
    assert work.startswith(str(base) + "/fixenv-consumer-torch-")
    assert env["TORCHINDUCTOR_CACHE_DIR"] == work + "/inductor-cache"
    assert env["TRITON_CACHE_DIR"] == work + "/triton-cache"
    assert env["TMPDIR"] == work + "/tmp" and env["PIP_NO_INDEX"] == "1"
    assert not os.path.exists(work)  # removed afterwards


def test_with_consumers_adds_checks_after_fixenvs_own(tmp_path):
    exe = fake_python(tmp_path, 'case "$2" in *FIND*|*find_spec*) printf \'{}\' ;; esac')
    f = facts_for(HOST)
    f["python"]["executable"] = exe
    own = VerifyResult(exe, ())
    got = with_consumers(own, f, Runner())
    names = [c.name for c in got.checks]
    assert names == ["build-env", "consumers"]
    assert got.checks[1].detail.startswith("no consumers installed for %s" % exe)
    asked = with_consumers(own, f, Runner(), "torch")
    assert [c.name for c in asked.checks][-1] == "consumer:torch"
    assert asked.ok is False and "not importable" in asked.checks[-1].detail


def test_plan_and_verify_without_the_flag_never_look_for_consumers(tmp_path):
    facts = make_facts(python={"executable": HOST, "has_headers": True})
    p = tmp_path / "facts.json"
    p.write_text(json.dumps(facts))
    code = ("import sys; from fixenv.fastpath import run; rc = run(['plan', '--facts', %r]); "
            "sys.stderr.write('rc=%%s %%s' %% (rc, [m for m in ('fixenv.consumers', 'torch', "
            "'fixenv.explain') if m in sys.modules]))" % str(p))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.stderr.endswith("rc=0 []"), res.stderr


def test_verify_consumers_json_contract_with_the_cli():
    if not os.access(HOST, os.X_OK):
        pytest.skip("no %s" % HOST)
    res = subprocess.run([sys.executable, "-m", "fixenv", "verify", "--python", HOST,
                          "--consumers=pip", "--json"], capture_output=True, text=True)
    data = json.loads(res.stdout)
    by = {c["name"]: c for c in data["checks"]}
    assert "headers" in by and "build-env" in by
    if "consumer:pip" in by:
        c = by["consumer:pip"]
        assert set(c) >= {"name", "ok", "seconds", "detail"} and isinstance(c["seconds"], float)
    bad = subprocess.run([sys.executable, "-m", "fixenv", "verify", "--consumers=numpy"],
                         capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr.startswith("fixenv: error: --consumers numpy: unknown consumer numpy")


def test_doctor_lists_consumers_in_one_line_when_there_are_none(tmp_path):
    from fixenv.commands import doctor as doc
    from fixenv.model import Check

    report = doc.DoctorReport("/x", (), None, (), None)
    out = doc.consumer_checks(report, [Check("consumers", True, "no consumers installed for /x "
                                             "(none of torch, triton, pip, cffi, cython)")],
                              None)
    assert [c.name for c in out.checks] == ["consumers"] and out.ok
    failed = doc.consumer_checks(report, [consumers.ConsumerCheck(
        "consumer:torch", False, "torch failed", "fixenv apply --yes --python /x", 1.0)], None)
    assert not failed.ok and failed.checks[0].fix == "fixenv apply --yes --python /x"


def test_facts_files_without_buildenv_get_an_empty_group():
    doc = make_facts(python={"executable": HOST, "has_headers": True})
    got = validate(doc)["buildenv"]
    assert got == {"noexec": [], "exec_dir": None, "compiler_env": [], "fix_env": {},
                   "openmp": None, "cxx17": None, "cxx20": None}


def test_cc_naming_no_compiler_is_found_planned_and_named_by_the_pip_check():
    """Real: the host's pip builds with $CC; CC=gcc-99 (no such program) fails it, the check
    blames CC rather than asking for a compiler, and the plan (read-only) persists gcc."""
    f = host_facts()
    if "pip" not in consumers.find(f, Runner()):
        pytest.skip("pip cannot bdist_wheel with %s here" % HOST)
    env = dict(os.environ, CC="gcc-99")
    res = subprocess.run([sys.executable, "-m", "fixenv", "verify", "--python", HOST,
                          "--consumers=pip", "--json"], capture_output=True, text=True, env=env)
    by = {c["name"]: c for c in json.loads(res.stdout)["checks"]}
    assert res.returncode == 1
    assert by["build-env"]["ok"] is False and "CC=gcc-99: no such program" in \
        by["build-env"]["detail"]
    pip = by["consumer:pip"]
    assert pip["ok"] is False
    assert pip["detail"].split("\n")[0].split(": ", 1)[1].startswith(
        "still wrong: CC=gcc-99: no such program"), pip["detail"][:300]
    assert "gcc-99" in pip["detail"] and pip["fix"].startswith("fixenv apply --yes --python ")
    plan = subprocess.run([sys.executable, "-m", "fixenv", "plan", "--python", HOST, "--json"],
                          capture_output=True, text=True, env=env)
    step = next(s for s in json.loads(plan.stdout)["steps"] if s["id"] == "build-env")
    assert step["status"] == "change" and "CC=" in step["reason"]
    content = step["files"][0]["content"]
    assert "case \"${CC-}\" in 'gcc-99') CC='" in content and "mkdir" not in content
