"""Which C and C++ compilers a build would use: $CC/$CXX first, as Inductor and Triton do."""
from __future__ import annotations

import os
import shlex
import shutil
from typing import Callable, Dict, Mapping, Optional

CC_NAMES = ("gcc", "cc", "clang")
CXX_NAMES = ("g++", "c++", "clang++")


def _from_env(value: Optional[str], which: Callable[[str], Optional[str]]) -> Optional[str]:
    if not value:
        return None
    try:
        words = shlex.split(value)
    except ValueError:
        return None
    if not words:
        return None
    # "ccache gcc": the compiler is the last word that names a program.
    for word in reversed(words):
        found = which(word) if os.sep not in word else (word if os.access(word, os.X_OK) else None)
        if found:
            return found
    return None


def detect_compilers(environ: Optional[Mapping[str, str]] = None,
                     which: Callable[[str], Optional[str]] = shutil.which
                     ) -> Dict[str, Optional[str]]:
    """{"cc": "/usr/bin/gcc" | None, "cxx": "/usr/bin/g++" | None}"""
    env = os.environ if environ is None else environ
    cc = _from_env(env.get("CC"), which)
    if cc is None:
        cc = next((p for p in (which(n) for n in CC_NAMES) if p), None)
    cxx = _from_env(env.get("CXX"), which)
    if cxx is None:
        cxx = next((p for p in (which(n) for n in CXX_NAMES) if p), None)
    return {"cc": cc, "cxx": cxx}
