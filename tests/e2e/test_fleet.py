"""Issue 13: a real fleet -- the Ansible role and the pyinfra deploy over SSH to three hosts
of different Debian releases (tests/e2e/sshhosts.py).

Three throwaway roots (bullseye: python3.9, bookworm: 3.11, trixie: 3.13), none with
Python headers or a compiler, each running sshd on its own loopback address and port, with a
fresh client key and host keys checked strictly against a known_hosts file written here.
ansible-core and pyinfra come from PyPI (a cached venv on this machine). The role and the
deploy are used the way their READMEs say: the directory is copied (the role is
self-contained), the zipapp built from this checkout is put where the README builds it,
and the commands run from there.

Ansible: --check (changed everywhere, each host's dpkg status byte-identical, nothing left on
the hosts), the real run (each host gets ITS python3.X-dev and a compiler; a C extension is
then built and imported on each over ssh), a rerun (changed=0, nothing copied), an upgrade
(a rebuilt zipapp with another version reaches every host), one host failing (its apt
sources broken: the others are still fixed, in batches of 2, and the failure is fixenv's
message). pyinfra: the same through contrib/pyinfra/deploy.py (--dry, apply, rerun, upgrade,
one host failing).
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest

from . import rootfs, sshhosts

pytestmark = pytest.mark.e2e

FIXENV_TASK = "fixenv : Run fixenv"
COPY_TASK = "fixenv : Copy the fixenv zipapp (only when its checksum differs)"
REPORT_TASK = "Report per host"
PYZ = "/usr/local/bin/fixenv"
PYINFRA_FIXENV_OP = "fixenv: plan (--dry) or apply, and verify"
PYINFRA_UPLOAD_OP = "Upload the fixenv zipapp (only when its checksum differs)"
BROKEN_SOURCE = "file:/nonexistent-fixenv-fleet-test"

# Builds and imports a C extension with the host's python3 (run over ssh on each host).
EXTENSION_SCRIPT = r"""set -e
d=$(mktemp -d)
cd "$d"
cat > fleetprobe.c <<'EOF'
#include <Python.h>
static PyObject *answer(PyObject *self, PyObject *args) { return PyLong_FromLong(42); }
static PyMethodDef methods[] = {{"answer", answer, METH_NOARGS, ""}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "fleetprobe", NULL, -1, methods};
PyMODINIT_FUNC PyInit_fleetprobe(void) { return PyModule_Create(&def); }
EOF
inc=$(python3 -c 'import sysconfig; print(sysconfig.get_path("include"))')
suffix=$(python3 -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
cc -shared -fPIC -I"$inc" fleetprobe.c -o "fleetprobe$suffix"
python3 -c 'import sys, fleetprobe; print("%d.%d %d" % (sys.version_info[:2]
    + (fleetprobe.answer(),)))'
cd / && rm -rf "$d"
"""


def _log(msg: str) -> None:
    rootfs._log(f"fleet: {msg}")


@pytest.fixture(scope="module")
def zipapp(e2e_available) -> Path:
    return rootfs.zipapp()


@pytest.fixture(scope="module")
def upgrade(zipapp, tmp_path_factory) -> tuple:
    """(path, version) of a rebuilt zipapp whose version string differs."""
    base = _zipapp_version(zipapp)
    version = f"{base.split('+')[0]}+fleet.upgrade"
    out = tmp_path_factory.mktemp("upgrade") / "fixenv.pyz"
    sshhosts.build_zipapp(out, version)
    assert _zipapp_version(out) == version
    return out, version


def _zipapp_version(pyz: Path) -> str:
    import zipfile

    text = zipfile.ZipFile(pyz).read("fixenv/__init__.py").decode()
    m = re.search(r'^__version__ = "([^"]+)"', text, re.M)
    assert m, "no __version__ in the zipapp"
    return m.group(1)


def _no_headers_no_compiler(fleet: sshhosts.Fleet) -> dict:
    xy = {}
    for h in fleet.hosts:
        xy[h.name] = h.python_xy()
        assert not h.exists(f"/usr/include/python{xy[h.name]}/Python.h"), h.name
        assert not h.exists("/usr/bin/gcc") and not h.exists("/usr/bin/cc"), h.name
    assert sorted(xy.values(), key=lambda v: tuple(map(int, v.split(".")))) == \
        ["3.9", "3.11", "3.13"], xy
    return xy


def _assert_fixed(fleet: sshhosts.Fleet, host: sshhosts.SshRoot, xy: str) -> None:
    pkgs = host.installed_packages()
    dev = sorted(p for p in pkgs if re.fullmatch(r"python3\.\d+-dev", p))
    assert dev == [f"python{xy}-dev"], (host.name, dev)
    assert host.exists(f"/usr/include/python{xy}/Python.h")
    assert host.exists("/usr/bin/gcc") and host.exists("/usr/bin/g++"), host.name
    out = str(fleet.ssh(host, EXTENSION_SCRIPT)).strip().splitlines()
    assert out[-1] == f"{xy} 42", (host.name, out)


def _pyz_stat(host: sshhosts.SshRoot) -> tuple:
    st = host.path(PYZ).stat()
    return st.st_ino, st.st_mtime_ns, st.st_size


def _break_apt(host: sshhosts.SshRoot, xy: str) -> None:
    """Headers gone again, and apt sources that cannot work (a local path that is not
    there: no network address involved); lists wiped, so apt must refresh them."""
    host.run(["apt-get", "remove", "-y", f"libpython{xy}-dev"],
             env={"DEBIAN_FRONTEND": "noninteractive"})
    for f in host.path("/etc/apt/sources.list.d").glob("*"):
        f.unlink()
    suite = host.run(["sh", "-c", ". /etc/os-release; echo ${VERSION_CODENAME}"]).stdout.strip()
    host.write("/etc/apt/sources.list", f"deb {BROKEN_SOURCE} {suite} main\n")
    host.wipe_apt_lists()


def _copy(src: Path, dest: Path, pyz: Path, pyz_at: str) -> Path:
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyz"))
    shutil.copyfile(pyz, dest / pyz_at)
    return dest


# --------------------------------------------------------------------------- README


def _readme_fleet_block() -> str:
    text = (rootfs.REPO / "README.md").read_text()
    m = re.search(r"\*\*Across a fleet.*?```sh\n(.*?)```", text, re.S)
    assert m, "README has no fleet quick start"
    return m.group(1)


def test_readme_fleet_quick_start_is_what_this_test_runs():
    block = _readme_fleet_block()
    # The inventory it names exists; the commands are the ones run below (-i is ours there).
    assert (rootfs.REPO / "contrib" / "ansible" / "inventory.ini").is_file()
    assert "ansible-playbook -i inventory.ini site.yml --check --diff" in block
    assert "ansible-playbook -i inventory.ini site.yml " in block + " "
    assert "pip install 'ansible-core" in block  # from PyPI into a venv, no system package
    assert "scripts/build-zipapp.sh contrib/ansible/roles/fixenv/files/fixenv.pyz" in block
    assert not (rootfs.REPO / "contrib" / "ansible" / "roles" / "fixenv" / "files"
                / "bootstrap.sh").exists()
    links = [p for p in (rootfs.REPO / "contrib").rglob("*") if p.is_symlink()]
    assert not links, f"contrib must be self-contained, found links: {links}"


# --------------------------------------------------------------------------- Ansible


def test_ansible_fleet_check_apply_rerun_upgrade_and_one_host_failing(
        zipapp, upgrade, tmp_path):
    t_start = time.monotonic()
    with sshhosts.Fleet(name="ansible", first_host=11) as fleet:
        _log(f"3 ssh hosts up in {time.monotonic() - t_start:.1f}s")
        play = _copy(sshhosts.ANSIBLE_DIR, tmp_path / "ansible", zipapp,
                     "roles/fixenv/files/fixenv.pyz")
        inventory = str(fleet.ansible_inventory())
        xy = _no_headers_no_compiler(fleet)
        names = [h.name for h in fleet.hosts]

        def playbook(*extra: str) -> sshhosts.Run:
            res = fleet.ansible_playbook("-v", "-i", inventory, "site.yml", *extra, cwd=play)
            _log(f"ansible-playbook {' '.join(extra)}: exit {res.rc} in {res.seconds:.1f}s")
            return res

        # 1. --check --diff: the plan per host, changed everywhere, nothing changed anywhere.
        status = {h.name: h.dpkg_status_bytes() for h in fleet.hosts}
        res = playbook("--check", "--diff")
        assert res.rc == 0, res.describe()
        tasks, recap = res.tasks(), res.recap()
        for h in fleet.hosts:
            state, result = tasks[FIXENV_TASK][h.name]
            assert state == "changed", res.describe()
            assert {"python-headers", "compiler"} <= set(result["pending"]), result
            facts = result["ansible_facts"]
            assert facts["fixenv_plan"]["changes_pending"] is True
            assert facts["fixenv_verify_ok"] is False
            assert result["msg"].startswith("pending: "), result["msg"]
            # --diff shows the exact commands from plan --json, for this host's Python
            assert re.search(rf"\$ .*apt-get .*install -y .*python{re.escape(xy[h.name])}-dev",
                             res.out), res.describe()
            report = tasks[REPORT_TASK][h.name][1]["msg"]
            assert report == f"fixenv on {h.name}: pending: " + ", ".join(
                facts["fixenv_pending"]), report
            assert recap[h.name]["changed"] >= 1 and recap[h.name]["failed"] == 0
            assert h.dpkg_status_bytes() == status[h.name], f"check mode changed {h.name}"
            assert not h.exists(PYZ) and not list(h.path("/tmp").glob("*.fixenv.pyz")), \
                "check mode left a zipapp behind"
        assert "FAILED" not in res.out
        assert "bootstrap" not in res.out, "the diff must be the plan, not a script"

        # 2. The real run: each host gets ITS python3.X-dev and a compiler, verified.
        res = playbook()
        assert res.rc == 0, res.describe()
        tasks, recap = res.tasks(), res.recap()
        for h in fleet.hosts:
            state, result = tasks[FIXENV_TASK][h.name]
            assert state == "changed", res.describe()
            assert result["apply"]["summary"]["changed"] >= 1
            assert result["apply"]["summary"]["failed"] == 0
            assert result["ansible_facts"]["fixenv_verify_ok"] is True
            assert tasks[COPY_TASK][h.name][0] == "changed"
            assert tasks[REPORT_TASK][h.name][1]["msg"] == f"fixenv on {h.name}: verify ok"
            assert recap[h.name]["failed"] == 0
            _assert_fixed(fleet, h, xy[h.name])
        copied = {h.name: _pyz_stat(h) for h in fleet.hosts}

        # 3. Rerun: nothing changes, nothing is copied.
        res = playbook()
        assert res.rc == 0, res.describe()
        tasks, recap = res.tasks(), res.recap()
        for h in fleet.hosts:
            assert recap[h.name]["changed"] == 0, res.describe()
            assert tasks[COPY_TASK][h.name][0] == "ok"
            state, result = tasks[FIXENV_TASK][h.name]
            assert state == "ok" and result["msg"].startswith("ok: nothing to change"), result
            assert _pyz_stat(h) == copied[h.name], f"{h.name}: the zipapp was copied again"
        _log(f"no-op rerun of 3 hosts: {res.seconds:.1f}s")

        # 4. Upgrade: a rebuilt zipapp (another version) reaches every host.
        pyz, version = upgrade
        shutil.copyfile(pyz, play / "roles/fixenv/files/fixenv.pyz")
        res = playbook()
        assert res.rc == 0, res.describe()
        tasks, recap = res.tasks(), res.recap()
        for h in fleet.hosts:
            assert tasks[COPY_TASK][h.name][0] == "changed", res.describe()
            state, result = tasks[FIXENV_TASK][h.name]
            assert state == "ok" and result["version"] == version, result
            assert recap[h.name]["changed"] == 1
            out = str(fleet.ssh(h, "fixenv --version")).strip()
            assert out == f"fixenv {version}", (h.name, out)

        # 5. One host failing: all three lose their headers, bookworm's apt sources break.
        # In batches of 2 (serial): bookworm fails beside bullseye, trixie's batch still runs.
        for h in fleet.hosts:
            if h.name == "bookworm":
                _break_apt(h, xy[h.name])
            else:
                h.run(["apt-get", "remove", "-y", f"libpython{xy[h.name]}-dev"],
                      env={"DEBIAN_FRONTEND": "noninteractive"})
            assert not h.exists(f"/usr/include/python{xy[h.name]}/Python.h")
        res = playbook("-e", "fixenv_serial=2")
        assert res.rc == 2, res.describe()  # Ansible: some host failed
        assert res.out.count("PLAY [") == 2, "two batches"
        tasks, recap = res.tasks(), res.recap()
        state, result = tasks[FIXENV_TASK]["bookworm"]
        assert state == "fatal", res.describe()
        failed = [s for s in result["apply"]["steps"] if s["status"] == "failed"]
        assert failed, result
        assert result["msg"] == f"step {failed[0]['id']} failed: {failed[0]['reason']}"[:4000]
        assert "nonexistent-fixenv-fleet-test" in result["msg"], result["msg"]
        assert recap["bookworm"]["failed"] == 1
        for name in ("bullseye", "trixie"):
            assert tasks[FIXENV_TASK][name][0] == "changed", res.describe()
            assert recap[name]["failed"] == 0
            _assert_fixed(fleet, fleet.host(name), xy[name])
        assert names == ["bullseye", "bookworm", "trixie"]
    _log(f"ansible fleet test: {time.monotonic() - t_start:.0f}s")


# --------------------------------------------------------------------------- pyinfra


def _ops(doc: dict, section: str) -> dict:
    return {op["name"]: op for op in doc[section] if "name" in op}


def test_pyinfra_fleet_dry_apply_rerun_upgrade_and_one_host_failing(zipapp, upgrade, tmp_path):
    t_start = time.monotonic()
    with sshhosts.Fleet(name="pyinfra", first_host=21) as fleet:
        deploy = _copy(sshhosts.PYINFRA_DIR, tmp_path / "pyinfra", zipapp, "fixenv.pyz")
        inventory = str(fleet.pyinfra_inventory())
        xy = _no_headers_no_compiler(fleet)
        addrs = sorted(h.addr for h in fleet.hosts)

        def pyinfra(*args: str) -> sshhosts.Run:
            res = fleet.pyinfra(*args, cwd=deploy)
            _log(f"pyinfra {' '.join(args[:-2])}: exit {res.rc} in {res.seconds:.1f}s")
            return res

        # 1. --dry: fixenv's plan per host; changes nothing.
        status = {h.name: h.dpkg_status_bytes() for h in fleet.hosts}
        res = pyinfra("--dry", "--json", inventory, "deploy.py")
        assert res.rc == 0, res.describe()
        plan = _ops({"plan": res.pyinfra_json()["plan"]}, "plan")
        assert plan[PYINFRA_FIXENV_OP]["hosts_with_change"] == addrs, res.describe()
        assert plan[PYINFRA_UPLOAD_OP]["hosts_with_change"] == addrs
        for h in fleet.hosts:
            assert f"[{h.addr}] fixenv: pending: python-headers" in res.err, res.describe()
            assert re.search(rf"\[{re.escape(h.addr)}\]\s+\$ .*apt-get .*install -y .*"
                             rf"python{re.escape(xy[h.name])}-dev", res.err), res.describe()
            assert h.dpkg_status_bytes() == status[h.name], f"--dry changed {h.name}"
            assert not h.exists(PYZ) and not list(h.path("/tmp").glob("fixenv-plan.*"))

        # 2. Apply: every host fixed with its own python3.X-dev, verified.
        res = pyinfra("-y", "--json", inventory, "deploy.py")
        assert res.rc == 0, res.describe()
        results = _ops(res.pyinfra_json()["results"], "operations")
        assert results[PYINFRA_FIXENV_OP]["success"] == addrs, res.describe()
        assert results[PYINFRA_UPLOAD_OP]["success"] == addrs
        for h in fleet.hosts:
            assert f"[{h.addr}] fixenv: changed: " in res.err, res.describe()
            _assert_fixed(fleet, h, xy[h.name])
        uploaded = {h.name: _pyz_stat(h) for h in fleet.hosts}

        # 3. Rerun: no change (from fixenv's JSON), nothing uploaded.
        res = pyinfra("-y", "--json", inventory, "deploy.py")
        assert res.rc == 0, res.describe()
        results = _ops(res.pyinfra_json()["results"], "operations")
        assert results[PYINFRA_FIXENV_OP]["no_change"] == addrs, res.describe()
        assert results[PYINFRA_UPLOAD_OP]["no_change"] == addrs
        for h in fleet.hosts:
            assert _pyz_stat(h) == uploaded[h.name], f"{h.name}: uploaded again"
        _log(f"pyinfra no-op rerun of 3 hosts: {res.seconds:.1f}s")

        # 4. Upgrade: the rebuilt zipapp is uploaded everywhere; fixenv has nothing to do.
        pyz, version = upgrade
        shutil.copyfile(pyz, deploy / "fixenv.pyz")
        res = pyinfra("-y", "--json", inventory, "deploy.py")
        assert res.rc == 0, res.describe()
        results = _ops(res.pyinfra_json()["results"], "operations")
        assert results[PYINFRA_UPLOAD_OP]["success"] == addrs, res.describe()
        assert results[PYINFRA_FIXENV_OP]["no_change"] == addrs
        for h in fleet.hosts:
            out = str(fleet.ssh(h, f"python3 {PYZ} --version")).strip()
            assert out == f"fixenv {version}", (h.name, out)

        # 5. One host failing: bookworm's headers gone and its apt sources broken.
        broken = fleet.host("bookworm")
        _break_apt(broken, xy["bookworm"])
        res = pyinfra("-y", "--json", inventory, "deploy.py")
        assert res.rc == 1, res.describe()
        results = _ops(res.pyinfra_json()["results"], "operations")
        assert results[PYINFRA_FIXENV_OP]["error"] == [broken.addr], res.describe()
        others = sorted(h.addr for h in fleet.hosts if h is not broken)
        assert results[PYINFRA_FIXENV_OP]["no_change"] == others
        m = re.search(rf"\[{re.escape(broken.addr)}\] fixenv: (step \S+ failed: .*?)"
                      r"(?=\n\s+\[|\Z)", res.err, re.S)
        assert m and "nonexistent-fixenv-fleet-test" in m.group(1), res.describe()
        for h in fleet.hosts:
            if h is not broken:
                _assert_fixed(fleet, h, xy[h.name])
    _log(f"pyinfra fleet test: {time.monotonic() - t_start:.0f}s")
