"""fixenv over pyinfra (3.x): Python.h and a compiler for the Python each host runs, verified.

    bash scripts/build-zipapp.sh contrib/pyinfra/fixenv.pyz     # once, in a fixenv checkout
    cd contrib/pyinfra
    pyinfra inventory.py deploy.py --dry      # the plan per host (fixenv plan); changes nothing
    pyinfra -y inventory.py deploy.py         # apply + verify

Two operations per host:

1. ``files.put`` uploads the zipapp (one file: no pip, no venv, no index on the host) to
   ``/usr/local/bin/fixenv`` (``fixenv_path``: it is the ``fixenv`` command there);
   pyinfra compares checksums, so it is uploaded only when it changed (an upgrade lands, a
   no-op rerun uploads nothing).
2. ``fixenv`` (below) runs it with the host's ``python3 -I``: ``plan --json`` first. With
   ``--dry`` (change detection) the plan's exact commands and file edits are printed and
   the operation counts as a change when fixenv has changes pending; a host without this
   zipapp answers from a temporary copy, removed at once. Executing, it runs
   ``apply --yes --json`` when changes are pending, else ``verify --json``: it is a change
   only when fixenv's JSON says a step changed something, and it fails with fixenv's own
   message when a step failed or is blocked or the verification did not pass.

Host data (inventory or ``--data``): ``fixenv_zipapp`` (controller path, default
``fixenv.pyz`` next to this file), ``fixenv_path`` (/usr/local/bin/fixenv),
``fixenv_cache`` (/var/cache/fixenv: the zipapp unpacked once per version, "" for none),
``fixenv_interpreter``
(python3: the host's Python that runs fixenv itself, >= 3.9), ``fixenv_python`` (the
Python to fix, fixenv's ``--python``), ``fixenv_playbook``. Use ``--sudo`` when the SSH user
is not root.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
from typing import Any, Dict, Iterator, List, Optional, Tuple

from pyinfra import host, logger
from pyinfra.api import FunctionCommand, QuoteString, StringCommand, operation
from pyinfra.api.arguments import CONNECTOR_ARGUMENT_KEYS
from pyinfra.operations import files

HERE = os.path.dirname(os.path.abspath(__file__))


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _connector_args() -> Dict[str, Any]:
    """The running operation's connector arguments (_sudo, _env, ...), for direct calls."""
    args = host.current_op_global_arguments or {}
    return {k: v for k, v in args.items() if k in CONNECTOR_ARGUMENT_KEYS}


def _run(argv: List[str]) -> Tuple[bool, str, str]:
    command = StringCommand(*[QuoteString(a) for a in argv])
    ok, output = host.run_shell_command(command, **_connector_args())
    return ok, output.stdout, output.stderr


def _fixenv_json(base: List[str], args: List[str]) -> Tuple[Optional[dict], str]:
    """Run fixenv with `args`; (its JSON, "") or (None, fixenv's error line)."""
    ok, out, err = _run(base + args)
    try:
        data = json.loads(out) if out.strip() else None
    except ValueError:
        data = None
    if isinstance(data, dict):
        return data, ""
    text = (err.strip() or out.strip() or "no output").splitlines()
    errors = [ln for ln in text if ln.startswith("fixenv: error:")]
    return None, "fixenv %s: %s" % (" ".join(args), (errors or text)[-1])


def _step_lines(step: dict) -> List[str]:
    """The exact actions of one changing step (commands as they will run, file edits)."""
    lines = []
    actions = step.get("actions")
    if actions is None:  # an older fixenv: commands (+ command_env) and files
        envs = step.get("command_env") or []
        actions = [{"kind": "exec", "argv": argv, "env": envs[i] if i < len(envs) else {}}
                   for i, argv in enumerate(step.get("commands") or [])]
        actions += [dict(f, kind="file") for f in step.get("files") or []]
    for a in actions:
        if a.get("kind") == "exec":
            argv = list(a.get("argv") or [])
            env = a.get("env") or {}
            if env and argv[:1] not in (["env"], ["sudo"]):
                argv = ["%s=%s" % kv for kv in sorted(env.items())] + argv
            lines.append("$ " + " ".join(shlex.quote(str(w)) for w in argv))
        elif a.get("kind") == "file":
            lines.append("%s %s:" % (a.get("action", "write"), a.get("path")))
            lines += ["| " + ln for ln in (a.get("content") or "").splitlines()]
        elif a.get("kind") == "setenv":
            lines.append("set %s=%s for the verification" % (a.get("name"), a.get("value")))
        elif a.get("kind") == "verify":
            lines.append("verify: build and import a C extension with %s" % a.get("python"))
    return lines


def _verify_failure(verify: dict) -> str:
    bad = [c for c in verify.get("checks", []) if not c.get("ok")]
    return "verification failed: " + ("; ".join(
        "%s: %s" % (c.get("name"), c.get("detail")) for c in bad) or "no check ran")


def _blocked(steps: List[dict]) -> str:
    return "blocked (no fix fixenv knows here): " + "; ".join(
        "%s: %s" % (s.get("id"), s.get("reason", "")) for s in steps)


# FunctionCommand callbacks: pyinfra passes (state, host) to functions whose first two
# parameters have exactly these names.
def _say(state, host, lines: List[str]) -> bool:  # noqa: F811 - pyinfra's calling convention
    for line in lines:
        logger.info("%s%s" % (host.print_prefix, line))
    return True


def _fail(state, host, message: str) -> bool:  # noqa: F811
    logger.error("%sfixenv: %s" % (host.print_prefix, message))
    return False


def _failure(message: str) -> FunctionCommand:
    """The command that fails the operation with `message` when it executes. During
    change detection (--dry) the message is shown and the host is failed at once."""
    if not host.state.is_executing:
        _fail(None, host, message)
        host.state.fail_hosts({host})
    return FunctionCommand(_fail, [message], {})


@operation()
def fixenv(zipapp: str, local_zipapp: str, interpreter: str = "python3",
           python: Optional[str] = None, playbook: Optional[str] = None,
           cache: Optional[str] = None) -> Iterator[Any]:
    """
    Plan (change detection, ``--dry``) or apply and verify with fixenv on the host.

    + zipapp: the fixenv zipapp on the host
    + local_zipapp: the same zipapp on the controller (a temporary copy answers the plan
      during change detection when the host does not have this one yet)
    + interpreter: the host's Python that runs fixenv (>= 3.9)
    + python: the Python to fix (fixenv's ``--python``)
    + playbook: a bundled fixenv playbook name or a path on the host
    + cache: where the zipapp is unpacked once per version (root's alone), so runs start
      as fast as from a venv (``FIXENV_ZIPAPP_CACHE``)
    """
    target = ["--python", python] if python else []
    book = ["--playbook", playbook] if playbook else []
    executing = host.state.is_executing
    run_from, staged = zipapp, None
    if not executing:
        ok, out, _ = _run(["sha256sum", zipapp])
        if not ok or out.split()[:1] != [_sha256(local_zipapp)]:
            ok, out, err = _run(["mktemp", "/tmp/fixenv-plan.XXXXXX"])
            if not ok:
                yield _failure("cannot make a temporary file: " + err)
                return
            staged = out.strip()
            if not host.put_file(local_zipapp, staged, **_connector_args()):
                yield _failure("cannot upload the zipapp to " + staged)
                return
            run_from = staged
    base = [interpreter, "-I", run_from]
    if cache and not staged:
        base = ["env", "FIXENV_ZIPAPP_CACHE=" + cache] + base
    try:
        plan, error = _fixenv_json(base, ["plan", "--json"] + target + book)
    finally:
        if staged:
            _run(["rm", "-f", staged])
    if plan is None:
        yield _failure(error)
        return
    steps = plan.get("steps", [])
    pending = [s for s in steps if s.get("status") == "change"]
    blocked = [s for s in steps if s.get("status") == "blocked"]
    if blocked:
        yield _failure(_blocked(blocked))
        return

    if not executing:  # change detection (--dry): show the plan; pending = a change
        if not pending:
            host.noop("fixenv: nothing to change")
            return
        lines = ["fixenv: pending: %s" % ", ".join(s["id"] for s in pending)]
        for s in pending:
            lines += ["  %s: %s" % (s.get("id"), s.get("name", ""))]
            lines += ["    " + ln for ln in _step_lines(s)]
        _say(None, host, lines)
        yield FunctionCommand(_say, [["fixenv apply --yes --json"]], {})
        return

    if not pending:
        verify, error = _fixenv_json(base, ["verify", "--json"] + target)
        if verify is None:
            yield _failure(error)
        elif not verify.get("ok"):
            yield _failure("nothing to change, but " + _verify_failure(verify))
        else:
            host.noop("fixenv: nothing to change, verify ok")
        return

    report, error = _fixenv_json(base, ["apply", "--yes", "--json"] + target + book)
    if report is None:
        yield _failure(error)
        return
    done = report.get("steps", [])
    failed = [s for s in done if s.get("status") == "failed"]
    verify = report.get("verify") or {"ok": False}
    if failed:
        s = failed[0]
        yield _failure("step %s failed: %s" % (s.get("id"), s.get("reason")))
    elif [s for s in done if s.get("status") == "blocked"]:
        yield _failure(_blocked([s for s in done if s.get("status") == "blocked"]))
    elif report.get("interrupted"):
        yield _failure("fixenv apply was interrupted")
    elif not verify.get("ok"):
        yield _failure(_verify_failure(verify))
    elif int(report.get("summary", {}).get("changed", 0)) > 0:
        changed = [s.get("id") for s in done if s.get("status") == "changed"]
        yield FunctionCommand(_say, [["fixenv: changed: %s; verify ok" % ", ".join(changed)]],
                              {})
    else:
        host.noop("fixenv: nothing changed, verify ok")


path = host.data.get("fixenv_path") or "/usr/local/bin/fixenv"
local_zipapp = os.path.abspath(os.path.join(HERE, host.data.get("fixenv_zipapp")
                                            or "fixenv.pyz"))
if not os.path.isfile(local_zipapp):
    raise SystemExit("fixenv: no zipapp at %s; build it in a fixenv checkout: "
                     "bash scripts/build-zipapp.sh %s" % (local_zipapp, local_zipapp))

files.put(
    name="Upload the fixenv zipapp (only when its checksum differs)",
    src=local_zipapp,
    dest=path,
    mode="755",
)
fixenv(
    name="fixenv: plan (--dry) or apply, and verify",
    zipapp=path,
    local_zipapp=local_zipapp,
    interpreter=host.data.get("fixenv_interpreter") or "python3",
    python=host.data.get("fixenv_python") or None,
    playbook=host.data.get("fixenv_playbook") or None,
    cache=host.data.get("fixenv_cache", "/var/cache/fixenv") or None,
)
