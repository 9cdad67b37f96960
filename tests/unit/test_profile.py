"""Issue 4: persisting CPATH in shell start-up files (fixenv/profile.py).

Real files in tmp_path; the snippets are run by the real shells found on this machine."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from fixenv import profile
from fixenv.model import FileEdit

DIRS = ["/s/usr/include/python3.11", "/s/usr/include"]
OURS = ":".join(DIRS)
USER_TEXT = "# my profile\nexport EDITOR=vi\nPATH=\"$HOME/bin:$PATH\"\n"


# ----------------------------------------------------------------------------- the snippet


def test_refuses_quotes_in_paths():
    with pytest.raises(ValueError):
        profile.sh_block("CPATH", ["/a'b"], [])


# ----------------------------------------------------------------------------- text edits

BLOCK = profile.sh_block("CPATH", DIRS)


@pytest.mark.parametrize("text", ["", USER_TEXT, USER_TEXT + "\n", "no newline at end"])
def test_insert_is_idempotent_and_remove_restores(text):
    once = profile.insert_block(text, BLOCK)
    assert profile.insert_block(once, BLOCK) == once
    assert once.count(profile.BEGIN) == 1 and once.startswith(text)
    back, found = profile.remove_block(once)
    assert found
    assert back == (text if text.endswith("\n") or not text else text + "\n")


def test_replacing_the_block_keeps_content_around_it():
    text = profile.insert_block(USER_TEXT, BLOCK) + "alias ll='ls -l'\n"
    new_block = profile.sh_block("CPATH", ["/other"])
    new = profile.insert_block(text, new_block)
    assert new.startswith(USER_TEXT) and new.endswith("alias ll='ls -l'\n")
    assert new_block in new and BLOCK not in new
    assert profile.remove_block(new)[0] == USER_TEXT + "alias ll='ls -l'\n"


def test_remove_without_block_changes_nothing():
    assert profile.remove_block(USER_TEXT) == (USER_TEXT, False)


# ----------------------------------------------------------------------------- files

def test_block_edit_makes_one_backup_of_the_original_and_is_atomic(tmp_path):
    path = tmp_path / ".profile"
    path.write_text(USER_TEXT)
    path.chmod(0o600)
    inode = path.stat().st_ino
    backup = profile.apply_edit(FileEdit(str(path), BLOCK, profile.BLOCK))
    assert backup == str(path) + ".fixenv-backup"
    assert Path(backup).read_text() == USER_TEXT
    assert path.read_text() == USER_TEXT + "\n" + BLOCK
    assert path.stat().st_ino != inode  # replaced by rename, never written in place
    assert path.stat().st_mode & 0o777 == 0o600  # mode kept
    # a second run with other dirs: block replaced, the backup still holds the original
    profile.apply_edit(FileEdit(str(path), profile.sh_block("CPATH", ["/z"]), profile.BLOCK))
    assert Path(backup).read_text() == USER_TEXT
    assert path.read_text().count(profile.BEGIN) == 1
    # the same block again: nothing written at all
    mtime = path.stat().st_mtime_ns
    profile.apply_edit(FileEdit(str(path), profile.sh_block("CPATH", ["/z"]), profile.BLOCK))
    assert path.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in tmp_path.iterdir()) == [".profile", ".profile.fixenv-backup"]


def test_a_failed_write_leaves_the_original_and_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / ".bashrc"
    path.write_text(USER_TEXT)

    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        profile.apply_edit(FileEdit(str(path), BLOCK, profile.BLOCK))
    assert path.read_text() == USER_TEXT
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".fixenv-")]


def test_unblock_keeps_the_users_file_even_when_it_becomes_empty(tmp_path):
    path = tmp_path / ".zshenv"
    profile.apply_edit(FileEdit(str(path), BLOCK, profile.BLOCK))
    assert path.read_text() == BLOCK
    profile.apply_edit(FileEdit(str(path), "", profile.UNBLOCK))
    assert path.exists() and path.read_text() == ""


def test_remove_refuses_a_file_that_is_not_wholly_ours(tmp_path):
    path = tmp_path / "fixenv.fish"
    path.write_text("set -gx FOO bar\n" + BLOCK)
    with pytest.raises(OSError):
        profile.apply_edit(FileEdit(str(path), "", profile.REMOVE))
    assert path.exists()


def _env(tmp_path, shell="/bin/bash"):
    return {"HOME": str(tmp_path), "SHELL": shell, "PATH": "/nonexistent"}


def _user(tmp_path, shell="/bin/bash", shells=(), system=()):
    """The `user` facts of a home in tmp_path (detection reads the files there)."""
    from fixenv.facts.user import detect

    u = detect(_env(tmp_path, shell), root=False)
    u["shells"] = {"zsh": "zsh" in shells, "fish": "fish" in shells}
    u["system"] = {"zsh": "zsh" in system, "fish": "fish" in system}
    return u


def test_targets_for_a_user(tmp_path):
    t = profile.targets(root=False, user=_user(tmp_path, "/bin/sh"))
    assert [x.path for x in t] == [str(tmp_path / ".profile")]
    (tmp_path / ".bash_profile").write_text("")
    (tmp_path / ".bashrc").write_text("")
    t = profile.targets(root=False, user=_user(tmp_path, shells=("zsh", "fish")))
    assert [(os.path.relpath(x.path, str(tmp_path)), x.shell, x.whole) for x in t] == [
        (".profile", "sh", False), (".bash_profile", "sh", False), (".bashrc", "sh", False),
        (".zshenv", "sh", False),
        (".config/fish/conf.d/fixenv.fish", "fish", True)]


def test_targets_for_root(tmp_path, monkeypatch):
    from fixenv.facts import user as user_facts

    monkeypatch.setattr(profile, "SYSTEM_ZSH_DIR", str(tmp_path / "zsh"))
    monkeypatch.setattr(user_facts, "SYSTEM_ZSH_DIR", str(tmp_path / "zsh"))
    monkeypatch.setattr(user_facts, "SYSTEM_FISH_DIR", str(tmp_path / "fish"))
    monkeypatch.setattr(profile, "SYSTEM_FISH_FILE", str(tmp_path / "fish/conf.d/fixenv.fish"))
    root_user = lambda: user_facts.detect({"HOME": "/root"}, root=True)  # noqa: E731
    assert profile.targets(root=True, user=root_user()) == [
        profile.Target("/etc/profile.d/fixenv.sh", "sh", True)]
    (tmp_path / "zsh").mkdir()
    (tmp_path / "fish").mkdir()
    assert profile.targets(root=True, user=root_user())[1:] == [
        profile.Target(str(tmp_path / "zsh/zshenv"), "sh", False),
        profile.Target(str(tmp_path / "fish/conf.d/fixenv.fish"), "fish", True)]


def test_plan_apply_then_plan_says_done_and_reset_restores(tmp_path):
    (tmp_path / ".profile").write_text(USER_TEXT)
    (tmp_path / ".bashrc").write_text("# rc\n")
    user = _user(tmp_path)
    edits, done = profile.plan_edits("CPATH", DIRS, [], root=False, user=user)
    assert not done and [e.action for e in edits][:2] == ["block", "block"]
    for e in edits:
        profile.apply_edit(e)
    assert profile.plan_edits("CPATH", DIRS, [], root=False, user=user)[1] is True
    # planned from a facts file (probe=False) nothing is read: never "already done"
    assert profile.plan_edits("CPATH", DIRS, [], root=False, user=user, probe=False)[1] is False
    removal = profile.plan_removal(root=False, user=user)
    assert {e.path for e in removal} == {e.path for e in edits}
    for e in removal:
        profile.apply_edit(e)
    assert (tmp_path / ".profile").read_text() == USER_TEXT
    assert (tmp_path / ".bashrc").read_text() == "# rc\n"
    assert profile.plan_removal(root=False, user=user) == []
