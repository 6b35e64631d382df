"""On-disk cache of what transformers converts from a .gguf file.

transformers 5.25 parses a GGUF file's whole metadata with the gguf
package's pure-Python reader for the config, again for the tokenizer and
again for the weights. For SmolLM2-135M (a 98 MB Q4_1 file) that is most of
a 60 s load on 2 CPU cores. An entry stores the results in the formats
transformers reads fastest: the config as config.json, the tokenizer as
written by save_pretrained, and optionally the dequantized weights as
safetensors, in the dtype the model ran in.

Layout under `<cache_dir>/gguf/`:

    <key>/entry.json                  identity of the source file
    <key>/config/                     config.json
    <key>/tokenizer/                  tokenizer files
    <key>/weights-<dtype>/            model.safetensors, generation_config.json

Every folder is written under a temporary name and renamed into place, so
a crash mid-write leaves a `.tmp-*` folder that lookups ignore, never a
half entry.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from termchat.paths import resolve_paths

logger = logging.getLogger(__name__)

# Bump when the layout or the contents of an entry change, so older entries
# are rebuilt instead of read.
CACHE_FORMAT = 1
ENTRY_FILE = "entry.json"
CONFIG_FOLDER = "config"
TOKENIZER_FOLDER = "tokenizer"
WEIGHTS_FILE = "model.safetensors"
TEMPORARY_PREFIX = ".tmp-"
# Leftover temporary folders older than this are deleted on the next write.
# A younger one may belong to a load running in another termchat process.
STALE_TEMPORARY_SECONDS = 24 * 3600

# Bytes hashed at each end of the file. The start covers the GGUF header,
# metadata and tensor index (1.8 MB for SmolLM2's 49k-token vocabulary), and
# the end covers the last tensors. Measured on a 2-core VM with the file in
# the page cache, BLAKE2b hashes the whole 98 MB SmolLM2 file in 0.3 s. So a
# whole-file hash of a 4 GB file would cost over 10 s on every start.
SAMPLE_BYTES = 16 * 1024 * 1024

# Dequantized weights above this size are not cached. 2 GiB fits a model of
# about 500M parameters in float32 or 1B in bfloat16. A 7B model would need
# 28 GB in float32, more disk than a cache should take without being asked.
MAX_CACHED_WEIGHTS_BYTES = 2 * 1024**3


@dataclass(frozen=True, slots=True)
class GgufIdentity:
    """Identity of one version of a .gguf file, from which its cache key is derived."""

    source: str
    """Absolute path of the file."""
    size: int
    mtime_ns: int
    sample_hash: str
    """BLAKE2b of the first and last SAMPLE_BYTES of the file."""
    transformers_version: str
    """The transformers version that converted the file, because conversions change between versions."""
    cache_format: int = CACHE_FORMAT

    @property
    def key(self) -> str:
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def identify_gguf(path: str | os.PathLike[str], transformers_version: str) -> GgufIdentity:
    """Return the identity of the file at `path`, reading at most 2 x SAMPLE_BYTES of it."""
    resolved = Path(path).resolve()
    status = resolved.stat()
    digest = hashlib.blake2b()
    with resolved.open("rb") as file:
        digest.update(file.read(SAMPLE_BYTES))
        tail_start = max(SAMPLE_BYTES, status.st_size - SAMPLE_BYTES)
        file.seek(tail_start)
        digest.update(file.read(SAMPLE_BYTES))
    # NOTE: an edit in the middle of a file larger than 2 x SAMPLE_BYTES that
    # keeps its size and modification time is not detected. Ordinary writes
    # update the modification time, so only a deliberate reset hides an edit.
    return GgufIdentity(
        source=str(resolved),
        size=status.st_size,
        mtime_ns=status.st_mtime_ns,
        sample_hash=digest.hexdigest(),
        transformers_version=transformers_version,
    )


def default_cache_root() -> Path:
    """Return the folder of GGUF cache entries: `gguf/` in termchat's cache directory."""
    return resolve_paths().cache_dir / "gguf"


def weights_folder_name(dtype_name: str) -> str:
    """Return the entry's sub-folder for weights in `dtype_name`, such as 'weights-float32'."""
    return f"weights-{dtype_name}"


class CacheEntryDamaged(Exception):
    """Error for an entry that exists but cannot be trusted. The caller deletes and rebuilds it."""


@dataclass(frozen=True, slots=True)
class GgufCacheEntry:
    """One complete cache entry: the config and tokenizer of one GGUF file version."""

    folder: Path
    identity: GgufIdentity

    @property
    def config_folder(self) -> Path:
        return self.folder / CONFIG_FOLDER

    @property
    def tokenizer_folder(self) -> Path:
        return self.folder / TOKENIZER_FOLDER

    def weights_folder(self, dtype_name: str) -> Path | None:
        """Return the folder of cached weights in `dtype_name`, or None when there is none."""
        folder = self.folder / weights_folder_name(dtype_name)
        return folder if (folder / WEIGHTS_FILE).is_file() else None


class GgufCache:
    """GGUF cache entries under `root`, keyed by GgufIdentity.key."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def find(self, identity: GgufIdentity) -> GgufCacheEntry | None:
        """Return the entry for `identity`, or None when there is none.

        Raises CacheEntryDamaged when the entry folder exists but its
        entry.json is missing, unreadable or names another file version.
        """
        folder = self.root / identity.key
        if not folder.is_dir():
            return None
        try:
            stored = json.loads((folder / ENTRY_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise CacheEntryDamaged(f"{folder / ENTRY_FILE} is unreadable: {error}") from error
        if stored != asdict(identity):
            raise CacheEntryDamaged(f"{folder / ENTRY_FILE} does not match {identity.source}")
        for required in (CONFIG_FOLDER + "/config.json", TOKENIZER_FOLDER + "/tokenizer_config.json"):
            if not (folder / required).is_file():
                raise CacheEntryDamaged(f"{folder / required} is missing")
        return GgufCacheEntry(folder=folder, identity=identity)

    def delete(self, folder: Path) -> None:
        """Delete an entry or one of its sub-folders; log a failure instead of raising it."""
        try:
            shutil.rmtree(folder)
        except FileNotFoundError:
            pass
        except OSError:
            logger.warning("could not delete GGUF cache folder %s", folder, exc_info=True)

    def write(self, identity: GgufIdentity, write_files: Callable[[Path, Path], None]) -> GgufCacheEntry:
        """Write a new entry and return it.

        `write_files(config_folder, tokenizer_folder)` saves the files into
        a temporary folder, which is renamed to the entry's folder once
        complete. Older entries for the same source file are deleted first.
        Raises OSError when the folder cannot be written.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        self._delete_stale_temporaries()
        self._delete_other_versions(identity)

        folder = self.root / identity.key
        temporary = Path(tempfile.mkdtemp(prefix=f"{TEMPORARY_PREFIX}{identity.key}-", dir=self.root))
        try:
            write_files(temporary / CONFIG_FOLDER, temporary / TOKENIZER_FOLDER)
            # entry.json is written last: find() needs it, so a folder without
            # it is never taken for a complete entry.
            (temporary / ENTRY_FILE).write_text(json.dumps(asdict(identity), indent=2), encoding="utf-8")
            self._rename_into_place(temporary, folder)
        finally:
            self.delete(temporary)
        return GgufCacheEntry(folder=folder, identity=identity)

    def write_weights(self, entry: GgufCacheEntry, dtype_name: str, write_files: Callable[[Path], None]) -> None:
        """Add weights in `dtype_name` to `entry`; `write_files(folder)` saves them.

        Raises OSError when the folder cannot be written.
        """
        folder = entry.folder / weights_folder_name(dtype_name)
        temporary = Path(tempfile.mkdtemp(prefix=TEMPORARY_PREFIX, dir=entry.folder))
        try:
            write_files(temporary)
            self._rename_into_place(temporary, folder)
        finally:
            self.delete(temporary)

    def _rename_into_place(self, temporary: Path, folder: Path) -> None:
        try:
            temporary.rename(folder)
        except OSError:
            # Another termchat process finished the same folder first.
            if not folder.is_dir():
                raise
            logger.info("GGUF cache folder %s was written by another process", folder)

    def _delete_other_versions(self, identity: GgufIdentity) -> None:
        for entry_file in self.root.glob(f"*/{ENTRY_FILE}"):
            if entry_file.parent.name == identity.key:
                continue
            try:
                source = json.loads(entry_file.read_text(encoding="utf-8")).get("source")
            except (OSError, ValueError, AttributeError):
                continue
            if source == identity.source:
                logger.info("deleting the GGUF cache entry of an older version of %s", source)
                self.delete(entry_file.parent)

    def _delete_stale_temporaries(self) -> None:
        cutoff = time.time() - STALE_TEMPORARY_SECONDS
        for folder in list(self.root.glob(f"{TEMPORARY_PREFIX}*")) + list(self.root.glob(f"*/{TEMPORARY_PREFIX}*")):
            try:
                is_stale = folder.stat().st_mtime < cutoff
            except OSError:
                continue
            if is_stale:
                logger.info("deleting the unfinished GGUF cache folder %s", folder)
                self.delete(folder)
