"""The fact paths playbooks may name in `when:` and `{{ }}` (checked when a playbook loads)."""
from __future__ import annotations

import re
from typing import Dict, Set

KNOWN: Dict[str, Set[str]] = {
    "os": {"system", "id", "version", "like", "codename", "arch", "family", "major",
           "default_python"},
    "privilege": {"root", "sudo"},
    "python": {"executable", "realpath", "base_executable", "version", "implementation",
               "abiflags", "prefix", "base_prefix", "in_venv", "include", "sysconfig_include",
               "has_headers", "include_candidates", "ext_suffix", "multiarch", "gil_disabled",
               "platform", "provider", "provider_detail", "major", "minor", "xy", "xy_nodot",
               "debug", "freethreaded"},
    "compilers": {"cc", "cxx"},
    "cpath": {"needed", "dirs", "value", "current", "stale", "empty_elements", "headers_dir",
              "rootless", "rootless_forced", "sysroot", "reason"},  # fixenv/cpath.py
}
TOP_LEVEL: Set[str] = {"managers", "system_manager"}
_ENV = re.compile(r"^env\.[A-Z_][A-Z0-9_]*$")


def is_known(path: str) -> bool:
    if path in TOP_LEVEL or _ENV.match(path):
        return True
    head, _, rest = path.partition(".")
    if head not in KNOWN:
        return False
    if not rest:
        return True
    return rest in KNOWN[head]
