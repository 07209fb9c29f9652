"""A SQLite database shared by the reps of one Unix group on one server (``crm init --group``).

SQLite has no users: whoever may write the file may read and change all of it. What the
operating system can do is keep everyone outside the group out, and keep the file usable by
everyone inside it. That needs more than ``chmod g+rw crm.db``: in WAL mode every connection
also creates and writes ``crm.db-wal`` and ``crm.db-shm`` beside it, so

- the directory is the group's, group-writable and setgid (mode 2770): files created in it by
  any rep belong to the group, and nobody outside the group can even list it;
- the database file is mode 0660; SQLite gives the ``-wal`` and ``-shm`` files it creates the
  mode of the database file, whatever the rep's umask.

Because the directory's mode changes, it must hold nothing but the database. The README's
"Sharing one database" section says what this protects and what it cannot.
"""

from __future__ import annotations

import grp
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from crm_tui.store.db.engine import sqlite_path
from crm_tui.store.errors import UsageError

DIRECTORY_MODE = 0o2770
FILE_MODE = 0o660
SIDE_FILES = ("-wal", "-shm", "-journal")


@dataclass(frozen=True)
class GroupShare:
    """A database file, its directory and the Unix group that shares them."""

    database: Path
    group: str
    gid: int

    @property
    def directory(self) -> Path:
        return self.database.parent

    def files(self) -> list[Path]:
        """The database and those of its WAL, shared-memory and journal files that exist."""
        candidates = [self.database] + [Path(f"{self.database}{suffix}") for suffix in SIDE_FILES]
        return [path for path in candidates if path.exists()]

    def apply(self) -> None:
        """Give the directory and the existing files to the group with the modes above."""
        for path, mode in [(self.directory, DIRECTORY_MODE)] + [(f, FILE_MODE) for f in self.files()]:
            try:
                os.chown(path, -1, self.gid)
                os.chmod(path, mode)
            except PermissionError:
                raise UsageError(
                    f"You may not give {path} to the group {self.group}: you must own it and "
                    f"belong to the group (or run crm init as root)."
                ) from None

    def problems(self) -> list[str]:
        """What is wrong with the sharing now, as sentences (empty when all is well)."""
        found = []
        for path, mode in [(self.directory, DIRECTORY_MODE)] + [(f, FILE_MODE) for f in self.files()]:
            info = path.stat()
            if info.st_gid != self.gid:
                found.append(f"{path} belongs to the group {_group_name(info.st_gid)}, not {self.group}.")
            if stat.S_IMODE(info.st_mode) & mode != mode:
                found.append(f"{path} has mode {stat.S_IMODE(info.st_mode):o}, it needs {mode:o}.")
        return found


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def prepare_group_share(url: str, group: str) -> GroupShare:
    """Check ``url`` and ``group`` and make the database's directory the group's.

    Run before the database file is created, so that SQLite creates it inside a setgid
    directory; call ``GroupShare.apply()`` again afterwards for the files.
    """
    database = sqlite_path(url)
    if database is None:
        raise UsageError(
            "--group shares a SQLite database file; on PostgreSQL, crm init creates the role "
            "crm_users and `crm reps add` gives each rep a login role instead."
        )
    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError:
        raise UsageError(f"There is no Unix group {group!r} (create it with groupadd).") from None
    share = GroupShare(database, group, gid)
    directory = share.directory
    if directory.exists():
        allowed = {database.name} | {database.name + suffix for suffix in SIDE_FILES}
        others = sorted(entry.name for entry in directory.iterdir() if entry.name not in allowed)
        if others:
            raise UsageError(
                f"The directory {directory} holds other files ({', '.join(others[:3])}"
                f"{', ...' if len(others) > 3 else ''}): put a shared database in a directory of "
                "its own, since --group gives the whole directory to the group."
            )
    else:
        directory.mkdir(parents=True, mode=0o700)
    share.apply()
    return share
