"""`fixenv env`, `fixenv exec`, `fixenv reset`: use, or undo, the CPATH fixenv computes.

- env:   print what to `eval` in this shell (sh/bash/zsh or fish syntax).
- exec:  run one command with the fixed CPATH (through the runner; its exit code is ours).
- reset: remove what fixenv wrote (marked profile blocks, /etc/profile.d/fixenv.sh, the
         rootless sysroot). A user's file is never deleted, only our block taken out of it.
"""
from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence

from fixenv import cpath, errors, profile, rootless
from fixenv.commands.core import echo
from fixenv.runner import RecordingRunner, Runner

SHELLS = ("sh", "bash", "zsh", "ksh", "dash", "fish")


def _facts(python: Optional[str]) -> Mapping[str, Any]:
    from fixenv.facts import gather

    return gather(RecordingRunner(), python)


def _group(python: Optional[str]) -> Mapping[str, Any]:
    return _facts(python)["cpath"]


def _buildenv(facts: Mapping[str, Any]) -> Dict[str, str]:
    """The build-env step's variables (CC/CXX, TMPDIR, cache dirs) a new shell gets."""
    from fixenv.kinds.buildenv import env_after

    return dict(env_after(facts))


def fixed_value(group: Mapping[str, Any], current: Optional[str]) -> Optional[str]:
    """The CPATH to use now: our dirs that exist, then `current` cleaned."""
    have = [d for d in group["dirs"] if os.path.isdir(d)]
    return cpath.merge(have, current, group["stale"]) or None


def shell_lines(shell: str, var: str, value: Optional[str]) -> List[str]:
    if shell == "fish":
        if not value:
            return ["set -e %s" % var]
        return ["set -gx %s %s" % (var, " ".join(profile._q(d) for d in value.split(":")))]
    if not value:
        return ["unset %s" % var]
    return ["export %s=%s" % (var, profile._q(value))]


def _shell(shell: Optional[str]) -> str:
    from fixenv.facts.user import detect

    name = shell or detect()["shell"] or "sh"
    if name not in SHELLS:
        if shell:
            raise errors.UsageError("--shell %s: choose bash, zsh, fish or sh" % shell)
        name = "sh"
    return name


def env_command(python: Optional[str] = None, shell: Optional[str] = None, unset: bool = False,
                as_json: bool = False, *, settings: Any = None) -> int:
    sh = _shell(shell)
    facts = _facts(python)
    group = facts["cpath"]
    current = group["current"]  # the facts' CPATH: this shell's
    if unset:
        value = cpath.remove(group["dirs"], current)
        note = None
    else:
        value = fixed_value(group, current)
        missing = [d for d in group["dirs"] if not os.path.isdir(d)]
        note = ("%s does not exist yet: run `fixenv apply` first" % ", ".join(missing)
                if missing else None if group["needed"] or value != current
                else "CPATH %s" % group["reason"])
    lines = shell_lines(sh, cpath.VAR, value)
    extra = {} if unset else _buildenv(facts)
    for var in sorted(extra):
        lines += shell_lines(sh, var, extra[var])
    if as_json:
        echo(json.dumps({"var": cpath.VAR, "value": value, "shell": sh, "lines": lines,
                               "needed": group["needed"], "dirs": group["dirs"],
                               "stale": group["stale"], "note": note, "also": extra}, indent=2))
        return errors.OK
    if note:
        echo("# fixenv: " + note, err=True)
    echo("\n".join(lines))
    return errors.OK


def exec_command(python: Optional[str] = None, args: Sequence[str] = (), *,
                 settings: Any = None) -> int:
    argv = list(args)
    if not argv:
        raise errors.UsageError("nothing to run", hint="fixenv exec -- python train.py")
    facts = _facts(python)
    group = facts["cpath"]
    value = fixed_value(group, group["current"])
    env: Dict[str, Any] = {cpath.VAR: value}  # None unsets it
    env.update(_buildenv(facts))  # what a new shell has after apply: CC/CXX, TMPDIR, caches
    return Runner().passthrough(argv, env=env)


def reset_command(keep_sysroot: bool = False, as_json: bool = False, *,
                  settings: Any = None) -> int:
    from fixenv.facts.user import detect, variable

    root = hasattr(os, "geteuid") and os.geteuid() == 0
    user = detect(root=root)  # reset acts on this machine: detect its user
    done: List[Dict[str, str]] = []
    from fixenv.kinds import buildenv  # its own block: CC/CXX, TMPDIR and cache dirs

    for edit in profile.plan_removal(root=root, user=user) + buildenv.plan_removal(root, user):
        try:
            profile.apply_edit(edit)
        except OSError as exc:
            raise errors.StepFailed("could not edit %s: %s (it is unchanged)"
                                    % (edit.path, exc.strerror or exc)) from None
        done.append({"path": edit.path, "action": edit.action})
    sysroot = str(user["sysroot"])
    removed_sysroot = None
    if not keep_sysroot and rootless.remove_sysroot(sysroot):
        removed_sysroot = sysroot
    if as_json:
        echo(json.dumps({"removed": done, "sysroot_removed": removed_sysroot}, indent=2))
        return errors.OK
    words = {profile.REMOVE: "deleted", profile.UNBLOCK: "removed the fixenv block from",
             profile.WRITE: "removed the fixenv block from"}
    for d in done:
        echo("%s %s" % (words.get(d["action"], d["action"]), d["path"]))
    if removed_sysroot:
        echo("deleted the rootless headers in %s" % removed_sysroot)
    if not done and not removed_sysroot:
        echo("nothing to reset: fixenv wrote no CPATH setting here")
    elif variable(cpath.VAR):
        echo("new shells start without it; for this one: eval \"$(fixenv env --unset)\"",
             err=True)
    return errors.OK
