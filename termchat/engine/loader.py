"""Load a transformers model from a Hub id, a folder or a .gguf file.

Every failure becomes a ModelLoadError with one line that names the value and
the fix; the original exception is chained and logged. torch and transformers
are imported inside the load functions, never at module import. Loading a
.gguf file is in termchat.engine.gguf_loader.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from termchat.engine.backend import ModelSpec, ProgressCallback
from termchat.engine.errors import ModelLoadError
from termchat.engine.source import (
    ModelSource,
    check_folder,
    choose_device,
    choose_dtype,
    require_gguf_support,
    resolve_source,
)
from termchat.engine.types import LoadProgress, ModelInfo
from termchat.i18n import N_, _

logger = logging.getLogger(__name__)

# Files fetched for a Hub id: config, tokenizer and generation files, and the
# weights. Safetensors are preferred; .bin files are fetched only when a
# repository has no safetensors.
HUB_BASE_PATTERNS = ["*.json", "*.txt", "*.model", "*.tiktoken", "*.jinja"]
HUB_SAFETENSORS_PATTERNS = ["*.safetensors"]
HUB_BIN_PATTERNS = ["pytorch_model*.bin"]
HUB_CODE_PATTERNS = ["*.py"]

READ_CONFIG_STEP = N_("Reading the model config")
LOAD_TOKENIZER_STEP = N_("Loading the tokenizer")
LOAD_WEIGHTS_STEP = N_("Loading the weights")
MOVE_TO_DEVICE_STEP = N_("Moving the model to the device")
LOAD_STEPS = (READ_CONFIG_STEP, LOAD_TOKENIZER_STEP, LOAD_WEIGHTS_STEP, MOVE_TO_DEVICE_STEP)
# Context size for configs that name none (an estimate that fits most
# current models); the tokenizer's model_max_length is tried first.
FALLBACK_CONTEXT_SIZE = 2048
_CONTEXT_ATTRIBUTES = ("max_position_embeddings", "n_positions", "n_ctx", "seq_length", "max_sequence_length")


def load_backend(spec: ModelSpec, progress: ProgressCallback | None = None) -> Any:
    """Load the model `spec` names and return a TransformersBackend.

    `progress` is called from this thread: stage "download" with bytes while
    a Hub model downloads, then stage "load" once per step: LOAD_STEPS for a
    folder or Hub model, the steps in termchat.engine.gguf_loader for a .gguf
    file.
    """
    report = progress if progress is not None else _ignore_progress
    source = resolve_source(spec.model)
    if source.kind == "gguf":
        require_gguf_support(spec.model)

    import torch

    from termchat.engine.quiet import quiet_libraries

    quiet_libraries()
    device = choose_device(spec.device, torch)
    dtype = choose_dtype(spec.dtype, device, torch)
    logger.info("loading model %s (%s) on %s as %s", spec.model, source.kind, device, dtype)

    if source.kind == "hub":
        source = download_from_hub(source, spec.trust_remote_code, report)
    if source.kind == "gguf":
        from termchat.engine.gguf_loader import load_gguf

        config, tokenizer, model, steps = load_gguf(spec, source, dtype, report)
    else:
        assert source.path is not None
        check_folder(source.path, spec.model)
        config, tokenizer, model, steps = _load_folder(spec, source.path, dtype, report)

    steps.start(MOVE_TO_DEVICE_STEP)
    model = run_step(spec, lambda: model.to(device), weights=True)
    model.eval()

    from termchat.engine.transformers_backend import TransformersBackend

    info = ModelInfo(
        model_id=source.model_id,
        backend="transformers",
        device=device,
        dtype=str(dtype).removeprefix("torch."),
        context_size=context_size_of(config, tokenizer),
        has_chat_template=bool(getattr(tokenizer, "chat_template", None)),
    )
    logger.info("loaded model %s: %s", spec.model, info)
    return TransformersBackend(model, tokenizer, info)


def _ignore_progress(_progress: LoadProgress) -> None:
    pass


class LoadSteps:
    """Progress reports of stage "load" for one model's list of step labels."""

    def __init__(self, report: ProgressCallback, labels: Sequence[str]) -> None:
        self.report = report
        self.labels = tuple(labels)

    def start(self, label: str) -> None:
        """Report that the step `label` (untranslated, one of `labels`) starts."""
        index = self.labels.index(label)
        self.report(LoadProgress(stage="load", description=_(label), completed=index, total=len(self.labels)))


def _load_folder(
    spec: ModelSpec, folder: Path, dtype: Any, report: ProgressCallback
) -> tuple[Any, Any, Any, LoadSteps]:
    """Load the config, tokenizer and weights from a model folder; return them and the steps."""
    import transformers

    steps = LoadSteps(report, LOAD_STEPS)
    extra: dict[str, Any] = {"trust_remote_code": spec.trust_remote_code}

    steps.start(READ_CONFIG_STEP)
    config = run_step(spec, lambda: transformers.AutoConfig.from_pretrained(folder, **extra))
    check_causal_lm(config, spec)

    steps.start(LOAD_TOKENIZER_STEP)
    tokenizer = run_step(spec, lambda: transformers.AutoTokenizer.from_pretrained(folder, **extra))

    steps.start(LOAD_WEIGHTS_STEP)

    def load_weights() -> Any:
        with stderr_to_log():
            return transformers.AutoModelForCausalLM.from_pretrained(folder, dtype=dtype, **extra)

    model = run_step(spec, load_weights, weights=True)
    return config, tokenizer, model, steps


def check_causal_lm(config: Any, spec: ModelSpec) -> None:
    """Raise ModelLoadError unless `config` names a causal language model."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    model_type = getattr(config, "model_type", "")
    if model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        return
    auto_map = getattr(config, "auto_map", None) or {}
    if spec.trust_remote_code and "AutoModelForCausalLM" in auto_map:
        return
    raise ModelLoadError(
        _("'{model}' is a '{type}' model, not a causal language model; termchat needs a text generation "
          "model such as GPT-2.").format(model=spec.model, type=model_type or "unknown")
    )


def context_size_of(config: Any, tokenizer: Any) -> int:
    """Return the number of positions the model attends to."""
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    for name in _CONTEXT_ATTRIBUTES:
        value = getattr(text_config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    tokenizer_limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(tokenizer_limit, int) and 0 < tokenizer_limit < 1_000_000:
        return tokenizer_limit
    # NOTE: this is a guess for configs without any context attribute. If the
    # real context is smaller, a long prompt can fail with an index error.
    return FALLBACK_CONTEXT_SIZE


def run_step(spec: ModelSpec, step: Any, *, weights: bool = False) -> Any:
    """Run one loading step and turn its exceptions into ModelLoadError."""
    try:
        return step()
    except ModelLoadError:
        raise
    except Exception as error:
        logger.exception("loading %s failed", spec.model)
        raise _load_error(spec, error, weights=weights) from error


def _load_error(spec: ModelSpec, error: BaseException, *, weights: bool) -> ModelLoadError:
    import torch

    text = _one_line(error)
    if isinstance(error, (MemoryError, torch.OutOfMemoryError)) or "out of memory" in text.lower():
        return ModelLoadError(
            _("Out of memory while loading '{model}' on {device}; choose a smaller model, --dtype float16 "
              "or bfloat16, or --device cpu.").format(model=spec.model, device=spec.device)
        )
    if "trust_remote_code" in str(error):
        return ModelLoadError(
            _("'{model}' needs its own Python code to load; pass --trust-remote-code if you trust "
              "its authors.").format(model=spec.model)
        )
    if weights and _is_unreadable_weights(error):
        return ModelLoadError(
            _("The weights of '{model}' cannot be read ({error}); download the model again or check "
              "the file.").format(model=spec.model, error=text)
        )
    return ModelLoadError(
        _("Loading '{model}' failed: {error}. Run with --debug for details.").format(model=spec.model, error=text)
    )


def _is_unreadable_weights(error: BaseException) -> bool:
    name = type(error).__name__
    return isinstance(error, (OSError, EOFError, ValueError, RuntimeError)) or "Safetensor" in name


def _one_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    first = lines[0] if lines else type(error).__name__
    return first.rstrip(".")


# Hub downloads -------------------------------------------------------------


def download_from_hub(source: ModelSource, trust_remote_code: bool, report: ProgressCallback) -> ModelSource:
    """Download (or find in the cache) the files of a Hub model; return it as a folder.

    With HF_HUB_OFFLINE=1, or when the Hub cannot be reached, a cached copy is
    used without the network.
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    model = source.model_id
    base = list(HUB_BASE_PATTERNS) + (HUB_CODE_PATTERNS if trust_remote_code else [])
    bar_class = make_download_bar_class(report)
    try:
        folder = Path(snapshot_download(model, allow_patterns=base + HUB_SAFETENSORS_PATTERNS, tqdm_class=bar_class))
        if not any(folder.glob("*.safetensors")):
            folder = Path(snapshot_download(model, allow_patterns=base + HUB_BIN_PATTERNS, tqdm_class=bar_class))
    except GatedRepoError as error:
        logger.warning("gated repository %s: %s", model, error)
        raise ModelLoadError(
            _("Hub model '{model}' is gated; accept its licence on huggingface.co and log in with "
              "`hf auth login`.").format(model=model)
        ) from error
    except (RepositoryNotFoundError, RevisionNotFoundError) as error:
        logger.warning("unknown repository %s: %s", model, error)
        raise ModelLoadError(
            _("Hub model '{model}' not found; check the id (for example 'gpt2') or pass a local folder.").format(
                model=model
            )
        ) from error
    except (LocalEntryNotFoundError, OfflineModeIsEnabled) as error:
        raise _not_cached_error(model, error) from error
    except OSError as error:
        logger.exception("downloading %s failed", model)
        raise ModelLoadError(
            _("Downloading '{model}' failed: {error}. Check the network and the disk space.").format(
                model=model, error=_one_line(error)
            )
        ) from error
    return ModelSource(kind="folder", model_id=model, path=folder)


def _not_cached_error(model: str, error: Exception) -> ModelLoadError:
    """Return the error for a Hub model that is not cached, with the fix for offline mode or a missing network."""
    variables = offline_variables(os.environ)
    if variables:
        logger.warning("no cached copy of %s and offline mode is on (%s): %s", model, ", ".join(variables), error)
        settings = ", ".join(f"{name}={os.environ[name]}" for name in variables)
        return ModelLoadError(
            _("Hub model '{model}' is not in the cache and offline mode is on ({settings}); to download it "
              "once, run `unset {names}` and connect to the network, or pass a local folder or .gguf file.").format(
                model=model, settings=settings, names=" ".join(variables)
            )
        )

    logger.warning("no cached copy of %s and no network: %s", model, error)
    return ModelLoadError(
        _("Hub model '{model}' is not in the cache and the Hub cannot be reached; connect to the network "
          "once to download it, or pass a local folder or .gguf file.").format(model=model)
    )


def offline_variables(environ: Mapping[str, str]) -> list[str]:
    """Return the names of the variables in `environ` that turn on huggingface_hub's offline mode.

    huggingface_hub 2.4 reads HF_HUB_OFFLINE, or TRANSFORMERS_OFFLINE when
    HF_HUB_OFFLINE is unset or empty, and takes 1, ON, YES and TRUE in any case
    as true. The list is empty when offline mode is off. It contains both names
    when both are true, because unsetting only one would leave the other in force.
    """
    from huggingface_hub.constants import ENV_VARS_TRUE_VALUES

    def is_true(value: str | None) -> bool:
        return value is not None and value.upper() in ENV_VARS_TRUE_VALUES

    if not is_true(environ.get("HF_HUB_OFFLINE") or environ.get("TRANSFORMERS_OFFLINE")):
        return []
    return [name for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE") if is_true(environ.get(name))]


class _NullWriter(io.TextIOBase):
    def write(self, text: str) -> int:
        return len(text)


def make_download_bar_class(report: ProgressCallback) -> type:
    """Return a tqdm class for snapshot_download that reports bytes to `report`.

    huggingface_hub 2.4 creates several bars from it (files fetched, bytes
    received, bytes written). Bars counted in bytes all measure the same
    download, so the largest count and total among them are reported. The
    bars draw nothing.
    """
    from tqdm.auto import tqdm

    lock = threading.Lock()
    byte_bars: dict[int, tuple[float, float]] = {}
    last_report: list[tuple[float, float]] = []

    class DownloadBar(tqdm):  # type: ignore[misc, valid-type]
        monitor_interval = 0

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.pop("name", None)
            kwargs["disable"] = False
            kwargs["file"] = _NullWriter()
            super().__init__(*args, **kwargs)

        def display(self, msg: str | None = None, pos: int | None = None) -> bool:
            return True

        def update(self, n: float | None = 1) -> bool | None:
            result = super().update(n)
            if self.unit == "B":
                with lock:
                    byte_bars[id(self)] = (float(self.n), float(self.total or 0))
                    completed = max(count for count, _total in byte_bars.values())
                    total = max(total for _count, total in byte_bars.values())
                    if last_report and last_report[-1] == (completed, total):
                        return result
                    last_report[:] = [(completed, total)]
                report(
                    LoadProgress(
                        stage="download",
                        description=_("Downloading the model"),
                        completed=completed,
                        total=total or None,
                    )
                )
            return result

    return DownloadBar


@contextlib.contextmanager
def stderr_to_log() -> Iterator[None]:
    """Send what libraries print to sys.stderr to the log while loading.

    transformers 5.25 converts GGUF tensors under a plain tqdm bar that writes
    to stderr and ignores its progress-bar switch.
    """
    # NOTE: sys.stderr is process-wide, so output of other threads during the
    # load also goes to the log.
    buffer = io.StringIO()
    with contextlib.redirect_stderr(buffer):
        yield
    captured = buffer.getvalue().strip()
    if captured:
        logger.debug("library output while loading: %s", captured[-2000:])
    sys.stderr.flush()
