"""Issue 4: when CPATH is needed and what it holds (fixenv/cpath.py).

Pure rules on facts dicts, plus real compiles with the host's g++ where a rule claims
something about the compiler (CPATH reaches C++, C_INCLUDE_PATH does not, a missing -I is
skipped, the multiarch wrapper needs the include root)."""
from __future__ import annotations

import os
import shutil
from typing import Any, Dict, Optional

import pytest

from tests.factsfix import make_facts

from fixenv import cpath
from fixenv.facts import normalize

HOME_ENV = {"HOME": "/home/u"}
SYSROOT = "/home/u/.local/share/fixenv/sysroot"
HOST_INC = "/usr/include/python3.11"
HOST_MULTI = "/usr/include/x86_64-linux-gnu/python3.11"
GXX = shutil.which("g++")


def facts(*, include: str = "/usr/include/python3.11", sysconfig: Optional[str] = None,
          has: bool = True, provider: str = "apt", root: bool = False, sudo: bool = False,
          cpath_now: Optional[str] = None, version: str = "3.11.2", abiflags: str = "",
          family_id: str = "debian") -> Dict[str, Any]:
    f = make_facts(
        root=root, sudo=sudo, os={"id": family_id},
        python={"version": version, "abiflags": abiflags, "include": include,
                "sysconfig_include": sysconfig or include, "has_headers": has,
                "provider": provider, "multiarch": "x86_64-linux-gnu"},
        compilers={"cc": "/usr/bin/gcc", "cxx": "/usr/bin/g++"}, env={"CPATH": cpath_now},
        cpath={})  # cpath: keep normalize from computing it with the real environment
    normalize(f)
    return f


def group(f: Dict[str, Any], env: Optional[Dict[str, str]] = None, forced: bool = False):
    """The cpath group for the user whose environment `env` is (detected as facts)."""
    from fixenv.facts.user import detect

    f = dict(f, user=detect(env if env is not None else HOME_ENV,
                            bool(f["privilege"]["root"])))
    return cpath.compute(f, forced)


# ----------------------------------------------------------------------------- when needed

def test_not_needed_when_sysconfig_include_has_the_headers():
    g = group(facts())
    assert g["needed"] is False and g["dirs"] == [] and g["value"] is None
    assert "not needed" in g["reason"] and "/usr/include/python3.11" in g["reason"]


def test_deadsnakes_style_sysconfig_gets_only_the_headers_dir_not_a_default_dir():
    # sysconfig says /usr/local/include/python3.11 (empty), headers are in /usr/include/...;
    # /usr/include is searched anyway, so only the python3.11 dir goes into CPATH.
    g = group(facts(sysconfig="/usr/local/include/python3.11"))
    assert g["needed"] is True
    assert g["dirs"] == ["/usr/include/python3.11"]
    assert g["value"] == "/usr/include/python3.11"


def test_deadsnakes_headers_not_installed_yet_are_predicted():
    g = group(facts(include="/usr/local/include/python3.11", has=False, root=True))
    assert g["rootless"] is False
    assert g["dirs"] == ["/usr/include/python3.11"]


def test_root_without_headers_needs_no_cpath_the_package_installs_them_where_builds_look():
    g = group(facts(has=False, root=True))
    assert g == {**g, "needed": False, "dirs": [], "rootless": False}


def test_sudo_user_is_not_rootless():
    assert group(facts(has=False, sudo=True))["rootless"] is False


def test_unprivileged_user_goes_rootless_with_both_multiarch_dirs():
    g = group(facts(has=False))
    assert g["rootless"] is True and g["needed"] is True
    assert g["sysroot"] == SYSROOT
    assert g["dirs"] == [SYSROOT + "/usr/include/python3.11", SYSROOT + "/usr/include"]
    assert g["value"] == ":".join(g["dirs"])


def test_xdg_data_home_and_override_move_the_sysroot():
    g = group(facts(has=False), {"HOME": "/home/u", "XDG_DATA_HOME": "/data"})
    assert g["sysroot"] == "/data/fixenv/sysroot"
    g = group(facts(has=False), {"HOME": "/home/u", "FIXENV_SYSROOT": "/srv/hdr/"})
    assert g["dirs"][0] == "/srv/hdr/usr/include/python3.11"


def test_forced_rootless_as_root_uses_a_system_wide_sysroot():
    g = group(facts(has=False, root=True), forced=True)
    assert g["rootless"] is True and g["rootless_forced"] is True
    assert g["dirs"] == ["/var/lib/fixenv/sysroot/usr/include/python3.11",
                         "/var/lib/fixenv/sysroot/usr/include"]


def test_debug_and_freethreaded_include_dir_names():
    assert group(facts(has=False, abiflags="d"))["dirs"][0].endswith("/python3.11d")
    assert group(facts(has=False, abiflags="t", version="3.13.1"))["dirs"][0].endswith(
        "/python3.13t")


@pytest.mark.parametrize("provider", ["pyenv", "conda", "uv", "brew", "source"])
def test_providers_that_need_no_root_never_go_rootless(provider):
    g = group(facts(has=False, provider=provider))
    assert g["rootless"] is False and g["needed"] is False


def test_headers_outside_a_debian_layout_get_no_include_root(tmp_path):
    # a prefix whose pyconfig.h is a real config header (pyenv, a /opt build): only its dir
    inc = tmp_path / "include" / "python3.11"
    inc.mkdir(parents=True)
    (inc / "Python.h").write_text("/* */\n")
    (inc / "pyconfig.h").write_text("#define HAVE_UNISTD_H 1\n")
    g = group(facts(include=str(inc), sysconfig="/nonexistent/include/python3.11"))
    assert g["dirs"] == [str(inc)]


def test_a_relocated_debian_tree_gets_its_include_root(tmp_path):
    inc = tmp_path / "usr" / "include" / "python3.11"
    inc.mkdir(parents=True)
    (inc / "Python.h").write_text("/* */\n")
    (inc / "pyconfig.h").write_text("#include <x86_64-linux-gnu/python3.11/pyconfig.h>\n")
    g = group(facts(include=str(inc), sysconfig="/usr/local/include/python3.11"))
    assert g["dirs"] == [str(inc), str(tmp_path / "usr" / "include")]


# ----------------------------------------------------------------------------- merge rules

def test_existing_value_is_kept_after_ours():
    g = group(facts(has=False, cpath_now="/opt/x/include"))
    assert g["value"] == ":".join(g["dirs"] + ["/opt/x/include"])
    assert cpath.problems(g) == []


def test_empty_elements_are_dropped_and_reported():
    g = group(facts(has=False, cpath_now=":/opt/x::"))
    assert g["empty_elements"] is True
    assert "" not in g["value"].split(":")
    assert any("current directory" in p for p in cpath.problems(g))


def test_duplicates_are_dropped_and_reported():
    g = group(facts(has=False, cpath_now="/opt/x:/opt/x:" + SYSROOT + "/usr/include"))
    parts = g["value"].split(":")
    assert len(parts) == len(set(parts)) == 3
    assert any("repeats /opt/x" in p for p in cpath.problems(g))


def test_another_versions_headers_are_stale_by_name():
    g = group(facts(cpath_now="/usr/include/python3.9:/opt/x"))
    assert g["stale"] == ["/usr/include/python3.9"]
    assert g["value"] == "/opt/x"  # repaired even though nothing else is needed
    assert g["needed"] is False and cpath.problems(g)


def test_another_versions_headers_are_stale_by_content(tmp_path):
    old, same = tmp_path / "old", tmp_path / "same"
    for d, minor in ((old, 9), (same, 11)):
        d.mkdir()
        (d / "Python.h").write_text("/* */\n")
        (d / "patchlevel.h").write_text("#define PY_MAJOR_VERSION 3\n"
                                        "#define PY_MINOR_VERSION %d\n" % minor)
    g = group(facts(cpath_now="%s:%s" % (old, same)))
    assert g["stale"] == [str(old)]
    assert g["value"] == str(same)


def test_merge_and_remove_are_inverse_for_our_dirs():
    assert cpath.merge(["/a", "/b/"], "/c::/a:/b") == "/a:/b:/c"
    assert cpath.merge([], "") == ""
    assert cpath.remove(["/a", "/b"], "/a:/b:/c") == "/c"
    assert cpath.remove(["/a"], "/a") is None
    assert cpath.split("::/x:") == (["/x"], 3)


def test_bundled_playbook_knows_the_cpath_facts():
    from fixenv.engine import load_playbook

    ids = [s.id for s in load_playbook().steps]
    assert ids.index("rootless-headers") < ids.index("cpath") < ids.index("verify")


# ----------------------------------------------------------------------------- the compiler

needs_gxx = pytest.mark.skipif(GXX is None or not os.path.isfile(HOST_INC + "/Python.h"),
                               reason="needs g++ and the host's python3.11 headers")

SRC = '#include <Python.h>\nint main(void) { return PY_MINOR_VERSION == 11 ? 0 : 1; }\n'


def test_verify_headers_check_tells_an_old_shell_what_to_do(tmp_path, monkeypatch):
    from fixenv import headers, profile

    sysroot = tmp_path / "sysroot"
    inc = sysroot / "usr/include/python3.11"
    inc.mkdir(parents=True)
    (inc / "Python.h").write_text("/* */\n")
    (inc / "patchlevel.h").write_text("#define PY_MAJOR_VERSION 3\n#define PY_MINOR_VERSION 11\n")
    env = {"HOME": str(tmp_path), "SHELL": "/bin/sh", "FIXENV_SYSROOT": str(sysroot)}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("CPATH", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    # the target's own include dir has no Python.h (the rootless case)
    f = facts(has=False, include=str(tmp_path / "usr/include/python3.11"))
    from fixenv.facts.user import detect
    f["user"] = detect(env, root=False)
    f["cpath"] = cpath.compute(f)
    # headers unpacked, nothing persisted yet: apply is the fix
    c = headers.check(f)
    assert c is not None and not c.ok and "fixenv apply" in (c.fix or "")
    # persisted: this shell predates it
    edits, _ = profile.plan_edits("CPATH", f["cpath"]["dirs"], [], root=False, user=f["user"])
    for e in edits:
        profile.apply_edit(e)
    c = headers.check(f)
    assert c is not None and not c.ok and "new login shell" in (c.fix or "")
    # this shell has it: found through CPATH
    f["env"]["CPATH"] = f["cpath"]["value"]  # the facts of a shell that has it
    c = headers.check(f)
    assert c is not None and c.ok and c.detail.startswith(str(inc / "Python.h"))
