"""Helpers for the robustness suites (bad input, injection, plan-cannot-mutate, faults).

Everything runs the real `fixenv` console script in a subprocess, as a user or a provisioning
script would, and judges what it prints and its exit code.
"""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence

REPO = Path(__file__).resolve().parents[1]
BADINPUT = REPO / "tests" / "badinput"
GOOD_FACTS = BADINPUT / "facts" / "debian12-no-headers.json"


def fixenv_argv() -> List[str]:
    script = Path(sys.executable).with_name("fixenv")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "fixenv"]


def world_readable_fixenv(dest: Path) -> List[str]:
    """fixenv (and what its fast path imports) copied into `dest`, readable by any user, with
    the argv that runs it there: a test that runs fixenv as another user must not depend on
    the checkout's directory permissions (a clone under a 0700 home or mktemp -d)."""
    import shutil

    import distro
    import yaml

    import fixenv
    from fixenv.engine import playbook_dir

    site = dest / "site"
    site.mkdir(parents=True)
    pkg = Path(fixenv.__file__).parent
    shutil.copytree(pkg, site / "fixenv", ignore=shutil.ignore_patterns("__pycache__"))
    if not (site / "fixenv" / "playbooks").exists():  # a checkout: install them as a wheel does
        shutil.copytree(playbook_dir(), site / "fixenv" / "playbooks")
    for mod in (distro, yaml):
        shutil.copytree(Path(mod.__file__).parent, site / mod.__name__,
                        ignore=shutil.ignore_patterns("__pycache__"))
    for p in [dest] + [q for q in dest.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    base = getattr(sys, "_base_executable", None) or sys.executable
    return [os.path.realpath(base), "-c", "import sys; sys.path.insert(0, %r); "
            "from fixenv.__main__ import main; sys.argv[0] = 'fixenv'; main()" % str(site)]


def run_fixenv(args: Sequence[str], *, env: Optional[Dict[str, str]] = None,
               cwd: Optional[Path] = None, timeout: float = 120,
               path_prefix: Optional[Path] = None) -> subprocess.CompletedProcess:
    e = dict(os.environ)
    e.pop("FIXENV_LOCK_TIMEOUT", None)
    e.update(env or {})
    if path_prefix is not None:
        e["PATH"] = "%s:%s" % (path_prefix, e.get("PATH", "/usr/bin:/bin"))
    return subprocess.run(fixenv_argv() + list(args), capture_output=True, text=True, env=e,
                          cwd=str(cwd) if cwd else None, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def assert_one_error(res: subprocess.CompletedProcess, code: int, *fragments: str) -> str:
    """Exit `code`; stderr is exactly `fixenv: error: ...` (+ an optional `fixenv: hint:`
    line) holding every fragment; nothing on stdout; no traceback anywhere."""
    both = res.stdout + res.stderr
    assert "Traceback" not in both, both
    assert res.returncode == code, (res.returncode, both)
    lines = res.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 2, res.stderr
    assert lines[0].startswith("fixenv: error: "), res.stderr
    if len(lines) == 2:
        assert lines[1].startswith("fixenv: hint: "), res.stderr
    for f in fragments:
        assert f in lines[0], (f, lines[0])
    assert res.stdout.strip() == "", res.stdout
    return lines[0]


def write_exe(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def load_facts(path: Path = GOOD_FACTS) -> dict:
    return json.loads(path.read_text())


def write_facts(path: Path, facts: dict) -> Path:
    path.write_text(json.dumps(facts, indent=2))
    return path


# Programs that change a machine, and the read-only queries each may pass through with.
MUTATORS = ("apt-get", "apt", "aptitude", "dpkg", "dnf", "yum", "microdnf", "rpm", "zypper",
            "apk", "pacman", "brew", "port", "conda", "mamba", "micromamba", "pyenv", "uv",
            "pip", "pip3", "pipx", "sudo", "doas", "su", "xcode-select", "softwareupdate",
            "installer", "snap", "flatpak", "nix-env", "emerge", "update-alternatives",
            "ldconfig", "systemctl", "make", "curl", "wget", "sh", "bash", "dash", "tee",
            "cp", "mv", "rm", "ln", "chmod", "chown", "install", "mkdir", "touch", "dd")
READ_ONLY = {
    "dpkg": [["--print-architecture"], ["-S"], ["-s"], ["-l"], ["-L"], ["--status"],
             ["--search"], ["--listfiles"]],
    "apt-cache": [["policy"], ["show"], ["madison"], ["showpkg"]],
    "rpm": [["-q"], ["-qf"], ["-qa"], ["--query"]],
    "apk": [["info"]],
    "pacman": [["-Q"], ["-Qqo"], ["-Qo"], ["-Qi"], ["-Qq"]],
}
ALWAYS_READ_ONLY = ("dpkg-query",)


def build_traps(trap_dir: Path, log: Path, real_path: str,
                names: Iterable[str] = MUTATORS) -> None:
    """One trap script per program: it appends its argv to `log`; an allowed read-only
    query is handed to the real program (looked up on `real_path`), anything else exits 99."""
    trap_dir.mkdir(parents=True, exist_ok=True)
    for name in set(names) | set(READ_ONLY) | set(ALWAYS_READ_ONLY):
        real = shutil.which(name, path=real_path)
        allowed = READ_ONLY.get(name, [])
        always = name in ALWAYS_READ_ONLY
        cases = []
        for prefix in allowed:
            cases.append('"%s"*) ok=1 ;;' % prefix[0])
        script = ["#!/bin/sh", "ok=0"]
        if always:
            script.append("ok=1")
        elif cases:
            script.append('case "$1" in')
            script += ["  " + c for c in cases]
            script.append("esac")
        script.append('if [ "$ok" = 1 ] && [ -n "%s" ]; then' % (real or ""))
        script.append('  printf "READ %s %%s\\n" "$*" >> "%s"' % (name, log))
        script.append('  exec "%s" "$@"' % (real or "/bin/false"))
        script.append("fi")
        script.append('printf "TRAP %s %%s\\n" "$*" >> "%s"' % (name, log))
        script.append("exit 99")
        write_exe(trap_dir / name, "\n".join(script) + "\n")


def trap_lines(log: Path) -> List[str]:
    if not log.exists():
        return []
    return [ln for ln in log.read_text().splitlines() if ln.startswith("TRAP ")]
