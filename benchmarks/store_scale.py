"""Measure the store at scale against the raw sqlite3 queries that return the same rows.

Builds a database with 5,000 conversations of 4 messages and one conversation
of 10,000 messages, one message in ten written in Chinese, then times these
calls, each next to the raw query:

- listing the 50 conversations with the most recent activity,
- opening the 10,000-message conversation (the conversation and all its messages),
- a full-text search over all messages (50 best matches with snippets),
- Chinese searches: a 4-character word (trigram index), a 2-character word
  (scan from the newest message) and a 2-character word found nowhere
  (scan of every message).

Each timing is the median of --repeat runs after one warm-up run. The
termchat call and the raw query run alternately, so that load from other
processes affects both alike. The script checks that both sides return the
same rows and exits with status 1 when a termchat call takes more than
--max-ratio times the raw query.

Listing is also timed cold: the first call in a new process, --cold-runs
processes per side, which have both imported termchat.store and opened the
database, so only the timed call differs.

    PYTHONPATH=. python benchmarks/store_scale.py [--repeat 15] [--cold-runs 15] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from termchat.store import Store, open_store
from termchat.store.rows import clear_settings_cache, metadata_parameters

SEARCH_WORD = "walrus"
"""Planted in about 2% of messages, so the search ranks a few hundred matches."""

CHINESE_WORD = "北京旅游"
"""Planted in about 20% of the Chinese messages."""

CHINESE_SHORT_WORD = "旅游"
CHINESE_MISSING_WORD = "龍龜"
"""Two characters outside the range that Chinese messages are drawn from, so no message contains them."""

LIST_SQL = ("SELECT id, title, created_at, updated_at, model, settings, message_count FROM conversations "
            "ORDER BY updated_at DESC, id LIMIT 50")

# Runs in a new process: `store` or `raw` lists the conversations once and prints the seconds it took.
# Both sides import the store and open the database first. With `collect`,
# gc.collect() runs before the timed call, so a garbage collection cycle that
# the allocations of the imports bring due cannot fall into one side's call only.
COLD_SCRIPT = f"""
import gc, sqlite3, sys, time
from termchat.store import open_store
store = open_store(sys.argv[1])
raw = sqlite3.connect(sys.argv[1], isolation_level=None)
raw.execute("SELECT 1 FROM conversations LIMIT 0").fetchall()
if sys.argv[3] == "collect":
    gc.collect()
start = time.perf_counter()
if sys.argv[2] == "store":
    store.list_conversations(50)
else:
    raw.execute({LIST_SQL!r}).fetchall()
print(time.perf_counter() - start)
"""


def build_database(store: Store, conversations: int, long_messages: int, seed: int) -> str:
    """Fill the store through its schema and triggers, and return the id of the long conversation.

    Rows go in through one raw transaction, because 30,000 separate commits
    would measure the disk, not the store. The triggers still keep the
    message counts and the full-text index in step.
    """
    rng = random.Random(seed)
    vocabulary = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))
                  for _ in range(3000)]
    default_settings = {"temperature": 0.7, "top_k": 50, "top_p": 0.95, "max_new_tokens": 256,
                        "repetition_penalty": 1.1, "seed": None, "system_prompt": ""}

    def conversation_settings() -> dict[str, Any]:
        # Most conversations keep the defaults; about one in five changes a few settings.
        if rng.random() < 0.8:
            return dict(default_settings)
        return dict(default_settings, temperature=round(rng.uniform(0.1, 1.5), 2),
                    max_new_tokens=rng.choice([64, 128, 512]), seed=rng.randrange(1000),
                    system_prompt=rng.choice(["", "Be brief.", "Answer in French."]))

    def reply_metadata(settings: dict[str, Any]) -> dict[str, Any]:
        # The engine's ReplyMetadata.to_dict() plus the settings used, as the chat app saves it.
        tokens_out = rng.randint(5, 256)
        return {"tokens_in": rng.randint(10, 900), "tokens_out": tokens_out,
                "time_to_first_token": rng.uniform(0.05, 0.8), "tokens_per_second": rng.uniform(8.0, 40.0),
                "stop_reason": rng.choice(["eos", "length", "turn_marker", "cancelled"]),
                "turns_dropped": rng.choice([0, 0, 0, 2]), "context_size": 1024, "error": None,
                "settings": settings}

    # Chinese words of 1 to 3 characters from the first 3,000 CJK ideographs,
    # which contain 北 and 京 but not 旅, 游, 龍 or 龜.
    chinese_vocabulary = ["".join(chr(0x4E00 + rng.randrange(3000)) for _ in range(rng.randint(1, 3)))
                          for _ in range(3000)]

    def sentence() -> str:
        if rng.random() < 0.1:
            chinese = rng.choices(chinese_vocabulary, k=rng.randint(8, 40))
            if rng.random() < 0.2:
                chinese[rng.randrange(len(chinese))] = CHINESE_WORD
            return "".join(chinese) + "。"
        words = rng.choices(vocabulary, k=rng.randint(8, 60))
        if rng.random() < 0.02:
            words[rng.randrange(len(words))] = SEARCH_WORD
        return " ".join(words)

    now = 1_700_000_000.0
    connection = store.connection
    connection.execute("BEGIN IMMEDIATE")
    long_id = uuid.uuid4().hex
    plans = [(uuid.uuid4().hex, 4) for _ in range(conversations)]
    plans.insert(conversations // 2, (long_id, long_messages))
    for conversation_id, count in plans:
        now += 1.0
        settings = conversation_settings()
        connection.execute(
            "INSERT INTO conversations (id, title, created_at, updated_at, model, settings) VALUES (?, ?, ?, ?, ?, ?)",
            (conversation_id, sentence()[:60], now, now, "gpt2", json.dumps(settings)),
        )
        rows = []
        for index in range(count):
            now += 0.001
            role = "user" if index % 2 == 0 else "assistant"
            metadata = reply_metadata(settings) if role == "assistant" else None
            rows.append((conversation_id, role, sentence(), now, "complete", *metadata_parameters(metadata)))
        connection.executemany(
            "INSERT INTO messages (conversation_id, role, content, created_at, status, metadata, metadata_keys, "
            "tokens_in, tokens_out, time_to_first_token, tokens_per_second, stop_reason, turns_dropped, "
            "context_size, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        connection.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id))
    connection.execute("COMMIT")
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.execute("ANALYZE")
    return long_id


def median_seconds(call: Callable[[], Any], repeat: int) -> float:
    call()
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def paired_median_seconds(first: Callable[[], Any], second: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Time the two calls alternately and return both medians, so a change in machine load affects both alike."""
    first()
    second()
    first_timings = []
    second_timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        first()
        first_timings.append(time.perf_counter() - start)
        start = time.perf_counter()
        second()
        second_timings.append(time.perf_counter() - start)
    return statistics.median(first_timings), statistics.median(second_timings)


def machine_description() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{model}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}")


def cold_list_seconds(database: Path, runs: int, collect: bool) -> tuple[float, float]:
    """Run COLD_SCRIPT in new processes, alternating termchat and raw, and return both medians in seconds."""
    timings: dict[str, list[float]] = {"store": [], "raw": []}
    environment = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    for _ in range(runs):
        for side, side_timings in timings.items():
            result = subprocess.run(
                [sys.executable, "-c", COLD_SCRIPT, str(database), side, "collect" if collect else "keep"],
                capture_output=True, text=True, check=True, env=environment,
            )
            side_timings.append(float(result.stdout))
    return statistics.median(timings["store"]), statistics.median(timings["raw"])


def run(folder: Path, conversations: int, long_messages: int, repeat: int, max_ratio: float, cold_runs: int) -> bool:
    database = folder / "termchat.db"
    store = open_store(database)
    start = time.perf_counter()
    long_id = build_database(store, conversations, long_messages, seed=1)
    build_seconds = time.perf_counter() - start
    raw = sqlite3.connect(database, isolation_level=None)
    size_mb = database.stat().st_size / 1e6

    conversation_columns = "id, title, created_at, updated_at, model, settings, message_count"
    message_columns = ("id, conversation_id, role, content, created_at, status, metadata, metadata_keys, "
                       "tokens_in, tokens_out, time_to_first_token, tokens_per_second, stop_reason, "
                       "turns_dropped, context_size, error")
    match = f'"{SEARCH_WORD}"'

    def raw_list() -> list[tuple[Any, ...]]:
        return raw.execute(LIST_SQL).fetchall()

    def raw_open() -> list[tuple[Any, ...]]:
        raw.execute(f"SELECT {conversation_columns} FROM conversations WHERE id = ?", (long_id,)).fetchone()
        return raw.execute(
            f"SELECT {message_columns} FROM messages WHERE conversation_id = ? ORDER BY id", (long_id,)
        ).fetchall()

    def raw_search() -> list[tuple[Any, ...]]:
        return raw.execute(
            f"SELECT {', '.join('m.' + name.strip() for name in message_columns.split(','))}, "
            "c.id, c.title, c.created_at, c.updated_at, c.model, c.settings, c.message_count, "
            "snippet(messages_fts, 0, '**', '**', '…', 16) "
            "FROM messages_fts JOIN messages AS m ON m.id = messages_fts.rowid "
            "JOIN conversations AS c ON c.id = m.conversation_id "
            "WHERE messages_fts MATCH ? ORDER BY rank, m.id DESC LIMIT 50",
            (match,),
        ).fetchall()

    def raw_chinese_search() -> list[tuple[Any, ...]]:
        return raw.execute(
            f"SELECT {', '.join('m.' + name.strip() for name in message_columns.split(','))}, "
            "c.id, c.title, c.created_at, c.updated_at, c.model, c.settings, c.message_count, "
            "snippet(messages_cjk_fts, 0, '**', '**', '…', 16) "
            "FROM messages_cjk_fts JOIN messages AS m ON m.id = messages_cjk_fts.rowid "
            "JOIN conversations AS c ON c.id = m.conversation_id "
            "WHERE messages_cjk_fts MATCH ? ORDER BY rank, m.id DESC LIMIT 50",
            (f'"{CHINESE_WORD}"',),
        ).fetchall()

    def raw_scan(word: str) -> Callable[[], list[tuple[Any, ...]]]:
        def scan() -> list[tuple[Any, ...]]:
            return raw.execute(
                f"SELECT {', '.join('m.' + name.strip() for name in message_columns.split(','))}, "
                "c.id, c.title, c.created_at, c.updated_at, c.model, c.settings, c.message_count "
                "FROM messages AS m JOIN conversations AS c ON c.id = m.conversation_id "
                "WHERE instr(m.content, ?) > 0 ORDER BY m.id DESC LIMIT 50",
                (word,),
            ).fetchall()
        return scan

    def same_hits(ours: list[Any], theirs: list[tuple[Any, ...]]) -> bool:
        return [hit.message.id for hit in ours] == [row[0] for row in theirs]

    def store_open() -> list[Any]:
        store.get_conversation(long_id)
        return store.messages(long_id)

    cases = [
        ("list the 50 most recent conversations", lambda: store.list_conversations(50), raw_list,
         lambda ours, theirs: [c.id for c in ours] == [row[0] for row in theirs]),
        (f"open the {long_messages:,}-message conversation", store_open, raw_open,
         lambda ours, theirs: [(m.id, m.content) for m in ours] == [(row[0], row[3]) for row in theirs]),
        (f"search all messages for '{SEARCH_WORD}' (50 hits)", lambda: store.search(SEARCH_WORD), raw_search,
         lambda ours, theirs: [(h.message.id, h.snippet) for h in ours] == [(row[0], row[-1]) for row in theirs]),
        (f"search for '{CHINESE_WORD}' (trigram index, 50 hits)", lambda: store.search(CHINESE_WORD),
         raw_chinese_search, same_hits),
        (f"search for '{CHINESE_SHORT_WORD}' (scan from the newest, 50 hits)",
         lambda: store.search(CHINESE_SHORT_WORD), raw_scan(CHINESE_SHORT_WORD), same_hits),
        (f"search for '{CHINESE_MISSING_WORD}' (scan of every message, no hit)",
         lambda: store.search(CHINESE_MISSING_WORD), raw_scan(CHINESE_MISSING_WORD), same_hits),
    ]

    total_messages = raw.execute("SELECT count(*) FROM messages").fetchone()[0]
    matches = raw.execute("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH ?", (match,)).fetchone()[0]
    chinese_messages = raw.execute("SELECT count(*) FROM messages_cjk_fts").fetchone()[0]
    chinese_matches = raw.execute(
        "SELECT count(*) FROM messages_cjk_fts WHERE messages_cjk_fts MATCH ?", (f'"{CHINESE_WORD}"',)
    ).fetchone()[0]
    print(f"Machine: {machine_description()}")
    print(f"Database: {conversations + 1:,} conversations, {total_messages:,} messages, {size_mb:.1f} MB, "
          f"built in {build_seconds:.1f} s; '{SEARCH_WORD}' is in {matches:,} messages; "
          f"{chinese_messages:,} messages are Chinese, {chinese_matches:,} of them contain '{CHINESE_WORD}'")
    print(f"Median of {repeat} alternating runs after one warm-up run.")
    print()
    print("| Operation | termchat (ms) | raw sqlite3 (ms) | ratio |")
    print("|---|---:|---:|---:|")

    within = True
    for name, ours, theirs, same_rows in cases:
        if not same_rows(ours(), theirs()):
            print(f"{name}: termchat and the raw query returned different rows", file=sys.stderr)
            within = False
        ours_seconds, raw_seconds = paired_median_seconds(ours, theirs, repeat)
        ratio = ours_seconds / raw_seconds
        within = within and ratio <= max_ratio
        print(f"| {name} | {ours_seconds * 1000:.2f} | {raw_seconds * 1000:.2f} | {ratio:.2f} |")

    page_seconds = median_seconds(lambda: store.messages(long_id, limit=100), repeat)

    def list_uncached() -> list[Any]:
        clear_settings_cache()
        return store.list_conversations(50)

    uncached_seconds, uncached_raw_seconds = paired_median_seconds(list_uncached, raw_list, repeat)
    print()
    print(f"Listing with the settings cache cleared before each call: {uncached_seconds * 1000:.2f} ms, "
          f"raw {uncached_raw_seconds * 1000:.2f} ms, ratio {uncached_seconds / uncached_raw_seconds:.2f}")
    print(f"Loading only the newest 100 messages of the long conversation (the chat app's first page): "
          f"{page_seconds * 1000:.2f} ms")
    raw.close()
    store.close()

    if cold_runs > 0:
        for collect, label in ((True, "after gc.collect()"), (False, "without gc.collect()")):
            cold_seconds, cold_raw_seconds = cold_list_seconds(database, cold_runs, collect)
            print(f"Cold listing, first call in a new process, {label}, median of {cold_runs}: "
                  f"{cold_seconds * 1000:.2f} ms, raw {cold_raw_seconds * 1000:.2f} ms, "
                  f"ratio {cold_seconds / cold_raw_seconds:.2f}")
    return within


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=5000, help="Short conversations to create.")
    parser.add_argument("--long-messages", type=int, default=10_000, help="Messages in the long conversation.")
    parser.add_argument("--repeat", type=int, default=15, help="Timed runs per operation. The median is reported.")
    parser.add_argument("--max-ratio", type=float, default=2.0, help="Maximum allowed termchat / raw time ratio.")
    parser.add_argument("--cold-runs", type=int, default=15,
                        help="New processes per side for the cold listing; 0 skips it.")
    parser.add_argument("--keep", type=Path, help="Build the database in this folder and keep it.")
    arguments = parser.parse_args()

    settings = (arguments.conversations, arguments.long_messages, arguments.repeat, arguments.max_ratio,
                arguments.cold_runs)
    if arguments.keep is not None:
        arguments.keep.mkdir(parents=True, exist_ok=True)
        ok = run(arguments.keep, *settings)
    else:
        with tempfile.TemporaryDirectory(prefix="termchat-bench-") as folder:
            ok = run(Path(folder), *settings)
    if not ok:
        print(f"FAILED: a termchat call took more than {arguments.max_ratio}x the raw query.", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
