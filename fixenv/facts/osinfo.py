"""Operating system facts and the package managers that serve it.

OS family first, binaries second (as Ansible's pkg_mgr does): a Debian box with `dnf`
installed from apt still wants apt.

Shape of `detect_os`::

    {"system": "Linux", "id": "debian", "version": "12", "like": [], "codename": "bookworm",
     "arch": "x86_64", "family": "debian", "major": "12"}

A real machine's os-release never makes detection fail. What cannot be parsed is described,
not refused: Debian testing/unstable (no VERSION_ID; /etc/debian_version "forky/sid"), Arch
(BUILD_ID=rolling only), a VERSION_ID that is not a release number... give
`"version": null, "major": null` plus `"version_note"` saying why, and are planned like
their family (the family comes from ID / ID_LIKE, never from the version).
"""
from __future__ import annotations

import os
import re
import shutil
from typing import Any, Callable, Dict, List, MutableMapping, Optional, Tuple

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


# A release number as it may appear in VERSION_ID: "12", "22.04", "8.10", "2023", "20240524"
# (Tumbleweed's snapshot), "3.21.0_alpha20240807" (Alpine edge), "15.0+" (Slackware current).
RELEASE = re.compile(r"^[0-9][A-Za-z0-9._+~-]{0,63}$")
WORD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+~-]{0,63}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _shown(raw: str) -> str:
    """A foreign value made safe to quote in a note: no control characters, bounded."""
    text = _CONTROL.sub("?", raw)
    return repr(text if len(text) <= 64 else text[:61] + "...")


def classify_version(raw: Any, source: str = "VERSION_ID") -> Tuple[Optional[str], Optional[str]]:
    """(version, note): the value when it is a release number, else (None, why)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, "%s is missing" % source
    if not isinstance(raw, str):
        return None, "%s %r is not a string" % (source, raw)
    value = raw.strip()
    if RELEASE.fullmatch(value):
        return value, None
    return None, "%s %s is not a release number" % (source, _shown(value))


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read(4096).strip()
    except OSError:
        return ""


def _version_of(d: Any, etc_dir: str, os_id: str, like: List[str],
                has_os_release: bool) -> Tuple[Optional[str], Optional[str]]:
    """VERSION_ID from os-release; where it is missing, the distribution's own release file
    (/etc/debian_version, /etc/<name>-release); else null with the reason."""
    raw = d.os_release_attr("version_id")
    if raw:
        return classify_version(raw, "VERSION_ID")
    where = "/etc/os-release has no VERSION_ID" if has_os_release else "no /etc/os-release"
    if os_id == "debian" or "debian" in like:
        dv = _read(os.path.join(etc_dir, "debian_version"))
        if dv:
            version, _ = classify_version(dv)
            if version is not None and os_id == "debian":
                return version, "%s; release from /etc/debian_version" % where
            if "/" in dv:
                return None, ("%s and /etc/debian_version is %s, a codename pair (Debian "
                              "testing/unstable): planned as a Debian release by its codename"
                              % (where, _shown(dv)))
            return None, "%s; /etc/debian_version is %s" % (where, _shown(dv))
    rel = d.distro_release_attr("version_id")
    if rel:
        version, _ = classify_version(rel)
        if version is not None:
            return version, "%s; release from the distribution's release file" % where
    build = d.os_release_attr("build_id")
    if build:
        return None, "%s (BUILD_ID %s: a rolling release)" % (where, _shown(build))
    return None, where + " (a rolling release or an unversioned system)"


def normalize_os(osf: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Fill the derived OS fields (family, major, codename, default_python) of a detected or
    given `os` object. A `version` that is not a release number (e.g. "forky/sid" from an
    older or hand-written facts file) becomes null and its text goes to `version_note`:
    it is described, never a reason to refuse the machine."""
    from fixenv.facts import distro_python

    version = osf.get("version")
    if version is not None:
        good, note = classify_version(version, "os.version")
        if good is None:
            osf["version"] = None
            osf.setdefault("version_note", note)
        else:
            osf["version"] = good
    if not isinstance(osf.get("codename"), str):
        osf["codename"] = ""
    osf.setdefault("family", family_of(str(osf.get("id", "")), list(osf.get("like") or []),
                                       str(osf.get("system", "Linux"))))
    if osf["version"] is None:
        osf.setdefault("major", None)
    else:
        osf.setdefault("major", str(osf["version"]).split(".")[0])
    osf.setdefault("default_python", distro_python.default_python(osf))
    return osf


def _uname() -> os.uname_result:
    """The kernel's name and machine (what platform.system()/machine() return on POSIX)."""
    return os.uname()


def detect_os(root_dir: Optional[str] = None) -> Dict[str, object]:
    """Read the OS from os-release (via distro). `root_dir` points at a fake root tree."""
    uname = _uname()
    system, machine = uname.sysname, uname.machine
    if system == "Darwin" and root_dir is None:
        import platform  # macOS only: `platform` costs ~3 ms of every start-up elsewhere

        ver, note = classify_version(platform.mac_ver()[0], "the macOS version")
        out: Dict[str, object] = {"system": "Darwin", "id": "macos", "version": ver, "like": [],
                                  "codename": "", "arch": machine, "family": "macos",
                                  "major": ver.split(".")[0] if ver else None}
        if note:
            out["version_note"] = note
        return out
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
    id_note = None
    if not WORD.fullmatch(os_id):
        id_note = "ID %s is not a distribution id" % _shown(os_id)
        os_id = "unknown"
    like = [x for x in (d.like() or "").split() if WORD.fullmatch(x)]
    etc_dir = os.path.join(root_dir or "/", "etc")
    has_os_release = bool(d.os_release_info())
    version, note = _version_of(d, etc_dir, os_id, like, has_os_release)
    codename = _CONTROL.sub("", d.codename() or "").strip()[:64]
    out = {
        "system": "Linux" if root_dir is not None else system,
        "id": os_id,
        "version": version,
        "like": like,
        "codename": codename,
        "arch": machine,
        "family": family_of(os_id, like),
        "major": version.split(".")[0] if version else None,
    }
    notes = [n for n in (id_note, note) if n]
    if notes:
        out["version_note"] = "; ".join(notes)
    return out


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
