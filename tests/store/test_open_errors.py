"""Database files that cannot be used: one-line StoreError naming the file, and the file left as it was."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from termchat.store import StoreError, open_store


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_database(path: Path, messages: int = 200) -> None:
    with open_store(path) as store:
        conversation = store.create_conversation("gpt2", {})
        for index in range(messages):
            store.add_message(conversation.id, "user", f"message {index} " + "padding " * 50)


def assert_rejected(path: Path, reason: str) -> StoreError:
    """Open `path`, expect StoreError with `reason`, and check that the file did not change."""
    before = digest(path)
    siblings = sorted(child.name for child in path.parent.iterdir())

    with pytest.raises(StoreError) as caught:
        open_store(path)

    message = str(caught.value)
    assert caught.value.reason == reason
    assert str(path) in message
    assert "\n" not in message
    assert digest(path) == before
    assert sorted(child.name for child in path.parent.iterdir()) == siblings
    return caught.value


@pytest.mark.parametrize(
    "content",
    [b"hello, this is a text file\n", b"x" * 5000, b"SQLite format 3\x00" + b"\xff" * 10, b"\x00" * 4096],
)
def test_not_sqlite(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "termchat.db"
    path.write_bytes(content)

    error = assert_rejected(path, "corrupt")

    assert "not a readable SQLite file" in str(error)
    assert "move it aside" in str(error)


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated(tmp_path: Path, keep: float) -> None:
    path = tmp_path / "termchat.db"
    make_database(path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])

    assert_rejected(path, "corrupt")


def test_damaged_pages_raise_store_error(tmp_path: Path) -> None:
    path = tmp_path / "termchat.db"
    make_database(path)
    data = bytearray(path.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    data[page_size : page_size * 6] = b"\xa5" * (page_size * 5)
    path.write_bytes(bytes(data))

    # Damage past the header may only show when a query reads those pages; either
    # way the caller sees a StoreError, never a raw sqlite3 error.
    with pytest.raises(StoreError) as caught:
        with open_store(path) as store:
            for conversation in store.list_conversations():
                store.messages(conversation.id)
            store.search("padding")

    assert caught.value.reason == "corrupt"


def test_read_only_mode_bits(tmp_path: Path) -> None:
    # Root can write a 0444 file anyway. The store checks the permission bits
    # itself, so this test exercises the same path whoever runs it.
    path = tmp_path / "termchat.db"
    make_database(path, messages=1)
    path.chmod(0o444)

    error = assert_rejected(path, "read_only")

    assert "read-only" in str(error)
    assert "chmod" in str(error)


@pytest.fixture
def immutable(tmp_path: Path) -> Iterator[list[Path]]:
    """Paths marked with `chattr +i`, which even root cannot write; cleared after the test."""
    marked: list[Path] = []
    yield marked
    for path in marked:
        subprocess.run(["chattr", "-i", str(path)], check=False, capture_output=True)


def set_immutable(path: Path, marked: list[Path]) -> None:
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not installed")
    result = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"chattr +i is not permitted here: {result.stderr.strip()}")
    marked.append(path)


def test_read_only_immutable_file(tmp_path: Path, immutable: list[Path]) -> None:
    # An immutable file is read-only for every user, root included, so this test
    # checks the same error path that a read-only file gives an ordinary user.
    path = tmp_path / "termchat.db"
    make_database(path, messages=1)
    set_immutable(path, immutable)

    assert_rejected(path, "read_only")


def test_read_only_folder(tmp_path: Path, immutable: list[Path]) -> None:
    folder = tmp_path / "data"
    path = folder / "termchat.db"
    make_database(path, messages=1)
    set_immutable(folder, immutable)

    with pytest.raises(StoreError) as caught:
        open_store(path)

    assert caught.value.reason == "read_only"
    assert str(folder) in str(caught.value)


def test_folder_is_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("not a folder")

    with pytest.raises(StoreError) as caught:
        open_store(blocker / "termchat.db")

    assert str(blocker) in str(caught.value)
    assert blocker.read_text() == "not a folder"


def test_database_path_is_folder(tmp_path: Path) -> None:
    path = tmp_path / "termchat.db"
    path.mkdir()

    with pytest.raises(StoreError) as caught:
        open_store(path)

    assert caught.value.reason == "invalid"
    assert path.is_dir()


def test_default_path_follows_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERMCHAT_HOME", str(tmp_path / "home"))

    with open_store() as store:
        assert store.path == (tmp_path / "home" / "termchat.db").resolve()
        assert store.connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.connection.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert store.connection.execute("PRAGMA busy_timeout").fetchone()[0] == 10_000

    assert (tmp_path / "home" / "termchat.db").is_file()
