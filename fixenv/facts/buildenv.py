"""The build environment beyond headers: what breaks torch.compile, Triton and friends after
Python.h and a compiler are in place (issue 14). Detected without starting a process.

Facts group ``buildenv``::

    noexec:       [{what, path}]   directories a build writes a .so into and loads it from,
                                   mounted noexec ("failed to map segment from shared object")
    exec_dir:     str|null         an exec-capable directory to use instead
    compiler_env: [{var, value, problem, use}]   CC/CXX naming a missing or non-C/C++ program
    fix_env:      {VAR: {from, to, why}}   what new shells should get (persisted like CPATH)
    openmp:       bool|null        macOS: libomp's omp.h installed (Inductor's -fopenmp); null
                                   elsewhere (gcc ships omp.h)
    cxx17:        bool|null        the C++ compiler accepts -std=c++17 (what Triton's C++ builds
                                   and Inductor before torch 2.x's switch pass); null until
                                   probed (`probe_cxx17`, doctor --deep / --consumers)
    cxx20:        bool|null        the same for -std=c++20, which torch 2.13's Inductor passes
                                   (torch/_inductor/cpp_builder.py _get_cpp_std_cflag default
                                   "c++20"; GCC < 10 spells it -std=c++2a): a note, not a
                                   failure, since an older torch does not need it

Who uses which directory (sources: torch/_inductor/runtime/cache_dir_utils.py cache_dir():
$TORCHINDUCTOR_CACHE_DIR else <tempfile.gettempdir()>/torchinductor_<user>; Triton 3.x
triton/knobs.py: $TRITON_CACHE_DIR else $TRITON_HOME or ~ + /.triton/cache, and
triton/runtime/build.py builds in tempfile.TemporaryDirectory() before copying to the cache).
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
from typing import Any, Callable, Dict, List, Mapping, Optional

# Names of C/C++ compiler drivers, optionally target-prefixed and versioned
# ("x86_64-linux-gnu-gcc-12", "clang++-16", "icx").
COMPILER = re.compile(r"^(?:[\w.+-]+-)?(?:gcc|g\+\+|cc|c\+\+|clang|clang\+\+|icc|icpc|icx|icpx|"
                      r"tcc|suncc|xlc|xlc\+\+|nvc|nvc\+\+)(?:-\d+(?:\.\d+)*)?$")
C_ONLY = re.compile(r"^(?:[\w.+-]+-)?(?:gcc|cc|clang|icc|icx|tcc)(?:-\d+(?:\.\d+)*)?$")
WRAPPERS = ("ccache", "sccache", "distcc", "icecc")
CC_NAMES = ("gcc", "cc", "clang")
CXX_NAMES = ("g++", "c++", "clang++")
LIBOMP_HEADERS = ("/opt/homebrew/opt/libomp/include/omp.h", "/usr/local/opt/libomp/include/omp.h")

Statvfs = Callable[[str], Any]


def is_noexec(path: str, statvfs: Optional[Statvfs] = None) -> Optional[bool]:
    """Is the file system holding `path` (or its nearest existing parent) mounted noexec?
    None when it cannot be told (no such flag on this OS, or statvfs fails)."""
    flag = getattr(os, "ST_NOEXEC", None)
    if flag is None:
        return None
    p = os.path.abspath(path)
    while not os.path.exists(p) and os.path.dirname(p) != p:
        p = os.path.dirname(p)
    try:
        st = (statvfs or os.statvfs)(p)
    except OSError:
        return None
    return bool(st.f_flag & flag)


def temp_dir(environ: Mapping[str, str]) -> str:
    """The directory tempfile.gettempdir() picks for a child with this environment."""
    for var in ("TMPDIR", "TEMP", "TMP"):
        value = environ.get(var)
        if value and os.path.isdir(value):
            return value
    return "/tmp"


def _home(environ: Mapping[str, str]) -> str:
    return environ.get("HOME") or os.path.expanduser("~")


def _compiler_env(environ: Mapping[str, str], which: Callable[[str], Optional[str]]
                  ) -> List[Dict[str, Any]]:
    out: List[Dict[str, Any]] = []
    for var, names, lang in (("CC", CC_NAMES, "C"), ("CXX", CXX_NAMES, "C++")):
        value = environ.get(var)
        if value is None or value == "":
            continue
        use = next((p for p in (which(n) for n in names) if p), None)
        try:
            words = shlex.split(value)
        except ValueError:
            words = []
        progs = [w for w in words if not w.startswith("-")]
        while len(progs) > 1 and os.path.basename(progs[0]) in WRAPPERS:
            progs = progs[1:]
        problem = None
        if not progs:
            problem = "%s=%r names no program" % (var, value)
        else:
            prog = progs[0]
            found = which(prog) if os.sep not in prog else (
                prog if os.path.isfile(prog) and os.access(prog, os.X_OK) else None)
            base = os.path.basename(prog)
            if found is None:
                problem = "%s=%s: no such program (Triton runs $CC, Inductor $CXX)" % (var, value)
            elif not COMPILER.match(base):
                problem = "%s=%s is not a %s compiler" % (var, value, lang)
            elif var == "CXX" and C_ONLY.match(base):
                problem = ("CXX=%s is a C compiler driver: it does not link the C++ library "
                           "Inductor's code needs" % value)
        if problem:
            out.append({"var": var, "value": value, "problem": problem, "use": use})
    return out


def detect(environ: Mapping[str, str], *, system: str = "Linux", root: bool = False,
           which: Callable[[str], Optional[str]] = shutil.which,
           statvfs: Optional[Statvfs] = None,
           isfile: Callable[[str], bool] = os.path.isfile) -> Dict[str, Any]:
    """The ``buildenv`` facts group (no processes: statvfs and file checks only)."""
    home = _home(environ)
    tmp = temp_dir(environ)
    noexec: List[Dict[str, str]] = []
    fix_env: Dict[str, Dict[str, str]] = {}

    def check(what: str, path: str) -> bool:
        bad = is_noexec(path, statvfs) is True
        if bad:
            noexec.append({"what": what, "path": path})
        return bad

    tmp_bad = check("TMPDIR" if environ.get("TMPDIR") else "/tmp", tmp)
    cache_home = environ.get("XDG_CACHE_HOME") or os.path.join(home, ".cache")
    check("~/.cache", cache_home)
    inductor = environ.get("TORCHINDUCTOR_CACHE_DIR")
    inductor_bad = bool(inductor) and check("TORCHINDUCTOR_CACHE_DIR", str(inductor))
    triton = environ.get("TRITON_CACHE_DIR") or os.path.join(
        environ.get("TRITON_HOME") or home, ".triton", "cache")
    triton_bad = check("TRITON_CACHE_DIR", triton)
    exec_dir = None
    candidates = ["/var/tmp"] if root else [os.path.join(cache_home, "fixenv-tmp"),
                                             os.path.join(home, ".local", "share", "fixenv",
                                                          "tmp"), "/var/tmp"]
    for cand in candidates:
        if is_noexec(cand, statvfs) is False:
            exec_dir = cand
            break
    if exec_dir:
        if tmp_bad:
            fix_env["TMPDIR"] = {"from": environ.get("TMPDIR") or "", "to": exec_dir,
                                 "why": "%s is mounted noexec" % tmp}
        if inductor_bad:
            fix_env["TORCHINDUCTOR_CACHE_DIR"] = {
                "from": str(inductor), "to": os.path.join(exec_dir, "torchinductor"),
                "why": "%s is mounted noexec" % inductor}
        if triton_bad:
            fix_env["TRITON_CACHE_DIR"] = {
                "from": environ.get("TRITON_CACHE_DIR") or "",
                "to": os.path.join(exec_dir, "triton-cache"),
                "why": "%s is mounted noexec" % triton}
    cenv = _compiler_env(environ, which)
    for c in cenv:
        if c["use"]:
            fix_env[c["var"]] = {"from": c["value"], "to": c["use"], "why": c["problem"]}
    openmp = None
    if system == "Darwin":
        openmp = any(isfile(p) for p in LIBOMP_HEADERS)
    return {"noexec": noexec, "exec_dir": exec_dir, "compiler_env": cenv, "fix_env": fix_env,
            "openmp": openmp, "cxx17": None, "cxx20": None}


STD_TEST = "#if __cplusplus < %dL\n#error too old\n#endif\nint main(){}\n"
STD_VALUE = {"c++17": 201703, "c++20": 202002}


def probe_std(cxx: Optional[str], runner: Any, std: str = "c++17",
              timeout: float = 30) -> Optional[bool]:
    """Does `cxx -std=<std>` compile (syntax only)? None without a C++ compiler."""
    if not cxx:
        return None
    res = runner.run([cxx, "-std=" + std, "-fsyntax-only", "-x", "c++", "-"],
                     input=STD_TEST % STD_VALUE[std], timeout=timeout)
    return res.rc == 0


def probe_cxx17(cxx: Optional[str], runner: Any, timeout: float = 30) -> Optional[bool]:
    return probe_std(cxx, runner, "c++17", timeout)


def notes(group: Mapping[str, Any]) -> List[str]:
    """Worth knowing, not a failure."""
    if group.get("cxx20") is False and group.get("cxx17") is not False:
        return ["the C++ compiler rejects -std=c++20, which torch 2.13's Inductor passes "
                "(an older torch passes -std=c++17)"]
    return []


def problems(group: Mapping[str, Any]) -> List[str]:
    """One line per problem in a ``buildenv`` group (for doctor and the consumer checks)."""
    out = ["%s (%s) is mounted noexec: a build that loads the .so it wrote there fails with "
           "'failed to map segment from shared object'" % (n["path"], n["what"])
           for n in group.get("noexec") or []]
    out += [c["problem"] for c in group.get("compiler_env") or []]
    if group.get("cxx17") is False:
        out.append("the C++ compiler rejects -std=c++17 (Torch Inductor passes it): it is "
                   "too old")
    if group.get("openmp") is False:
        out.append("no OpenMP for clang (omp.h from libomp): Torch Inductor's CPU code needs it")
    return out
