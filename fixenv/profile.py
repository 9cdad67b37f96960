"""Persist CPATH for new shells: /etc/profile.d/fixenv.sh as root, else a marked block in the
user's shell start-up files. Idempotent, atomic (fixenv/files.py), with a backup of the
user's original file, and removable (`fixenv reset` deletes the block, never the user's file).

Which files (non-root):
- sh/dash/ksh login: ~/.profile; bash login: also ~/.bash_profile or ~/.bash_login when one
  exists (bash then ignores ~/.profile)
- bash interactive: ~/.bashrc (when it exists or the login shell is bash)
- zsh:  ~/.zshenv (when it exists, zsh is the login shell, or zsh is installed)
- fish: ~/.config/fish/conf.d/fixenv.fish, a file of ours (when fish is there)

The snippet does not hard-code the final value: at shell start it puts our dirs first and
keeps the CPATH the session already has, minus empty elements (an empty element means
"the current directory"), duplicates and the stale dirs of another Python version. Sourcing
it twice (Debian's ~/.profile sources ~/.bashrc) changes nothing.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, List, Mapping, Optional, Sequence, Tuple

from fixenv.files import BACKUP_SUFFIX, atomic_write
from fixenv.model import FileEdit

SYSTEM_FILE = "/etc/profile.d/fixenv.sh"
SYSTEM_ZSH_DIR = "/etc/zsh"  # Debian/Ubuntu's global zshenv lives here
SYSTEM_FISH_DIR = "/etc/fish"
SYSTEM_FISH_FILE = "/etc/fish/conf.d/fixenv.fish"
BEGIN = "# >>> fixenv >>>"
END = "# <<< fixenv <<<"
HEADER = "# Added by fixenv: %s for the Python headers. Remove with `fixenv reset`."

# FileEdit.action values this module applies
WRITE = "write"        # the whole file is ours
BLOCK = "block"        # insert or replace our marked block, keep the rest
REMOVE = "remove"      # delete a file that is wholly ours
UNBLOCK = "unblock"    # remove our marked block, keep the rest


@dataclass(frozen=True)
class Target:
    path: str
    shell: str  # "sh" (POSIX sh, bash, zsh) or "fish"
    whole: bool  # the file is ours alone (profile.d, fish conf.d)


def _q(s: str) -> str:
    """Single-quote for sh and fish (paths are checked: no quotes or control characters)."""
    if "'" in s or "\\" in s or any(ord(c) < 32 for c in s):
        raise ValueError("refusing to write %r into a shell file" % s)
    return "'%s'" % s


def sh_block(var: str, dirs: Sequence[str], drop: Sequence[str] = ()) -> str:
    """POSIX sh (dash, bash, zsh, ksh): our dirs first, then the session's value cleaned."""
    skip = "|".join(["''"] + [_q(d) for d in drop])
    lines = [
        BEGIN,
        HEADER % var,
        "_fixenv_new=%s" % _q(":".join(dirs)),
        '_fixenv_rest="${%s-}"' % var,
        'while [ -n "$_fixenv_rest" ]; do',
        '  _fixenv_d="${_fixenv_rest%%:*}"',
        ('  case "$_fixenv_rest" in *:*) _fixenv_rest="${_fixenv_rest#*:}" ;; '
         '*) _fixenv_rest= ;; esac'),
        '  case "$_fixenv_d" in %s) continue ;; esac' % skip,
        '  case ":$_fixenv_new:" in *":$_fixenv_d:"*) continue ;; esac',
        '  _fixenv_new="${_fixenv_new:+$_fixenv_new:}$_fixenv_d"',
        "done",
        'if [ -n "$_fixenv_new" ]; then %s="$_fixenv_new"; export %s; else unset %s; fi'
        % (var, var, var),
        "unset _fixenv_new _fixenv_rest _fixenv_d",
        END,
    ]
    return "\n".join(lines) + "\n"


def fish_block(var: str, dirs: Sequence[str], drop: Sequence[str] = ()) -> str:
    """fish: CPATH ends in PATH, so fish keeps it as a list and exports it joined by ':'."""
    ours = " ".join(_q(d) for d in dirs)
    lines = [
        BEGIN,
        HEADER % var,
        "set -l _fixenv_new %s" % ours if dirs else "set -l _fixenv_new",
        "for _fixenv_d in $%s" % var,
        "    if test -n \"$_fixenv_d\"; and not contains -- $_fixenv_d $_fixenv_new%s" % (
            "".join(" " + _q(d) for d in drop)),
        "        set -a _fixenv_new $_fixenv_d",
        "    end",
        "end",
        "if set -q _fixenv_new[1]",
        "    set -gx %s $_fixenv_new" % var,
        "else",
        "    set -e %s" % var,
        "end",
        END,
    ]
    return "\n".join(lines) + "\n"


def block_for(shell: str, var: str, dirs: Sequence[str], drop: Sequence[str] = ()) -> str:
    return fish_block(var, dirs, drop) if shell == "fish" else sh_block(var, dirs, drop)


# ----------------------------------------------------------------------------- text edits

def find_block(text: str, begin: str = BEGIN, end_marker: str = END
               ) -> Optional[Tuple[int, int]]:
    """(start, end) offsets of a marked block (ours by default) including its trailing
    newline, or None."""
    start = text.find(begin)
    while start > 0 and text[start - 1] != "\n":  # the marker must start a line
        start = text.find(begin, start + 1)
        if start < 0:
            return None
    if start < 0:
        return None
    end = text.find(end_marker, start)
    if end < 0:
        return None
    end += len(end_marker)
    if text[end:end + 1] == "\n":
        end += 1
    return start, end


def insert_block(text: str, block: str) -> str:
    """Replace our block in place, or append it after a blank line. Idempotent."""
    found = find_block(text)
    if found:
        return text[:found[0]] + block + text[found[1]:]
    if not text:
        return block
    return text + ("\n" if text.endswith("\n") else "\n\n") + block


def remove_block(text: str) -> Tuple[str, bool]:
    """The text without our block (and without the blank line insert_block added)."""
    found = find_block(text)
    if not found:
        return text, False
    before, after = text[:found[0]], text[found[1]:]
    if before.endswith("\n\n"):
        before = before[:-1]  # the blank line insert_block put before the block
    return before + after, True


def read(path: str) -> Optional[str]:
    try:
        with open(path) as fh:
            return fh.read()
    except FileNotFoundError:
        return None


# ----------------------------------------------------------------------------- targets

def targets(*, root: bool, user: Mapping[str, Any]) -> List[Target]:
    """The start-up files that persist a variable for `user` (the `user` facts group)."""
    if root:
        # login shells of sh/bash/dash/ksh read /etc/profile.d; zsh and fish do not
        out_root = [Target(SYSTEM_FILE, "sh", True)]
        system = user.get("system") or {}
        if system.get("zsh"):
            out_root.append(Target(os.path.join(SYSTEM_ZSH_DIR, "zshenv"), "sh", False))
        if system.get("fish"):
            out_root.append(Target(SYSTEM_FISH_FILE, "fish", True))
        return out_root
    home = str(user["home"])
    shell = str(user.get("shell") or "")
    files = user.get("files") or {}
    shells = user.get("shells") or {}
    out: List[Target] = []
    # sh/dash/ksh login shells read ~/.profile; bash reads the first of ~/.bash_profile,
    # ~/.bash_login, ~/.profile, so when one of the first two exists it gets the block too.
    out.append(Target(os.path.join(home, ".profile"), "sh", False))
    for name in (".bash_profile", ".bash_login"):
        if files.get(name):
            out.append(Target(os.path.join(home, name), "sh", False))
            break
    if files.get(".bashrc") or shell == "bash":
        out.append(Target(os.path.join(home, ".bashrc"), "sh", False))
    if files.get(".zshenv") or shell == "zsh" or shells.get("zsh"):
        out.append(Target(os.path.join(user.get("zdotdir") or home, ".zshenv"), "sh", False))
    if files.get("fish") or shell == "fish" or shells.get("fish"):
        config = user.get("xdg_config_home") or os.path.join(home, ".config")
        out.append(Target(os.path.join(config, "fish", "conf.d", "fixenv.fish"), "fish", True))
    return out


def plan_edits(var: str, dirs: Sequence[str], drop: Sequence[str], *, root: bool,
               user: Mapping[str, Any], probe: bool = True) -> Tuple[List[FileEdit], bool]:
    """The edits that persist `var`, and whether every one is already in place (read from
    the files only when `probe`: planning for this machine, not from a facts file)."""
    edits: List[FileEdit] = []
    done = probe
    for t in targets(root=root, user=user):
        block = block_for(t.shell, var, dirs, drop)
        text = read(t.path) if probe else None
        if t.whole:
            edits.append(FileEdit(t.path, block, WRITE, root=root))
            done = done and text == block
        else:
            edits.append(FileEdit(t.path, block, BLOCK, root=root))
            done = done and text is not None and insert_block(text, block) == text
    return edits, done


def plan_removal(*, root: bool, user: Mapping[str, Any]) -> List[FileEdit]:
    """What `fixenv reset` removes: our whole files and our blocks, wherever they are."""
    home = str(user["home"])
    paths: List[Tuple[str, bool]] = []
    if root:
        paths += [(SYSTEM_FILE, True), (os.path.join(SYSTEM_ZSH_DIR, "zshenv"), False),
                  (SYSTEM_FISH_FILE, True)]
    # Also the user files (root may have run fixenv as a user too, e.g. with --rootless).
    for name in (".profile", ".bash_profile", ".bash_login", ".bashrc"):
        paths.append((os.path.join(home, name), False))
    paths.append((os.path.join(user.get("zdotdir") or home, ".zshenv"), False))
    paths.append((os.path.join(user.get("xdg_config_home") or os.path.join(home, ".config"),
                               "fish", "conf.d", "fixenv.fish"), True))
    out = []
    for path, whole in paths:
        text = read(path)
        if text is None or find_block(text) is None:
            continue
        if whole and not remove_block(text)[0].strip():
            out.append(FileEdit(path, "", REMOVE, root=root and path.startswith("/etc/")))
        else:
            out.append(FileEdit(path, remove_block(text)[0], UNBLOCK,
                                root=root and path.startswith("/etc/")))
    return out


def settle(edit: FileEdit) -> FileEdit:
    """The edit as a whole-file write computed from the file as it is now (planning on this
    machine): what apply and `--format shell` both carry out, guarded so that neither writes
    over a file that changed since. Whole-file writes and removals stay as they are."""
    if edit.action != BLOCK:
        return edit
    text = read(edit.path)
    new = insert_block(text or "", edit.content)
    pristine = text is not None and find_block(text) is None
    return FileEdit(edit.path, new, WRITE, edit.root, before=text, guarded=True,
                    backup=pristine)


class ChangedSincePlanned(OSError):
    """A guarded edit's file no longer holds what the plan was made from."""


def apply_edit(edit: FileEdit) -> Optional[str]:
    """Carry out one FileEdit (the engine calls this). Returns the backup path, if any.

    A backup (`<file>.fixenv-backup`) is made of the user's file as it was before fixenv
    first touched it; later rewrites of our own block keep that first backup.
    """
    if edit.action == WRITE:
        if edit.guarded:
            now = read(edit.path)
            if now != edit.before:
                raise ChangedSincePlanned(
                    "%s changed since the plan was made; plan again" % edit.path)
            if now == edit.content:
                return None
        return atomic_write(edit.path, edit.content, backup=edit.backup)
    text = read(edit.path)
    if edit.action == BLOCK:
        new = insert_block(text or "", edit.content)
        if new == text:
            return None
        pristine = text is not None and find_block(text) is None
        return atomic_write(edit.path, new, backup=pristine)
    if edit.action == UNBLOCK:
        if text is None:
            return None
        new, found = remove_block(text)
        if found:
            atomic_write(edit.path, new, backup=False)
        return None
    if edit.action == REMOVE:
        if text is not None:
            if edit.guarded:  # planned from the file as it was: delete only that file
                if text != edit.before:
                    raise ChangedSincePlanned(
                        "%s changed since the plan was made; plan again" % edit.path)
            elif find_block(text) is None or remove_block(text)[0].strip():
                raise OSError("%s is not wholly fixenv's: refusing to delete it" % edit.path)
            os.unlink(edit.path)
        return None
    raise ValueError("unknown file action %r" % edit.action)


def backup_path(path: str) -> str:
    return path + BACKUP_SUFFIX
