"""One shared facts document for tests: `make_facts(**overrides)`.

The base is a Debian 12 machine with its system Python 3.11 and no headers, no compiler, run
as root: the raw shape `fixenv detect --json` writes and `plan --facts` accepts. Overrides
merge into the groups by name, e.g.

    make_facts(root=False, sudo=True)                       # privilege
    make_facts(python={"has_headers": True}, os={"id": "ubuntu", "version": "24.04"})
    make_facts(compilers={"cc": "/usr/bin/gcc", "cxx": "/usr/bin/g++"}, env={"CPATH": "/x"})

`validated=True` returns it through fixenv.facts.validate (derived fields filled in), as
`plan --facts FILE` would see it.
"""
from __future__ import annotations

import copy
from typing import Any, Dict, Mapping, Optional

BASE: Dict[str, Any] = {
    "os": {"system": "Linux", "id": "debian", "version": "12", "like": [], "arch": "x86_64"},
    "managers": ["apt"],
    "privilege": {"root": True, "sudo": False},
    "python": {"executable": "/usr/bin/python3.11", "version": "3.11.2",
               "implementation": "CPython", "abiflags": "", "prefix": "/usr",
               "base_prefix": "/usr", "in_venv": False, "include": "/usr/include/python3.11",
               "has_headers": False, "provider": "apt"},
    "compilers": {"cc": None, "cxx": None},
    "env": {"CPATH": None},
}


def make_facts(*, root: Optional[bool] = None, sudo: Optional[bool] = None,
               validated: bool = False, **groups: Any) -> Dict[str, Any]:
    facts = copy.deepcopy(BASE)
    if root is not None:
        facts["privilege"]["root"] = root
    if sudo is not None:
        facts["privilege"]["sudo"] = sudo
    for name, value in groups.items():
        if isinstance(value, Mapping) and isinstance(facts.get(name), dict):
            facts[name].update(copy.deepcopy(dict(value)))
        else:
            facts[name] = copy.deepcopy(value)
    if validated:
        from fixenv.facts import validate

        return validate(facts)
    return facts
