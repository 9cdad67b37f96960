"""Consumer checks (issue 14): run the program that failed, the way it builds.

fixenv's own verification proves Python.h is reachable; these prove that the tools people
hit the error with now build: torch.compile (Inductor, CPU), Triton's own C build path,
pip/setuptools, cffi and Cython. Each runs as a snippet of the TARGET interpreter (through
fixenv/runner.py), in a private temporary directory with private caches, with a timeout,
and reports its elapsed time.

* ``find(facts, runner)``: which consumers the target can import. One tiny probe using
  importlib.util.find_spec and importlib.metadata: nothing is imported, so it stays cheap.
* ``run(facts, names, runner, timeout)``: one ConsumerCheck per name.

When a consumer fails while fixenv's own checks pass, its output goes through explain's
recognisers (fixenv.explain.explain) and the check says what is still wrong and the fix.

Where the tools build (read from their sources):
* torch: torch/_inductor/cpp_builder.py runs $CXX (else g++) with -I<sysconfig include>
  and -std=c++17; the .so lands in $TORCHINDUCTOR_CACHE_DIR (else <tmp>/torchinductor_<user>).
* triton: triton/runtime/build.py: compile_module_from_src(src, name) (Triton >= 3.4;
  3.x before it: _build(name, src, srcdir, library_dirs, include_dirs, libraries); 2.x:
  _build(name, src, srcdir)) runs $CC (else gcc, clang) with -I<include of the default
  scheme>, in tempfile.TemporaryDirectory(), cached under $TRITON_CACHE_DIR.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from fixenv.model import Check
from fixenv.runner import Result, Runner

NAMES = ("torch", "triton", "pip", "cffi", "cython")
TIMEOUT = 600.0  # seconds per check; a cold torch.compile takes ~10-40 s on 2 cores
OK_MARK = "FIXENV-CONSUMER-OK "
NOEXEC = re.compile(r"failed to map segment from shared object|"
                    r"cannot open shared object file: Operation not permitted")


@dataclass(frozen=True)
class ConsumerCheck(Check):
    """A Check with the time it took (`seconds` in the JSON of `verify.checks`)."""

    seconds: float = 0.0

    def to_json(self) -> Dict[str, Any]:
        d = Check.to_json(self)
        d["seconds"] = round(self.seconds, 2)
        return d


# --------------------------------------------------------------------------- detection

FIND = r"""
import json, sys
try:
    from importlib.util import find_spec
except ImportError:
    find_spec = None
def has(mod):
    try:
        return find_spec is not None and find_spec(mod) is not None
    except Exception:
        return False
def version(dist):
    try:
        from importlib.metadata import version as v
        return v(dist)
    except Exception:
        return ""
mods = {"torch": "torch", "triton": "triton", "pip": "pip", "setuptools": "setuptools",
        "cffi": "cffi", "cython": "Cython", "distutils": "distutils", "wheel": "wheel"}
dists = {"torch": "torch", "triton": "triton", "pip": "pip", "setuptools": "setuptools",
         "cffi": "cffi", "cython": "Cython", "wheel": "wheel"}
out = {}
for key, mod in mods.items():
    if has(mod):
        out[key] = version(dists.get(key, "")) if key in dists else ""
sys.stdout.write(json.dumps(out))
"""


def inventory(facts: Mapping[str, Any], runner: Runner, timeout: float = 60) -> Dict[str, str]:
    """{consumer: version} of the consumers the target can import (plus "setuptools" and
    "distutils" when present, which pip, cffi and Cython build with)."""
    res = runner.run([facts["python"]["executable"], "-c", FIND], timeout=timeout)
    if not res.ok:
        return {}
    try:
        data = json.loads(res.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def usable(inv: Mapping[str, str]) -> List[str]:
    """The consumer names that can be checked, in NAMES order."""
    build = "setuptools" in inv or "distutils" in inv
    out = []
    for name in NAMES:
        if name not in inv:
            continue
        if name == "pip" and not (_has_bdist_wheel(inv)):
            continue  # pip builds the setup.py project with setuptools' bdist_wheel
        if name in ("cffi", "cython") and not build:
            continue
        out.append(name)
    return out


def _version_tuple(text: str) -> Tuple[int, ...]:
    out = []
    for part in text.split(".")[:3]:
        digits = re.match(r"\d+", part)
        out.append(int(digits.group(0)) if digits else 0)
    return tuple(out)


def _has_bdist_wheel(inv: Mapping[str, str]) -> bool:
    """setuptools >= 70.1 has bdist_wheel itself; older ones need the `wheel` package
    (without it `pip wheel --no-build-isolation` fails with "invalid command 'bdist_wheel'",
    which is no build-environment problem)."""
    if "setuptools" not in inv:
        return False
    return "wheel" in inv or _version_tuple(inv["setuptools"]) >= (70, 1)


def none_found(inv: Mapping[str, str], exe: str) -> str:
    """The one line saying there is nothing to check (and why pip, if present, is not)."""
    why = ""
    if "pip" in inv:
        why = "; pip is there but %s" % ("setuptools is not" if "setuptools" not in inv else
                                         "setuptools %s has no bdist_wheel and wheel is "
                                         "missing" % inv["setuptools"])
    return "no consumers installed for %s (none of %s usable%s)" % (exe, ", ".join(NAMES), why)


def find(facts: Mapping[str, Any], runner: Runner) -> List[str]:
    return usable(inventory(facts, runner))


def select(spec: Optional[str], found: Sequence[str]) -> Tuple[List[str], List[str]]:
    """`--consumers` value → (names to run, names asked for but not found). "all"/"" = all
    found. Unknown names raise UsageError."""
    from fixenv.errors import UsageError

    if spec is None or spec.strip() in ("", "all"):
        return list(found), []
    asked = [w.strip().lower() for w in spec.split(",") if w.strip()]
    bad = [w for w in asked if w not in NAMES]
    if bad:
        raise UsageError("--consumers %s: unknown consumer %s; choose from %s" % (
            spec, ", ".join(bad), ", ".join(NAMES)))
    return [n for n in NAMES if n in asked and n in found], \
        [n for n in NAMES if n in asked and n not in found]


# --------------------------------------------------------------------------- the snippets

PROBE_C = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>
static PyObject *answer(PyObject *self, PyObject *unused) { return PyLong_FromLong(42); }
static PyMethodDef methods[] = {{"answer", answer, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "NAME", NULL, -1, methods};
PyMODINIT_FUNC PyInit_NAME(void) { return PyModule_Create(&def); }
"""

TORCH = r"""
import sys, torch
torch.set_num_threads(1)
def f(x):
    return torch.sin(x) * 2 + torch.cos(x)
g = torch.compile(f, backend="inductor")
x = torch.arange(8, dtype=torch.float32, device="cpu")
if not torch.allclose(g(x), f(x)):
    sys.exit("torch.compile gave a wrong result")
sys.stdout.write("%storch %s: torch.compile (Inductor, CPU) built and ran a kernel\n"
                 % (MARK, torch.__version__))
"""

TRITON = r"""
import inspect, importlib.util, os, sys, tempfile
import triton
from triton.runtime import build
SRC = PROBE.replace("NAME", "fixenv_triton_probe")
if hasattr(build, "compile_module_from_src"):
    how = "compile_module_from_src"
    mod = build.compile_module_from_src(SRC, "fixenv_triton_probe")
else:
    how = "_build"
    d = tempfile.mkdtemp()
    src = os.path.join(d, "main.c")
    with open(src, "w") as fh:
        fh.write(SRC)
    n = len(inspect.signature(build._build).parameters)
    args = ("fixenv_triton_probe", src, d) + (([], [], []) if n >= 6 else ())
    so = build._build(*args)
    spec = importlib.util.spec_from_file_location("fixenv_triton_probe", so)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
if mod.answer() != 42:
    sys.exit("the module Triton built returned the wrong answer")
sys.stdout.write("%striton %s: triton.runtime.build.%s built and loaded a C extension\n"
                 % (MARK, triton.__version__, how))
"""

# pip: fixenv writes the project and runs the target's pip itself (through the runner);
# then this snippet imports what it built
PIP = r"""
import glob, os, sys, zipfile
work = os.environ["FIXENV_CONSUMER_DIR"]
wheel = glob.glob(os.path.join(work, "wheels", "*.whl"))[0]
site = os.path.join(work, "site")
zipfile.ZipFile(wheel).extractall(site)
sys.path.insert(0, site)
import fixenv_pip_probe
if fixenv_pip_probe.answer() != 42:
    sys.exit("the built module returned the wrong answer")
import pip
sys.stdout.write("%spip %s: `pip wheel --no-build-isolation` built %s and it imports\n"
                 % (MARK, pip.__version__, os.path.basename(wheel)))
"""

PIP_SETUP = ("from setuptools import Extension, setup\n"
             "setup(name='fixenv-pip-probe', version='0.1', "
             "ext_modules=[Extension('fixenv_pip_probe', ['fixenv_pip_probe.c'])])\n")


def pip_wheel_argv(exe: str, work: str) -> List[str]:
    """The generated two-file project (setup.py + a C file) and the pip command for it."""
    proj = os.path.join(work, "proj")
    os.makedirs(proj)
    with open(os.path.join(proj, "setup.py"), "w") as fh:
        fh.write(PIP_SETUP)
    with open(os.path.join(proj, "fixenv_pip_probe.c"), "w") as fh:
        fh.write(PROBE_C.replace("NAME", "fixenv_pip_probe"))
    return [exe, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
            "--no-cache-dir", "--disable-pip-version-check", "-w", os.path.join(work, "wheels"),
            proj]


CFFI = r"""
import os, sys, cffi
from cffi import FFI
work = os.environ["FIXENV_CONSUMER_DIR"]
ffi = FFI()
ffi.cdef("int fixenv_add(int a, int b);")
ffi.set_source("_fixenv_cffi_probe",
               "#include <Python.h>\nstatic int fixenv_add(int a, int b) { return a + b; }\n")
so = ffi.compile(tmpdir=work, verbose=True)
sys.path.insert(0, work)
from _fixenv_cffi_probe import lib
if lib.fixenv_add(2, 3) != 5:
    sys.exit("the cffi module returned the wrong answer")
sys.stdout.write("%scffi %s: ffibuilder.compile (API mode) built %s\n"
                 % (MARK, cffi.__version__, os.path.basename(so)))
"""

CYTHON = r"""
import os, sys
import Cython
from Cython.Build.Cythonize import main as cythonize_main
work = os.environ["FIXENV_CONSUMER_DIR"]
pyx = os.path.join(work, "fixenv_cy_probe.pyx")
with open(pyx, "w") as fh:
    fh.write("def answer(int a, int b):\n    return a * b\n")
os.chdir(work)
try:
    cythonize_main(["-i", "-3", pyx])
except SystemExit as exc:
    if exc.code:
        raise
sys.path.insert(0, work)
import fixenv_cy_probe
if fixenv_cy_probe.answer(6, 7) != 42:
    sys.exit("the Cython module returned the wrong answer")
sys.stdout.write("%scython %s: cythonize -i built and imported a .pyx\n"
                 % (MARK, Cython.__version__))
"""

SNIPPETS = {"torch": TORCH, "triton": TRITON, "pip": PIP, "cffi": CFFI, "cython": CYTHON}


def snippet(name: str) -> str:
    return "MARK = %r\nPROBE = %r\n%s" % (OK_MARK, PROBE_C, SNIPPETS[name])


# --------------------------------------------------------------------------- running


def private_env(work: str, extra: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """Private caches for one check (nothing reused from an earlier build), offline pip."""
    tmp = os.path.join(work, "tmp")
    os.makedirs(tmp, exist_ok=True)
    env = dict(extra or {})
    env.update({
        "FIXENV_CONSUMER_DIR": work,
        "TMPDIR": tmp,
        "TORCHINDUCTOR_CACHE_DIR": os.path.join(work, "inductor-cache"),
        "TRITON_CACHE_DIR": os.path.join(work, "triton-cache"),
        "TORCHINDUCTOR_COMPILE_THREADS": "1",  # compile in-process: no worker pool to start
        "PYTHONDONTWRITEBYTECODE": "1",
        "PIP_NO_INDEX": "1", "PIP_NO_CACHE_DIR": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
        "CYTHON_CACHE_DIR": os.path.join(work, "cython-cache"),
        "XDG_CACHE_HOME": os.path.join(work, "cache"),
    })
    return env


def _tail(text: str, n: int = 12) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return "\n".join(lines[-n:])


def diagnose(name: str, output: str, facts: Mapping[str, Any], own_ok: Optional[bool],
             explain_fn: Any = None) -> Tuple[str, Optional[str]]:
    """(what is still wrong, the fix) for a failed consumer."""
    from fixenv.facts import buildenv as be_mod

    apply_cmd = "fixenv apply --yes --python %s" % shlex.quote(str(facts["python"]["executable"]))
    problems = be_mod.problems(facts.get("buildenv") or {})
    if NOEXEC.search(output):  # before anything else: fixenv's own import fails the same way
        where = "; ".join(problems) or "a temporary or cache directory is mounted noexec"
        return ("it cannot load the .so it built: %s" % where, apply_cmd)
    if own_ok is False:
        return ("fixenv's own checks fail too (headers, compilers or the test build): fix "
                "those first", apply_cmd)
    if explain_fn is None:
        from fixenv.explain import explain as explain_fn
    try:
        e = explain_fn(output.encode("utf-8", "replace"), facts=dict(facts))
    except Exception as exc:  # noqa: BLE001 - a diagnosis must never hide the failure
        return ("the log could not be read by explain (%s: %s)" % (type(exc).__name__, exc),
                None)
    cenv = [c["problem"] for c in (facts.get("buildenv") or {}).get("compiler_env") or []]
    if getattr(e, "recognised", False) and getattr(e, "cls", None) == "no-compiler" and cenv:
        # not a missing compiler: the build ran the one $CC/$CXX names
        return ("still wrong: %s (%s)" % ("; ".join(cenv), e.summary), apply_cmd)
    if getattr(e, "recognised", False):
        fix = getattr(e, "apply_command", None)
        advice = list(getattr(e, "advice", ()) or ())
        still = e.summary + ("; " + "; ".join(advice) if advice else "")
        if problems:
            still += "; also: " + "; ".join(problems)
        return ("still wrong: " + still, fix or (advice[0] if advice else None))
    if problems:
        return ("still wrong: " + "; ".join(problems), apply_cmd)
    return ("not recognised by `fixenv explain`: the failure is not in the build "
            "environment fixenv manages (its output follows)", None)


def run_one(name: str, facts: Mapping[str, Any], runner: Runner, *, timeout: float = TIMEOUT,
            env: Optional[Mapping[str, str]] = None, own_ok: Optional[bool] = None,
            explain_fn: Any = None) -> ConsumerCheck:
    base_tmp = (env or {}).get("TMPDIR") or None
    if base_tmp and not os.path.isdir(base_tmp):
        base_tmp = None
    started = time.monotonic()
    work = tempfile.mkdtemp(prefix="fixenv-consumer-%s-" % name, dir=base_tmp)
    exe = facts["python"]["executable"]
    try:
        penv = private_env(work, env)
        res = None
        if name == "pip":
            res = runner.run(pip_wheel_argv(exe, work), env=penv, timeout=timeout, cwd=work)
        if res is None or res.ok:
            left = max(1.0, timeout - (time.monotonic() - started))
            last = runner.run([exe, "-c", snippet(name)], env=penv, timeout=left, cwd=work)
            res = last if res is None else Result(last.argv, last.rc, res.stdout + last.stdout,
                                                  res.stderr + last.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    seconds = time.monotonic() - started
    out = res.output
    mark = [ln for ln in res.stdout.splitlines() if ln.startswith(OK_MARK)]
    if res.ok and mark:
        return ConsumerCheck("consumer:" + name, True, "%s (%.1f s)" % (
            mark[-1][len(OK_MARK):], seconds), None, seconds)
    if res.rc == 124:
        head = "%s check timed out after %ss" % (name, int(timeout))
    else:
        head = "%s failed (exit %d)" % (name, res.rc)
    still, fix = diagnose(name, out, facts, own_ok, explain_fn)
    detail = "%s after %.1f s: %s\n%s" % (head, seconds, still, _tail(out))
    return ConsumerCheck("consumer:" + name, False, detail.rstrip(), fix, seconds)


def run(facts: Mapping[str, Any], names: Sequence[str], runner: Runner,
        timeout: float = TIMEOUT, *, env: Optional[Mapping[str, str]] = None,
        own_ok: Optional[bool] = None, explain_fn: Any = None) -> Tuple[ConsumerCheck, ...]:
    """One check per name, one after the other (each times alone on a shared machine).
    `env`: variables the checks run with on top of this process's (apply passes what a new
    shell gets after its changes)."""
    return tuple(run_one(n, facts, runner, timeout=timeout, env=env, own_ok=own_ok,
                         explain_fn=explain_fn) for n in names)


def not_found(names: Sequence[str]) -> Tuple[ConsumerCheck, ...]:
    """Checks asked for by name that the target cannot import: failed, with the reason."""
    return tuple(ConsumerCheck("consumer:" + n, False, "%s is not importable by the target "
                               "(or, for pip/cffi/cython, setuptools is missing)" % n)
                 for n in names)


def env_after_apply(facts: Mapping[str, Any]) -> Dict[str, str]:
    """What a new shell has after apply: the build-env step's variables and CPATH."""
    from fixenv.kinds.buildenv import env_after

    out = env_after(facts)
    cp = facts.get("cpath") or {}
    if cp.get("dirs") and cp.get("value"):
        out["CPATH"] = str(cp["value"])
    return out


def bare_flag(argv: Sequence[str]) -> List[str]:
    """`--consumers` with no value (last, or followed by an option) means all found: spelled
    `--consumers=all` for the parsers, which need a value."""
    out = list(argv)
    for i, a in enumerate(out):
        if a == "--consumers" and (i + 1 >= len(out) or out[i + 1].startswith("-")):
            out[i] = "--consumers=all"
    return out
