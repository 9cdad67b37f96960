"""Step kinds: one module each, a literal registry.

A kind module provides:
  KEYS: the step keys it accepts besides id/kind/name/when/unless/ok_reason
  validate(raw, ctx, keypath) -> spec   (load time; raise ctx.error(...) on bad input)
  plan(step, facts, runner, pctx) -> PlannedStep   (read-only queries only)
"""
from __future__ import annotations

from types import ModuleType
from typing import Dict

from fixenv.kinds import buildenv, command, env, packages, rootless, verify

KINDS: Dict[str, ModuleType] = {
    "packages": packages,
    "env": env,
    "command": command,
    "verify": verify,
    "rootless": rootless,
    "buildenv": buildenv,
}
