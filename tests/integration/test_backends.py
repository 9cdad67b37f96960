"""Backends: exact argv, parsers on real output, and the real package managers where this
machine has them.

The real-binary tests put the argv a backend generates in front of the real dnf, zypper,
pacman, rpm, uv and pyenv (Debian ships the first four), each confined to a throwaway root
under tmp_path, with a local repository built for the test: an argv the real option parser
rejects, or that installs nothing, fails here. They skip when the binary is absent.
"""
from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from fixenv.backends import (
    REGISTRY,
    _rpm,
    apk,
    brew,
    conda,
    dnf,
    get_backend,
    pacman,
    pyenv,
    uv,
    xcode,
    yum,
    zypper,
)
from fixenv.errors import InputError
from fixenv.runner import RecordingRunner, Result, Runner

ROOTLESS = {"brew", "conda", "pyenv", "uv", "xcode"}


# ---- the registry and the interface ------------------------------------------------------

def test_registry_names_every_manager_and_each_module_is_its_own_name() -> None:
    assert set(REGISTRY) == {"apt", "dnf", "yum", "zypper", "apk", "pacman", "brew", "conda",
                             "pyenv", "uv", "xcode"}
    for name, mod in REGISTRY.items():
        assert mod.NAME == name
        for fn in ("query", "install", "needs_refresh", "refresh"):
            assert callable(getattr(mod, fn)), (name, fn)


def test_unknown_manager_is_an_input_error_listing_the_known_ones() -> None:
    with pytest.raises(InputError, match="known: apk, apt, brew, conda"):
        get_backend("portage")


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_root_flag_of_commands_matches_needs_root(name: str) -> None:
    mod = REGISTRY[name]
    assert mod.NEEDS_ROOT is (name not in ROOTLESS)
    facts = {"managers": [name], "python": {"base_prefix": "/opt/conda/envs/x"}}
    for reinstall in (False, True):
        for cmd in mod.install(["pkg"], reinstall=reinstall, prefix=None, facts=facts):
            assert cmd.root is mod.NEEDS_ROOT, (name, cmd)
    ref = mod.refresh()
    if ref is not None:
        assert ref.root is mod.NEEDS_ROOT
        # the engine runs one refresh per plan, recognised by this purpose
        assert ref.purpose == "refresh package lists"


# ---- exact argv ----------------------------------------------------------------------------

CONDA_FACTS = {"managers": ["apt", "conda"], "python": {"base_prefix": "/opt/conda/envs/t"}}


@pytest.mark.parametrize("mod,names,reinstall,prefix,facts,expected", [
    (dnf, ["python3-devel"], False, None, None, [["dnf", "install", "-y", "python3-devel"]]),
    (dnf, ["a", "b"], True, None, None, [["dnf", "reinstall", "-y", "a", "b"]]),
    (yum, ["python38-devel"], False, None, None, [["yum", "install", "-y", "python38-devel"]]),
    (zypper, ["python311-devel"], False, None, None,
     [["zypper", "--non-interactive", "install", "python311-devel"]]),
    (zypper, ["python3"], True, None, None,
     [["zypper", "--non-interactive", "install", "--force", "python3"]]),
    (apk, ["python3-dev"], False, None, None, [["apk", "add", "--no-cache", "python3-dev"]]),
    (apk, ["python3"], True, None, None, [["apk", "fix", "--no-cache", "--reinstall", "python3"]]),
    (pacman, ["base-devel"], False, None, None,
     [["pacman", "-S", "--noconfirm", "--needed", "base-devel"]]),
    (pacman, ["python"], True, None, None, [["pacman", "-S", "--noconfirm", "python"]]),
    (brew, ["python@3.12"], False, None, None, [["brew", "install", "python@3.12"]]),
    (brew, ["python@3.12"], True, None, None, [["brew", "reinstall", "python@3.12"]]),
    (conda, ["python=3.11.9"], True, "/opt/conda/envs/torch", CONDA_FACTS,
     [["conda", "install", "-y", "-p", "/opt/conda/envs/torch", "--force-reinstall",
       "python=3.11.9"]]),
    (conda, ["numpy"], False, None, CONDA_FACTS,
     [["conda", "install", "-y", "-p", "/opt/conda/envs/t", "numpy"]]),
    (conda, ["python=3.12.1"], True, "/e", {"managers": ["micromamba"]},
     [["micromamba", "install", "-y", "-p", "/e", "--force-reinstall", "python=3.12.1"]]),
    (conda, ["python=3.12.1"], True, "/e", {"managers": ["mamba", "micromamba"]},
     [["mamba", "install", "-y", "-p", "/e", "--force-reinstall", "python=3.12.1"]]),
    (pyenv, ["3.12.1"], True, None, None, [["pyenv", "install", "--force", "3.12.1"]]),
    (pyenv, ["3.12.1", "3.11.7"], False, None, None,
     [["pyenv", "install", "--skip-existing", "3.12.1"],
      ["pyenv", "install", "--skip-existing", "3.11.7"]]),
    (uv, ["3.13.1t"], True, None, None, [["uv", "python", "install", "--reinstall", "3.13.1t"]]),
    (uv, ["3.12"], False, None, None, [["uv", "python", "install", "3.12"]]),
    (xcode, ["command-line-tools"], True, None, None, [["xcode-select", "--install"]]),
])
def test_install_argv(mod, names, reinstall, prefix, facts, expected) -> None:
    cmds = mod.install(names, reinstall=reinstall, prefix=prefix, facts=facts)
    assert [list(c.argv) for c in cmds] == expected


@pytest.mark.parametrize("mod,expected", [
    (dnf, ["dnf", "makecache"]), (yum, ["yum", "makecache"]),
    (zypper, ["zypper", "--non-interactive", "refresh"]),
    (apk, None), (pacman, None), (brew, None), (conda, None), (pyenv, None), (uv, None),
    (xcode, None),
])
def test_refresh_argv(mod, expected) -> None:
    ref = mod.refresh()
    assert (list(ref.argv) if ref else None) == expected
    assert mod.needs_refresh(["x"], RecordingRunner(), {}) is False


def test_conda_without_a_prefix_is_an_input_error_not_a_guess() -> None:
    with pytest.raises(InputError, match="no environment prefix"):
        conda.install(["python=3.11.9"], reinstall=True, prefix=None, facts={"managers": []})


# ---- parsers, on the tools' real output formats ---------------------------------------------

def test_rpm_parse_query() -> None:
    assert _rpm.parse_query(0, "python3.11-devel\t3.11.9-1.fc40\n") == \
        "3.11.9-1.fc40 (python3.11-devel)"
    assert _rpm.parse_query(1, "no package provides python3-devel\n") is None
    assert _rpm.parse_query(0, "") is None


def test_apk_parse_info_exists() -> None:
    got = apk.parse_info_exists("python3-dev\nbuild-base-0.5-r3\n", ["python3-dev", "build-base",
                                                                      "gcc"])
    assert got == {"python3-dev": "(installed)", "build-base": "0.5-r3", "gcc": None}


def test_pacman_parse_q() -> None:
    assert pacman.parse_q("python 3.12.7-1\nbase-devel 1-2\n") == {"python": "3.12.7-1",
                                                                   "base-devel": "1-2"}


def test_brew_parse_list_versions_keeps_the_newest_listed() -> None:
    assert brew.parse_list_versions("python@3.12 3.12.3 3.12.4\nxz 5.6.2\n") == {
        "python@3.12": "3.12.4", "xz": "5.6.2"}


def test_conda_parse_and_query_match_name_and_pinned_version() -> None:
    text = '[{"name": "python", "version": "3.11.9", "channel": "conda-forge"}]'
    assert conda.parse_list_json(text) == {"python": "3.11.9"}
    assert conda.parse_list_json("not json") == {}

    class R(RecordingRunner):
        def start(self, argv, **kw):
            self._before(tuple(argv), kw.get("mutating", False))
            from fixenv.runner import Pending
            return Pending(None, tuple(argv), 0.0, None, immediate=Result(tuple(argv), 0, text, ""))

    r = R()
    got = conda.query(["python=3.11.9", "python=3.12.1", "python", "numpy"], r, CONDA_FACTS)
    assert got == {"python=3.11.9": "3.11.9", "python=3.12.1": None, "python": "3.11.9",
                   "numpy": None}
    assert r.calls == [("conda", "list", "-p", "/opt/conda/envs/t", "--json")]


def test_uv_parse_list() -> None:
    text = ("cpython-3.13.1+freethreaded-linux-x86_64-gnu    /u/python/cpython-3.13.1/bin/python3.13t\n"
            "cpython-3.12.4-linux-x86_64-gnu                 /u/python/cpython-3.12.4/bin/python3\n"
            "pypy-3.10.14-linux-x86_64-gnu                   /u/python/pypy/bin/pypy3\n")
    assert uv.parse_list(text) == ["3.13.1t", "3.12.4", "3.10.14"]


def test_xcode_query_reads_the_developer_dir() -> None:
    class R(RecordingRunner):
        def __init__(self, rc: int, out: str):
            super().__init__()
            self.res = (rc, out)

        def start(self, argv, **kw):
            self._before(tuple(argv), False)
            from fixenv.runner import Pending
            return Pending(None, tuple(argv), 0.0, None,
                           immediate=Result(tuple(argv), self.res[0], self.res[1], ""))

    assert xcode.query(["command-line-tools"], R(0, "/Library/Developer/CommandLineTools\n"),
                       {}) == {"command-line-tools": "/Library/Developer/CommandLineTools"}
    assert xcode.query(["command-line-tools"], R(2, ""), {}) == {"command-line-tools": None}


# ---- the real package managers --------------------------------------------------------------

def _need(*tools: str) -> None:
    missing = [t for t in tools if not shutil.which(t)]
    if missing:
        pytest.skip("not on this machine: " + ", ".join(missing))


def _run(argv: List[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=300, **kw)


def _rpm_package(tmp: Path, name: str, version: str = "3.11.9", release: str = "1.fc40") -> Path:
    """Build an empty noarch rpm with rpmbuild."""
    top = tmp / "rpmbuild"
    (top / "SPECS").mkdir(parents=True, exist_ok=True)
    spec = top / "SPECS" / (name + ".spec")
    spec.write_text("Name: %s\nVersion: %s\nRelease: %s\nSummary: fixenv test\nLicense: MIT\n"
                    "BuildArch: noarch\n%%description\nfixenv test package\n%%files\n"
                    % (name, version, release))
    res = _run(["rpmbuild", "--define", "_topdir %s" % top, "--define",
                "_rpmdir %s" % (top / "RPMS"), "-bb", str(spec)])
    assert res.returncode == 0, res.stdout
    return next((top / "RPMS").rglob(name + "-*.rpm"))


def _rpm_repo(tmp: Path, names: List[str]) -> Path:
    repo = tmp / "repo"
    repo.mkdir()
    for n in names:
        shutil.copy(str(_rpm_package(tmp, n)), str(repo))
    res = _run(["createrepo_c", "-q", str(repo)])
    assert res.returncode == 0, res.stdout
    return repo


def _with_root_opts(argv: List[str], opts: List[str], after: int = 1) -> List[str]:
    return argv[:after] + opts + argv[after:]


def _rpm_state(mod, names: List[str], root: Path) -> Dict[str, Optional[str]]:
    """The backend's own query argv, pointed at the throwaway root with `--root`."""
    out = {}
    for n in names:
        argv = _with_root_opts(_rpm.query_argv(n), ["--root", str(root)])
        res = _run(argv)
        out[n] = _rpm.parse_query(res.returncode, res.stdout)
    return out


@pytest.fixture
def dnf_root(tmp_path: Path):
    _need("dnf", "rpm", "rpmbuild", "createrepo_c")
    repo = _rpm_repo(tmp_path, ["python3.11-devel", "gcc-c++"])
    (tmp_path / "repos").mkdir()
    (tmp_path / "repos" / "fixenvtest.repo").write_text(
        "[fixenvtest]\nname=fixenv test\nbaseurl=file://%s\nenabled=1\ngpgcheck=0\n" % repo)
    root = tmp_path / "root"
    opts = ["--installroot=%s" % root, "--setopt=reposdir=%s" % (tmp_path / "repos"),
            "--setopt=cachedir=%s" % (tmp_path / "cache"), "--releasever=40"]
    return root, opts


@pytest.mark.parametrize("mod", [dnf, yum], ids=["dnf", "yum-syntax-via-dnf"])
def test_real_dnf_accepts_and_performs_the_install_refresh_and_reinstall(mod, dnf_root) -> None:
    """yum's argv goes through dnf too: on RHEL 8+ yum *is* dnf (Amazon Linux 2's yum 3 is
    not available here)."""
    root, opts = dnf_root

    def real(argv) -> subprocess.CompletedProcess:
        return _run(["dnf"] + list(argv[1:]) + opts)

    assert _rpm_state(mod, ["python3.11-devel"], root) == {"python3.11-devel": None}
    ref = real(mod.refresh().argv)
    assert ref.returncode == 0, ref.stdout
    for cmd in mod.install(["python3.11-devel", "gcc-c++"], reinstall=False):
        res = real(cmd.argv)
        assert res.returncode == 0, res.stdout
    assert _rpm_state(mod, ["python3.11-devel", "gcc-c++", "python3-devel"], root) == {
        "python3.11-devel": "3.11.9-1.fc40 (python3.11-devel)",
        "gcc-c++": "3.11.9-1.fc40 (gcc-c++)", "python3-devel": None}
    for cmd in mod.install(["python3.11-devel"], reinstall=True):
        res = real(cmd.argv)
        assert res.returncode == 0, res.stdout
    # a package that does not exist: the manager's own error, non-zero
    for cmd in mod.install(["python3.99-devel"], reinstall=False):
        res = real(cmd.argv)
        assert res.returncode != 0 and "python3.99-devel" in res.stdout


def test_real_dnf_rejects_an_unknown_option(dnf_root) -> None:
    """The check above means something: dnf's parser does refuse bad argv."""
    _root, opts = dnf_root
    res = _run(["dnf", "install", "-y", "--no-such-option", "x"] + opts)
    assert res.returncode != 0 and "unrecognized arguments" in res.stdout


def test_real_zypper_accepts_and_performs_refresh_install_and_reinstall(tmp_path: Path) -> None:
    _need("zypper", "rpm", "rpmbuild", "createrepo_c")
    repo = _rpm_repo(tmp_path, ["python311-devel", "gcc"])
    root = tmp_path / "root"
    add = _run(["zypper", "--root", str(root), "--non-interactive", "addrepo", "--no-gpgcheck",
                "file://%s" % repo, "fixenvtest"])
    assert add.returncode == 0, add.stdout

    def real(argv) -> subprocess.CompletedProcess:
        return _run(_with_root_opts(list(argv), ["--root", str(root)]))

    res = real(zypper.refresh().argv)
    assert res.returncode == 0, res.stdout
    for cmd in zypper.install(["python311-devel", "gcc"], reinstall=False):
        res = real(cmd.argv)
        assert res.returncode == 0, res.stdout
    assert _rpm_state(zypper, ["python311-devel", "gcc"], root) == {
        "python311-devel": "3.11.9-1.fc40 (python311-devel)", "gcc": "3.11.9-1.fc40 (gcc)"}
    for cmd in zypper.install(["python311-devel"], reinstall=True):
        res = real(cmd.argv)
        assert res.returncode == 0, res.stdout
    for cmd in zypper.install(["python399-devel"], reinstall=False):
        res = real(cmd.argv)
        assert res.returncode != 0 and "python399-devel" in res.stdout


def _pacman_repo(tmp: Path) -> Path:
    """A sync repository holding a `python` package that ships Python.h (what Arch does),
    written by hand: Debian's repo-add lacks makepkg's libraries."""
    repo = tmp / "repo"
    repo.mkdir()
    pkg = repo / "python-3.12.7-1-any.pkg.tar.gz"
    pkginfo = ("pkgname = python\npkgbase = python\npkgver = 3.12.7-1\npkgdesc = fixenv test\n"
               "builddate = 1700000000\npackager = fixenv tests\nsize = 0\narch = any\n"
               "license = MIT\n").encode()
    header = b"/* fixenv test */\n"
    with tarfile.open(str(pkg), "w:gz") as tar:
        for name, data in ((".PKGINFO", pkginfo), ("usr/include/python3.12/Python.h", header)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    blob = pkg.read_bytes()
    desc = ("%%FILENAME%%\n%s\n\n%%NAME%%\npython\n\n%%BASE%%\npython\n\n%%VERSION%%\n3.12.7-1\n\n"
            "%%DESC%%\nfixenv test\n\n%%CSIZE%%\n%d\n\n%%ISIZE%%\n0\n\n%%SHA256SUM%%\n%s\n\n"
            "%%ARCH%%\nany\n\n" % (pkg.name, len(blob), hashlib.sha256(blob).hexdigest())).encode()
    with tarfile.open(str(repo / "fixenvtest.db"), "w:gz") as tar:
        info = tarfile.TarInfo("python-3.12.7-1/desc")
        info.size = len(desc)
        tar.addfile(info, io.BytesIO(desc))
    return repo


def test_real_pacman_reinstalls_python_with_its_headers_and_queries_state(tmp_path: Path) -> None:
    _need("pacman")
    repo = _pacman_repo(tmp_path)
    root = tmp_path / "root"
    (root / "var/lib/pacman").mkdir(parents=True)
    conf = tmp_path / "pacman.conf"
    conf.write_text("[options]\nArchitecture = auto\nSigLevel = Never\n\n[fixenvtest]\n"
                    "Server = file://%s\n" % repo)
    opts = ["--root", str(root), "--dbpath", str(root / "var/lib/pacman"), "--cachedir",
            str(tmp_path / "cache"), "--config", str(conf)]
    sync = _run(["pacman", "-Sy"] + opts)  # set-up only: fixenv never plans -Sy (see pacman.py)
    assert sync.returncode == 0, sync.stdout

    def state(names: List[str]) -> Dict[str, Optional[str]]:
        res = _run(["pacman", "-Q"] + names + opts)
        return {n: pacman.parse_q(res.stdout).get(n) for n in names}

    assert state(["python"]) == {"python": None}
    for cmd in pacman.install(["python"], reinstall=True):
        res = _run(list(cmd.argv) + opts)
        assert res.returncode == 0, res.stdout
    assert (root / "usr/include/python3.12/Python.h").is_file()
    assert state(["python", "base-devel"]) == {"python": "3.12.7-1", "base-devel": None}
    for cmd in pacman.install(["python"], reinstall=False):  # --needed: nothing to do, rc 0
        res = _run(list(cmd.argv) + opts)
        assert res.returncode == 0, res.stdout
    for cmd in pacman.install(["base-devel"], reinstall=False):
        res = _run(list(cmd.argv) + opts)
        assert res.returncode != 0 and "base-devel" in res.stdout


def _uv() -> str:
    path = os.environ.get("FIXENV_TEST_UV") or shutil.which("uv")
    if not path:
        pytest.skip("uv is not on this machine (set FIXENV_TEST_UV to a uv binary)")
    return path


def test_real_uv_accepts_the_reinstall_argv_and_lists_nothing_in_an_empty_dir(
        tmp_path: Path) -> None:
    exe = _uv()
    for request in ("3.12.4", "3.13.1t", "3.12.4d"):
        argv = uv.install([request], reinstall=True)[0].argv
        # clap validates every argument before acting on --help
        res = _run([exe] + list(argv[1:]) + ["--help"])
        assert res.returncode == 0, res.stdout
    bad = _run([exe, "python", "install", "--no-such-flag", "3.12.4", "--help"])
    assert bad.returncode != 0
    env = dict(os.environ, UV_PYTHON_INSTALL_DIR=str(tmp_path), UV_PYTHON_DOWNLOADS="never",
               UV_NO_CONFIG="1")
    res = subprocess.run([exe, "python", "list", "--only-installed"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         universal_newlines=True, timeout=60)
    assert res.returncode == 0, res.stderr
    # whatever system Pythons uv also reports, none is uv-managed in an empty dir
    assert all(not line.startswith(str(tmp_path)) for line in res.stdout.splitlines())


def _pyenv_root() -> Path:
    root = Path(os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv"))
    if not (root / "bin" / "pyenv").exists() or not (root / "versions").is_dir():
        pytest.skip("no pyenv installation at %s" % root)
    return root


def test_real_pyenv_query_lists_the_installed_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    root = _pyenv_root()
    monkeypatch.setenv("PATH", "%s:%s" % (root / "bin", os.environ.get("PATH", "")))
    monkeypatch.setenv("PYENV_ROOT", str(root))
    present = sorted(p.name for p in (root / "versions").iterdir() if p.is_dir())
    assert present, "no versions under %s" % root
    got = pyenv.query(present + ["9.9.9"], Runner(), {})
    assert got == dict({v: v for v in present}, **{"9.9.9": None})


def test_real_pyenv_install_knows_force_and_skip_existing(monkeypatch: pytest.MonkeyPatch) -> None:
    root = _pyenv_root()
    res = _run([str(root / "bin" / "pyenv"), "install", "--help"],
               env=dict(os.environ, PYENV_ROOT=str(root)))
    flags = {pyenv.install(["3.12.1"], reinstall=r)[0].argv[2] for r in (True, False)}
    assert flags == {"--force", "--skip-existing"}
    for flag in flags:
        assert flag in res.stdout, res.stdout


def test_real_rpm_query_on_an_empty_database(tmp_path: Path) -> None:
    _need("rpm")
    (tmp_path / "root").mkdir()
    assert _rpm_state(dnf, ["python3-devel"], tmp_path / "root") == {"python3-devel": None}
