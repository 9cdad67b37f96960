"""Data files (playbooks, the verify probe source) as real paths, also from a zipapp.

fixenv reads its bundled files by path: the playbook loader opens them (and names
file:line:col in errors), and the verification hands the probe source to a compiler. In a
wheel or a checkout those files are on disk next to the code. When fixenv runs as a zipapp
(`python3 fixenv.pyz ...`, built by scripts/build-zipapp.sh) they are members of the archive,
so `real_dir()` extracts the directory once per process into a private temporary directory
that is removed at exit.
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import zipfile
from typing import Dict, Optional, Tuple

_extracted: Dict[str, str] = {}
_tmp: Optional[str] = None


def _inside_zip(path: str) -> Optional[Tuple[str, str]]:
    """(archive, member prefix) when `path` names a directory inside a zip archive."""
    probe = os.path.abspath(path)
    while not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            return None
        probe = parent
    if not os.path.isfile(probe) or not zipfile.is_zipfile(probe):
        return None
    inner = os.path.relpath(os.path.abspath(path), probe).replace(os.sep, "/")
    return probe, inner.rstrip("/") + "/"


def _scratch() -> str:
    global _tmp
    if _tmp is None:
        _tmp = tempfile.mkdtemp(prefix="fixenv-zipapp-")
        atexit.register(shutil.rmtree, _tmp, True)
    return _tmp


def real_dir(path: str) -> str:
    """`path` itself when it is on disk (or absent); a directory inside a zip archive is
    extracted (its files, recursively) and the extracted copy's path is returned."""
    if os.path.isdir(path):
        return path
    found = _inside_zip(path)
    if found is None:
        return path
    key = "%s!%s" % found
    if key in _extracted:
        return _extracted[key]
    archive, prefix = found
    dest = os.path.join(_scratch(), str(len(_extracted)), prefix.rstrip("/").replace("/", "_"))
    with zipfile.ZipFile(archive) as zf:
        for member in zf.namelist():
            if not member.startswith(prefix) or member.endswith("/"):
                continue
            rel = member[len(prefix):]
            parts = rel.split("/")
            if ".." in parts or "__pycache__" in parts:
                continue
            target = os.path.join(dest, *parts)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with zf.open(member) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)
    os.makedirs(dest, exist_ok=True)
    _extracted[key] = dest
    return dest
