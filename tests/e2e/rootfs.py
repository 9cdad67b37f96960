"""Throwaway Debian roots for the end-to-end tests.

A base root (``debootstrap --variant=minbase --include=python3,python3-venv <suite>``, for
each of :data:`SUITES`; bookworm is the default everywhere) is built once into the cache
directory and never modified afterwards.  Optional *layers* (for
example one with ``build-essential`` preinstalled) are stored as overlayfs upper directories on
top of it.  Every test gets a fresh overlay mount (lower = cached root [+ layers], upper/work in
a scratch directory), with /dev, /dev/pts and /proc mounted, so the test may install and remove
packages freely; everything is unmounted and deleted afterwards.

Nothing here ever installs or removes packages on the host.  The Debian mirror is read at run
time from the host's apt sources (override with ``FIXENV_TEST_MIRROR``); no registry host name
is written in this repository.  The host lists only bookworm suites; the other releases are
read from the same archive URI as bookworm's.  ``unstable`` is bootstrapped with
debootstrap's ``sid`` script; the mirror is a frozen snapshot whose unstable Release is past
its Valid-Until, so inside that throwaway root (and nowhere else) apt is told
``Acquire::Check-Valid-Until "false";`` -- signatures are still checked.

fixenv gets into a root either as the README's venv + pip install from a cp311 wheelhouse
(bookworm only: its python3 is 3.11) or as the zipapp ``dist/fixenv.pyz`` built from this
checkout (any python3 >= 3.9: bullseye's 3.9, trixie's and unstable's 3.13+).

Cache layout (``FIXENV_TEST_CACHE``, default ``/var/cache/fixenv-test``)::

    <suite>-minbase-py/                the base root (built in a temp dir, renamed atomically)
    <suite>-minbase-py+<layer>/        an overlay upper dir holding one layer
    wheelhouse-<hash>/                 fixenv + its dependencies as wheels for Python 3.11
    zipapp-<hash>/fixenv.pyz           scripts/build-zipapp.sh of this checkout (same hash)
    runs/<pid>-<test>-*/               scratch dir of one live overlay (a tmpfs holding
                                       upper/work/merged unless FIXENV_TEST_TMPFS=0);
                                       unmounted and deleted per test, or swept when <pid> died
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Iterator, Mapping, Optional, Sequence

SUITE = "bookworm"  # the default suite everywhere
SUITES = ("bullseye", "bookworm", "trixie", "unstable")
TARGET_PY = "3.11"  # the Python of the bookworm base root (Debian 12's python3)
BASE_NAME = f"{SUITE}-minbase-py"
# The suite name debootstrap is given (its script and the archive's dists/ name).
DEBOOTSTRAP_SUITE = {"unstable": "sid"}
# Suites whose Release on the (frozen snapshot) mirror is past its Valid-Until.
VALID_UNTIL_RELAXED = ("unstable",)
VALID_UNTIL_CONF = "/etc/apt/apt.conf.d/99fixenv-test-valid-until"
BASE_PACKAGES = ("python3", "python3-venv")
COMPILER_LAYER = "build-essential"
COMPILER_PACKAGES = ("build-essential",)

REPO = Path(__file__).resolve().parents[2]
CHROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
WHEELHOUSE_IN_ROOT = "/opt/fixenv-wheelhouse"
FIXENV_VENV = "/opt/fixenv"
FIXENV_BIN = f"{FIXENV_VENV}/bin/fixenv"
ZIPAPP_IN_ROOT = "/opt/fixenv.pyz"
ZIPAPP_BIN = "/usr/local/bin/fixenv"

TMPFS_SIZE = os.environ.get("FIXENV_TEST_TMPFS_SIZE", "6G")  # a limit; only use costs memory
DEBOOTSTRAP_TIMEOUT = 1800
APT_TIMEOUT = 1800


class RootError(RuntimeError):
    """Building or running a throwaway root failed."""


# --------------------------------------------------------------------------- environment


def cache_dir() -> Path:
    return Path(os.environ.get("FIXENV_TEST_CACHE", "/var/cache/fixenv-test"))


def unavailable_reason() -> Optional[str]:
    """Why throwaway roots cannot be used here, or None when they can."""
    if sys.platform != "linux":
        return "e2e roots need Linux"
    if os.geteuid() != 0:
        return "e2e roots need root (chroot, mount)"
    if shutil.which("debootstrap") is None:
        return "debootstrap is not installed (apt-get install debootstrap)"
    if shutil.which("chroot") is None or shutil.which("mount") is None:
        return "chroot/mount not found"
    try:
        filesystems = Path("/proc/filesystems").read_text()
    except OSError:
        return "/proc/filesystems unreadable"
    if not re.search(r"\boverlay\b", filesystems):
        return "the kernel has no overlayfs"
    try:
        host_mirror()
    except RootError as exc:
        return str(exc)
    return None


def _deb822_stanzas(text: str) -> list[dict[str, str]]:
    stanzas: list[dict[str, str]] = []
    current: dict[str, str] = {}
    key = None
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        if not line.strip():
            if current:
                stanzas.append(current)
            current, key = {}, None
            continue
        if line[0] in " \t" and key is not None:
            current[key] += " " + line.strip()
            continue
        if ":" in line:
            key, value = line.split(":", 1)
            key = key.strip().lower()
            current[key] = value.strip()
    if current:
        stanzas.append(current)
    return stanzas


def _check_suite(suite: str) -> str:
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; one of {', '.join(SUITES)}")
    return suite


def base_name(suite: str = SUITE) -> str:
    """Cache dir name of the base root of ``suite`` (``<suite>-minbase-py``)."""
    return f"{_check_suite(suite)}-minbase-py"


def host_mirror(suite: str = SUITE) -> str:
    """The Debian mirror URL for ``suite`` (not the security archive).

    The host's own sources name the suite when they list it; otherwise (the host lists only
    bookworm) the same archive URI as bookworm's, which carries every release.
    """
    override = os.environ.get("FIXENV_TEST_MIRROR")
    if override:
        return override
    try:
        return _host_mirror_for(DEBOOTSTRAP_SUITE.get(suite, suite))
    except RootError:
        if suite == SUITE:
            raise
        return _host_mirror_for(SUITE)


def _host_mirror_for(suite: str) -> str:
    candidates: list[str] = []
    for path in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        try:
            text = path.read_text()
        except OSError:
            continue
        for st in _deb822_stanzas(text):
            if st.get("enabled", "yes").lower() == "no":
                continue
            if "deb" not in st.get("types", "").split():
                continue
            if suite not in st.get("suites", "").split():
                continue
            candidates.extend(st.get("uris", "").split())
    lists = [Path("/etc/apt/sources.list")] + sorted(Path("/etc/apt/sources.list.d").glob("*.list"))
    for path in lists:
        try:
            text = path.read_text()
        except OSError:
            continue
        for line in text.splitlines():
            line = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
            if len(line) >= 3 and line[0] == "deb" and line[2] == suite:
                candidates.append(line[1])
    for uri in candidates:
        if uri.startswith(("http://", "https://", "file:/")) and "security" not in uri:
            return uri
    raise RootError(
        f"no '{suite}' mirror found in the host's apt sources; set FIXENV_TEST_MIRROR"
    )


@contextlib.contextmanager
def _locked(name: str) -> Iterator[None]:
    """Serialise cache builds between concurrent pytest processes."""
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / f".{name}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _log(msg: str) -> None:
    print(f"[e2e {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- mounts


def _mountpoints() -> list[str]:
    points = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            field = line.split()[4]
            points.append(field.encode().decode("unicode_escape"))
    return points


def _mounts_under(path: Path) -> list[str]:
    prefix = str(path.resolve())
    return [m for m in _mountpoints() if m == prefix or m.startswith(prefix + "/")]


def _umount(point: str) -> None:
    res = subprocess.run(["umount", point], capture_output=True, text=True)
    if res.returncode != 0:
        subprocess.run(["umount", "-l", point], capture_output=True, text=True)


def _umount_all_under(path: Path) -> None:
    for _ in range(3):
        points = _mounts_under(path)
        if not points:
            return
        for point in sorted(points, key=len, reverse=True):
            _umount(point)
    left = _mounts_under(path)
    if left:
        raise RootError(f"could not unmount {left}")


def _safe_rmtree(path: Path) -> None:
    """Delete a scratch tree, but never while anything is mounted below it."""
    if not path.exists():
        return
    _umount_all_under(path)
    if _mounts_under(path):  # pragma: no cover - _umount_all_under raised already
        raise RootError(f"refusing to delete {path}: still mounted")
    shutil.rmtree(path, ignore_errors=True)


def _want_tmpfs() -> bool:
    """Per-test upper dirs on tmpfs unless disabled (FIXENV_TEST_TMPFS=0) or memory is short."""
    if os.environ.get("FIXENV_TEST_TMPFS", "1") == "0":
        return False
    try:
        with open("/proc/meminfo") as fh:
            info = dict(line.split(":", 1) for line in fh)
        avail_kb = int(info["MemAvailable"].split()[0])
    except (OSError, KeyError, ValueError):
        return False
    return avail_kb >= 3 * 1024 * 1024


def sweep_stale_runs() -> list[Path]:
    """Unmount and delete scratch dirs left by test processes that died (e.g. SIGKILL)."""
    runs = cache_dir() / "runs"
    swept = []
    if not runs.is_dir():
        return swept
    for d in runs.iterdir():
        pid = d.name.split("-", 1)[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
            continue  # its process is alive (maybe another pytest): leave it alone
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        _safe_rmtree(d)
        swept.append(d)
    return swept


_LIVE: "set[Root]" = set()


def _close_live_roots() -> None:
    for root in list(_LIVE):
        try:
            root.close()
        except Exception:  # noqa: BLE001 - best effort on the way out
            pass


def _on_sigterm(signum, frame) -> None:
    # `timeout`, CI cancellation: unmount what we mounted, then die of SIGTERM as asked.
    _close_live_roots()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _guard_against_sigterm() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, _on_sigterm)


# --------------------------------------------------------------------------- the root


class Root:
    """A live overlay root.  Use as a context manager, or call ``close()``."""

    def __init__(self, lowers: Sequence[Path], *, name: str = "root",
                 tmpfs: Optional[bool] = None) -> None:
        runs = cache_dir() / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
        self.scratch = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-{name}-", dir=runs))
        self.merged = self.scratch / "merged"
        self.lowers = [Path(p) for p in lowers]
        self.tmpfs = _want_tmpfs() if tmpfs is None else tmpfs
        self._mounted = False
        self.fixenv: Optional[str] = None  # path of fixenv inside the root, once installed
        _guard_against_sigterm()
        _LIVE.add(self)
        try:
            self._mount()
        except BaseException:
            self.close()
            raise

    # -- lifecycle
    def _mount(self) -> None:
        self._mounted = True
        if self.tmpfs:
            # upper/work in memory: no fsync cost for dpkg, and teardown is one umount.
            _check(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0755", "tmpfs",
                    str(self.scratch)])
        upper, work = self.scratch / "upper", self.scratch / "work"
        for d in (upper, work, self.merged):
            d.mkdir()
        # overlayfs: the first lowerdir is the top-most one.
        lowerdir = ":".join(str(p) for p in reversed(self.lowers))
        opts = f"lowerdir={lowerdir},upperdir={upper},workdir={work}"
        _check(["mount", "-t", "overlay", "overlay", "-o", opts, str(self.merged)])
        _check(["mount", "--bind", "/dev", str(self.merged / "dev")])
        pts = self.merged / "dev" / "pts"
        if Path("/dev/pts").is_dir() and os.path.ismount("/dev/pts"):
            _check(["mount", "--bind", "/dev/pts", str(pts)])
        _check(["mount", "-t", "proc", "proc", str(self.merged / "proc")])
        resolv = self.merged / "etc" / "resolv.conf"
        if resolv.is_symlink() or resolv.exists():
            resolv.unlink()
        if Path("/etc/resolv.conf").exists():
            shutil.copyfile("/etc/resolv.conf", resolv)

    def close(self) -> None:
        _LIVE.discard(self)
        try:
            _umount_all_under(self.scratch)
        finally:
            self._mounted = False
            _safe_rmtree(self.scratch)

    def __enter__(self) -> "Root":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def freeze_upper(self, dest: Path) -> None:
        """Unmount and move the upper dir to ``dest`` (used to build a cached layer)."""
        if self.tmpfs:
            raise RootError("freeze_upper needs a root made with tmpfs=False")
        _umount_all_under(self.scratch)
        os.rename(self.scratch / "upper", dest)
        _safe_rmtree(self.scratch)
        _LIVE.discard(self)

    # -- helpers
    def path(self, p: str) -> Path:
        """Host path of ``p`` (an absolute path inside the root)."""
        return self.merged / p.lstrip("/")

    def run(
        self,
        argv: Sequence[str],
        *,
        user: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
        check: bool = True,
        timeout: float = APT_TIMEOUT,
        input: Optional[str] = None,
    ) -> subprocess.CompletedProcess:
        """Run ``argv`` inside the root with a clean environment; text output captured."""
        base = {"PATH": CHROOT_PATH, "HOME": "/root", "LANG": "C.UTF-8"}
        chroot = ["chroot"]
        if user is not None:
            uid, gid, home = self._passwd(user)
            base.update(HOME=home, USER=user, LOGNAME=user)
            chroot += [f"--userspec={uid}:{gid}", f"--groups={gid}"]
        base.update(env or {})
        argv = [str(a) for a in argv]
        full = chroot + [str(self.merged), "/usr/bin/env", "-i"]
        full += [f"{k}={v}" for k, v in base.items()] + argv
        res = subprocess.run(
            full,
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
        if check and res.returncode != 0:
            raise RootError(
                f"in root: {argv} exited {res.returncode}\n"
                f"--- stdout\n{res.stdout[-6000:]}\n--- stderr\n{res.stderr[-6000:]}"
            )
        return res

    def _passwd(self, user: str) -> tuple[int, int, str]:
        for line in self.path("/etc/passwd").read_text().splitlines():
            parts = line.split(":")
            if parts[0] == user:
                return int(parts[2]), int(parts[3]), parts[5]
        raise RootError(f"no user {user!r} in the root")

    def add_user(self, user: str) -> None:
        self.run(["useradd", "--create-home", "--shell", "/bin/sh", user])

    def exists(self, p: str) -> bool:
        return self.path(p).exists()

    def write(self, p: str, text: str, mode: int = 0o644) -> None:
        host = self.path(p)
        host.parent.mkdir(parents=True, exist_ok=True)
        host.write_text(text)
        host.chmod(mode)

    def dpkg_status_bytes(self) -> bytes:
        return self.path("/var/lib/dpkg/status").read_bytes()

    def installed_packages(self) -> set[str]:
        out = self.run(["dpkg-query", "-W", "-f", "${Package} ${db:Status-Abbrev}\\n"]).stdout
        return {ln.split()[0] for ln in out.splitlines() if len(ln.split()) > 1
                and ln.split()[1] == "ii"}

    def apt_lists(self) -> list[str]:
        d = self.path("/var/lib/apt/lists")
        if not d.is_dir():
            return []
        return sorted(p.name for p in d.iterdir() if p.name not in ("lock", "partial", "auxfiles"))

    def wipe_apt_lists(self) -> None:
        """Empty /var/lib/apt/lists like a fresh container image (``rm -rf .../lists/*``)."""
        d = self.path("/var/lib/apt/lists")
        for p in d.iterdir():
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()

    def apt_install(self, *packages: str) -> None:
        """Test set-up only: install packages inside the root with apt-get."""
        self.run(
            ["apt-get", "install", "-y", "--no-install-recommends", *packages],
            env={"DEBIAN_FRONTEND": "noninteractive"},
        )

    def install_fixenv(self, wheelhouse: Path) -> str:
        """Install fixenv the README way (a venv + pip install) from the offline wheelhouse.

        Returns the path of the ``fixenv`` executable inside the root.
        """
        dest = self.path(WHEELHOUSE_IN_ROOT)
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(wheelhouse, dest)
        self.run(["python3", "-m", "venv", FIXENV_VENV])
        self.run(
            [f"{FIXENV_VENV}/bin/pip", "install", "--no-index", "--find-links",
             WHEELHOUSE_IN_ROOT, "fixenv"],
            env={"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_CACHE_DIR": "1"},
        )
        if not self.path(FIXENV_BIN).exists():
            raise RootError(f"{FIXENV_BIN} missing after pip install")
        self.fixenv = FIXENV_BIN
        return FIXENV_BIN

    def install_fixenv_zipapp(self, pyz: Path) -> str:
        """Install the zipapp: /opt/fixenv.pyz + a /usr/local/bin/fixenv wrapper.

        Runs with the root's own python3 (any >= 3.9).  Returns the wrapper's path.
        """
        dest = self.path(ZIPAPP_IN_ROOT)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(pyz, dest)
        dest.chmod(0o644)
        self.write(ZIPAPP_BIN, f'#!/bin/sh\nexec python3 {ZIPAPP_IN_ROOT} "$@"\n', mode=0o755)
        self.fixenv = ZIPAPP_BIN
        return ZIPAPP_BIN

    def python_xy(self) -> str:
        """The root's python3 version as ``X.Y`` (asked from the root's interpreter)."""
        out = self.run(["python3", "-c",
                        "import sys; print('%d.%d' % sys.version_info[:2])"]).stdout.strip()
        if not re.fullmatch(r"\d+\.\d+", out):
            raise RootError(f"python3 in the root printed {out!r} for its version")
        return out


def _check(argv: Sequence[str], timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    res = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, **kw)
    if res.returncode != 0:
        raise RootError(
            f"{list(argv)} exited {res.returncode}\n{res.stdout[-4000:]}\n{res.stderr[-4000:]}"
        )
    return res


# --------------------------------------------------------------------------- cached roots


def base_root(suite: str = SUITE) -> Path:
    """The cached base root of ``suite``, built with debootstrap on first use (~40-90 s)."""
    name = base_name(suite)
    final = cache_dir() / name
    if (final / "usr" / "bin" / "python3").exists():
        return final
    with _locked(name):
        if (final / "usr" / "bin" / "python3").exists():
            return final
        mirror = host_mirror(suite)
        dists = DEBOOTSTRAP_SUITE.get(suite, suite)
        tmp = Path(tempfile.mkdtemp(prefix=f".build-{name}-", dir=cache_dir()))
        try:
            _log(f"debootstrap {dists} from {mirror} into {tmp} (one-off)")
            t0 = time.monotonic()
            res = _check(
                ["debootstrap", "--variant=minbase", "--include=" + ",".join(BASE_PACKAGES),
                 dists, str(tmp), mirror],
                timeout=DEBOOTSTRAP_TIMEOUT,
            )
            # debootstrap checks the Release signature with gpgv and the host's keyring (it
            # has no Valid-Until check); it only skips that, with a warning, when it finds no
            # keyring -- a root like that is not built here.
            sig = re.search(r"Valid Release signature \(key id [^)]*\)", res.stdout + res.stderr)
            if sig is None:
                raise RootError(f"debootstrap {dists} did not verify the Release signature:\n"
                                f"{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
            _log(f"debootstrap {dists}: {sig.group(0)}")
            if suite in VALID_UNTIL_RELAXED:
                # Only inside this throwaway root, only this one check: the frozen snapshot's
                # Release is past Valid-Until; signatures are verified as always.
                conf = tmp / VALID_UNTIL_CONF.lstrip("/")
                conf.parent.mkdir(parents=True, exist_ok=True)
                conf.write_text('Acquire::Check-Valid-Until "false";\n')
            # Layers built on an older base are meaningless now.
            for old in cache_dir().glob(f"{name}+*"):
                shutil.rmtree(old)
            if final.exists():  # a broken leftover without python3
                shutil.rmtree(final)
            os.chmod(tmp, 0o755)  # mkdtemp made it 0700; it becomes the root's "/"
            os.rename(tmp, final)
            _log(f"{suite} base root ready in {time.monotonic() - t0:.0f}s")
        finally:
            _safe_rmtree(tmp)
    return final


def _base_ready(suite: str) -> bool:
    return (cache_dir() / base_name(suite) / "usr" / "bin" / "python3").exists()


def base_roots(suites: Sequence[str] = SUITES) -> dict[str, Path]:
    """The base roots of ``suites``; the missing ones are built concurrently.

    debootstrap spends much of its time waiting on the mirror, so building the four
    releases side by side takes about as long as the slowest one (~2.5 min cold here)
    instead of their sum.
    """
    missing = [s for s in dict.fromkeys(suites) if not _base_ready(s)]
    if len(missing) > 1:
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(missing)) as pool:
            list(pool.map(base_root, missing))
    return {s: base_root(s) for s in suites}


def layer(name: str, packages: Sequence[str], suite: str = SUITE) -> list[Path]:
    """Lower dirs (bottom first) of ``suite``'s base + a cached layer with ``packages``."""
    base = base_root(suite)
    full = f"{base_name(suite)}+{name}"
    final = cache_dir() / full
    if final.is_dir():
        return [base, final]
    with _locked(full):
        if final.is_dir():
            return [base, final]
        _log(f"building {suite} layer {name!r}: apt-get install {' '.join(packages)} (one-off)")
        t0 = time.monotonic()
        root = Root([base], name=f"build-{suite}-{name}", tmpfs=False)
        try:
            root.apt_install(*packages)
            root.run(["apt-get", "clean"])
            tmp_final = cache_dir() / f".build-{full}-{os.getpid()}"
            root.freeze_upper(tmp_final)
            os.rename(tmp_final, final)
        except BaseException:
            root.close()
            raise
        _log(f"{suite} layer {name!r} ready in {time.monotonic() - t0:.0f}s")
    return [base, final]


def compiler_layer(suite: str = SUITE) -> list[Path]:
    """Lower dirs of a root with ``build-essential`` (gcc, g++, make, libc6-dev) installed."""
    return layer(COMPILER_LAYER, COMPILER_PACKAGES, suite)


# --------------------------------------------------------------------------- wheelhouse


def _source_hash() -> str:
    h = hashlib.sha256()
    h.update(f"py{TARGET_PY}".encode())
    files = [REPO / "pyproject.toml"]
    for d in ("fixenv", "playbooks"):
        files += sorted(
            p for p in (REPO / d).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
        )
    # the zipapp is built by scripts/build-zipapp.sh: a change to it alone is a new build too
    for extra in ("README.md", "setup.py", "setup.cfg", "MANIFEST.in", "scripts/build-zipapp.sh"):
        if (REPO / extra).is_file():
            files.append(REPO / extra)
    for p in files:
        h.update(str(p.relative_to(REPO)).encode() + b"\0")
        h.update(p.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _wheel_python() -> str:
    """A host interpreter of the root's Python version, to build wheels with."""
    if f"{sys.version_info[0]}.{sys.version_info[1]}" == TARGET_PY:
        return sys.executable
    exe = shutil.which(f"python{TARGET_PY}")
    if exe is None:
        raise RootError(f"need a host python{TARGET_PY} to build the wheelhouse")
    return exe


def _built_from_checkout(name: str, build: Callable[[Path, Path, Path], None]) -> Path:
    """A directory `build(src, out, tmp)` fills from a copy of this checkout, cached by source
    hash (built once per source change, under a lock; stale ones removed). The copy keeps
    build/, dist/ and egg-info out of the work tree."""
    final = cache_dir() / f"{name}-{_source_hash()}"
    if final.is_dir():
        return final
    with _locked(name):
        if final.is_dir():
            return final
        _log(f"building the fixenv {name} (once per source change)")
        tmp = Path(tempfile.mkdtemp(prefix=f".build-{name}-", dir=cache_dir()))
        try:
            src = tmp / "src"
            shutil.copytree(
                REPO, src,
                ignore=shutil.ignore_patterns(
                    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__",
                    ".pytest_cache", "tests"),
            )
            out = tmp / "out"
            out.mkdir()
            build(src, out, tmp)
            for old in cache_dir().glob(f"{name}-*"):  # stale ones, not in use any more
                if time.time() - old.stat().st_mtime > 6 * 3600:
                    shutil.rmtree(old, ignore_errors=True)
            if final.exists():
                shutil.rmtree(final)
            os.rename(out, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def wheelhouse() -> Path:
    """fixenv (built from this checkout) + its dependencies as wheels, cached by source hash."""
    def build(src: Path, out: Path, tmp: Path) -> None:
        _check([_wheel_python(), "-m", "pip", "wheel", "--disable-pip-version-check",
                "--wheel-dir", str(out), str(src)], timeout=900)
        if not list(out.glob("fixenv-*.whl")):
            raise RootError("pip wheel produced no fixenv wheel")

    return _built_from_checkout("wheelhouse", build)


def zipapp() -> Path:
    """``scripts/build-zipapp.sh`` of this checkout, cached by the source hash."""
    def build(src: Path, out: Path, tmp: Path) -> None:
        env = dict(os.environ, PYTHON=_wheel_python(), TMPDIR=str(tmp))
        _check(["bash", str(src / "scripts" / "build-zipapp.sh"), str(out / "fixenv.pyz")],
               timeout=900, env=env)
        if not (out / "fixenv.pyz").is_file():
            raise RootError("build-zipapp.sh produced no fixenv.pyz")

    return _built_from_checkout("zipapp", build) / "fixenv.pyz"
