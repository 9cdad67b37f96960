#!/usr/bin/env python3
"""Regenerate the screenshots in docs/img/ from fixenv's real output.

In a throwaway Debian 12 root (tests/e2e/rootfs.py: the cached debootstrap root, an overlay
per run; needs root, like the e2e tests) fixenv runs under a pseudo-terminal of COLUMNS
columns, exactly as a person would see it:

  docs/img/doctor-before.svg   `fixenv doctor` on the fresh root (no headers, no compiler)
  docs/img/apply.svg           `fixenv apply --yes` while apt unpacks (a frame of the live
                               spinner, taken when "Unpacking" shows)
  docs/img/apply-done.svg      the same apply when it has finished
  docs/img/doctor-after.svg    `fixenv doctor` afterwards

The terminal's bytes are turned into an SVG by rich (Text.from_ansi + Console.save_svg);
nothing is drawn by hand. Usage: sudo .venv/bin/python scripts/make-screenshots.py [OUTDIR]
"""
from __future__ import annotations

import io
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rich.console import Console  # noqa: E402
from rich.text import Text  # noqa: E402

from tests.e2e import rootfs  # noqa: E402
from tests.e2e.pty_session import PtySession, chroot_argv  # noqa: E402

COLUMNS = 100
# CSI sequences other than colours (SGR, ending in "m"): cursor moves, erase line, show/hide
CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-ln-z]|\x1b\][^\x07]*\x07|\x1b[()][0-9A-B]")


def screen(raw: bytes) -> str:
    """What the terminal shows, for a stream that only rewrites its current line (rich's
    spinner: `\\r` + erase line): per line, the text after its last carriage return."""
    text = raw.decode("utf-8", "replace")
    lines = []
    for line in text.split("\n"):
        lines.append(CONTROL.sub("", line.rstrip("\r").split("\r")[-1]))
    while lines and not Text.from_ansi(lines[-1]).plain.strip():
        lines.pop()
    return "\n".join(lines)


def save(ansi: str, path: Path, title: str) -> None:
    console = Console(record=True, width=COLUMNS, force_terminal=True, color_system="truecolor",
                      file=io.StringIO(), highlight=False, markup=False, emoji=False)
    console.print(Text.from_ansi(ansi), soft_wrap=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    console.save_svg(str(path), title=title)
    print("wrote %s" % path)


def run(root: rootfs.Root, args, *, until: str = "", timeout: float = 1800):
    """(the screen when `until` showed, the final screen, exit code)."""
    term = PtySession(chroot_argv(str(root.merged), [root.fixenv] + list(args),
                                  path=rootfs.CHROOT_PATH),
                      cols=COLUMNS, rows=40)
    frame = b""
    if until:
        term.expect(until, timeout=timeout)
        time.sleep(0.3)  # let the spinner redraw with that line
        term._read(0.1)
        frame = term.raw
    rc = term.wait(timeout)
    return frame, term.raw, rc


def prompt(cmd: str) -> str:
    return "\x1b[1;32m$\x1b[0m %s\n" % cmd


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "img"
    reason = rootfs.unavailable_reason()
    if reason:
        print("make-screenshots: %s" % reason, file=sys.stderr)
        return 1
    root = rootfs.Root([rootfs.base_root()], name="screenshots")
    try:
        root.install_fixenv(rootfs.wheelhouse())
        _, before, rc = run(root, ["doctor"])
        save(prompt("fixenv doctor") + screen(before), out / "doctor-before.svg",
             "fixenv doctor (before)")
        frame, done, rc = run(root, ["apply", "--yes"], until=r"Unpacking ")
        if rc != 0:
            print(screen(done), file=sys.stderr)
            raise SystemExit("make-screenshots: apply exited %d" % rc)
        save(prompt("fixenv apply --yes") + screen(frame), out / "apply.svg",
             "fixenv apply (in progress)")
        save(prompt("fixenv apply --yes") + screen(done), out / "apply-done.svg",
             "fixenv apply (done)")
        _, after, rc = run(root, ["doctor"])
        save(prompt("fixenv doctor") + screen(after), out / "doctor-after.svg",
             "fixenv doctor (after)")
    finally:
        root.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
