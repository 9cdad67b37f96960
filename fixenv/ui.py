"""Terminal output: colour or plain, symbols, progress, and the text renderings the CLI prints.

Two renderings of the same lines:

* styled (rich): colour and Unicode symbols, when the stream is a terminal, ``NO_COLOR`` is not
  set and ``TERM`` is not ``dumb`` (``FORCE_COLOR`` forces it, e.g. for ``less -R``);
* plain: ASCII words for the marks and no escape codes at all, for pipes, files, CI logs and
  ``NO_COLOR`` users.

rich is imported only when styled output or a spinner is actually drawn: `fixenv plan | cat`
never pays for it (startup time, issue 7).

Lines are built from segments ``(text, style)``; the style is a rich style name and is simply
dropped in plain mode, so both renderings always say the same thing.
"""
from __future__ import annotations

import os
import sys
import time
from typing import (IO, Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence,
                    Tuple)

from fixenv.facts import invocation
from fixenv.model import Plan, Recap, VerifyResult
from fixenv.render import invoked_as, past_tense, skip_words

Seg = Tuple[str, str]

# status -> (unicode symbol, plain word, style)
MARKS: Dict[str, Tuple[str, str, str]] = {
    "ok": ("✓", "ok", "green"),
    "changed": ("✓", "changed", "green"),
    "change": ("→", "change", "cyan"),
    "fail": ("✗", "FAIL", "bold red"),
    "failed": ("✗", "FAILED", "bold red"),
    "warn": ("!", "warn", "yellow"),
    "skip": ("-", "skipped", "dim"),  # one word per status, in plan, apply and doctor
    "skipped": ("-", "skipped", "dim"),
    "not_run": ("·", "not-run", "dim"),
}
PLAIN_WIDTH = max(len(m[1]) for m in MARKS.values())
# Put in a row to cut it at the terminal's width (styled output only; logs keep everything).
# For secondary lines (ok/skip reasons); never for commands, which must stay whole.
CROP: Tuple[str, str] = ("", "\0crop")


# Put in a row before the text that wraps: on a terminal a row longer than the screen goes on
# under that column (a hanging indent, as flutter doctor does), broken only at spaces, so a
# path or a command word is never cut. Pipes and logs get each row as one line.
HANG: Tuple[str, str] = ("", "\0hang")


def screen_width(stream: Any) -> Optional[int]:
    """Columns of the terminal `stream` is on (COLUMNS wins, as in rich); None if not one."""
    try:
        if not stream.isatty():
            return None
    except (AttributeError, ValueError, OSError):
        return None
    cols = invocation.terminal().columns
    if cols:
        return cols
    try:
        return os.get_terminal_size(stream.fileno()).columns or None
    except (AttributeError, ValueError, OSError):
        return None


def layout(segs: Sequence[Seg], width: Optional[int]) -> List[List[Seg]]:
    """One row as screen lines: wrapped at `width` after its HANG (or its leading blanks),
    continuation lines indented to that column; words are never split."""
    import re

    segs = [x for x in segs if x != CROP]
    if HANG in segs:
        i = segs.index(HANG)
        head, body = segs[:i], segs[i + 1:]
    else:  # the row's leading blanks are its indent
        head, body = [], list(segs)
        while body and not body[0][0].strip():
            head.append(body.pop(0))
        if body and body[0][0][:1].isspace():
            text, style = body[0]
            lead = len(text) - len(text.lstrip())
            head.append((text[:lead], ""))
            body[0] = (text[lead:], style)
    if not width:
        return [head + body]
    indent = sum(len(t) for t, _ in head)
    if indent > width - 20:  # no room for a column: wrap at the left edge
        indent = min(indent, 4)
    avail = max(width - indent, 20)
    lines: List[List[Seg]] = [[]]
    col = 0
    space: List[Seg] = []
    for text, style in body:
        for tok in re.split(r"(\s+)", text):
            if not tok:
                continue
            if tok.isspace():
                space.append((tok, style))
                continue
            gap = sum(len(t) for t, _ in space)
            if col and col + gap + len(tok) > avail:
                lines.append([])
                col = 0
            elif col:
                lines[-1] += space
                col += gap
            space = []
            lines[-1].append((tok, style))
            col += len(tok)
    if space and col + sum(len(t) for t, _ in space) <= avail:
        lines[-1] += space
    rows = [head + _merge(lines[0])]
    rows += [[(" " * indent, "")] + _merge(ln) for ln in lines[1:]]
    return rows


def _merge(line: List[Seg]) -> List[Seg]:
    """Adjacent pieces of one style as one segment again (one escape run each)."""
    out: List[Seg] = []
    for text, style in line:
        if out and out[-1][1] == style:
            out[-1] = (out[-1][0] + text, style)
        else:
            out.append((text, style))
    return out


def wants_color(stream: Any, environ: Optional[Mapping[str, str]] = None) -> bool:
    """Colour and symbols for this stream? NO_COLOR wins, then FORCE_COLOR, then isatty."""
    term = invocation.terminal(environ)
    if term.no_color:
        return False
    if term.force_color:
        return True
    if term.dumb:
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (ValueError, OSError):  # closed stream
        return False


def is_terminal(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty()) and not invocation.terminal().dumb
    except (ValueError, OSError):
        return False


def _same_file(a: Any, b: Any) -> bool:
    """Both streams on one open file: `2>&1` into a CI log or a pipe."""
    try:
        sa, sb = os.fstat(a.fileno()), os.fstat(b.fileno())
    except (AttributeError, OSError, ValueError):
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def _unicode_ok(stream: Any) -> bool:
    enc = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
    return enc.startswith("utf")


class Out:
    """Prints segment lines to one stream, styled or plain (decided once)."""

    def __init__(self, stream: Optional[IO[str]] = None, *, color: Optional[bool] = None,
                 verbosity: int = 0):
        self.stream = stream if stream is not None else sys.stdout
        self.color = wants_color(self.stream) if color is None else color
        self.unicode = self.color and _unicode_ok(self.stream)
        self.verbosity = verbosity  # -1 quiet, 0 normal, 1 verbose
        self._console: Any = None

    # -- pieces
    def verdict(self, ok: bool, text: str) -> List[Seg]:
        """The start of a final line: "✓ done…" / "✗ failed…" styled; "done…" / "FAILED…"
        plain (a word mark would only repeat the verdict)."""
        if self.unicode:
            return [self.mark("ok" if ok else "fail"), (" " + text, "bold green" if ok
                                                        else "bold red")]
        if not ok and text.startswith("failed"):
            text = "FAILED" + text[len("failed"):]
        elif not ok and text.startswith("interrupted"):
            text = "INTERRUPTED" + text[len("interrupted"):]
        elif not ok:
            text = "FAILED: " + text
        return [(text, ("bold green" if ok else "bold red") if self.color else "")]

    def mark(self, status: str, pad: bool = True) -> Seg:
        """The status symbol (styled) or word (plain, padded to line up in columns)."""
        sym, word, style = MARKS.get(status, ("?", status, ""))
        if self.unicode:
            return (sym, style)
        return (word.ljust(PLAIN_WIDTH) if pad else word, style if self.color else "")

    @property
    def bullet(self) -> str:
        return "›" if self.unicode else ">"

    @property
    def dash(self) -> str:
        return "—" if self.unicode else "-"

    def console(self) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(file=self.stream, force_terminal=True, highlight=False,
                                    markup=False, emoji=False, soft_wrap=True)
        return self._console

    # -- output
    def line(self, *segs: Seg) -> None:
        try:
            self._line(segs)
        except BrokenPipeError:  # `fixenv plan | head`: the reader is gone; stop quietly
            _silence(self.stream)
            raise SystemExit(141)  # 128 + SIGPIPE, what a shell reports for such a writer

    def _line(self, segs: Sequence[Seg]) -> None:
        width = screen_width(self.stream)
        rows = layout(segs, width)
        if not self.color:
            self.stream.write("".join("".join(t for t, _ in r) + "\n" for r in rows))
            self.stream.flush()
            return
        from rich.text import Text

        for row in rows:
            self.console().print(Text.assemble(*[(t, s or "") for t, s in row]))

    def text(self, s: str, style: str = "") -> None:
        self.line((s, style))

    def lines(self, rows: Iterable[Sequence[Seg]]) -> None:
        for row in rows:
            self.line(*row)


def _silence(stream: Any) -> None:
    """Point the stream's fd at /dev/null so the interpreter's final flush cannot fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (AttributeError, OSError, ValueError):
        pass


def plain(s: str) -> str:
    """Control characters out of text that goes on one terminal line."""
    return "".join(ch if ch >= " " or ch == "\t" else "?" for ch in s)


def _indent_detail(detail: str, width: int = 0) -> List[str]:
    """A (multi-line) detail as safe single lines."""
    return [plain(x) for x in (detail.splitlines() or [""])]


# --------------------------------------------------------------------------- renderings


def check_rows(out: Out, checks: Sequence[Mapping[str, Any]], name_width: int = 13
               ) -> List[List[Seg]]:
    """One row per check: mark, name, detail; then its fix lines. A check is a mapping with
    name, status (ok|warn|fail|skip), detail and optionally fix (text) and fix_commands."""
    rows: List[List[Seg]] = []
    pad = " " * (len(out.mark("ok")[0]) + 2 + name_width + 1)
    for c in checks:
        status = c["status"]
        detail = _indent_detail(str(c.get("detail") or ""), name_width)
        style = {"fail": "", "warn": "", "skip": "dim"}.get(status, "")
        rows.append([(" ", ""), out.mark(status), (" ", ""),
                     (str(c["name"]).ljust(name_width), "bold" if status == "fail" else ""),
                     (" ", ""), HANG, (detail[0], style)])
        for extra in detail[1:]:
            rows.append([(pad, ""), HANG, (extra, "dim")])
        if c.get("fix") and status in ("fail", "warn"):
            rows.append([(pad, ""), ("fix: ", "bold yellow"), HANG, (plain(c["fix"]), "bold")])
            for cmd in c.get("fix_commands") or []:
                rows.append([(pad + "     ", ""), ("runs ", "dim"), HANG, (plain(cmd), "cyan")])
    return rows


def verify_rows(out: Out, result: VerifyResult) -> List[List[Seg]]:
    rows: List[List[Seg]] = [[("verify ", "bold"), (plain(result.python), "")]]
    checks = [{"name": c.name, "status": "ok" if c.ok else "fail", "detail": c.detail,
               "fix": c.fix} for c in result.checks]
    if out.verbosity < 0:
        checks = [c for c in checks if c["status"] != "ok"]
    rows += check_rows(out, checks)
    if result.ok:
        rows.append([("verification passed", "bold green")])
    else:
        rows.append([("verification FAILED", "bold red")])
    return rows


def plan_rows(out: Out, plan: Plan, sudo: bool = False) -> List[List[Seg]]:
    rows: List[List[Seg]] = [[("plan ", "bold"), (plain(plan.target), ""),
                              ("  (playbook %s)" % plan.playbook, "dim")]]
    width = max([len(s.id) for s in plan.steps] + [8])
    for s in plan.steps:
        if out.verbosity < 0 and s.status != "change":
            continue
        dim = "dim" if s.status != "change" else ""
        text = skip_words(s.reason, out.verbosity > 0) if s.status == "skip" else s.reason
        reason = _indent_detail(text, width)
        rows.append([(" ", ""), out.mark(s.status), (" ", ""),
                     (s.id.ljust(width), "bold" if s.status == "change" else dim), ("  ", ""),
                     HANG, (reason[0], dim)])
        pad = " " * (len(out.mark("ok")[0]) + 4 + width)
        for extra in reason[1:]:
            rows.append([(pad, ""), HANG, (extra, "dim")])
        rows += action_rows(out, s, pad, content=out.verbosity >= 0)
    n = sum(1 for s in plan.steps if s.status == "change")
    if plan.blocked:
        rows.append([("%d step%s blocked" % (len(plan.blocked), "" if len(plan.blocked) == 1
                                               else "s"), "bold red"),
                     (" %s no known fix for this Python here (%s): see the ways out above"
                      % (out.dash, ", ".join(plan.blocked)), "")])
    if n:
        rows.append([("%d change%s pending" % (n, "" if n == 1 else "s"), "bold yellow"),
                     (" %s run `%s apply` to make %s" % (out.dash, invoked_as(),
                                                         "it" if n == 1 else "them"), "")])
    elif not plan.blocked:
        rows.append([("nothing to do", "bold green")])
    return rows


def action_rows(out: Out, s: Any, pad: str, content: bool = True) -> List[List[Seg]]:
    """The step's actions as the plan shows them — exactly what apply will do: each command's
    argv as it runs, each file it writes (with the lines fixenv adds), each variable it sets."""
    from fixenv.model import Exec, FileEdit, SetEnv
    from fixenv.render import FILE_ACTIONS  # block/unblock: fixenv/profile.py

    rows: List[List[Seg]] = []
    for a in s.actions:
        if isinstance(a, Exec):
            rows.append([(pad, ""), ("$ ", "dim"), HANG, (plain(a.display()), "cyan")])
        elif isinstance(a, FileEdit):
            verb = "edit" if a.guarded and a.before is not None else FILE_ACTIONS.get(
                a.action, a.action)
            rows.append([(pad, ""), (verb + " ", "dim"), HANG, (plain(a.path), "cyan")])
            if content:
                old = set((a.before or "").splitlines()) if a.guarded else set()
                rows += [[(pad + "  + " if a.guarded and a.before is not None else
                           pad + "  | ", "dim"), (plain(ln), "")]
                         for ln in a.content.splitlines() if ln not in old]
        elif isinstance(a, SetEnv):
            rows.append([(pad, ""), ("set ", "dim"), HANG,
                         (plain("%s=%s" % (a.name, a.value) if a.value is not None
                                else "unset %s" % a.name), "cyan"),
                         (" for the steps after this one", "dim")])
    return rows


def change_rows(out: Out, plan: Plan, sudo: bool = False) -> List[List[Seg]]:
    """What `apply` is about to do, listed before it asks (as apt and terraform do): each
    step that changes something with its exact commands and the files it writes."""
    rows: List[List[Seg]] = []
    width = max([len(s.id) for s in plan.steps] + [8])
    pad = " " * (len(out.mark("ok")[0]) + 4 + width)
    for s in plan.steps:
        if s.status != "change":
            continue
        reason = _indent_detail(s.reason, width)
        rows.append([(" ", ""), out.mark(s.status), (" ", ""), (s.id.ljust(width), "bold"),
                     ("  ", ""), HANG, (reason[0], "")])
        rows += action_rows(out, s, pad, content=False)
    return rows


def ask_apply(plan: Plan, sudo: bool = False, stdin: Optional[IO[str]] = None,
              stream: Optional[IO[str]] = None) -> None:
    """List the changes, ask `Apply N changes? [y/N]` on the terminal; return on yes.

    No (or just Enter) and end of input (Ctrl-D) raise NotConfirmed (exit 5), Ctrl-C raises
    it with exit 130; each says in one calm line that nothing changed (not an `error:`)."""
    from fixenv import errors

    stdin = stdin if stdin is not None else sys.stdin
    if stream is None:  # where the person sees it: stderr (with the progress), else stdout
        stream = sys.stdout if screen_width(sys.stdout) and not screen_width(sys.stderr) \
            else sys.stderr
    out = Out(stream)
    n = sum(1 for s in plan.steps if s.status == "change") if plan is not None else 0
    if plan is not None:
        out.lines(change_rows(out, plan, sudo))
    question = ("Apply %d change%s? [y/N] " % (n, "" if n == 1 else "s") if plan is not None
                else "Apply the changes? [y/N] ")
    try:
        stream.write(question)
        stream.flush()
        answer = stdin.readline()
    except KeyboardInterrupt:
        stream.write("\n")
        raise errors.NotConfirmed("interrupted at the prompt; nothing changed", calm=True,
                                  exit_code=errors.INTERRUPTED) from None
    if not answer:  # end of input: Ctrl-D, or a closed stdin
        stream.write("\n")
        raise errors.NotConfirmed("no answer (end of input); nothing changed", calm=True)
    if answer.strip().lower() not in ("y", "yes"):
        raise errors.NotConfirmed("nothing changed (you answered %s)"
                                  % ("no" if not answer.strip() or answer.strip().lower()
                                     in ("n", "no") else repr(answer.strip())), calm=True)


def _dur(seconds: Optional[float]) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return "%.1fs" % seconds
    return "%dm%02ds" % (seconds // 60, seconds % 60)


def recap_rows(out: Out, recap: Recap, durations: Optional[Mapping[str, float]] = None,
               total: Optional[float] = None, omit: Iterable[str] = ()) -> List[List[Seg]]:
    """The end of `apply`: each step (but those in `omit`: the progress already showed them on
    the same screen), the verification, one summary line, and what to do on failure."""
    durations = durations or {}
    rows: List[List[Seg]] = []
    width = max([len(s.id) for s in recap.steps] + [8])
    mark_width = len(out.mark("ok")[0])
    omit = set(omit)
    for s in recap.steps:
        if out.verbosity < 0 and s.status != "failed":  # -q: failures and the summary only
            continue
        if s.id in omit:  # shown by the progress on the same screen or log, reason and all
            continue
        dim = "dim" if s.status in ("ok", "skipped", "not_run") else ""
        if s.status == "skipped":
            text = skip_words(s.reason, out.verbosity > 0)
        elif s.status == "changed" or (s.status == "ok" and (
                recap.verify is not None or recap.count("changed"))):
            text = past_tense(s.reason)  # the recap says what was done
        else:
            text = s.reason
        reason = [plain(x) for x in (text.splitlines() or [""])]
        first = reason[0]
        rows.append([(" ", ""), out.mark(s.status), (" ", ""), (s.id.ljust(width), dim or "bold"),
                     ("  ", ""), HANG, (first, dim),
                     ("  " + _dur(durations[s.id]) if s.id in durations else "", "dim")])
        pad = " " * (mark_width + 4 + width)
        shown = reason[1:] if s.status == "failed" or out.verbosity > 0 else []
        if s.status == "failed" and not shown and first.rstrip().endswith(":"):
            shown = [plain(x) for x in (s.output or "").splitlines()[-20:]] or [
                "(it printed nothing)"]
        for extra in shown:
            rows.append([(pad, ""), HANG, (extra, "red" if s.status == "failed" else "dim")])
        if out.verbosity > 0:
            for argv in s.commands:
                import shlex

                rows.append([(pad, ""), ("$ ", "dim"), HANG,
                             (plain(" ".join(shlex.quote(a) for a in argv)), "cyan")])
    if recap.verify is not None and (out.verbosity >= 0 or not recap.verify.ok):
        rows.append([])
        rows += verify_rows(out, recap.verify)
    j = recap.to_json()["summary"]
    parts = ["%d changed" % j["changed"], "%d ok" % j["ok"]]
    if j["skipped"]:
        parts.append("%d skipped" % j["skipped"])
    if j["failed"]:
        parts.append("%d failed" % j["failed"])
    if j["not_run"]:
        parts.append("%d not run" % j["not_run"])
    if recap.interrupted:
        parts.append("interrupted")
    took = (" in " + _dur(total)) if total is not None else ""
    if rows or out.verbosity >= 0:
        rows.append([])
    if recap.ok:
        target = recap.verify.python if recap.verify else ""
        rows.append(out.verdict(True, "done%s: " % took) + [HANG,
                     (", ".join(parts), ""),
                     (" %s %s can build C%s extensions" % (
                         out.dash, plain(target),
                         " and C++" if recap.verify is not None and any(
                             c.name == "build-cxx" and c.ok for c in recap.verify.checks)
                         else ""), "")
                     if target else ("", "")])
    else:
        if recap.interrupted:  # stopped on purpose, not a failure of the machine
            rows.append(out.verdict(False, "interrupted%s: " % took) + [
                (", ".join(p for p in parts if p != "interrupted"), "")])
            rows.append([("   %s run `%s apply` again to finish; `fixenv plan` shows what is "
                          "left" % (out.bullet, invoked_as()), "")])
            return rows
        rows.append(out.verdict(False, "failed%s: " % took) + [(", ".join(parts), "")])
        failed = [s for s in recap.steps if s.status == "failed"]
        if failed:
            rows.append([("   %s the output above shows why; `fixenv plan` shows the remaining "
                          "steps" % out.bullet, "")])
        elif recap.verify is not None and not recap.verify.ok:
            rows.append([("   %s `fixenv doctor` explains each failed check" % out.bullet, "")])
    return rows


def facts_rows(out: Out, text: str) -> List[List[Seg]]:
    """`detect`'s key/value lines with the keys dimmed."""
    import re

    rows: List[List[Seg]] = []
    for ln in text.splitlines():
        m = re.match(r"^(\s*\S+)(\s+)(.*)$", ln)
        rows.append([(m.group(1), "bold"), (m.group(2) + m.group(3), "")] if m else [(ln, "")])
    return rows


# --------------------------------------------------------------------------- progress


class Progress:
    """What the user sees while `apply` runs, on stderr.

    On a terminal: a spinner per step with the elapsed time and the package manager's last
    output line, replaced by one ✓/✗ line when the step ends. Elsewhere (CI, pipes): plain
    lines, each output line prefixed with the step id, so logs stay greppable.
    Quiet: nothing but failures. Feed it engine events (`event`) and output lines (`line`).
    """

    def __init__(self, stream: Optional[IO[str]] = None, *, live: Optional[bool] = None,
                 verbosity: int = 0, color: Optional[bool] = None,
                 clock: Callable[[], float] = time.monotonic):
        self.stream = stream if stream is not None else sys.stderr
        # NO_COLOR users get no escape codes at all: plain lines instead of a live spinner
        self.live = (is_terminal(self.stream) and not invocation.terminal().no_color
                     if live is None else live)
        self.out = Out(self.stream, color=(wants_color(self.stream) if color is None else color),
                       verbosity=verbosity)
        self.verbosity = verbosity
        self.clock = clock
        self.started: Dict[str, float] = {}
        self.durations: Dict[str, float] = {}
        self.shown: set = set()  # steps whose result line was printed
        self.width = 8  # step-id column, set from the plan
        self.step: Optional[str] = None
        self._buffer: List[str] = []  # the current step's output (shown on failure when quiet)
        self._progress: Any = None
        self._task: Any = None
        self.t0 = clock()

    # -- the spinner (rich), started lazily
    def _spin(self, description: str) -> None:
        from rich.console import Console
        from rich.progress import Progress as RichProgress
        from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

        if self._progress is None:
            console = Console(file=self.stream, force_terminal=True, highlight=False,
                              markup=False, emoji=False, no_color=not self.out.color)
            self._progress = RichProgress(
                SpinnerColumn("dots" if self.out.unicode else "line"),
                TextColumn("{task.description}", markup=False),
                TimeElapsedColumn(),
                TextColumn("{task.fields[last]}", markup=False, style="dim"),
                console=console, transient=True, refresh_per_second=8)
            self._progress.start()
        if self._task is not None:
            self._progress.remove_task(self._task)
        self._task = self._progress.add_task(description, total=None, last="")

    def _unspin(self) -> None:
        if self._task is not None and self._progress is not None:
            self._progress.remove_task(self._task)
            self._task = None

    def close(self) -> None:
        if self._progress is not None:
            self._unspin()
            self._progress.stop()
            self._progress = None

    def _print(self, *segs: Seg) -> None:
        if self._progress is not None:
            # print above the spinner, through rich, so the live line is redrawn below it
            from rich.text import Text

            for row in layout(segs, self._progress.console.width):
                self._progress.console.print(Text.assemble(*[(t, s or "") for t, s in row]),
                                             soft_wrap=True)
        else:
            self.out.line(*segs)

    # -- engine callbacks
    def event(self, name: str, data: Mapping[str, Any]) -> None:
        step = str(data.get("id") or "")
        if name == "step_start":
            self.step = step
            self.started[step] = self.clock()
            self._buffer = []
            reason = plain(str(data.get("reason", "")).splitlines()[0]
                           if data.get("reason") else "")
            desc = "%s: %s" % (step, reason)
            if self.live and len(desc) > 50:  # leave room for the time and the last line
                desc = desc[:49] + ("…" if self.out.unicode else "~")
            if self.live:
                self._spin(desc)
            elif self.verbosity >= 0:
                self._print(("==> ", "bold"), (desc, "bold"))
        elif name == "command":
            import shlex

            text = " ".join(shlex.quote(a) for a in data.get("argv", []))
            self._buffer.append("$ " + text)
            if self.live:
                if self.verbosity > 0:
                    self._print(("  $ ", "dim"), (plain(text), "cyan"))
            elif self.verbosity >= 0:
                self._print(("[%s] $ " % step, "dim"), (plain(text), ""))
        elif name == "step_end":
            took = self.clock() - self.started.get(step, self.clock())
            self.durations[step] = took
            status = str(data.get("status", ""))
            if self.live:
                self._unspin()
            said = str(data.get("reason") or "")
            lines = [plain(x) for x in (past_tense(said) if status == "changed" else said
                                        ).splitlines()] or [""]
            if status == "failed" and self.verbosity < 0 and not self.live and len(lines) < 2:
                for ln in self._buffer[-20:]:  # the reason does not carry the output itself
                    self._print(("[%s] " % step, "dim"), (plain(ln), ""))
            if self.verbosity >= 0 or status == "failed":
                self.shown.add(step)
                self._print((" ", ""), self.out.mark(status), (" ", ""),
                            (step.ljust(self.width), "bold"), ("  ", ""), HANG,
                            (lines[0], "" if status == "failed" else "dim"),
                            ("  " + _dur(took), "dim"))
                if status == "failed":  # the manager's last lines, once, under the reason
                    pad = " " * (len(self.out.mark("ok")[0]) + 4 + self.width)
                    if len(lines) == 1 and lines[0].rstrip().endswith(":"):
                        seen = [ln for ln in self._buffer if not ln.startswith("$ ")][-20:]
                        lines += seen or ["(it printed nothing)"]
                    for extra in lines[1:]:
                        self._print((pad, ""), HANG, (extra, "red"))
            self.step = None

    def line(self, text: str) -> None:
        text = plain(text.rstrip("\r"))
        if "\r" in text:
            text = text.rsplit("\r", 1)[-1]
        if text.startswith("fixenv: "):  # fixenv's own notice (Ctrl-C): a line, always shown
            self._print((text, "bold yellow"))
            return
        self._buffer.append(text)
        if self.live:
            if self.verbosity > 0:
                self._print(("  | ", "dim"), (text, "dim"))
            if self._progress is not None and self._task is not None:
                width = self._progress.console.width - 70
                last = text.strip()
                if len(last) > max(width, 20):
                    last = last[:max(width, 20) - 1] + ("…" if self.out.unicode else "~")
                self._progress.update(self._task, last=last)
        elif self.verbosity >= 0:
            self._print(("[%s] " % (self.step or "-"), "dim"), (text, ""))

    # -- verification phase
    def phase(self, description: str) -> None:
        if self.live:
            self._spin(description)
        elif self.verbosity > 0:
            self._print(("==> ", "bold"), (description, "bold"))

    def phase_done(self) -> None:
        if self.live:
            self._unspin()

    def elapsed(self) -> float:
        return self.clock() - self.t0


def verbosity(state: Mapping[str, Any]) -> int:
    return -1 if state.get("quiet") else (1 if state.get("verbose") else 0)


# --------------------------------------------------------------------------- apply


class ApplyFeedback:
    """Everything `apply` shows while it runs and at the end: the progress on stderr, the
    optional JSON-lines event stream, and the recap (text or JSON) on stdout.

        with ApplyFeedback(as_json=..., events=FILE|"-"|None, verbosity=...) as fb:
            fb.start(plan)
            recap = apply_plan(plan, facts, runner, on_event=fb.on_event, on_line=fb.on_line)
            fb.verifying(python); result = verify(...); ...
            fb.finish(recap)

    With `--events -` stdout carries only the events, so the text recap goes to stderr.
    If the run ends with an error, the stream still gets a final run_end naming it.
    """

    def __init__(self, *, as_json: bool = False, events: Optional[str] = None,
                 verbosity: int = 0, stdout: Optional[IO[str]] = None,
                 stderr: Optional[IO[str]] = None):
        from fixenv.errors import UsageError

        if as_json and events == "-":
            raise UsageError("--json and --events - (or --jsonl) both want stdout",
                             hint="write the events to a file: --events FILE")
        self.as_json = as_json
        self.verbosity = verbosity
        self.stdout = stdout if stdout is not None else sys.stdout
        self.stderr = stderr if stderr is not None else sys.stderr
        self.events = None
        if events:
            from fixenv.events import open_stream

            self.events = open_stream(events)
        self.events_on_stdout = events == "-"
        quiet_lines = as_json or self.events_on_stdout
        # JSON/event consumers want stdout clean; stderr may still show a spinner to a human.
        # (-1: only failures as lines; a spinner on a terminal is transient and stays)
        self.progress = Progress(self.stderr, verbosity=verbosity if not quiet_lines
                                 else (1 if verbosity > 0 else -1))
        self._finished = False

    def __enter__(self) -> "ApplyFeedback":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.progress.close()
        if self.events is not None:
            if not self._finished and exc is not None:
                from fixenv import errors

                if isinstance(exc, errors.FixenvError):
                    code = exc.exit_code
                elif isinstance(exc, KeyboardInterrupt):
                    code = errors.INTERRUPTED
                else:
                    code = getattr(exc, "exit_code", errors.INTERNAL)
                self.events.emit("run_end", None, ok=code == 0, exit_code=code,
                                 error=str(exc) or type(exc).__name__)
            self.events.close()

    def start(self, plan: Plan) -> None:
        self.progress.width = max([len(s.id) for s in plan.steps] + [8])
        n = sum(1 for s in plan.steps if s.status == "change")
        if self.progress.verbosity >= 0:  # the same header whether or not there is work
            what = "%d change%s" % (n, "" if n == 1 else "s") if n else "nothing to change"
            self.progress._print(("apply ", "bold"), (plain(plan.target), ""),
                                 ("  (%s, playbook %s)" % (what, plan.playbook), "dim"))
        if self.events is not None:
            self.events.run_start(plan)

    # Showing progress must never stop a half-done install: a display or event-file error
    # (closed terminal, full disk) turns that output off and the run goes on.
    def on_event(self, name: str, data: Dict[str, Any]) -> None:
        if self.progress is not None:
            try:
                self.progress.event(name, data)
            except Exception:  # noqa: BLE001 - see above
                self._drop_progress()
        if self.events is not None:
            try:
                self.events.on_event(name, data)
            except Exception:  # noqa: BLE001 - see above
                self.events = None

    def on_line(self, line: str) -> None:
        if self.progress is not None:
            try:
                self.progress.line(line)
            except Exception:  # noqa: BLE001 - see above
                self._drop_progress()

    def _drop_progress(self) -> None:
        try:
            self.progress.close()
        except Exception:  # noqa: BLE001 - already failing; nothing more to show
            pass
        self.progress = Progress(self.stderr, live=False, verbosity=-2)

    def verifying(self, python: str) -> None:
        self.progress.phase("verify: building a C extension for %s" % python)

    def finish(self, recap: Recap) -> None:
        self.progress.phase_done()
        self.progress.close()
        from fixenv.outcome import exit_code

        code = exit_code(recap)  # the same code the process exits with
        if self.events is not None:
            self.events.steps_done(recap)
            if recap.verify is not None:
                self.events.verify(recap.verify)
            self.events.run_end(recap, code)
        self._finished = True
        if self.as_json:
            import json

            self.stdout.write(json.dumps(recap.to_json(), indent=2) + "\n")
            self.stdout.flush()
            return
        stream = self.stderr if self.events_on_stdout else self.stdout
        out = Out(stream, verbosity=self.verbosity)
        # on one screen (both streams a terminal) the step lines just printed are not repeated
        same_screen = (stream is self.stderr or _same_file(stream, self.stderr)
                       or (is_terminal(stream) and is_terminal(self.stderr)))
        omit = self.progress.shown if same_screen else ()
        out.lines(recap_rows(out, recap, self.progress.durations, self.progress.elapsed(), omit))
