"""Load a .gguf file through transformers, from the GGUF cache when it has an entry.

The first load of a file converts it with transformers (`from_pretrained(...,
gguf_file=...)`) and saves the results to the cache. Later loads of the same
file version read the cache. A cache that cannot be read or written is logged
and skipped, never an error for the user.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from termchat.engine.backend import ModelSpec, ProgressCallback
from termchat.engine.gguf_cache import (
    MAX_CACHED_WEIGHTS_BYTES,
    WEIGHTS_FILE,
    CacheEntryDamaged,
    GgufCache,
    GgufCacheEntry,
    GgufIdentity,
    default_cache_root,
    identify_gguf,
)
from termchat.engine.loader import (
    LOAD_TOKENIZER_STEP,
    LOAD_WEIGHTS_STEP,
    MOVE_TO_DEVICE_STEP,
    READ_CONFIG_STEP,
    LoadSteps,
    check_causal_lm,
    run_step,
    stderr_to_log,
)
from termchat.engine.source import ModelSource
from termchat.i18n import N_

logger = logging.getLogger(__name__)

READ_GGUF_CONFIG_STEP = N_("Reading the model config from the GGUF file")
CONVERT_TOKENIZER_STEP = N_("Converting the GGUF tokenizer")
DEQUANTIZE_STEP = N_("Dequantizing the GGUF weights")
SAVE_TO_CACHE_STEP = N_("Saving the converted model to the cache")

# Steps of a load that converts the file, of a load from an entry with
# weights in the requested dtype, and of a load from an entry without them.
# SAVE_TO_CACHE_STEP is skipped when there is nothing to save, for example
# when the weights are above the size limit.
CONVERT_STEPS = (
    READ_GGUF_CONFIG_STEP,
    CONVERT_TOKENIZER_STEP,
    DEQUANTIZE_STEP,
    SAVE_TO_CACHE_STEP,
    MOVE_TO_DEVICE_STEP,
)
CACHED_STEPS = (READ_CONFIG_STEP, LOAD_TOKENIZER_STEP, LOAD_WEIGHTS_STEP, MOVE_TO_DEVICE_STEP)
CACHED_WITHOUT_WEIGHTS_STEPS = (
    READ_CONFIG_STEP,
    LOAD_TOKENIZER_STEP,
    DEQUANTIZE_STEP,
    SAVE_TO_CACHE_STEP,
    MOVE_TO_DEVICE_STEP,
)

# Free disk space kept after writing cached weights, beyond their own size.
MIN_FREE_BYTES_AFTER_WEIGHTS = 1024**3


def load_gguf(
    spec: ModelSpec, source: ModelSource, dtype: Any, report: ProgressCallback
) -> tuple[Any, Any, Any, LoadSteps]:
    """Load the config, tokenizer and model of a .gguf file; return them and the steps.

    The caller reports the last step, MOVE_TO_DEVICE_STEP. Raises
    ModelLoadError when the file cannot be loaded.
    """
    import transformers

    assert source.gguf_file is not None
    cache = GgufCache(default_cache_root())
    identity = _identify(source.gguf_file, transformers.__version__)
    entry = _find_entry(cache, identity) if identity is not None else None
    if entry is not None:
        try:
            return _load_from_entry(spec, source, cache, entry, dtype, report)
        except CacheEntryDamaged as error:
            logger.warning("GGUF cache entry %s is damaged, rebuilding it: %s", entry.folder, error.__cause__ or error)
            cache.delete(entry.folder)
    return _convert(spec, source, dtype, report, cache, identity)


def _identify(gguf_file: str, transformers_version: str) -> GgufIdentity | None:
    try:
        return identify_gguf(gguf_file, transformers_version)
    except OSError:
        logger.warning(
            "cannot read %s to find its GGUF cache entry; loading without the cache", gguf_file, exc_info=True
        )
        return None


def _find_entry(cache: GgufCache, identity: GgufIdentity) -> GgufCacheEntry | None:
    try:
        entry = cache.find(identity)
    except CacheEntryDamaged as error:
        logger.warning("GGUF cache entry for %s is damaged, rebuilding it: %s", identity.source, error)
        cache.delete(cache.root / identity.key)
        return None
    if entry is None:
        logger.info("no GGUF cache entry for %s; converting it", identity.source)
    else:
        logger.info("loading %s from the GGUF cache entry %s", identity.source, entry.folder)
    return entry


def _load_from_entry(
    spec: ModelSpec,
    source: ModelSource,
    cache: GgufCache,
    entry: GgufCacheEntry,
    dtype: Any,
    report: ProgressCallback,
) -> tuple[Any, Any, Any, LoadSteps]:
    """Load from `entry`; raise CacheEntryDamaged when one of its files cannot be read."""
    import transformers

    weights_folder = entry.weights_folder(_dtype_name(dtype))
    steps = LoadSteps(report, CACHED_STEPS if weights_folder is not None else CACHED_WITHOUT_WEIGHTS_STEPS)

    steps.start(READ_CONFIG_STEP)
    config = _read_entry(lambda: transformers.AutoConfig.from_pretrained(entry.config_folder))
    check_causal_lm(config, spec)

    steps.start(LOAD_TOKENIZER_STEP)
    tokenizer = _read_entry(lambda: transformers.AutoTokenizer.from_pretrained(entry.tokenizer_folder))

    if weights_folder is None:
        steps.start(DEQUANTIZE_STEP)
        model = _dequantize(spec, source, config, dtype)
        state = _weights_to_cache(model, dtype, cache.root)
        if state is not None:
            steps.start(SAVE_TO_CACHE_STEP)
            _write_weights(cache, entry, model, state, dtype)
        return config, tokenizer, model, steps

    steps.start(LOAD_WEIGHTS_STEP)

    def load_weights() -> Any:
        with stderr_to_log():
            model, loading_info = transformers.AutoModelForCausalLM.from_pretrained(
                weights_folder, config=config, dtype=dtype, output_loading_info=True
            )
        # transformers fills a missing tensor with random values and only
        # logs it, which would give a model that writes nonsense.
        problems = {kind: keys for kind, keys in loading_info.items() if keys}
        if problems:
            raise ValueError(f"the cached weights do not match the model: {problems}")
        return model

    model = _read_entry(load_weights)
    return config, tokenizer, model, steps


def _read_entry(read: Callable[[], Any]) -> Any:
    """Run `read` and turn a failure into CacheEntryDamaged, except running out of memory."""
    import torch

    try:
        return read()
    except (MemoryError, torch.OutOfMemoryError):
        raise
    # transformers, tokenizers and safetensors raise many exception types for
    # a damaged file (OSError, ValueError, KeyError, SafetensorError, ...).
    except Exception as error:
        raise CacheEntryDamaged(str(error)) from error


def _convert(
    spec: ModelSpec,
    source: ModelSource,
    dtype: Any,
    report: ProgressCallback,
    cache: GgufCache,
    identity: GgufIdentity | None,
) -> tuple[Any, Any, Any, LoadSteps]:
    """Convert the .gguf file with transformers, then save the results to the cache."""
    import transformers

    labels = CONVERT_STEPS if identity is not None else tuple(s for s in CONVERT_STEPS if s != SAVE_TO_CACHE_STEP)
    steps = LoadSteps(report, labels)
    extra = {"gguf_file": source.gguf_file, "trust_remote_code": spec.trust_remote_code}

    steps.start(READ_GGUF_CONFIG_STEP)
    config = run_step(spec, lambda: transformers.AutoConfig.from_pretrained(source.path, **extra))
    check_causal_lm(config, spec)

    steps.start(CONVERT_TOKENIZER_STEP)
    tokenizer = run_step(spec, lambda: transformers.AutoTokenizer.from_pretrained(source.path, **extra))

    steps.start(DEQUANTIZE_STEP)
    model = _dequantize(spec, source, config, dtype)

    if identity is not None:
        steps.start(SAVE_TO_CACHE_STEP)
        entry = _write_entry(cache, identity, config, tokenizer)
        state = _weights_to_cache(model, dtype, cache.root) if entry is not None else None
        if entry is not None and state is not None:
            _write_weights(cache, entry, model, state, dtype)
    return config, tokenizer, model, steps


def _dequantize(spec: ModelSpec, source: ModelSource, config: Any, dtype: Any) -> Any:
    import transformers

    def load_weights() -> Any:
        # Passing the config saves transformers 5.25 from parsing the GGUF
        # metadata once more, which takes as long as reading the config.
        with stderr_to_log():
            return transformers.AutoModelForCausalLM.from_pretrained(
                source.path,
                gguf_file=source.gguf_file,
                config=config,
                dtype=dtype,
                trust_remote_code=spec.trust_remote_code,
            )

    return run_step(spec, load_weights, weights=True)


def _write_entry(cache: GgufCache, identity: GgufIdentity, config: Any, tokenizer: Any) -> GgufCacheEntry | None:
    """Write the config and tokenizer to a new entry; log a failure and return None."""

    def write_files(config_folder: Path, tokenizer_folder: Path) -> None:
        config.save_pretrained(config_folder)
        tokenizer.save_pretrained(tokenizer_folder)

    # A failed write only costs the next load its speed, so every error is
    # logged and the loaded model is still used.
    try:
        entry = cache.write(identity, write_files)
    except Exception:
        logger.warning("could not write the GGUF cache entry for %s", identity.source, exc_info=True)
        return None
    logger.info("wrote the GGUF cache entry %s", entry.folder)
    return entry


def _write_weights(cache: GgufCache, entry: GgufCacheEntry, model: Any, state: dict[str, Any], dtype: Any) -> None:
    """Add the tensors `state` of `model` to `entry`; log a failure instead of raising it."""
    try:
        cache.write_weights(entry, _dtype_name(dtype), lambda folder: _save_weights(model, state, folder))
    except Exception:
        logger.warning("could not write the GGUF cache weights for %s", entry.identity.source, exc_info=True)
        return
    logger.info("wrote %s weights to the GGUF cache entry %s", _dtype_name(dtype), entry.folder)


def _weights_to_cache(model: Any, dtype: Any, cache_root: Path) -> dict[str, Any] | None:
    """Return the tensors to save, or None when the weights should not be cached.

    Weights are cached only when every tensor is a plain floating-point
    tensor in the dtype the model runs in (transformers can also keep GGUF
    blocks packed), they fit MAX_CACHED_WEIGHTS_BYTES and the disk keeps
    MIN_FREE_BYTES_AFTER_WEIGHTS free.
    """
    state: dict[str, Any] = {}
    seen_storage: set[tuple[int, tuple[int, ...], tuple[int, ...]]] = set()
    for name, tensor in model.state_dict().items():
        if tensor.dtype != dtype:
            logger.info("not caching GGUF weights: tensor %s is %s, not %s", name, tensor.dtype, dtype)
            return None
        # Tied weights (an output layer sharing the token embedding) are
        # stored once; from_pretrained ties them again from the config.
        storage = (tensor.data_ptr(), tuple(tensor.shape), tuple(tensor.stride()))
        if storage in seen_storage:
            continue
        seen_storage.add(storage)
        state[name] = tensor

    size = sum(tensor.numel() * tensor.element_size() for tensor in state.values())
    if size > MAX_CACHED_WEIGHTS_BYTES:
        logger.info("not caching GGUF weights: %d bytes is above the limit of %d", size, MAX_CACHED_WEIGHTS_BYTES)
        return None
    free = shutil.disk_usage(cache_root).free
    if free - size < MIN_FREE_BYTES_AFTER_WEIGHTS:
        logger.info("not caching GGUF weights: %d bytes would leave less than 1 GiB of %d bytes free", size, free)
        return None
    return state


def _save_weights(model: Any, state: dict[str, Any], folder: Path) -> None:
    from safetensors.torch import save_file

    tensors = {name: tensor.contiguous() for name, tensor in state.items()}
    save_file(tensors, folder / WEIGHTS_FILE, metadata={"format": "pt"})
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.save_pretrained(folder)


def _dtype_name(dtype: Any) -> str:
    return str(dtype).removeprefix("torch.")
