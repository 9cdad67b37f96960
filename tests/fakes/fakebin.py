"""Test helpers around the fake package managers in tests/fakes/bin (see _fakepm.py).

`FakeMachine(tmp_path)` makes a bin dir holding the chosen fakes (shebang pointed at this
interpreter, so they run without python3 on PATH), a package database, a catalog of what
each package installs, and the environment that points the fakes at them. `relocated_copy`
makes a real interpreter usable from another prefix (for a Python whose headers a fake
manager then "installs").
"""
from __future__ import annotations

import json
import os
import shutil
import sys
from typing import Any, Dict, Iterable, List, Optional, Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_BIN = os.path.join(HERE, "bin")
PYENV_VERSIONS = os.path.join(os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv"),
                              "versions")


class FakeMachine:
    def __init__(self, root: str):
        self.root = root
        self.bin = os.path.join(root, "fakebin")  # the managers (first on PATH)
        self.tools = os.path.join(root, "tools")  # compiler wrappers a package may install
        self.log_path = os.path.join(root, "fakepm.log")
        self.db_path = os.path.join(root, "fakepm-db.json")
        self.catalog_path = os.path.join(root, "fakepm-catalog.json")
        for d in (self.bin, self.tools):
            os.makedirs(d, exist_ok=True)
        self._install(["_fakepm.py"], self.bin)
        self._install(["_fakepm.py", "gcc", "g++"], self.tools)
        self.db: Dict[str, Any] = {"installed": {}, "files": {}}
        self.catalog: Dict[str, Any] = {}
        self.save()

    def _install(self, names: Iterable[str], where: str) -> None:
        for name in names:
            src = os.path.join(SOURCE_BIN, name)
            dst = os.path.join(where, name)
            with open(src) as fh:
                text = fh.read()
            if text.startswith("#!"):
                text = "#!%s -S\n" % sys.executable + text.split("\n", 1)[1]
            with open(dst, "w") as fh:
                fh.write(text)
            os.chmod(dst, 0o755)

    def programs(self, *names: str) -> "FakeMachine":
        """Put these fakes on the machine (in its bin dir)."""
        self._install(names, self.bin)
        return self

    def installed(self, name: str, version: str, files: Sequence[str] = ()) -> "FakeMachine":
        self.db["installed"][name] = version
        for f in files:
            self.db["files"][f] = name
        self.save()
        return self

    def package(self, name: str, version: str, files: Sequence[Sequence[str]] = ()
                ) -> "FakeMachine":
        """What installing `name` creates: [(src, dst)]: a directory is copied, a file
        symlinked."""
        self.catalog[name] = {"version": version, "files": [list(f) for f in files]}
        self.save()
        return self

    def compiler_packages(self, c_pkg: str, cxx_pkg: Optional[str], where: str,
                          version: str = "14.2.1-1") -> "FakeMachine":
        """Packages that install logging gcc/g++ wrappers (and binutils' as/ld, which the
        real package pulls in) into `where`."""
        real = os.environ.get("FAKEPM_REAL_BIN", "/usr/bin")
        c_files = [(os.path.join(self.tools, "gcc"), os.path.join(where, "gcc"))]
        c_files += [(os.path.join(real, t), os.path.join(where, t)) for t in ("as", "ld")]
        cxx_files = [(os.path.join(self.tools, "g++"), os.path.join(where, "g++"))]
        if cxx_pkg is None:
            self.package(c_pkg, version, c_files + cxx_files)
        else:
            self.package(c_pkg, version, c_files)
            self.package(cxx_pkg, version, cxx_files)
        return self

    def save(self) -> None:
        with open(self.db_path, "w") as fh:
            json.dump(self.db, fh)
        with open(self.catalog_path, "w") as fh:
            json.dump(self.catalog, fh)

    def env(self, fail: Sequence[str] = (), path: Sequence[str] = ()) -> Dict[str, str]:
        return {
            "PATH": os.pathsep.join([self.bin] + list(path)),
            "FAKEPM_LOG": self.log_path,
            "FAKEPM_DB": self.db_path,
            "FAKEPM_CATALOG": self.catalog_path,
            "FAKEPM_FAIL": ",".join(fail),
            "FIXENV_LOCK_FILE": os.path.join(self.root, "fixenv.lock"),
        }

    def calls(self) -> List[List[str]]:
        """Every call the fakes saw, in order (argv with the program's name first)."""
        if not os.path.exists(self.log_path):
            return []
        with open(self.log_path) as fh:
            return [json.loads(line)["argv"] for line in fh if line.strip()]

    def state(self) -> Dict[str, Any]:
        with open(self.db_path) as fh:
            return json.load(fh)


def real_python(prefer: Sequence[str] = ("3.12", "3.11", "3.10", "3.9")) -> Optional[Dict[str, str]]:
    """A real CPython with headers to stand in for the managed one: a pyenv build (self-
    contained include dir). {"prefix", "version", "xy", "include", "exe"} or None."""
    if not os.path.isdir(PYENV_VERSIONS):
        return None
    versions = sorted(os.listdir(PYENV_VERSIONS))
    for xy in prefer:
        for v in reversed(versions):
            if not v.startswith(xy + ".") or not v[len(xy) + 1:].isdigit():
                continue
            prefix = os.path.join(PYENV_VERSIONS, v)
            include = os.path.join(prefix, "include", "python" + xy)
            exe = os.path.join(prefix, "bin", "python" + xy)
            if os.path.isfile(os.path.join(include, "Python.h")) and os.access(exe, os.X_OK):
                return {"prefix": prefix, "version": v, "xy": xy, "include": include,
                        "exe": exe}
    return None


def relocated_copy(src: str, dst: str, include: bool = True) -> None:
    """A copy of the Python installed at prefix `src`, at prefix `dst`, as a relocated build
    would be: bin/ copied, the standard library symlinked entry by entry, `_sysconfigdata*`
    rewritten to the new prefix (what conda's prefix replacement does; without it INCLUDEPY
    would still name the original's headers). include/ is copied only when asked.
    Nothing under `src` is written (bytecode for the rewritten module lands in `dst`)."""
    os.makedirs(dst, exist_ok=True)
    shutil.copytree(os.path.join(src, "bin"), os.path.join(dst, "bin"), symlinks=True)
    if include:
        shutil.copytree(os.path.join(src, "include"), os.path.join(dst, "include"),
                        symlinks=True)
    os.mkdir(os.path.join(dst, "lib"))
    for entry in os.listdir(os.path.join(src, "lib")):
        s = os.path.join(src, "lib", entry)
        d = os.path.join(dst, "lib", entry)
        if entry.startswith("python") and os.path.isdir(s) and not os.path.islink(s):
            _link_stdlib(s, d, src, dst)
        else:
            os.symlink(s, d)


def _link_stdlib(s: str, d: str, src: str, dst: str) -> None:
    os.mkdir(d)
    for entry in os.listdir(s):
        path = os.path.join(s, entry)
        if entry.startswith("_sysconfigdata"):
            if entry.endswith(".py"):
                with open(path) as fh:
                    text = fh.read()
                with open(os.path.join(d, entry), "w") as fh:
                    fh.write(text.replace(src, dst))
            continue  # the original's .pyc/.pyo would shadow the rewrite
        if entry == "__pycache__":
            os.mkdir(os.path.join(d, entry))
            for pyc in os.listdir(path):
                if not pyc.startswith("_sysconfigdata"):
                    os.symlink(os.path.join(path, pyc), os.path.join(d, entry, pyc))
            continue
        os.symlink(path, os.path.join(d, entry))
