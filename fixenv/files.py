"""Edit files safely: atomic replace (temp file + rename in the same directory), a backup of
the previous content, and never a half-written file."""
from __future__ import annotations

import os
import shutil
import tempfile
from typing import Optional

BACKUP_SUFFIX = ".fixenv-backup"


def atomic_write(path: str, content: str, *, backup: bool = True, mode: Optional[int] = None) -> \
        Optional[str]:
    """Write `content` to `path` atomically. Returns the backup path when one was made."""
    directory = os.path.dirname(os.path.abspath(path)) or "."
    os.makedirs(directory, exist_ok=True)
    backup_path = None
    existing_mode = None
    if os.path.exists(path):
        existing_mode = os.stat(path).st_mode & 0o7777
        if backup:
            backup_path = path + BACKUP_SUFFIX
            shutil.copy2(path, backup_path)
    fd, tmp = tempfile.mkstemp(prefix=".fixenv-", dir=directory)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode if mode is not None else (existing_mode or 0o644))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return backup_path
