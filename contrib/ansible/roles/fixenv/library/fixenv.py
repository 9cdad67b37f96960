#!/usr/bin/python
"""Ansible module: run fixenv (the zipapp the role copied) on a host; report its JSON.

Every run asks `fixenv plan --json` first: the plan is the fact `fixenv_plan` and, with
--diff, the task's diff (the exact commands and file edits). Check mode then runs a
read-only `fixenv verify --json` and stops: changed = changes are pending. A normal run
runs `fixenv apply --yes --json` when changes are pending (changed = a step changed
something), else `fixenv verify --json`; failed = a step failed, a step is blocked (no
known fix here) or the verification did not pass, with fixenv's own reason as msg.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import zipfile

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: fixenv
short_description: Make Python.h usable for a host's Python with fixenv (plan, apply, verify)
description:
  - Runs the fixenv zipapp with the host's own Python (>= 3.9); no pip, no venv, no index.
  - C(fixenv plan --json) on every run; its plan is the fact C(fixenv_plan) and the diff.
  - In check mode also C(fixenv verify --json) (read-only); changes nothing.
  - Otherwise C(fixenv apply --yes --json) when changes are pending, else C(fixenv verify).
  - C(changed) and C(failed) come from fixenv's JSON, never from a command having run.
  - Sets the facts C(fixenv_plan), C(fixenv_pending), C(fixenv_verify), C(fixenv_verify_ok).
options:
  zipapp:
    description: Path of the fixenv zipapp on the host.
    type: path
    required: true
  interpreter:
    description: The Python that runs fixenv itself (>= 3.9), a name on PATH or a path.
    type: str
    default: python3
  python:
    description: The Python to fix (fixenv's C(--python)); fixenv's default when empty.
    type: str
  playbook:
    description: A bundled playbook name or a path on the host (fixenv's C(--playbook)).
    type: str
  cache:
    description:
      - A directory, root's alone, where the zipapp is unpacked once per version
        (C(FIXENV_ZIPAPP_CACHE)); later runs start as fast as from a venv.
    type: path
"""

RETURN = r"""
plan: {description: fixenv plan JSON, returned: always, type: dict}
pending: {description: ids of the steps that would change something, returned: always, type: list}
apply: {description: fixenv apply JSON (summary, steps, verify), returned: when applied, type: dict}
verify: {description: fixenv verify JSON, returned: always, type: dict}
version: {description: the zipapp's fixenv version, returned: always, type: str}
"""

PLAN_RC = (0,)
VERIFY_RC = (0, 1)  # 1: the check failed -- an answer, not an error
APPLY_RC = (0, 1, 12)  # 1: a step or verify failed; 12: a step is blocked


def run_json(module, argv, allowed_rc):
    """Run fixenv; return its JSON, or fail the task with fixenv's own error line."""
    rc, out, err = module.run_command(argv, environ_update={"LC_ALL": "C.UTF-8"})
    try:
        data = json.loads(out) if out.strip() else None
    except ValueError:
        data = None
    if rc not in allowed_rc or not isinstance(data, dict):
        text = (err.strip() or out.strip() or "no output")
        lines = [ln for ln in text.splitlines() if ln.startswith("fixenv: error:")]
        why = lines[-1] if lines else text.splitlines()[-1]
        what = "fixenv " + " ".join(argv[3:])
        module.fail_json(msg="`%s` exited %d: %s" % (what, rc, why[:2000]),
                         rc=rc, stdout=out[-20000:], stderr=err[-20000:], cmd=argv)
    return data


def pending_steps(plan):
    return [s for s in plan.get("steps", []) if s.get("status") == "change"]


def blocked_steps(plan):
    return [s for s in plan.get("steps", []) if s.get("status") == "blocked"]


def _quote(argv):
    return " ".join(shlex.quote(str(w)) for w in argv)


def step_lines(step):
    """The exact actions of one changing step, one line each (commands as they will run)."""
    lines = []
    actions = step.get("actions")
    if actions is None:  # an older fixenv: commands (+ command_env) and files
        envs = step.get("command_env") or []
        actions = []
        for i, argv in enumerate(step.get("commands") or []):
            env = envs[i] if i < len(envs) else {}
            actions.append({"kind": "exec", "argv": list(argv), "env": env})
        for f in step.get("files") or []:
            actions.append(dict(f, kind="file"))
    for a in actions:
        kind = a.get("kind")
        if kind == "exec":
            argv = list(a.get("argv") or [])
            env = a.get("env") or {}
            if env and argv[:1] not in (["env"], ["sudo"]):  # set in the process environment
                argv = ["%s=%s" % kv for kv in sorted(env.items())] + argv
            why = "    # " + a["purpose"] if a.get("purpose") else ""
            lines.append("  $ " + _quote(argv) + why)
        elif kind == "file":
            lines.append("  %s %s:" % (a.get("action", "write"), a.get("path")))
            lines += ["  | " + ln for ln in (a.get("content") or "").splitlines()]
        elif kind == "setenv":
            value = a.get("value")
            lines.append("  set %s=%s for the verification" % (a.get("name"), value)
                         if value is not None else "  unset %s" % a.get("name"))
        elif kind == "verify":
            lines.append("  verify: build and import a C%s extension with %s" % (
                " and C++" if a.get("cxx", True) else "", a.get("python")))
        else:
            lines.append("  %s: %s" % (kind, json.dumps(a, sort_keys=True)))
    return lines


def plan_diff(plan):
    """The plan as an Ansible diff: the commands and edits as text, whole-file writes as a
    before/after diff of the file."""
    text = ["fixenv plan for %s (%s):" % (plan.get("target") or "python3",
                                          plan.get("playbook") or "python-headers")]
    diffs = []
    for step in pending_steps(plan):
        text.append("%s: %s" % (step.get("id"), step.get("name") or ""))
        text += step_lines(step)
        for a in step.get("actions") or step.get("files") or []:
            if a.get("kind", "file") != "file" or a.get("action", "write") != "write":
                continue
            before = ""
            try:
                if os.path.getsize(a["path"]) < 256 * 1024:
                    with open(a["path"], encoding="utf-8", errors="replace") as fh:
                        before = fh.read()
            except OSError:
                pass
            diffs.append({"before": before, "after": a.get("content") or "",
                          "before_header": a["path"], "after_header": a["path"]})
    return [{"prepared": "\n".join(text) + "\n"}] + diffs


def facts(plan, verify):
    return {"fixenv_plan": plan, "fixenv_verify": verify,
            "fixenv_verify_ok": bool(verify.get("ok")),
            "fixenv_pending": [s.get("id") for s in pending_steps(plan)]}


def verify_failure(verify):
    bad = [c for c in verify.get("checks", []) if not c.get("ok")]
    return "verification failed: " + ("; ".join(
        "%s: %s" % (c.get("name"), c.get("detail")) for c in bad) or "no check ran")


def blocked_message(steps):
    parts = []
    for s in steps:
        way = "; ways out: " + " | ".join(s["ways_out"]) if s.get("ways_out") else ""
        parts.append("%s: %s%s" % (s.get("id"), s.get("reason", ""), way))
    return "blocked (no fix fixenv knows here): " + "; ".join(parts)


def zipapp_version(path):
    """fixenv.__version__ as written in the archive (read, not run: no process)."""
    try:
        with zipfile.ZipFile(path) as zf:
            text = zf.read("fixenv/__init__.py").decode("utf-8", "replace")
    except (OSError, KeyError, zipfile.BadZipFile):
        return ""
    m = re.search(r"^__version__\s*=\s*[\"']([^\"']+)[\"']", text, re.M)
    return m.group(1) if m else ""


def main():
    module = AnsibleModule(
        argument_spec=dict(
            zipapp=dict(type="path", required=True),
            interpreter=dict(type="str", default="python3"),
            python=dict(type="str", default=None),
            playbook=dict(type="str", default=None),
            cache=dict(type="path", default=None),
        ),
        supports_check_mode=True,
    )
    p = module.params
    interp = p["interpreter"]
    if not os.path.isabs(interp):
        interp = module.get_bin_path(interp, required=True)
    if not os.path.isfile(p["zipapp"]):
        module.fail_json(msg="no fixenv zipapp at %s on this host" % p["zipapp"])
    fixenv = [interp, "-I", p["zipapp"]]
    if p["cache"]:  # the zipapp unpacked once per version, byte code kept (a venv's speed)
        os.environ["FIXENV_ZIPAPP_CACHE"] = p["cache"]
    target = ["--python", p["python"]] if p["python"] else []
    book = ["--playbook", p["playbook"]] if p["playbook"] else []

    version = zipapp_version(p["zipapp"])
    plan = run_json(module, fixenv + ["plan", "--json"] + target + book, PLAN_RC)
    pending = [s.get("id") for s in pending_steps(plan)]
    blocked = blocked_steps(plan)
    result = dict(plan=plan, pending=pending, version=version)
    if module._diff and pending:
        result["diff"] = plan_diff(plan)

    if module.check_mode or not pending:
        verify = run_json(module, fixenv + ["verify", "--json"] + target, VERIFY_RC)
        result.update(changed=bool(pending), verify=verify, ansible_facts=facts(plan, verify))
        if blocked:
            module.fail_json(msg=blocked_message(blocked), **result)
        if pending:  # check mode: changes are pending -- a plan, not a failure
            module.exit_json(msg="pending: %s (fixenv %s)" % (", ".join(pending), version),
                             **result)
        if not verify.get("ok"):
            module.fail_json(msg="nothing to change, but " + verify_failure(verify), **result)
        module.exit_json(msg="ok: nothing to change, verify ok (fixenv %s)" % version, **result)

    report = run_json(module, fixenv + ["apply", "--yes", "--json"] + target + book, APPLY_RC)
    summary = report.get("summary", {})
    verify = report.get("verify") or {"ok": False, "checks": []}
    steps = report.get("steps", [])
    changed_ids = [s.get("id") for s in steps if s.get("status") == "changed"]
    result.update(changed=int(summary.get("changed", 0)) > 0, apply=report, verify=verify,
                  ansible_facts=facts(plan, verify))
    failed = [s for s in steps if s.get("status") == "failed"]
    blocked = [s for s in steps if s.get("status") == "blocked"] or blocked
    if failed:
        s = failed[0]
        module.fail_json(msg="step %s failed: %s" % (s.get("id"), s.get("reason", ""))[:4000],
                         **result)
    if blocked:
        module.fail_json(msg=blocked_message(blocked)[:4000], **result)
    if report.get("interrupted"):
        module.fail_json(msg="fixenv apply was interrupted", **result)
    if not verify.get("ok"):
        module.fail_json(msg=verify_failure(verify)[:4000], **result)
    module.exit_json(msg="changed: %s; verify ok (fixenv %s)"
                     % (", ".join(changed_ids) or "nothing", version), **result)


if __name__ == "__main__":
    main()
