#!/usr/bin/python
"""Ansible module: run fixenv on a host and report what its JSON says.

Check mode runs `fixenv plan --json` (changed = changes are pending) and a read-only
`fixenv verify --json`; a normal run runs `fixenv apply --yes --json` (changed = a step
changed something; failed = a step failed or the verification did not pass). The outcome
comes from fixenv's JSON, never from the command merely having run. The verification is
returned as facts: fixenv_verify (fixenv's verify JSON) and fixenv_verify_ok (bool).
"""
from __future__ import annotations

import json

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: fixenv
short_description: Make Python.h usable for a target Python with fixenv (plan/apply/verify)
description:
  - In check mode runs C(fixenv plan --json) and C(fixenv verify --json); changes nothing.
  - Otherwise runs C(fixenv apply --yes --json).
  - C(changed) and C(failed) come from fixenv's JSON (C(changes_pending), C(summary.changed),
    C(summary.failed), C(verify.ok)).
  - Sets the facts C(fixenv_verify) and C(fixenv_verify_ok).
options:
  executable:
    description: Path of the fixenv executable on the host.
    type: path
    default: /opt/fixenv/venv/bin/fixenv
  python:
    description: Target interpreter (fixenv's C(--python)); fixenv's default when empty.
    type: str
  playbook:
    description: A bundled playbook name or a path on the host (fixenv's C(--playbook)).
    type: str
"""

RETURN = r"""
plan: {description: fixenv plan JSON (check mode), returned: check mode, type: dict}
pending: {description: ids of the steps that would change something, returned: always, type: list}
summary: {description: fixenv apply's summary, returned: not check mode, type: dict}
steps: {description: fixenv apply's steps, returned: not check mode, type: list}
verify: {description: fixenv's verification JSON, returned: always, type: dict}
"""


def _json(module, argv, allowed_rc):
    """Run fixenv; return (rc, parsed stdout) or fail with fixenv's own error line."""
    rc, out, err = module.run_command(argv)
    data = None
    try:
        data = json.loads(out) if out.strip() else None
    except ValueError:
        data = None
    if rc not in allowed_rc or not isinstance(data, dict):
        module.fail_json(msg="`%s` exited %d: %s" % (" ".join(argv), rc,
                                                     (err.strip() or out.strip())[-2000:]),
                         rc=rc, stdout=out, stderr=err)
    return rc, data


def _facts(verify):
    return {"fixenv_verify": verify, "fixenv_verify_ok": bool(verify.get("ok"))}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            executable=dict(type="path", default="/opt/fixenv/venv/bin/fixenv"),
            python=dict(type="str", default=None),
            playbook=dict(type="str", default=None),
        ),
        supports_check_mode=True,
    )
    exe = module.params["executable"]
    target = ["--python", module.params["python"]] if module.params["python"] else []
    book = ["--playbook", module.params["playbook"]] if module.params["playbook"] else []

    if module.check_mode:
        _, plan = _json(module, [exe, "plan", "--json"] + target + book, (0,))
        pending = [s["id"] for s in plan.get("steps", []) if s.get("status") == "change"]
        # verify exits 1 when the check fails: that is an answer, not an error.
        _, verify = _json(module, [exe, "verify", "--json"] + target, (0, 1))
        result = dict(
            changed=bool(plan.get("changes_pending")), plan=plan, pending=pending,
            verify=verify, ansible_facts=_facts(verify),
            msg=("would change: %s" % ", ".join(pending)) if pending else "nothing to change",
        )
        if module._diff and pending:
            cmds = ["%s: %s" % (s["id"], " ".join(argv)) for s in plan["steps"]
                    if s.get("status") == "change" for argv in s.get("commands") or []]
            result["diff"] = {"prepared": "\n".join(cmds) + "\n"}
        module.exit_json(**result)

    rc, report = _json(module, [exe, "apply", "--yes", "--json"] + target + book, (0, 1))
    summary = report.get("summary", {})
    verify = report.get("verify") or {"ok": False}
    changed = int(summary.get("changed", 0)) > 0
    changed_ids = [s.get("id") for s in report.get("steps", []) if s.get("status") == "changed"]
    result = dict(changed=changed, rc=rc, summary=summary, steps=report.get("steps", []),
                  pending=[], verify=verify, ansible_facts=_facts(verify))
    if int(summary.get("failed", 0)) > 0 or not verify.get("ok"):
        failed = [s for s in report.get("steps", []) if s.get("status") == "failed"]
        if failed:
            why = "step %s failed: %s" % (failed[0].get("id"), failed[0].get("reason", ""))
        else:
            bad = [c for c in verify.get("checks", []) if not c.get("ok")]
            why = "verification failed: " + "; ".join(
                "%s: %s" % (c.get("name"), c.get("detail")) for c in bad)
        module.fail_json(msg=why[:2000], **result)
    result["msg"] = ("changed: %s" % ", ".join(changed_ids)) if changed else "nothing to change"
    module.exit_json(**result)


if __name__ == "__main__":
    main()
