#!/usr/bin/env python3
"""fixenv's benchmark (issue 7). Not a test: CI does not run it.

Runs each pair side by side, alternating A/B, N runs each, whole-process wall time and peak
RSS via GNU time (/usr/bin/time -f '%e %M'), and prints the table with medians and ratios.

    bash scripts/bench.sh                 # everything (the install pair needs root + debootstrap)
    BENCH_RUNS=20 bash scripts/bench.sh   # more runs
    BENCH_INSTALL_RUNS=3 bash scripts/bench.sh   # fewer real installs (each takes ~30 s)
    BENCH_SKIP_INSTALL=1 bash scripts/bench.sh
    BENCH_FLEET_RUNS=3 bash scripts/bench.sh     # the fleet pair (3 fresh SSH hosts per run)
    BENCH_SKIP_FLEET=1 bash scripts/bench.sh
    BENCH_ONLY_FLEET=1 bash scripts/bench.sh     # just the fleet rows

Environment: BENCH_DIR (scratch, default /var/cache/fixenv-bench), BENCH_PYTHON (the healthy
target, default /usr/bin/python3.11).
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parents[1]
SCRATCH = Path(os.environ.get("BENCH_DIR", "/var/cache/fixenv-bench"))
RUNS = int(os.environ.get("BENCH_RUNS", "10"))
INSTALL_RUNS = int(os.environ.get("BENCH_INSTALL_RUNS", "10"))
FLEET_RUNS = int(os.environ.get("BENCH_FLEET_RUNS", "3"))
TARGET = os.environ.get("BENCH_PYTHON", "/usr/bin/python3.11")
GNU_TIME = "/usr/bin/time"


def sh(argv: Sequence[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), check=True, **kw)


def venv(name: str, packages: Sequence[str]) -> Path:
    """A scratch venv made from the target's interpreter, with `packages` pip-installed."""
    d = SCRATCH / name
    stamp = d / ".bench-installed"
    want = "\n".join(packages)
    if stamp.exists() and stamp.read_text() == want:
        return d
    if d.exists():
        shutil.rmtree(d)
    sh([TARGET, "-m", "venv", str(d)])
    sh([str(d / "bin" / "pip"), "install", "-q", "--disable-pip-version-check"] + list(packages))
    stamp.write_text(want)
    return d


def timed(argv: Sequence[str], cwd: Optional[str] = None,
          env: Optional[Dict[str, str]] = None) -> Tuple[float, int, int]:
    """(wall seconds, peak RSS KiB, exit code) of one whole-process run."""
    with tempfile.NamedTemporaryFile("r") as out:
        t0 = time.perf_counter()
        res = subprocess.run([GNU_TIME, "-o", out.name, "-f", "%e %M"] + list(argv), cwd=cwd,
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
        fields = out.read().split()
    rss = int(fields[-1]) if fields else 0
    return wall, rss, res.returncode


def alternate(a: Callable[[], Tuple[float, int, int]], b: Callable[[], Tuple[float, int, int]],
              runs: int, warmup: int = 2) -> Tuple[List[Tuple[float, int, int]], ...]:
    for _ in range(warmup):
        a()
        b()
    ra, rb = [], []
    for _ in range(runs):
        ra.append(a())
        rb.append(b())
    return ra, rb


def med(rows: List[Tuple[float, int, int]], i: int = 0) -> float:
    return statistics.median(r[i] for r in rows)


def main() -> int:
    if sys.argv[1:] == ["--fleet"]:
        return fleet_main()
    if not os.path.exists(GNU_TIME):
        print("bench: needs GNU time (apt-get install time)", file=sys.stderr)
        return 2
    SCRATCH.mkdir(parents=True, exist_ok=True)
    print("machine: %s, %d cores, %s" % (os.uname().machine, os.cpu_count() or 0,
                                         " ".join(os.uname()[2:3])))
    if os.environ.get("BENCH_ONLY_FLEET") == "1":
        only: list = []
        fleet_pair(only)
        print_rows(only)
        return 0
    fx = venv("fixenv", [str(REPO)])
    # always this checkout's fixenv (a cached venv would keep measuring an older one)
    sh([str(fx / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
        "--force-reinstall", "--no-deps", str(REPO)])
    tools = venv("tools", ["ansible-core", "pyinfra"])
    fixenv = str(fx / "bin" / "fixenv")
    work = Path(tempfile.mkdtemp(prefix="fixenv-bench-"))
    xy = subprocess.run([TARGET, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                        capture_output=True, text=True, check=True).stdout.strip()
    play = work / "play.yml"
    play.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - name: headers\n      ansible.builtin.apt:\n        name: python%s-dev\n"
        "        state: present\n"
        "    - name: stat Python.h\n      ansible.builtin.stat:\n"
        "        path: /usr/include/python%s/Python.h\n      register: h\n"
        "    - ansible.builtin.assert:\n        that: h.stat.exists\n" % (xy, xy))
    ansible = [str(tools / "bin" / "ansible-playbook"), "-i", "localhost,", "-c", "local",
               str(play)]
    env = dict(os.environ, ANSIBLE_PYTHON_INTERPRETER=TARGET, ANSIBLE_NOCOLOR="1")
    pyinfra = [str(tools / "bin" / "pyinfra"), "@local", "apt.packages",
               "packages=python%s-dev" % xy, "--dry", "-y"]
    # The raw commands a person would type to check the same thing by hand.
    inc = subprocess.run([TARGET, "-c", "import sysconfig; print(sysconfig.get_path('include'))"],
                         capture_output=True, text=True, check=True).stdout.strip()
    suffix = subprocess.run([TARGET, "-c", "import sysconfig; "
                             "print(sysconfig.get_config_var('EXT_SUFFIX'))"],
                            capture_output=True, text=True, check=True).stdout.strip()
    src = REPO / "fixenv" / "data" / "probe_ext.c"
    defs = ["-DFIXENV_MAJOR=%s" % xy.split(".")[0], "-DFIXENV_MINOR=%s" % xy.split(".")[1],
            "-DFIXENV_GIL_DISABLED=0"]
    by_hand = work / "by-hand.sh"
    by_hand.write_text(
        "set -e\ncd %s\n"
        "gcc -shared -fPIC -O0 -I%s %s %s -o fixenv_probe%s\n"
        "%s -c 'import fixenv_probe; fixenv_probe.answer()'\n"
        "g++ -x c++ -fPIC -O0 -c -I%s %s %s -o probe_cxx.o\n"
        % (work, inc, " ".join(defs), src, suffix, TARGET, inc, " ".join(defs), src))

    rows = []

    def pair(label: str, theirs_label: str, ours: Sequence[str], theirs: Sequence[str],
             target: str, limit: Callable[[float, float], bool], runs: int = RUNS) -> None:
        a, b = alternate(lambda: timed(ours, env=env), lambda: timed(theirs, env=env), runs)
        bad = [r[2] for r in a if r[2] != 0] + [r[2] for r in b if r[2] != 0]
        ma, mb = med(a), med(b)
        rows.append((label, theirs_label, mb, ma, target, limit(ma, mb),
                     " (non-zero exits: %s)" % bad if bad else ""))
        sys.stderr.write("  %s: fixenv %.3f s vs %.3f s\n" % (label, ma, mb))
        return None

    plan = [fixenv, "plan", "--python", TARGET]
    apply_ = [fixenv, "apply", "--yes", "--python", TARGET]
    pair("plan, nothing to do", "pyinfra @local apt.packages --dry", plan, pyinfra,
         "<= 0.10 s", lambda a, b: a <= 0.10)
    pair("plan, nothing to do", "ansible-playbook -c local --check", plan, ansible + ["--check"],
         "<= 0.10 s", lambda a, b: a <= 0.10)
    pair("apply, nothing to do, with verification", "ansible-playbook -c local (no verify)",
         apply_, ansible, "<= 0.45 s", lambda a, b: a <= 0.45)
    pair("verify (C build + import, C++ build)", "the raw gcc / g++ / import commands",
         [fixenv, "verify", "--python", TARGET], ["sh", str(by_hand)], "<= 1.2 x theirs",
         lambda a, b: a <= 1.2 * b)

    mem = {}
    for name, argv in (("fixenv plan", plan), ("pyinfra", pyinfra),
                       ("ansible", ansible + ["--check"])):
        mem[name] = statistics.median(timed(argv, env=env)[1] for _ in range(5)) / 1024.0

    if os.environ.get("BENCH_SKIP_INSTALL") != "1":
        install_pair(rows, xy)
    if os.environ.get("BENCH_SKIP_FLEET") != "1":
        fleet_pair(rows, fx)

    print_rows(rows)
    print("| peak memory of fixenv's own process in plan | pyinfra %.0f MiB, Ansible %.0f MiB "
          "| | %.1f MiB | <= 30 MiB | %s |" % (mem["pyinfra"], mem["ansible"],
                                              mem["fixenv plan"],
                                              "yes" if mem["fixenv plan"] <= 30 else "NO"))
    print("\nmedians of %d alternating runs each (installs: %d); python %s; %s"
          % (RUNS, INSTALL_RUNS, TARGET, time.strftime("%Y-%m-%d %H:%M")))
    shutil.rmtree(work, ignore_errors=True)
    return 0


def print_rows(rows: list) -> None:
    print()
    print("| command | a user's alternative | theirs | fixenv | target | met |")
    print("|---|---|---|---|---|---|")
    for label, alt, theirs, ours, target, ok, note in rows:
        if theirs is None:  # a row with an absolute target only
            print("| %s | %s | | %.3f s | %s | %s%s |"
                  % (label, alt, ours, target, "yes" if ok else "NO", note))
            continue
        ratio = ours / theirs if theirs else float("nan")
        print("| %s | %s | %.3f s | %.3f s (%.2fx) | %s | %s%s |"
              % (label, alt, theirs, ours, ratio, target, "yes" if ok else "NO", note))


def fleet_pair(rows: list, fx: Optional[Path] = None) -> None:
    """The Ansible role vs a plain apt playbook on three fresh SSH hosts (issue 13).

    Runs as `bench.py --fleet` (it prints one JSON line) in a venv with `sh`, which the
    harness (tests/e2e/sshhosts.py) drives ssh-keygen, sshd and ansible-playbook with."""
    harness = venv("harness", ["sh>=2.0"])  # what the test extra brings for the harnesses
    res = subprocess.run([str(harness / "bin" / "python"), str(Path(__file__).resolve()),
                          "--fleet"], stdout=subprocess.PIPE, text=True)
    lines = res.stdout.strip().splitlines()
    if res.returncode != 0 or not lines:
        sys.stderr.write("bench: the fleet pair did not run (exit %d)\n" % res.returncode)
        return
    d = json.loads(lines[-1])
    if "skipped" in d:
        sys.stderr.write("bench: skipping the fleet pair: %s\n" % d["skipped"])
        return
    bad = d["bad_exits"]
    note = " (non-zero exits: %s)" % bad if bad else ""
    rows.append(("fleet: the Ansible role, with verification, on 3 fresh SSH hosts "
                 "(Debian 11, 12, 13; lists wiped)",
                 "plain playbook `apt: name=python3.X-dev,build-essential update_cache=yes`",
                 d["plain"], d["role"], "<= 1.0 x theirs", d["role"] <= 1.0 * d["plain"], note))
    rows.append(("fleet: the role's no-op rerun on the same 3 hosts", "", None, d["noop"],
                 "< 10 s", d["noop"] < 10.0, " (changed on rerun: %s)" % d["noop_changed"]
                 if d["noop_changed"] else ""))


def fleet_main() -> int:
    sys.path.insert(0, str(REPO))
    from tests.e2e import rootfs, sshhosts  # type: ignore[import-not-found]

    reason = rootfs.unavailable_reason()
    if reason:
        print(json.dumps({"skipped": reason}))
        return 0
    pyz = rootfs.zipapp()
    work = Path(tempfile.mkdtemp(prefix="fixenv-bench-fleet-"))
    play = work / "ansible"
    shutil.copytree(REPO / "contrib" / "ansible", play,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyz"))
    shutil.copyfile(pyz, play / "roles" / "fixenv" / "files" / "fixenv.pyz")
    (play / "plain.yml").write_text(
        "- hosts: all\n  become: true\n  gather_facts: false\n  tasks:\n"
        "    - name: headers and a compiler\n      ansible.builtin.apt:\n"
        "        name: python{{ python_xy }}-dev,build-essential\n"
        "        update_cache: yes\n")
    bad: List[int] = []
    noop: List[float] = []
    noop_changed: List[int] = []

    def one(role: bool) -> Tuple[float, int, int]:
        with sshhosts.Fleet(name="bench-fleet") as fleet:
            for h in fleet.hosts:  # fresh images: both sides must refresh the lists
                h.wipe_apt_lists()
            inv = str(fleet.ansible_inventory())
            book = "site.yml" if role else "plain.yml"
            r = fleet.ansible_playbook("-i", inv, book, cwd=play)
            if r.rc != 0:
                bad.append(r.rc)
                sys.stderr.write(r.describe()[-3000:] + "\n")
            if role:
                again = fleet.ansible_playbook("-i", inv, book, cwd=play)
                noop.append(again.seconds)
                changed = sum(v.get("changed", 0) for v in again.recap().values())
                if again.rc != 0 or changed:
                    noop_changed.append(changed)
            sys.stderr.write("  fleet %s: %.1f s\n" % ("role" if role else "plain", r.seconds))
            return r.seconds, 0, r.rc

    try:
        a, b = alternate(lambda: one(True), lambda: one(False), FLEET_RUNS, warmup=0)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"role": med(a), "plain": med(b), "noop": statistics.median(noop),
                      "bad_exits": bad, "noop_changed": noop_changed,
                      "runs": FLEET_RUNS}))
    return 0


def install_pair(rows: list, xy: str) -> None:
    """A real install in the throwaway Debian root: fixenv apply vs the bare apt-get line."""
    sys.path.insert(0, str(REPO / "tests" / "e2e"))
    try:
        import rootfs  # type: ignore[import-not-found]
    except ImportError as exc:
        sys.stderr.write("bench: skipping the install pair: %s\n" % exc)
        return
    reason = rootfs.unavailable_reason()
    if reason:
        sys.stderr.write("bench: skipping the install pair: %s\n" % reason)
        return
    lowers = [rootfs.base_root()]
    wheels = rootfs.wheelhouse()
    bare = "apt-get update && apt-get install -y python%s-dev build-essential" % xy

    def one(ours: bool) -> Tuple[float, int, int]:
        with rootfs.Root(lowers, name="bench") as root:
            fx = root.install_fixenv(wheels)
            root.wipe_apt_lists()  # a fresh container image: both sides must refresh
            argv = [fx, "apply", "--yes", "--python", "/usr/bin/python3"] if ours else \
                ["sh", "-c", bare]
            t0 = time.perf_counter()
            res = root.run(argv, check=False, env={"DEBIAN_FRONTEND": "noninteractive"})
            return time.perf_counter() - t0, 0, res.returncode

    a, b = alternate(lambda: one(True), lambda: one(False), INSTALL_RUNS, warmup=1)
    ma, mb = med(a), med(b)
    bad = [r[2] for r in a + b if r[2] != 0]
    rows.append(("a real install in the throwaway Debian root (lists wiped)",
                 "`%s`" % bare, mb, ma, "<= 1.1 x theirs", ma <= 1.1 * mb,
                 " (non-zero exits: %s)" % bad if bad else ""))


if __name__ == "__main__":
    sys.exit(main())
