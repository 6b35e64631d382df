"""Checks on the database file and its folder before SQLite opens them.

SQLite would open a read-only file in read-only mode without saying so, and
reports a truncated file only when a query reaches the missing pages. These
checks turn both into a clear StoreError at start-up. They only read: the
file is never changed, moved or deleted.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from termchat.i18n import _
from termchat.store.errors import StoreError, corrupt_error, read_only_error

_SQLITE_MAGIC = b"SQLite format 3\x00"
_HEADER_SIZE = 100


def prepare_folder(folder: Path) -> None:
    """Create the database folder if needed, and raise StoreError if that fails or the folder is not writable."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StoreError(
            _("Could not create the data folder {folder}: {error}. Choose another folder "
              "with --data-dir or TERMCHAT_HOME.").format(folder=folder, error=error.strerror or error),
            reason="io",
            path=folder,
        ) from error
    if not os.access(folder, os.W_OK):
        # SQLite creates its -wal and -shm files next to the database.
        raise StoreError(
            _("The data folder {folder} is read-only. Make it writable, or choose another "
              "folder with --data-dir or TERMCHAT_HOME.").format(folder=folder),
            reason="read_only",
            path=folder,
        )


def check_database_file(path: Path) -> None:
    """Raise StoreError if `path` exists but is not a writable, complete SQLite database.

    A missing or empty file passes: SQLite creates the database in it.
    A file whose write permission bits are all clear counts as read-only even
    for root, who could write it anyway, because someone marked it so on purpose.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    except OSError as error:
        raise StoreError(
            _("Could not read the database {path}: {error}.").format(path=path, error=error.strerror or error),
            reason="io",
            path=path,
        ) from error

    if not stat.S_ISREG(info.st_mode):
        raise StoreError(
            _("The database path {path} is not a regular file. Move it aside or use another "
              "folder with --data-dir.").format(path=path),
            reason="invalid",
            path=path,
        )
    if info.st_size == 0:
        return
    if info.st_mode & 0o222 == 0 or not os.access(path, os.W_OK):
        raise read_only_error(path)

    try:
        with path.open("rb") as file:
            header = file.read(_HEADER_SIZE)
    except OSError as error:
        raise StoreError(
            _("Could not read the database {path}: {error}.").format(path=path, error=error.strerror or error),
            reason="io",
            path=path,
        ) from error
    if len(header) < _HEADER_SIZE or not header.startswith(_SQLITE_MAGIC):
        raise corrupt_error(path)
    if _header_size_in_bytes(header) > info.st_size and not _has_write_ahead_log(path):
        raise corrupt_error(path)


def _header_size_in_bytes(header: bytes) -> int:
    """Return the database size that the file header records, or 0 when the header field is not valid.

    The page count at offset 28 is valid only when the change counter at
    offset 24 equals the "version-valid-for" number at offset 92 (SQLite file
    format, section 1.3). A page size of 1 at offset 16 means 65536.
    """
    page_size = int.from_bytes(header[16:18], "big")
    if page_size == 1:
        page_size = 65536
    page_count = int.from_bytes(header[28:32], "big")
    if header[24:28] != header[92:96]:
        return 0
    return page_size * page_count


def _has_write_ahead_log(path: Path) -> bool:
    # Pages may still sit in the -wal file before a checkpoint copies them into
    # the database, so the size check is skipped while a log exists.
    wal = path.with_name(path.name + "-wal")
    try:
        return wal.stat().st_size > 0
    except OSError:
        return False
