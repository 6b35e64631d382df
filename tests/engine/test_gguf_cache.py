"""The GGUF cache: later loads skip the conversions, and a changed or damaged entry is rebuilt."""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from pathlib import Path

import pytest

from termchat.engine import LoadProgress, ModelSpec, load_backend
from termchat.engine.gguf_cache import (
    STALE_TEMPORARY_SECONDS,
    TEMPORARY_PREFIX,
    GgufCache,
    identify_gguf,
)
from termchat.engine.gguf_loader import (
    CACHED_STEPS,
    CACHED_WITHOUT_WEIGHTS_STEPS,
    CONVERT_STEPS,
    SAVE_TO_CACHE_STEP,
)
from tests.engine.gguf_file import write_gpt2_gguf

TEMPLATE = "{% for message in messages %}<|{{ message.role }}|>{{ message.content }}\n{% endfor %}"
OTHER_TEMPLATE = "{% for message in messages %}[{{ message.role }}] {{ message.content }}\n{% endfor %}"
PROMPT_IDS = [[5, 17, 42, 101, 230]]


@pytest.fixture(scope="module")
def small_model():
    """A random 2-layer GPT-2 with a 297-token BPE vocabulary.

    The small vocabulary makes transformers convert the GGUF file in about a
    second, where GPT-2's 50257 tokens make it take 30 s or more.
    """
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast

    bpe = ByteLevelBPETokenizer()
    text = ["hello world, the quick brown fox jumps over the lazy dog"] * 10
    bpe.train_from_iterator(text, vocab_size=300, special_tokens=["<|endoftext|>"])
    end = "<|endoftext|>"
    tokenizer = GPT2TokenizerFast(tokenizer_object=bpe, bos_token=end, eos_token=end, unk_token=end)

    torch.manual_seed(3)
    config = GPT2Config(
        n_layer=2,
        n_embd=32,
        n_head=2,
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return GPT2LMHeadModel(config), tokenizer


@pytest.fixture
def gguf_path(small_model, tmp_path, tmp_home) -> Path:
    """The small model as a GGUF file, with the cache in a fresh TERMCHAT_HOME."""
    model, tokenizer = small_model
    path = tmp_path / "small.gguf"
    write_gpt2_gguf(model, tokenizer, path, chat_template=TEMPLATE)
    return path


@pytest.fixture
def conversions(monkeypatch) -> Counter:
    """Count calls of transformers' GGUF tokenizer converter and GGUF checkpoint reader.

    The checkpoint reader parses the whole GGUF metadata; transformers 5.25
    calls it for the config, the tokenizer's config and the weights.
    """
    import transformers.integrations.gguf as gguf_integration
    import transformers.modeling_gguf_pytorch_utils as gguf_utils

    counts: Counter = Counter()
    convert_tokenizer = gguf_integration.convert_gguf_tokenizer
    load_checkpoint = gguf_utils.load_gguf_checkpoint

    def counted_convert_tokenizer(*args, **kwargs):
        counts["tokenizer"] += 1
        return convert_tokenizer(*args, **kwargs)

    def counted_load_checkpoint(*args, **kwargs):
        counts["checkpoint"] += 1
        return load_checkpoint(*args, **kwargs)

    monkeypatch.setattr(gguf_integration, "convert_gguf_tokenizer", counted_convert_tokenizer)
    monkeypatch.setattr(gguf_utils, "load_gguf_checkpoint", counted_load_checkpoint)
    return counts


def load(path: Path, reports: list[LoadProgress] | None = None):
    return load_backend(ModelSpec(model=str(path)), reports.append if reports is not None else None)


def cache_root(home: Path) -> Path:
    return home / "cache" / "gguf"


def entry_folders(home: Path) -> list[Path]:
    return sorted(folder for folder in cache_root(home).iterdir() if not folder.name.startswith(TEMPORARY_PREFIX))


def greedy_ids(backend) -> list[int]:
    import torch

    with torch.no_grad():
        output = backend.model.generate(torch.tensor(PROMPT_IDS), max_new_tokens=8, do_sample=False)
    return output[0].tolist()


def test_second_load_skips_conversion(gguf_path, tmp_home, conversions):
    load(gguf_path)
    first = dict(conversions)
    conversions.clear()

    backend = load(gguf_path)

    assert first["tokenizer"] == 1
    assert first["checkpoint"] >= 1
    assert conversions["tokenizer"] == 0
    assert conversions["checkpoint"] == 0
    assert backend.tokenizer.chat_template == TEMPLATE


def test_first_load_writes_entry(gguf_path, tmp_home):
    load(gguf_path)

    [entry] = entry_folders(tmp_home)
    stored = json.loads((entry / "entry.json").read_text(encoding="utf-8"))
    assert stored["source"] == str(gguf_path.resolve())
    assert stored["size"] == gguf_path.stat().st_size
    assert (entry / "config" / "config.json").is_file()
    assert (entry / "tokenizer" / "tokenizer.json").is_file()
    assert (entry / "weights-float32" / "model.safetensors").is_file()
    assert not list(cache_root(tmp_home).glob(f"**/{TEMPORARY_PREFIX}*"))


def test_cached_load_generates_same_tokens(gguf_path, tmp_home):
    converted = load(gguf_path)
    cached = load(gguf_path)
    text = "the quick brown fox"

    assert greedy_ids(cached) == greedy_ids(converted)
    assert cached.tokenizer(text).input_ids == converted.tokenizer(text).input_ids
    assert cached.info == converted.info


def test_load_steps_with_and_without_entry(gguf_path, tmp_home):
    first: list[LoadProgress] = []
    second: list[LoadProgress] = []

    load(gguf_path, first)
    load(gguf_path, second)

    assert [progress.description for progress in first] == list(CONVERT_STEPS)
    assert [progress.completed for progress in first] == list(range(len(CONVERT_STEPS)))
    assert {progress.total for progress in first} == {len(CONVERT_STEPS)}
    assert [progress.description for progress in second] == list(CACHED_STEPS)
    assert {progress.total for progress in second} == {len(CACHED_STEPS)}


def test_changed_file_invalidates_entry(small_model, gguf_path, tmp_home, conversions):
    load(gguf_path)
    [old_entry] = entry_folders(tmp_home)
    model, tokenizer = small_model
    write_gpt2_gguf(model, tokenizer, gguf_path, chat_template=OTHER_TEMPLATE)
    conversions.clear()

    backend = load(gguf_path)

    assert conversions["tokenizer"] == 1
    assert backend.tokenizer.chat_template == OTHER_TEMPLATE
    [new_entry] = entry_folders(tmp_home)
    assert new_entry != old_entry


@pytest.mark.parametrize(
    ("damaged_file", "content"),
    [
        ("entry.json", None),
        ("entry.json", b"{not json"),
        ("config/config.json", b"garbage"),
        ("tokenizer/tokenizer.json", b"{not json"),
        ("weights-float32/model.safetensors", b"\x08\x00\x00\x00\x00\x00\x00\x00{}"),
    ],
)
def test_damaged_entry_is_rebuilt(gguf_path, tmp_home, conversions, caplog, damaged_file, content):
    expected = greedy_ids(load(gguf_path))
    [entry] = entry_folders(tmp_home)
    if content is None:
        (entry / damaged_file).unlink()
    else:
        (entry / damaged_file).write_bytes(content)
    conversions.clear()

    with caplog.at_level(logging.WARNING, logger="termchat.engine.gguf_loader"):
        rebuilt = load(gguf_path)

    assert conversions["tokenizer"] == 1
    assert "damaged" in caplog.text
    assert greedy_ids(rebuilt) == expected
    conversions.clear()
    assert greedy_ids(load(gguf_path)) == expected
    assert conversions["tokenizer"] == 0


def test_missing_cached_tensor_is_rebuilt(gguf_path, tmp_home, conversions):
    from safetensors.torch import load_file, save_file

    expected = greedy_ids(load(gguf_path))
    [entry] = entry_folders(tmp_home)
    weights_file = entry / "weights-float32" / "model.safetensors"
    tensors = load_file(weights_file)
    del tensors["transformer.h.1.mlp.c_fc.weight"]
    save_file(tensors, weights_file, metadata={"format": "pt"})
    conversions.clear()

    rebuilt = load(gguf_path)

    assert conversions["tokenizer"] == 1
    assert greedy_ids(rebuilt) == expected
    assert "transformer.h.1.mlp.c_fc.weight" in load_file(weights_file)


def test_unfinished_write_is_ignored(gguf_path, tmp_home, conversions):
    identity = identify_gguf(gguf_path, _transformers_version())
    root = cache_root(tmp_home)
    leftover = root / f"{TEMPORARY_PREFIX}{identity.key}-crashed"
    (leftover / "config").mkdir(parents=True)
    (leftover / "config" / "config.json").write_text("{", encoding="utf-8")
    old = time.time() - STALE_TEMPORARY_SECONDS - 60
    os.utime(leftover, (old, old))

    backend = load(gguf_path)

    assert conversions["tokenizer"] == 1
    assert backend.tokenizer.chat_template == TEMPLATE
    assert not leftover.exists()
    assert [folder.name for folder in entry_folders(tmp_home)] == [identity.key]


def test_unwritable_cache_still_loads(gguf_path, tmp_home, caplog):
    cache_root(tmp_home).parent.mkdir(parents=True)
    cache_root(tmp_home).write_text("a file where the cache folder belongs", encoding="utf-8")

    with caplog.at_level(logging.WARNING, logger="termchat.engine.gguf_loader"):
        backend = load(gguf_path)

    assert backend.tokenizer.chat_template == TEMPLATE
    assert "could not write the GGUF cache entry" in caplog.text


def test_weights_above_limit_not_cached(gguf_path, tmp_home, conversions, monkeypatch):
    monkeypatch.setattr("termchat.engine.gguf_loader.MAX_CACHED_WEIGHTS_BYTES", 1000)
    expected = greedy_ids(load(gguf_path))
    conversions.clear()
    reports: list[LoadProgress] = []

    backend = load(gguf_path, reports)

    [entry] = entry_folders(tmp_home)
    assert not (entry / "weights-float32").exists()
    skipped = [step for step in CACHED_WITHOUT_WEIGHTS_STEPS if step != SAVE_TO_CACHE_STEP]
    assert [progress.description for progress in reports] == skipped
    assert conversions["tokenizer"] == 0
    assert greedy_ids(backend) == expected


def test_weights_cached_per_dtype(gguf_path, tmp_home, conversions):
    load(gguf_path)
    reports: list[LoadProgress] = []
    backend = load_backend(ModelSpec(model=str(gguf_path), dtype="bfloat16"), reports.append)

    [entry] = entry_folders(tmp_home)
    assert conversions["tokenizer"] == 1
    assert backend.info.dtype == "bfloat16"
    assert [progress.description for progress in reports] == list(CACHED_WITHOUT_WEIGHTS_STEPS)
    assert (entry / "weights-float32" / "model.safetensors").is_file()
    assert (entry / "weights-bfloat16" / "model.safetensors").is_file()
    reports.clear()
    cached = load_backend(ModelSpec(model=str(gguf_path), dtype="bfloat16"), reports.append)
    assert cached.info.dtype == "bfloat16"
    assert [progress.description for progress in reports] == list(CACHED_STEPS)


@pytest.mark.parametrize("change", ["last byte", "modification time", "size", "transformers version"])
def test_identity_changes_with_file(tmp_path, change):
    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF" + bytes(100))
    before = identify_gguf(path, "5.25.0")
    status = path.stat()
    version = "5.25.0"

    if change == "last byte":
        path.write_bytes(b"GGUF" + bytes(99) + b"\x01")
        os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))
    elif change == "modification time":
        os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000_000))
    elif change == "size":
        path.write_bytes(b"GGUF" + bytes(101))
        os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))
    else:
        version = "5.26.0"

    assert identify_gguf(path, version).key != before.key


def test_identity_same_for_unchanged_file(tmp_path):
    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF" + bytes(100))

    assert identify_gguf(path, "5.25.0") == identify_gguf(path, "5.25.0")


def test_failed_write_leaves_no_entry(tmp_path):
    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF" + bytes(100))
    identity = identify_gguf(path, "5.25.0")
    cache = GgufCache(tmp_path / "cache")

    def write_half(config_folder: Path, tokenizer_folder: Path) -> None:
        config_folder.mkdir()
        (config_folder / "config.json").write_text("{}", encoding="utf-8")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        cache.write(identity, write_half)

    assert cache.find(identity) is None
    assert list((tmp_path / "cache").iterdir()) == []


def _transformers_version() -> str:
    import transformers

    return transformers.__version__
