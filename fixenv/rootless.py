"""Rootless mode: fetch the target's header packages without installing them system-wide.

apt: `apt-get download` works unprivileged; `dpkg-deb -x` unpacks a .deb into any directory.
The packages land under `${XDG_DATA_HOME:-~/.local/share}/fixenv/sysroot` (for root, when
forced with --rootless: /var/lib/fixenv/sysroot, readable by every user), and CPATH then
points at `<sysroot>/usr/include/python3.X` and `<sysroot>/usr/include` (the Debian
multiarch pyconfig.h wrapper needs the second). dnf/yum: `dnf download` + `rpm2archive`
(a .rpm -> .tgz converter that ships with rpm) + `tar -x`, so no shell pipe is needed.

Nothing here runs anything: argv builders and pure parsers. The plan shows the commands;
apply runs them through the runner like any other step.
"""
from __future__ import annotations

import os
import re
import shutil
from typing import Dict, List, Mapping, Sequence, Tuple

from fixenv.model import Command
from fixenv.runner import Runner

SYSTEM_SYSROOT = "/var/lib/fixenv/sysroot"
SYSROOT_ENV = "FIXENV_SYSROOT"


def data_dir(environ: Mapping[str, str]) -> str:
    base = environ.get("XDG_DATA_HOME") or os.path.join(
        environ.get("HOME") or os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "fixenv")


def sysroot_dir(environ: Mapping[str, str], root: bool) -> str:
    """Where rootless header packages are unpacked (FIXENV_SYSROOT overrides)."""
    if environ.get(SYSROOT_ENV):
        return os.path.abspath(environ[SYSROOT_ENV]).rstrip("/") or "/"
    if root:
        return SYSTEM_SYSROOT
    return os.path.join(data_dir(environ), "sysroot")


def download_dir(sysroot: str) -> str:
    """Scratch dir for the downloaded archives (next to the sysroot, removed after use)."""
    return sysroot.rstrip("/") + ".downloads"


# Debian packaging: python3.X-dev/-dbg (and deadsnakes' python3.X-nogil) hold no headers of
# their own beyond what their lib package ships (libpython3.X-dev has Python.h and the
# multiarch pyconfig.h; libpython3.X-dbg the d one; libpython3.X-nogil the t one). apt-get
# download fetches no dependencies, so the lib package goes first.
_APT_LIB = re.compile(r"^python[0-9]+\.[0-9]+-(dev|dbg|nogil)$")


def apt_closure(names: Sequence[str]) -> List[str]:
    """The packages to download for the header rule's apt packages (e.g. python3.11-dev ->
    libpython3.11-dev, python3.11-dev). The names come from the playbook's rule."""
    out: List[str] = []
    for n in names:
        for m in (("lib" + n) if _APT_LIB.match(n) else None, n):
            if m and m not in out:
                out.append(m)
    return out


def parse_apt_show(text: str) -> Dict[str, Tuple[str, str]]:
    """`apt-cache show --no-all-versions a b` -> {name: (version, arch)} (first stanza wins)."""
    out: Dict[str, Tuple[str, str]] = {}
    fields: Dict[str, str] = {}

    def flush() -> None:
        name = fields.get("Package")
        if name and "Version" in fields and name not in out:
            out[name] = (fields["Version"], fields.get("Architecture", "all"))
        fields.clear()

    for line in text.splitlines():
        if not line.strip():
            flush()
            continue
        if line[0] in " \t" or ":" not in line:
            continue
        key, value = line.split(":", 1)
        fields[key.strip()] = value.strip()
    flush()
    return out


def deb_filename(name: str, version: str, arch: str) -> str:
    """The file `apt-get download name=version` writes (apt quotes ':' as %3a)."""
    def q(s: str) -> str:
        return s.replace("%", "%25").replace(":", "%3a").replace("_", "%5f")
    return "%s_%s_%s.deb" % (q(name), q(version), q(arch))


def apt_candidates(names: Sequence[str], runner: Runner) -> Dict[str, Tuple[str, str]]:
    res = runner.run(["apt-cache", "show", "--no-all-versions"] + list(names), timeout=60)
    return parse_apt_show(res.stdout) if res.ok else {}


def apt_commands(names: Sequence[str], candidates: Mapping[str, Tuple[str, str]],
                 sysroot: str, *, root: bool) -> List[Command]:
    """mkdir, apt-get download (pinned versions), dpkg-deb -x each, remove the archives."""
    dl = download_dir(sysroot)
    apt = ["apt-get", "-q"]
    if root:
        # As root apt drops to the _apt user for downloads, which cannot write here.
        apt += ["-o", "APT::Sandbox::User=root"]
    cmds = [Command(("mkdir", "-p", dl, sysroot), purpose="make the sysroot")]
    pinned = ["%s=%s" % (n, candidates[n][0]) for n in names]
    cmds.append(Command(tuple(["env", "-C", dl] + apt + ["download"] + pinned),
                        purpose="download %s (no root needed)" % " ".join(names)))
    files = [os.path.join(dl, deb_filename(n, *candidates[n])) for n in names]
    for f in files:
        cmds.append(Command(("dpkg-deb", "-x", f, sysroot), purpose="unpack " +
                            os.path.basename(f)))
    cmds.append(Command(tuple(["rm", "-f"] + files), purpose="remove the downloaded archives"))
    return cmds


def apt_private_lists_commands(names: Sequence[str], sysroot: str, *, root: bool
                               ) -> List[Command]:
    """No package lists on this machine (a fresh image) and no root to refresh them: refresh
    a private copy of the lists under the data dir, download the candidates, unpack every
    archive downloaded (their file names are only known after the download)."""
    dl = download_dir(sysroot)
    state = sysroot.rstrip("/") + ".apt"
    opts = ["-o", "Dir::State::Lists=" + os.path.join(state, "lists"),
            "-o", "Dir::Cache=" + os.path.join(state, "cache")]
    apt = ["apt-get", "-q"] + opts
    if root:
        apt += ["-o", "APT::Sandbox::User=root"]
    return [
        Command(("mkdir", "-p", dl, sysroot, os.path.join(state, "lists", "partial"),
                 os.path.join(state, "cache", "archives", "partial")),
                purpose="make the sysroot and a private apt state dir"),
        Command(tuple(apt + ["update"]), purpose="refresh a private copy of the package lists"),
        Command(tuple(["env", "-C", dl] + apt + ["download"] + list(names)),
                purpose="download %s (no root needed)" % " ".join(names)),
        Command(("find", dl, "-name", "*.deb", "-exec", "dpkg-deb", "-x", "{}", sysroot, ";"),
                purpose="unpack the archives"),
        Command(("find", dl, "-name", "*.deb", "-delete"), purpose="remove the archives"),
    ]


def rpm_commands(manager: str, names: Sequence[str], sysroot: str) -> List[Command]:
    """dnf/yum download, then rpm2archive + tar per archive (no shell pipe needed).
    The archive names are only known after the download, so this route is planned as
    download + a `find -exec` extraction."""
    dl = download_dir(sysroot)
    dnf = "dnf" if manager == "dnf" else "yumdownloader"
    cmds = [Command(("mkdir", "-p", dl, sysroot), purpose="make the sysroot")]
    if dnf == "dnf":
        cmds.append(Command(tuple(["dnf", "-q", "download", "--destdir", dl] + list(names)),
                            purpose="download %s (no root needed)" % " ".join(names)))
    else:
        cmds.append(Command(tuple(["yumdownloader", "--destdir", dl] + list(names)),
                            purpose="download %s (no root needed)" % " ".join(names)))
    cmds.append(Command(("find", dl, "-name", "*.rpm", "-exec", "rpm2archive", "{}", ";"),
                        purpose="convert the archives to tar"))
    cmds.append(Command(("find", dl, "-name", "*.rpm.tgz", "-exec", "tar", "-xzf", "{}", "-C",
                         sysroot, ";"), purpose="unpack them"))
    return cmds


def headers_present(sysroot: str, pydir: str) -> bool:
    return os.path.isfile(os.path.join(sysroot, "usr", "include", pydir, "Python.h"))


def remove_sysroot(sysroot: str) -> bool:
    """Delete the sysroot fixenv unpacked (only a dir that looks like ours). True if removed."""
    if not os.path.isdir(os.path.join(sysroot, "usr", "include")):
        return False
    shutil.rmtree(sysroot)
    shutil.rmtree(download_dir(sysroot), ignore_errors=True)
    shutil.rmtree(sysroot.rstrip("/") + ".apt", ignore_errors=True)
    return True
