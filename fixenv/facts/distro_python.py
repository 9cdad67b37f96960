"""`os.default_python`: the X.Y of the distribution's own python3, from a data file.

Rules need it to tell `python3-devel` (the default's) from `python3.X-devel` (any other);
the table is data (fixenv/data/distro-pythons.yaml), not code. Derived, never required of a
facts file. Looked up by release (exact, MAJOR.MINOR, MAJOR), then by code name (Debian
testing/unstable have no release number: "forky"). Returns None when the distribution or
release is not in the table.
"""
from __future__ import annotations

import functools
import os
from typing import Any, Dict, List, Mapping, Optional

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data",
                    "distro-pythons.yaml")


@functools.lru_cache(maxsize=None)
def table(path: str = DATA) -> Dict[str, Any]:
    import yaml

    with open(path, encoding="utf-8") as fh:
        # libyaml's parser where present: the pure-Python one costs ~5 ms of every plan
        data = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    return {"aliases": dict(data.get("aliases") or {}),
            "defaults": {str(k): {str(v): str(x) for v, x in (m or {}).items()}
                         for k, m in (data.get("defaults") or {}).items()}}


def _versions(version: str) -> List[str]:
    parts = version.split(".")
    out = [version]
    for n in (2, 1):
        if len(parts) >= n and ".".join(parts[:n]) not in out:
            out.append(".".join(parts[:n]))
    return [v for v in out if v]


def default_python(os_facts: Mapping[str, Any], path: str = DATA) -> Optional[str]:
    data = table(path)
    defaults, aliases = data["defaults"], data["aliases"]
    os_id = str(os_facts.get("id") or "")
    ids = [os_id, aliases.get(os_id, "")] + [str(x) for x in (os_facts.get("like") or [])]
    version = str(os_facts.get("version") or "")
    # No parsable version (Debian testing/unstable): the release's code name is its key.
    keys = _versions(version) if version else []
    codename = str(os_facts.get("codename") or "").strip().lower()
    if codename:
        keys.append(codename)
    for name in ids:
        name = aliases.get(name, name)
        if name in defaults:
            for v in keys:
                if v in defaults[name]:
                    return defaults[name][v]
            return None  # the distribution is known, this release is not: do not guess
    return None
