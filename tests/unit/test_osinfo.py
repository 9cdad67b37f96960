"""OS detection against fake root trees (tests/resources/distros/<name>/etc/os-release ...,
real files of those releases), macOS through a patched `platform`, and package-manager
detection through a fake `which` (OS family first, binaries second)."""
from __future__ import annotations

import json
import os
import platform
from typing import Dict, List, Optional

import pytest

from tests.factsfix import make_facts

from fixenv.errors import InputError
from fixenv.facts import normalize, osinfo, validate

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
    # No VERSION_ID at all (BUILD_ID=rolling): version and major are null, with a note.
    "arch": ("arch", None, [], "arch", None, ""),
    # Debian testing/unstable: base-files 14.2 (forky/sid), as unpacked from the real .deb.
    "debian-testing": ("debian", None, [], "debian", None, "forky"),
    # Gentoo: VERSION_ID is the baselayout release, not a distribution release; no family.
    "gentoo": ("gentoo", "2.17", [], "unknown", "2", ""),
}

# name: words the version_note must contain (absent: no note)
NOTES = {
    "arch": ["no VERSION_ID", "rolling"],
    "debian-testing": ["no VERSION_ID", "'forky/sid'", "testing/unstable"],
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
    if name in NOTES:
        for word in NOTES[name]:
            assert word in got["version_note"], got["version_note"]
    else:
        assert "version_note" not in got, got


def _facts_for(os_facts: Dict) -> Dict:
    f = make_facts(python={"executable": "/usr/bin/python3", "version": "3.14.1",
                           "include": "/usr/include/python3.14"})
    f["os"] = dict(os_facts)
    return f


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_real_os_release_passes_the_fact_checks(name):
    """What detection reads from a real release is accepted by the same checks a probe's
    facts go through (values.check): no os-release makes fixenv refuse the machine."""
    os_facts = osinfo.detect_os(root_dir=os.path.join(DISTROS, name))
    facts = validate(json.loads(json.dumps(_facts_for(os_facts))), "probe")
    assert facts["os"]["family"] == CASES[name][3]


def test_debian_testing_is_planned_as_debian_with_its_default_python():
    os_facts = osinfo.detect_os(root_dir=os.path.join(DISTROS, "debian-testing"))
    facts = validate(_facts_for(os_facts), "probe")
    assert facts["os"]["version"] is None and facts["os"]["major"] is None
    assert facts["os"]["default_python"] == "3.14"  # by code name: forky
    assert facts["system_manager"] == "apt"


@pytest.mark.parametrize("raw,version", [
    ('VERSION_ID="n/a"\n', None), ('VERSION_ID="9 (Stretch)"\n', None),
    ('VERSION_ID=""\n', None), ('VERSION_ID="rolling"\n', None),
    ('VERSION_ID="15.0+"\n', "15.0+"), ('VERSION_ID="3.21.0_alpha20240807"\n', "3.21.0_alpha20240807"),
    ('VERSION_ID="$(reboot)"\n', None), ("", None),
])
def test_odd_version_ids_are_described_not_refused(tmp_path, raw, version):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "os-release").write_text('ID=someos\nID_LIKE="fedora"\n' + raw)
    got = osinfo.detect_os(root_dir=str(tmp_path))
    assert got["version"] == version
    assert got["family"] == "fedora"
    if version is None:
        assert got["major"] is None and got["version_note"]
    facts = validate(_facts_for(got), "probe")
    assert facts["os"]["version"] == version


def test_a_hostile_id_becomes_unknown_with_a_note(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "os-release").write_text('ID="deb ian;rm"\nVERSION_ID=1\n')
    got = osinfo.detect_os(root_dir=str(tmp_path))
    assert got["id"] == "unknown" and "not a distribution id" in got["version_note"]
    validate(_facts_for(got), "probe")


@pytest.mark.parametrize("given", ["forky/sid", "13 (trixie)", "x\ny"])
def test_a_facts_file_with_an_unparsable_version_is_described(given):
    """Older or hand-written facts files: the text moves to version_note, version is null."""
    facts = _facts_for({"system": "Linux", "id": "debian", "version": given, "like": [],
                        "arch": "x86_64", "codename": "forky"})
    out = validate(facts, "facts.json")
    assert out["os"]["version"] is None and out["os"]["major"] is None
    assert "not a release number" in out["os"]["version_note"]
    assert "\n" not in out["os"]["version_note"]
    assert out["os"]["default_python"] == "3.14"


def test_a_null_version_in_a_facts_file_is_accepted():
    facts = _facts_for({"system": "Linux", "id": "arch", "version": None, "like": [],
                        "arch": "x86_64"})
    out = validate(facts, "facts.json")
    assert out["os"]["family"] == "arch" and out["os"]["major"] is None


def test_a_bad_os_value_does_not_blame_python():
    facts = _facts_for({"system": "Linux", "id": "debian;rm", "version": "12", "like": [],
                        "arch": "x86_64"})
    with pytest.raises(InputError) as exc:
        validate(facts, "facts.json")
    assert "os.id" in str(exc.value) and "--python" not in (exc.value.hint or "")


@pytest.mark.parametrize("name", ["fedora42", "rocky9", "opensuse-leap156", "arch",
                                  "debian-testing", "gentoo"])
def test_os_release_symlink_into_usr_lib_is_followed(name):
    # These releases ship /etc/os-release -> ../usr/lib/os-release; the tree keeps the link.
    link = os.path.join(DISTROS, name, "etc", "os-release")
    assert os.path.islink(link) and os.readlink(link) == "../usr/lib/os-release"
    assert osinfo.detect_os(root_dir=os.path.join(DISTROS, name))["id"] == CASES[name][0]


def test_empty_root_is_unknown_not_a_crash(tmp_path):
    got = osinfo.detect_os(root_dir=str(tmp_path))
    assert got["id"] == "unknown"
    assert got["family"] == "unknown"
    assert got["version"] is None and got["major"] is None
    assert "no /etc/os-release" in got["version_note"]


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
    real = os.uname()
    monkeypatch.setattr(osinfo, "_uname", lambda: os.uname_result(
        ("Darwin", real.nodename, "23.5.0", real.version, "arm64")))
    monkeypatch.setattr(platform, "mac_ver", lambda: ("14.5", ("", "", ""), "arm64"))
    got = osinfo.detect_os()
    assert got == {"system": "Darwin", "id": "macos", "version": "14.5", "like": [],
                   "codename": "", "arch": "arm64", "family": "macos", "major": "14"}


def test_macos_family_from_a_facts_file_without_family():
    facts = make_facts(root=False,
                       os={"system": "Darwin", "id": "macos", "version": "15.1", "arch": "arm64"},
                       managers=["brew"],
                       python={"executable": "/usr/bin/python3", "version": "3.9.6",
                               "prefix": "/x", "base_prefix": "/x", "include": "/x/include",
                               "provider": "xcode"})
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
    facts = make_facts(os=os_facts, managers=managers,
                       python={"executable": "/usr/bin/python3", "version": "3.12.1",
                               "include": "/usr/include/python3.12", "provider": "unknown"})
    assert normalize(facts)["system_manager"] == system_manager
