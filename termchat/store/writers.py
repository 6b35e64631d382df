"""Identify the process that writes a streaming reply, and tell later whether it is gone."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Writer:
    """The process writing a reply: pid, host name, and start time in clock ticks after boot."""

    pid: int
    host: str
    started: int | None
    """From /proc/<pid>/stat on Linux, so a recycled pid is not mistaken for the writer. None elsewhere."""


def current_writer() -> Writer:
    pid = os.getpid()
    return Writer(pid=pid, host=socket.gethostname(), started=_process_start_ticks(pid))


def writer_is_gone(pid: int | None, host: str | None, started: int | None) -> bool:
    """Return True when the recorded writer process is certainly no longer running.

    A writer on another host cannot be checked, so it counts as running: a
    reply that it left `streaming` stays so until a process on that host
    opens the store. A row without a pid was written before the store
    recorded writers and counts as gone.
    """
    if pid is None:
        return True
    if host is not None and host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # The pid exists but belongs to another user.
    stat = _read_stat(pid)
    if stat is None:
        return False
    state, start_ticks = stat
    if state in {"Z", "X"}:
        return True  # Killed, only waiting for its parent to collect the exit status.
    return started is not None and start_ticks != started


def _process_start_ticks(pid: int) -> int | None:
    stat = _read_stat(pid)
    return stat[1] if stat is not None else None


def _read_stat(pid: int) -> tuple[str, int] | None:
    """Return the state letter and start time of `pid` from /proc, or None without /proc."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may contain spaces, so split after it.
    fields = text[text.rfind(")") + 2 :].split()
    try:
        return fields[0], int(fields[19])
    except (IndexError, ValueError):
        return None
