"""Edit files safely: atomic replace (temp file + rename in the same directory), a backup of
the previous content, and never a half-written file.

- The new content goes to a temp file beside the target, is flushed and fsync'ed, then
  renamed over it: a reader sees the old file or the new one, never a mix. If anything fails
  (read-only directory, disk full, Ctrl-C), the temp file is removed and the original is
  untouched.
- The backup is written the same way (temp + rename), so a backup that fails half-way never
  replaces an earlier good backup.
- A symlinked file (dotfiles kept in a repository) is edited where it points; the link stays.
- The file keeps its permission bits and, when root edits it, its owner.
"""
from __future__ import annotations

import os
from typing import Optional

BACKUP_SUFFIX = ".fixenv-backup"


def _write_new(directory: str, data: bytes, mode: int, like: Optional[os.stat_result]) -> str:
    """A fsync'ed temp file in `directory` holding `data`; the caller renames or removes it."""
    import tempfile  # here: planning imports this module and never writes

    fd, tmp = tempfile.mkstemp(prefix=".fixenv-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        if like is not None and hasattr(os, "geteuid") and os.geteuid() == 0:
            os.chown(tmp, like.st_uid, like.st_gid)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return tmp


def _replace(tmp: str, path: str) -> None:
    try:
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def atomic_write(path: str, content: str, *, backup: bool = True, mode: Optional[int] = None) -> \
        Optional[str]:
    """Write `content` to `path` atomically. Returns the backup path when one was made."""
    if os.path.islink(path):
        path = os.path.realpath(path)  # edit the file the link points to; keep the link
    directory = os.path.dirname(os.path.abspath(path)) or "."
    os.makedirs(directory, exist_ok=True)
    backup_path = None
    existing = None
    if os.path.exists(path):
        existing = os.stat(path)
        if backup:
            backup_path = path + BACKUP_SUFFIX
            with open(path, "rb") as fh:
                old = fh.read()
            _replace(_write_new(directory, old, existing.st_mode & 0o7777, existing),
                     backup_path)
    new_mode = mode if mode is not None else (
        existing.st_mode & 0o7777 if existing is not None else 0o644)
    _replace(_write_new(directory, content.encode("utf-8"), new_mode, existing), path)
    return backup_path
