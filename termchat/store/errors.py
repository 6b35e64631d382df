"""The one error type the store raises, and the mapping from sqlite3 errors to it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from termchat.i18n import _

if TYPE_CHECKING:
    import sqlite3


class StoreError(Exception):
    """A store operation failed. The message is one line that names the file or value and the fix.

    `reason` is a stable machine-readable code for callers that react differently to faults:
    "full" (disk or database full), "locked" (busy after the busy timeout), "read_only",
    "corrupt" (not SQLite, truncated or malformed), "not_found", "ambiguous", "invalid",
    or "io" for any other failure.
    """

    def __init__(self, message: str, *, reason: str = "io", path: Path | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.path = path

    @property
    def retryable(self) -> bool:
        """True when the same write may succeed later without the user changing anything but space or locks."""
        return self.reason in {"full", "locked"}


def error_from_sqlite(error: sqlite3.Error, path: Path, action: str) -> StoreError:
    """Translate a sqlite3 error raised while doing `action` on the database at `path`.

    `action` is a short translated phrase such as "save the message".
    """
    # Imported here because the app imports StoreError before its first frame
    # and opens the database only after it.
    import sqlite3

    code = getattr(error, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(error).lower()

    if primary == sqlite3.SQLITE_FULL or "database or disk is full" in text:
        return StoreError(
            _("Could not {action}: the disk holding {path} is full. "
              "Free some space; termchat keeps unsaved text in memory and retries.").format(
                action=action, path=path
            ),
            reason="full",
            path=path,
        )
    if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "database is locked" in text:
        return StoreError(
            _("Could not {action}: the database {path} is locked by another program. "
              "Close other programs that use it; termchat retries on the next write.").format(
                action=action, path=path
            ),
            reason="locked",
            path=path,
        )
    if primary == sqlite3.SQLITE_READONLY or "readonly database" in text:
        return read_only_error(path)
    if primary in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT) or "not a database" in text or "malformed" in text:
        return corrupt_error(path)
    return StoreError(
        _("Could not {action} in {path}: {error}.").format(action=action, path=path, error=error),
        reason="io",
        path=path,
    )


def corrupt_error(path: Path) -> StoreError:
    return StoreError(
        _("The database {path} is not a readable SQLite file (wrong format, truncated or damaged). "
          "termchat left it untouched: move it aside or restore a backup, or use another "
          "folder with --data-dir.").format(path=path),
        reason="corrupt",
        path=path,
    )


def read_only_error(path: Path) -> StoreError:
    return StoreError(
        _("The database {path} is read-only. Make the file and its folder writable "
          "(for example chmod u+w), or use another folder with --data-dir.").format(path=path),
        reason="read_only",
        path=path,
    )
