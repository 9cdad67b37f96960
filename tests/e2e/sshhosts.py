"""SSH hosts for the fleet tests: throwaway roots (rootfs.py) each running its own sshd.

A *fleet* is one throwaway root per Debian release (bullseye, bookworm, trixie by
default), each from a cached ``+sshd`` layer (openssh-server, python3-apt) and each running
``sshd`` inside its chroot on its OWN loopback address and port (127.0.13.x, 127.0.0.0/8
only -- never any other address). Every run makes a fresh ed25519 client key and a fresh
host key per host, and writes the known_hosts file the clients check strictly against.

The controller tools (ansible-core, pyinfra) come from PyPI into a cached venv on this
machine; they are not fixenv's runtime dependencies. ssh-keygen, sshd, ssh,
ansible-playbook and pyinfra are driven with the ``sh`` library.

Teardown on every exit path (``Fleet.close``: the context manager, the pytest fixture, an
atexit hook, and rootfs's SIGTERM guard, which closes every live root): sshd is killed by
its pid, then every other process still running inside the root (found by its /proc/PID/root
link, killed by pid), then the root is unmounted.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import sh

from . import rootfs

FLEET_SUITES = ("bullseye", "bookworm", "trixie")
SSHD_LAYER = "sshd"
# python3-apt: the plain-apt baseline playbook (scripts/bench.py) uses Ansible's apt module,
# which needs it; fixenv does not.
SSHD_PACKAGES = ("openssh-server", "python3-apt")
NET = "127.0.13."  # loopback only; the hosts are .11, .12, ...
ANSIBLE_CORE = "ansible-core>=2.17,<2.20"
PYINFRA = "pyinfra>=3.10,<4"
TOOLS_PYTHON = "/usr/bin/python3.11"
REPO = rootfs.REPO
ANSIBLE_DIR = REPO / "contrib" / "ansible"
PYINFRA_DIR = REPO / "contrib" / "pyinfra"
SSHD_CONFIG = "/etc/ssh/fixenv_fleet_sshd_config"
HOST_KEY = "/etc/ssh/fixenv_fleet_host_ed25519_key"


class FleetError(RuntimeError):
    """Setting up or driving the SSH fleet failed."""


# --------------------------------------------------------------------------- cached parts


def sshd_layer(suite: str) -> List[Path]:
    """Lower dirs of ``suite``'s base + a cached layer with openssh-server installed.

    Built like rootfs.layer() (same cache name scheme, so a rebuilt base drops it), but with
    a policy-rc.d that forbids starting services: openssh-server's postinst would otherwise
    start an sshd on the host's network (0.0.0.0:22) from inside the chroot.
    """
    base = rootfs.base_root(suite)
    full = f"{rootfs.base_name(suite)}+{SSHD_LAYER}"
    final = rootfs.cache_dir() / full
    if final.is_dir():
        return [base, final]
    with rootfs._locked(full):
        if final.is_dir():
            return [base, final]
        rootfs._log(f"building {suite} layer {SSHD_LAYER!r}: {' '.join(SSHD_PACKAGES)} "
                    "(one-off)")
        t0 = time.monotonic()
        root = rootfs.Root([base], name=f"build-{suite}-{SSHD_LAYER}", tmpfs=False)
        try:
            root.write("/usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n", mode=0o755)
            root.apt_install(*SSHD_PACKAGES)
            kill_root_processes(root)
            root.path("/usr/sbin/policy-rc.d").unlink()
            # The layer's host keys are shared by every root made from it: drop them (each
            # live host gets a fresh key).
            for key in root.path("/etc/ssh").glob("ssh_host_*"):
                key.unlink()
            root.run(["apt-get", "clean"])
            tmp_final = rootfs.cache_dir() / f".build-{full}-{os.getpid()}"
            root.freeze_upper(tmp_final)
            os.rename(tmp_final, final)
        except BaseException:
            root.close()
            raise
        rootfs._log(f"{suite} layer {SSHD_LAYER!r} ready in {time.monotonic() - t0:.0f}s")
    return [base, final]


def tools_venv() -> Path:
    """A cached venv on this machine with ansible-core and pyinfra from PyPI."""
    spec = [ANSIBLE_CORE, PYINFRA]
    tag = hashlib.sha256("\n".join(spec + [TOOLS_PYTHON]).encode()).hexdigest()[:12]
    final = rootfs.cache_dir() / f"fleet-tools-{tag}"
    if (final / "bin" / "pyinfra").exists() and (final / "bin" / "ansible-playbook").exists():
        return final
    with rootfs._locked("fleet-tools"):
        if (final / "bin" / "pyinfra").exists():
            return final
        rootfs._log(f"installing {' '.join(spec)} from PyPI into {final} (one-off)")
        if final.exists():
            shutil.rmtree(final)
        tmp = rootfs.cache_dir() / f".build-fleet-tools-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            # The venv is made where it will live: its scripts name their interpreter by path.
            sh.Command(TOOLS_PYTHON)("-m", "venv", str(final))
            sh.Command(str(final / "bin" / "pip"))(
                "install", "-q", "--disable-pip-version-check", *spec,
                _env=dict(os.environ, PIP_NO_CACHE_DIR="1"), _timeout=1200)
        except BaseException:
            shutil.rmtree(final, ignore_errors=True)
            raise
    return final


def build_zipapp(out: Path, version: Optional[str] = None) -> Path:
    """scripts/build-zipapp.sh of this checkout into ``out`` (optionally version-stamped)."""
    env = dict(os.environ, PYTHON=rootfs._wheel_python())
    if version:
        env["FIXENV_ZIPAPP_VERSION"] = version
    sh.bash(str(REPO / "scripts" / "build-zipapp.sh"), str(out), _env=env, _timeout=900)
    return out


# --------------------------------------------------------------------------- processes


def root_pids(root: rootfs.Root) -> List[int]:
    """Pids of the processes whose root directory is this throwaway root."""
    merged = str(root.merged.resolve())
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{entry}/root") == merged:
                pids.append(int(entry))
        except OSError:
            continue
    return pids


def kill_root_processes(root: rootfs.Root, first: Sequence[int] = ()) -> None:
    """Kill ``first`` (e.g. sshd), then whatever still runs inside the root; each by pid."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = list(first) + [p for p in root_pids(root) if p not in first]
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            alive = [p for p in pids if _alive(p)]
            if not alive:
                break
            time.sleep(0.05)
        if not root_pids(root) and not [p for p in first if _alive(p)]:
            return


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie of ours is dead for this purpose; reap it
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return Path(f"/proc/{pid}").exists()


def _free_port(addr: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((addr, 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- one host


class SshRoot(rootfs.Root):
    """A throwaway root that runs sshd on ``addr:port``; close() kills it before unmounting."""

    def __init__(self, lowers: Sequence[Path], *, suite: str, addr: str, name: str) -> None:
        if not addr.startswith("127."):
            raise FleetError(f"{addr}: the fleet listens on 127.0.0.0/8 only")
        self.suite = suite
        self.addr = addr
        self.port = 0
        self.sshd: Optional[sh.RunningCommand] = None
        self.sshd_pid: Optional[int] = None
        self.host_key_line = ""
        self._log_fh = None
        self.cleanup: List[Path] = []  # removed at close (the fleet's keys: also on SIGTERM)
        super().__init__(lowers, name=name)

    @property
    def name(self) -> str:
        return self.suite

    def start_sshd(self, client_pub: str, logdir: Path) -> None:
        """Fresh host key, the client key authorised for root, sshd on addr:port."""
        key = self.path(HOST_KEY)
        for old in (key, key.with_suffix(".pub")):
            if old.exists():
                old.unlink()
        sh.Command("ssh-keygen")("-q", "-t", "ed25519", "-N", "", "-C", f"fleet-{self.suite}",
                                 "-f", str(key))
        self.host_key_line = " ".join(key.with_name(key.name + ".pub").read_text().split()[:2])
        ssh_dir = self.path("/root/.ssh")
        ssh_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        (ssh_dir / "authorized_keys").write_text(client_pub)
        (ssh_dir / "authorized_keys").chmod(0o600)
        self.path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)
        self.port = _free_port(self.addr)
        self.write(SSHD_CONFIG, "\n".join([
            f"ListenAddress {self.addr}:{self.port}",
            f"HostKey {HOST_KEY}",
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "UsePAM no",
            "UseDNS no",
            "AuthorizedKeysFile .ssh/authorized_keys",
            "MaxStartups 100:30:200",
            "MaxSessions 100",
            "Subsystem sftp /usr/lib/openssh/sftp-server",
            "PidFile none",
            "",
        ]))
        log = logdir / f"sshd-{self.suite}.log"
        env = {"PATH": rootfs.CHROOT_PATH, "LANG": "C.UTF-8"}
        self._log_fh = open(log, "wb")
        self.sshd = sh.Command("chroot")(
            str(self.merged), "/usr/sbin/sshd", "-D", "-e", "-f", SSHD_CONFIG,
            _bg=True, _bg_exc=False, _out=self._log_fh, _err_to_out=True, _env=env)
        self.sshd_pid = self.sshd.process.pid  # chroot execs sshd: the same pid
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection((self.addr, self.port), timeout=1):
                    return
            except OSError:
                pass
            if not self.sshd.is_alive() or time.monotonic() > deadline:
                text = log.read_text() if log.exists() else ""
                raise FleetError(f"sshd in the {self.suite} root did not listen on "
                                 f"{self.addr}:{self.port}:\n{text[-3000:]}")
            time.sleep(0.05)

    def known_hosts_line(self) -> str:
        return f"[{self.addr}]:{self.port} {self.host_key_line}\n"

    def close(self) -> None:
        # sshd first, by pid, then anything else left in the root; only then unmount.
        try:
            if self.merged.exists():
                kill_root_processes(self, [self.sshd_pid] if self.sshd_pid else [])
            if self.sshd is not None:
                try:
                    self.sshd.wait(timeout=5)
                except Exception:  # noqa: BLE001 - killed: a non-zero exit is expected
                    pass
            if self._log_fh is not None:
                self._log_fh.close()
        finally:
            super().close()
            for path in self.cleanup:
                shutil.rmtree(path, ignore_errors=True)


# --------------------------------------------------------------------------- the fleet


_LIVE_FLEETS: "set[Fleet]" = set()


def _close_fleets() -> None:
    for fleet in list(_LIVE_FLEETS):
        try:
            fleet.close()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


atexit.register(_close_fleets)


class Fleet:
    """Throwaway SSH hosts, one per suite; a context manager (close() on every path)."""

    def __init__(self, suites: Sequence[str] = FLEET_SUITES, *, name: str = "fleet",
                 first_host: int = 11) -> None:
        self.suites = tuple(suites)
        self.hosts: List[SshRoot] = []
        self.work = Path(tempfile.mkdtemp(prefix=f"fixenv-{name}-"))
        self.work.chmod(0o700)
        self.key = self.work / "id_ed25519"
        self.known_hosts = self.work / "known_hosts"
        self.tools = tools_venv()
        _LIVE_FLEETS.add(self)
        try:
            sh.Command("ssh-keygen")("-q", "-t", "ed25519", "-N", "", "-C", "fixenv-fleet-test",
                                     "-f", str(self.key))
            pub = self.key.with_name("id_ed25519.pub").read_text()
            for i, suite in enumerate(self.suites):
                lowers = sshd_layer(suite)
                host = SshRoot(lowers, suite=suite, addr=f"{NET}{first_host + i}",
                               name=f"{name}-{suite}")
                host.cleanup.append(self.work)
                self.hosts.append(host)
                host.start_sshd(pub, self.work)
            self.known_hosts.write_text("".join(h.known_hosts_line() for h in self.hosts))
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> "Fleet":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        _LIVE_FLEETS.discard(self)
        errors = []
        for host in reversed(self.hosts):
            try:
                host.close()
            except Exception as exc:  # keep closing the others
                errors.append(exc)
        self.hosts = []
        shutil.rmtree(self.work, ignore_errors=True)
        if errors:
            raise errors[0]

    def host(self, suite: str) -> SshRoot:
        for h in self.hosts:
            if h.suite == suite:
                return h
        raise KeyError(suite)

    # -- ssh
    def ssh_options(self) -> List[str]:
        return ["-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-i", str(self.key),
                "-o", f"UserKnownHostsFile={self.known_hosts}",
                "-o", "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes",
                "-o", "LogLevel=ERROR"]

    def ssh(self, host: SshRoot, script: str, timeout: float = 600) -> sh.RunningCommand:
        """Run a POSIX sh script on ``host`` over ssh (as root); raises on non-zero."""
        return sh.ssh(*self.ssh_options(), "-p", str(host.port), f"root@{host.addr}",
                      "sh", "-s", _in=script, _timeout=timeout, _env=_clean_env())

    # -- inventories
    def ansible_inventory(self, extra: Optional[Dict[str, Dict[str, str]]] = None) -> Path:
        """An INI inventory (group [fleet]) for these hosts; python_xy per host."""
        lines = ["[fleet]"]
        for h in self.hosts:
            hv = {"ansible_host": h.addr, "ansible_port": str(h.port),
                  "python_xy": h.python_xy()}
            hv.update((extra or {}).get(h.name, {}))
            lines.append(h.name + "".join(f" {k}={v}" for k, v in hv.items()))
        common = " ".join(self.ssh_options()[:-2])  # LogLevel stays Ansible's
        lines += ["", "[fleet:vars]", "ansible_user=root",
                  f"ansible_ssh_private_key_file={self.key}",
                  f"ansible_ssh_common_args='{common}'",
                  "ansible_python_interpreter=/usr/bin/python3", ""]
        path = self.work / "inventory.ini"
        path.write_text("\n".join(lines))
        return path

    def pyinfra_inventory(self) -> Path:
        hosts = []
        for h in self.hosts:
            hosts.append((h.addr, {
                "ssh_port": h.port, "ssh_user": "root", "ssh_key": str(self.key),
                "ssh_known_hosts_file": str(self.known_hosts),
                "ssh_strict_host_key_checking": "yes", "ssh_allow_agent": False,
                "ssh_look_for_keys": False, "suite": h.suite}))
        path = self.work / "inventory.py"
        path.write_text("fleet = [\n%s]\n" % "".join("    %r,\n" % (h,) for h in hosts))
        return path

    # -- tools
    def ansible_env(self) -> Dict[str, str]:
        env = _clean_env()
        env.update({
            "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_CALLBACK_RESULT_FORMAT": "json", "ANSIBLE_CALLBACK_FORMAT_PRETTY": "0",
            "ANSIBLE_HOME": str(self.work / "ansible-home"),
            "ANSIBLE_LOCAL_TEMP": str(self.work / "ansible-tmp"),
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(self.work / "cp"),
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "PATH": f"{self.tools / 'bin'}:{env['PATH']}",
        })
        return env

    def ansible_playbook(self, *args: str, cwd: Path = ANSIBLE_DIR,
                         timeout: float = 1800) -> "Run":
        """`ansible-playbook ARGS` from ``cwd`` (contrib/ansible: its ansible.cfg applies)."""
        t0 = time.monotonic()
        proc = sh.Command(str(self.tools / "bin" / "ansible-playbook"))(
            *args, _cwd=str(cwd), _env=self.ansible_env(), _ok_code=list(range(256)),
            _timeout=timeout, _in="", _return_cmd=True)
        return Run(["ansible-playbook", *args], proc.exit_code, str(proc),
                   proc.stderr.decode(errors="replace"), time.monotonic() - t0)

    def pyinfra(self, *args: str, cwd: Path = PYINFRA_DIR, timeout: float = 1800) -> "Run":
        env = _clean_env()
        env.update({"PYINFRA_PROGRESS": "off", "PATH": f"{self.tools / 'bin'}:{env['PATH']}"})
        t0 = time.monotonic()
        proc = sh.Command(str(self.tools / "bin" / "pyinfra"))(
            *args, _cwd=str(cwd), _env=env, _ok_code=list(range(256)), _timeout=timeout,
            _in="", _return_cmd=True)
        return Run(["pyinfra", *args], proc.exit_code, str(proc),
                   proc.stderr.decode(errors="replace"), time.monotonic() - t0)


def _clean_env() -> Dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "TMPDIR", "USER", "LOGNAME")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    env["LANG"] = "C.UTF-8"
    return env


class Run:
    """One finished controller command: exit code, output, wall time."""

    def __init__(self, argv: List[str], rc: int, out: str, err: str, seconds: float) -> None:
        self.argv, self.rc, self.out, self.err, self.seconds = argv, rc, out, err, seconds

    def describe(self) -> str:
        return (f"{' '.join(self.argv)} exited {self.rc} in {self.seconds:.1f}s\n"
                f"--- stdout\n{self.out[-12000:]}\n--- stderr\n{self.err[-6000:]}")

    # -- the default Ansible callback at -v with ANSIBLE_CALLBACK_RESULT_FORMAT=json
    def tasks(self) -> Dict[str, Dict[str, tuple]]:
        """TASK name -> {host: (status, result dict)}."""
        out: Dict[str, Dict[str, tuple]] = {}
        task = None
        for line in self.out.splitlines():
            m = re.match(r"TASK \[(.*)\]", line)
            if m:
                task = m.group(1)
                out.setdefault(task, {})
                continue
            m = re.match(r"(ok|changed|failed|fatal|skipping|unreachable): \[([^\]]+)\]"
                         r"(?:: [A-Z!]+)?(?: => (\{.*\}))?\s*$", line)
            if m and task:
                try:
                    result = json.loads(m.group(3)) if m.group(3) else {}
                except ValueError:
                    result = {"unparsed": m.group(3)}
                out[task][m.group(2)] = (m.group(1), result)
        return out

    def recap(self) -> Dict[str, Dict[str, int]]:
        rows = {}
        for m in re.finditer(r"^(\S+)\s+:\s+(ok=.*)$", self.out, re.M):
            rows[m.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
        return rows

    def pyinfra_json(self) -> dict:
        """The JSON document `pyinfra --json` prints on stdout."""
        start = self.out.find("{")
        return json.loads(self.out[start:]) if start >= 0 else {}
