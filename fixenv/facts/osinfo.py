"""Operating system facts and the package managers that serve it.

OS family first, binaries second (as Ansible's pkg_mgr does): a Debian box with `dnf`
installed from apt still wants apt.

Shape of `detect_os`::

    {"system": "Linux", "id": "debian", "version": "12", "like": [], "codename": "bookworm",
     "arch": "x86_64", "family": "debian", "major": "12"}
"""
from __future__ import annotations

import os
import platform
import shutil
from typing import Callable, Dict, List, Optional

# os id / like -> family. The family picks the system package manager and compiler names.
FAMILIES: Dict[str, str] = {
    "debian": "debian", "ubuntu": "debian", "linuxmint": "debian", "pop": "debian",
    "raspbian": "debian", "kali": "debian",
    "fedora": "fedora",
    "rhel": "rhel", "centos": "rhel", "rocky": "rhel", "almalinux": "rhel", "ol": "rhel",
    "amzn": "rhel",
    "opensuse": "suse", "opensuse-leap": "suse", "opensuse-tumbleweed": "suse", "sles": "suse",
    "suse": "suse",
    "alpine": "alpine",
    "arch": "arch", "manjaro": "arch", "endeavouros": "arch",
    "macos": "macos", "darwin": "macos",
}

# family -> system package managers, in order of preference.
SYSTEM_MANAGERS: Dict[str, List[str]] = {
    "debian": ["apt"],
    "fedora": ["dnf", "yum"],
    "rhel": ["dnf", "yum"],
    "suse": ["zypper"],
    "alpine": ["apk"],
    "arch": ["pacman"],
    "macos": ["brew"],
}

# Managers that are not the OS's but can own a Python (checked by binary).
OTHER_MANAGERS = ["brew", "conda", "mamba", "micromamba", "pyenv", "uv"]

MANAGER_BINARIES: Dict[str, str] = {
    "apt": "apt-get", "dnf": "dnf", "yum": "yum", "zypper": "zypper", "apk": "apk",
    "pacman": "pacman", "brew": "brew", "conda": "conda", "mamba": "mamba",
    "micromamba": "micromamba", "pyenv": "pyenv", "uv": "uv",
}


def family_of(os_id: str, like: List[str], system: str = "Linux") -> str:
    if system == "Darwin":
        return "macos"
    for name in [os_id] + list(like):
        fam = FAMILIES.get(name)
        if fam:
            return fam
    return "unknown"


def detect_os(root_dir: Optional[str] = None) -> Dict[str, object]:
    """Read the OS from os-release (via distro). `root_dir` points at a fake root tree."""
    system = platform.system()
    if system == "Darwin" and root_dir is None:
        ver = platform.mac_ver()[0]
        return {"system": "Darwin", "id": "macos", "version": ver, "like": [],
                "codename": "", "arch": platform.machine(), "family": "macos",
                "major": ver.split(".")[0] if ver else ""}
    import distro  # imported here: ~10 ms that only detection needs

    if root_dir is not None:
        d = distro.LinuxDistribution(root_dir=root_dir, include_lsb=False,
                                     include_uname=False, include_oslevel=False)
    else:
        d = distro.LinuxDistribution(include_lsb=False, include_uname=False,
                                     include_oslevel=False)
    # The os-release ID as written ("opensuse-leap", "amzn", "rocky"): what users see in
    # /etc/os-release and write in playbook conditions. distro.id() would rename some.
    raw_id = d.os_release_attr("id")
    os_id = (raw_id.strip().lower() if raw_id else d.id()) or "unknown"
    like = [x for x in (d.like() or "").split() if x]
    version = d.version(best=False) or ""
    return {
        "system": "Linux" if root_dir is not None else system,
        "id": os_id,
        "version": version,
        "like": like,
        "codename": d.codename() or "",
        "arch": platform.machine(),
        "family": family_of(os_id, like),
        "major": version.split(".")[0] if version else "",
    }


def detect_managers(os_facts: Dict[str, object],
                    which: Callable[[str], Optional[str]] = shutil.which) -> List[str]:
    """System managers of the OS family whose binary exists, then the others present."""
    found: List[str] = []
    family = str(os_facts.get("family") or "unknown")
    for name in SYSTEM_MANAGERS.get(family, []):
        if which(MANAGER_BINARIES[name]):
            found.append(name)
    for name in OTHER_MANAGERS:
        if name not in found and which(MANAGER_BINARIES[name]):
            found.append(name)
    return found


def home() -> str:
    return os.path.expanduser("~")
