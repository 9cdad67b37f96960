#!/usr/bin/env python3
"""Regenerate the *real* logs of the `fixenv explain` corpus (tests/logs/<case>/log.txt).

Not run by CI (it takes minutes and ~1 GB): the captured logs are committed as test data and
CI only checks fixenv's reading of them.  Needs root, debootstrap and overlayfs (the same
throwaway Debian 12 roots as tests/e2e, see tests/e2e/rootfs.py), and torch==2.13.0 (CPU)
installable with the host's pip configuration.

Usage:  .venv/bin/python scripts/make-explain-corpus.py [CASE ...]

Every case runs a failing build in a fresh overlay root and stores its combined output
verbatim.  Nothing is installed on the host except torch into a cache directory
($FIXENV_TEST_CACHE/explain/torchsite), which is copied into the venv inside each root.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e import rootfs  # noqa: E402

# FIXENV_CORPUS_OUT: write somewhere else (e.g. to check that regeneration reproduces the corpus)
LOGS = Path(os.environ.get("FIXENV_CORPUS_OUT") or REPO / "tests" / "logs")
VENV = "/opt/venv"  # where the "user" venv lives inside the root

TORCH_PROGRAM = """\
import torch

@torch.compile
def f(x):
    return torch.sin(x) + torch.cos(x)

print(f(torch.randn(8)))
"""

SPAM_SETUP = """\
from setuptools import Extension, setup

setup(name="spam", version="0.1", ext_modules=[Extension("spam", ["spam.c"])])
"""

SPAM_C = """\
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *answer(PyObject *self, PyObject *unused) { return PyLong_FromLong(42); }
static PyMethodDef methods[] = {{"answer", answer, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "spam", NULL, -1, methods};
PyMODINIT_FUNC PyInit_spam(void) { return PyModule_Create(&def); }
"""


def torchsite() -> Path:
    site = rootfs.cache_dir() / "explain" / "torchsite"
    if not (site / "torch" / "__init__.py").exists():
        site.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["/usr/bin/python3.11", "-m", "pip", "install", "--no-compile",
                        "--break-system-packages", "--target", str(site), "torch==2.13.0"],
                       check=True)
    return site


def make_venv(root: rootfs.Root, with_torch: bool) -> None:
    root.run(["python3", "-m", "venv", VENV])
    if with_torch:
        # what `pip install torch==2.13.0` in the venv leaves behind, without the download
        site = root.path(VENV + "/lib/python3.11/site-packages")
        subprocess.run(["cp", "-a", str(torchsite()) + "/.", str(site)], check=True)


def capture(root: rootfs.Root, argv: list, env: dict = None, cwd: str = None) -> str:
    """Run argv in the root like a user at a shell: stdout and stderr interleaved."""
    if cwd:
        argv = ["sh", "-c", 'cd "$1" && shift && exec "$@"', "sh", cwd] + argv
    base = {"PATH": VENV + "/bin:" + rootfs.CHROOT_PATH, "HOME": "/root", "LANG": "C.UTF-8",
            "VIRTUAL_ENV": VENV}
    base.update(env or {})
    full = ["chroot", str(root.merged), "/usr/bin/env", "-i"]
    full += ["%s=%s" % kv for kv in base.items()] + argv
    res = subprocess.run(full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         timeout=1800, stdin=subprocess.DEVNULL)
    print("  exit %d, %d lines" % (res.returncode, res.stdout.count("\n")), file=sys.stderr)
    if res.returncode == 0:
        raise SystemExit("expected a failure, got success:\n" + res.stdout[-3000:])
    return res.stdout


def save(case: str, text: str) -> None:
    d = LOGS / case
    d.mkdir(parents=True, exist_ok=True)
    (d / "log.txt").write_text(text)
    print("wrote %s (%d bytes)" % (d / "log.txt", len(text)), file=sys.stderr)


def torch_compile(root: rootfs.Root) -> str:
    make_venv(root, with_torch=True)
    root.write("/root/compile_me.py", TORCH_PROGRAM)
    return capture(root, ["python", "/root/compile_me.py"], cwd="/root")


def case_torch_no_headers() -> None:
    with rootfs.Root(rootfs.compiler_layer(), name="explain-torch-noheaders") as root:
        save("torch-inductor-no-python-h", torch_compile(root))


def case_torch_no_gxx() -> None:
    with rootfs.Root([rootfs.base_root()], name="explain-torch-nogxx") as root:
        save("torch-inductor-no-cxx", torch_compile(root))


def case_torch_no_omp_h() -> None:
    # gcc ships omp.h in its private include dir; removing it (in the throwaway root only)
    # reproduces the error users get with a compiler that has no OpenMP (e.g. Apple clang).
    with rootfs.Root(rootfs.compiler_layer(), name="explain-torch-noomp") as root:
        root.apt_install("python3.11-dev")
        root.run(["sh", "-c", "rm -f /usr/lib/gcc/x86_64-linux-gnu/12/include/omp.h"])
        save("torch-inductor-no-omp-h", torch_compile(root))


def _spam(root: rootfs.Root) -> None:
    root.write("/root/spam/setup.py", SPAM_SETUP)
    root.write("/root/spam/spam.c", SPAM_C)


def case_pip_no_headers() -> None:
    with rootfs.Root(rootfs.compiler_layer(), name="explain-pip-noheaders") as root:
        make_venv(root, with_torch=False)
        _spam(root)
        save("pip-setuptools-no-python-h",
             capture(root, ["pip", "install", "--no-index", "--no-build-isolation", "."],
                     cwd="/root/spam"))


def case_pip_no_gcc() -> None:
    with rootfs.Root([rootfs.base_root()], name="explain-pip-nogcc") as root:
        make_venv(root, with_torch=False)
        _spam(root)
        save("pip-setuptools-no-gcc",
             capture(root, ["pip", "install", "--no-index", "--no-build-isolation", "."],
                     cwd="/root/spam"))


def psutil_sdist() -> Path:
    """A real C-extension sdist (psutil), fetched once with the host's pip configuration."""
    d = rootfs.cache_dir() / "explain" / "sdists"
    found = sorted(d.glob("psutil-*.tar.gz")) if d.is_dir() else []
    if not found:
        d.mkdir(parents=True, exist_ok=True)
        subprocess.run(["/usr/bin/python3.11", "-m", "pip", "download", "--no-binary", ":all:",
                        "--no-deps", "psutil", "-d", str(d)], check=True)
        found = sorted(d.glob("psutil-*.tar.gz"))
    if not list(d.glob("wheel-*.whl")):  # setuptools 66 (bookworm venv) needs it; <0.43 has no deps
        subprocess.run(["/usr/bin/python3.11", "-m", "pip", "download", "--no-deps", "wheel<0.43",
                        "-d", str(d)], check=True)
    return found[-1]


def case_pip_psutil_no_headers() -> None:
    """`pip install psutil` from its sdist in a venv, gcc present, no python3.11-dev."""
    sdist = psutil_sdist()
    with rootfs.Root(rootfs.compiler_layer(), name="explain-psutil") as root:
        make_venv(root, with_torch=False)
        wheel = sorted(sdist.parent.glob("wheel-*.whl"))[-1]
        for f in (sdist, wheel):
            subprocess.run(["cp", str(f), str(root.path("/root/" + f.name))], check=True)
        root.run([VENV + "/bin/pip", "install", "--no-index", "/root/" + wheel.name])
        save("pip-psutil-sdist-no-python-h",
             capture(root, ["pip", "install", "--no-index", "--no-build-isolation",
                            "/root/" + sdist.name], cwd="/root"))


def case_gcc_plain() -> None:
    with rootfs.Root(rootfs.compiler_layer(), name="explain-gcc") as root:
        _spam(root)
        save("gcc-plain-no-python-h",
             capture(root, ["gcc", "-fPIC", "-I/usr/include/python3.11", "-c", "spam.c",
                            "-o", "spam.o"], cwd="/root/spam"))


def case_python_syntax_error() -> None:
    with rootfs.Root([rootfs.base_root()], name="explain-syntax") as root:
        root.write("/root/broken.py", "def f(:\n    return 1\n")
        save("not-recognised-python-syntax-error", capture(root, ["python3", "/root/broken.py"]))


def _heavy_cpp() -> str:
    # enough template work to keep cc1plus busy for several seconds at -O2
    body = ["#include <map>", "#include <string>", "#include <vector>", "#include <regex>",
            "template <int N> struct F { static std::string v() { std::regex r(\"a+\" + "
            "std::to_string(N)); std::map<int, std::vector<std::string>> m; m[N].push_back("
            "std::regex_replace(std::string(\"aaa\"), r, \"b\")); return m[N][0] + "
            "F<N - 1>::v(); } };",
            "template <> struct F<0> { static std::string v() { return \"\"; } };",
            "std::string run() { return F<400>::v(); }"]
    return "\n".join(body) + "\n"


def case_gcc_killed() -> None:
    """g++ whose cc1plus is killed (what the OOM killer does to a big Inductor/extension build):
    the real driver message "g++: fatal error: Killed signal terminated program cc1plus"."""
    import signal
    import time

    with rootfs.Root(rootfs.compiler_layer(), name="explain-gcc-killed") as root:
        root.write("/root/heavy/heavy.cpp", _heavy_cpp())
        full = ["chroot", str(root.merged), "/usr/bin/env", "-i", "PATH=" + rootfs.CHROOT_PATH,
                "LANG=C.UTF-8", "sh", "-c", "cd /root/heavy && exec g++ -O2 -c heavy.cpp"]
        proc = subprocess.Popen(full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        victim = None
        deadline = time.monotonic() + 60
        while victim is None and time.monotonic() < deadline and proc.poll() is None:
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    with open("/proc/%s/cmdline" % pid, "rb") as fh:
                        argv = fh.read().split(b"\0")
                except OSError:
                    continue
                if argv and argv[0].endswith(b"cc1plus") and b"heavy.cpp" in argv:
                    victim = int(pid)
                    break
            time.sleep(0.05)
        if victim is None:
            proc.kill()
            raise SystemExit("cc1plus never showed up (or finished too fast)")
        time.sleep(1.0)
        os.kill(victim, signal.SIGKILL)  # the cc1plus we started, by its id
        out, _ = proc.communicate(timeout=60)
        print("  exit %d" % proc.returncode, file=sys.stderr)
        save("gcc-killed-cc1plus", out)


def _facts(root: rootfs.Root, name: str) -> None:
    """What `fixenv detect --json` says inside such a root: the facts the corpus plans from."""
    make_venv(root, with_torch=False)
    fixenv = root.install_fixenv(rootfs.wheelhouse())
    res = root.run([fixenv, "detect", "--json", "--python", VENV + "/bin/python"])
    d = LOGS / "facts"
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_text(res.stdout)
    print("wrote %s" % (d / name), file=sys.stderr)


def case_facts_debian_gcc() -> None:
    with rootfs.Root(rootfs.compiler_layer(), name="explain-facts-gcc") as root:
        _facts(root, "debian12-venv-gcc.json")


def case_facts_debian_nocc() -> None:
    with rootfs.Root([rootfs.base_root()], name="explain-facts-nocc") as root:
        _facts(root, "debian12-venv-nocc.json")


CASES = {name[5:]: fn for name, fn in sorted(globals().items()) if name.startswith("case_")}


def main(argv: list) -> int:
    reason = rootfs.unavailable_reason()
    if reason:
        print("make-explain-corpus: cannot run here: " + reason, file=sys.stderr)
        return 2
    wanted = argv or list(CASES)
    for name in wanted:
        if name not in CASES:
            print("unknown case %r; known: %s" % (name, ", ".join(CASES)), file=sys.stderr)
            return 2
    for name in wanted:
        print("== " + name, file=sys.stderr)
        CASES[name]()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
