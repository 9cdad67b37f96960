"""OS detection against fake root trees (tests/resources/distros/<name>/etc/os-release ...,
real files of those releases), macOS through a patched `platform`, and package-manager
detection through a fake `which` (OS family first, binaries second)."""
from __future__ import annotations

import os
import platform
from typing import Dict, List, Optional

import pytest

from fixenv.facts import normalize, osinfo

DISTROS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "resources", "distros")

# name: (id, version, like, family, major, codename)
CASES = {
    "debian11": ("debian", "11", [], "debian", "11", "bullseye"),
    "debian12": ("debian", "12", [], "debian", "12", "bookworm"),
    "debian13": ("debian", "13", [], "debian", "13", "trixie"),
    "ubuntu2004": ("ubuntu", "20.04", ["debian"], "debian", "20", "focal"),
    "ubuntu2204": ("ubuntu", "22.04", ["debian"], "debian", "22", "jammy"),
    "ubuntu2404": ("ubuntu", "24.04", ["debian"], "debian", "24", "noble"),
    "fedora40": ("fedora", "40", [], "fedora", "40", ""),
    "fedora41": ("fedora", "41", [], "fedora", "41", ""),
    "fedora42": ("fedora", "42", [], "fedora", "42", ""),
    "rhel8": ("rhel", "8.10", ["fedora"], "rhel", "8", "Ootpa"),
    "rhel9": ("rhel", "9.6", ["fedora"], "rhel", "9", "Plow"),
    "rocky8": ("rocky", "8.10", ["rhel", "centos", "fedora"], "rhel", "8", "Green Obsidian"),
    "rocky9": ("rocky", "9.3", ["rhel", "centos", "fedora"], "rhel", "9", "Blue Onyx"),
    "alma8": ("almalinux", "8.10", ["rhel", "centos", "fedora"], "rhel", "8", "Cerulean Leopard"),
    "alma9": ("almalinux", "9.4", ["rhel", "centos", "fedora"], "rhel", "9", "Seafoam Ocelot"),
    "amazon2": ("amzn", "2", ["centos", "rhel", "fedora"], "rhel", "2", ""),
    "amazon2023": ("amzn", "2023", ["fedora"], "rhel", "2023", ""),
    "opensuse-leap156": ("opensuse-leap", "15.6", ["suse", "opensuse"], "suse", "15", ""),
    "opensuse-tumbleweed": ("opensuse-tumbleweed", "20240524", ["opensuse", "suse"], "suse",
                            "20240524", ""),
    "alpine320": ("alpine", "3.20.3", [], "alpine", "3", ""),
    "arch": ("arch", "", [], "arch", "", ""),
}


def test_every_fixture_tree_has_a_case():
    assert sorted(os.listdir(DISTROS)) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_detect_os_from_fake_root(name):
    os_id, version, like, family, major, codename = CASES[name]
    got = osinfo.detect_os(root_dir=os.path.join(DISTROS, name))
    assert got["system"] == "Linux"
    assert got["id"] == os_id
    assert got["version"] == version
    assert got["like"] == like
    assert got["family"] == family
    assert got["major"] == major
    assert got["codename"] == codename
    assert got["arch"] == platform.machine()


@pytest.mark.parametrize("name", ["fedora42", "rocky9", "opensuse-leap156", "arch"])
def test_os_release_symlink_into_usr_lib_is_followed(name):
    # These releases ship /etc/os-release -> ../usr/lib/os-release; the tree keeps the link.
    link = os.path.join(DISTROS, name, "etc", "os-release")
    assert os.path.islink(link) and os.readlink(link) == "../usr/lib/os-release"
    assert osinfo.detect_os(root_dir=os.path.join(DISTROS, name))["id"] == CASES[name][0]


def test_empty_root_is_unknown_not_a_crash(tmp_path):
    got = osinfo.detect_os(root_dir=str(tmp_path))
    assert got["id"] == "unknown"
    assert got["family"] == "unknown"
    assert got["version"] == "" and got["major"] == ""


def test_derivative_is_placed_by_id_like(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "os-release").write_text(
        'NAME="Linux Mint"\nVERSION="21.3 (Virginia)"\nID=linuxmint\nID_LIKE="ubuntu debian"\n'
        'VERSION_ID="21.3"\nVERSION_CODENAME=virginia\n')
    got = osinfo.detect_os(root_dir=str(tmp_path))
    assert (got["id"], got["family"], got["major"]) == ("linuxmint", "debian", "21")
    (tmp_path / "etc" / "os-release").write_text('ID=someday\nID_LIKE="arch"\n')
    assert osinfo.detect_os(root_dir=str(tmp_path))["family"] == "arch"


def test_macos_facts_from_platform(monkeypatch):
    monkeypatch.setattr(platform, "system", lambda: "Darwin")
    monkeypatch.setattr(platform, "mac_ver", lambda: ("14.5", ("", "", ""), "arm64"))
    monkeypatch.setattr(platform, "machine", lambda: "arm64")
    got = osinfo.detect_os()
    assert got == {"system": "Darwin", "id": "macos", "version": "14.5", "like": [],
                   "codename": "", "arch": "arm64", "family": "macos", "major": "14"}


def test_macos_family_from_a_facts_file_without_family():
    facts = {
        "os": {"system": "Darwin", "id": "macos", "version": "15.1", "like": [], "arch": "arm64"},
        "managers": ["brew"], "privilege": {"root": False, "sudo": False},
        "python": {"executable": "/usr/bin/python3", "version": "3.9.6",
                   "implementation": "CPython", "abiflags": "", "prefix": "/x",
                   "base_prefix": "/x", "in_venv": False, "include": "/x/include",
                   "has_headers": False, "provider": "xcode"},
        "compilers": {"cc": None, "cxx": None}, "env": {"CPATH": None},
    }
    out = normalize(facts)
    assert out["os"]["family"] == "macos" and out["os"]["major"] == "15"
    assert out["python"]["platform"] == "darwin"
    assert out["system_manager"] == "brew"


def fake_which(present: List[str]):
    def which(name: str) -> Optional[str]:
        return "/usr/bin/" + name if name in present else None
    return which


# family, binaries on PATH, expected managers (system ones first, in order)
MANAGER_CASES = [
    ("debian", ["apt-get"], ["apt"]),
    # dnf, zypper and pacman installed from Debian's archive do not make them Debian's manager
    ("debian", ["apt-get", "dnf", "yum", "zypper", "pacman", "apk"], ["apt"]),
    ("debian", ["apt-get", "conda", "pyenv", "uv"], ["apt", "conda", "pyenv", "uv"]),
    ("fedora", ["dnf", "yum"], ["dnf", "yum"]),
    ("rhel", ["dnf", "yum"], ["dnf", "yum"]),     # RHEL 8/9: yum is dnf's alias
    ("rhel", ["yum"], ["yum"]),                   # Amazon Linux 2
    ("rhel", ["yum", "apt-get"], ["yum"]),
    ("suse", ["zypper", "rpm"], ["zypper"]),
    ("alpine", ["apk"], ["apk"]),
    ("arch", ["pacman"], ["pacman"]),
    ("macos", ["brew", "pyenv"], ["brew", "pyenv"]),
    ("macos", [], []),
    ("unknown", ["apt-get", "brew", "mamba"], ["brew", "mamba"]),
]


@pytest.mark.parametrize("family,present,expected", MANAGER_CASES)
def test_detect_managers_family_first(family, present, expected):
    assert osinfo.detect_managers({"family": family}, which=fake_which(present)) == expected


@pytest.mark.parametrize("name,present,system_manager", [
    ("rocky9", ["dnf", "yum"], "dnf"),
    ("amazon2", ["yum"], "yum"),
    ("opensuse-tumbleweed", ["zypper"], "zypper"),
    ("ubuntu2404", ["apt-get", "brew"], "apt"),
    ("arch", ["pacman", "conda"], "pacman"),
])
def test_system_manager_from_tree_and_binaries(name, present, system_manager):
    os_facts = osinfo.detect_os(root_dir=os.path.join(DISTROS, name))
    managers = osinfo.detect_managers(os_facts, which=fake_which(present))
    facts: Dict = {
        "os": os_facts, "managers": managers, "privilege": {"root": True, "sudo": False},
        "python": {"executable": "/usr/bin/python3", "version": "3.12.1",
                   "implementation": "CPython", "abiflags": "", "prefix": "/usr",
                   "base_prefix": "/usr", "in_venv": False, "include": "/usr/include/python3.12",
                   "has_headers": False, "provider": "unknown"},
        "compilers": {"cc": None, "cxx": None}, "env": {"CPATH": None},
    }
    assert normalize(facts)["system_manager"] == system_manager
