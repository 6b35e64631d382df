"""Resolve `--model`, `--device` and `--dtype` into what the loader needs.

`resolve_source` needs neither torch nor the network. `choose_device` and
`choose_dtype` take the torch module as an argument, so importing this module
stays cheap.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from termchat.engine.errors import ModelLoadError
from termchat.i18n import _

SourceKind = Literal["hub", "folder", "gguf"]

# File names transformers reads weights from, in its order of preference.
WEIGHT_PATTERNS = (
    "model.safetensors",
    "model-*.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model-*.bin",
    "pytorch_model.bin.index.json",
)


@dataclass(frozen=True, slots=True)
class ModelSource:
    """Location of the model: a Hub id, a local folder or a .gguf file."""

    kind: SourceKind
    model_id: str
    """The Hub id, or the path as given, for messages and the status bar."""
    path: Path | None = None
    """The local folder; None for a Hub id until it is downloaded."""
    gguf_file: str | None = None
    """Absolute path of the .gguf file, when the model is a single file.

    transformers 5.25 looks for a relative `gguf_file` in the current directory
    before the model folder, so a relative name could load another file."""


def resolve_source(model: str) -> ModelSource:
    """Decide whether `model` is a local folder, a .gguf file or a Hub id.

    Raises ModelLoadError for a missing local path, a file that is not
    .gguf, and a name that is neither a path nor a valid Hub id.
    """
    text = model.strip()
    if not text:
        raise ModelLoadError(_("The model name is empty; pass a Hub id such as 'gpt2', a folder or a .gguf file."))

    path = Path(text).expanduser()
    if path.is_dir():
        return ModelSource(kind="folder", model_id=text, path=path.resolve())
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise ModelLoadError(
                _("'{model}' is a file but not a .gguf file; pass the folder that contains it instead.").format(
                    model=text
                )
            )
        resolved = path.resolve()
        return ModelSource(kind="gguf", model_id=text, path=resolved.parent, gguf_file=str(resolved))

    looks_like_path = text.startswith((".", "/", "~")) or text.lower().endswith(".gguf") or "\\" in text
    if looks_like_path:
        raise ModelLoadError(
            _("Model path '{model}' not found; check the path, or pass a Hub id such as 'gpt2'.").format(model=text)
        )
    if not _is_valid_repo_id(text):
        raise ModelLoadError(
            _("'{model}' is neither an existing folder, a .gguf file nor a valid Hub id such as "
              "'gpt2' or 'HuggingFaceTB/SmolLM2-135M-Instruct'.").format(model=text)
        )
    return ModelSource(kind="hub", model_id=text)


def _is_valid_repo_id(text: str) -> bool:
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    if text.count("/") > 1:
        return False
    try:
        validate_repo_id(text)
    except HFValidationError:
        return False
    return True


def require_gguf_support(model: str) -> None:
    """Raise ModelLoadError naming the extra to install when `gguf` is missing."""
    if importlib.util.find_spec("gguf") is None:
        raise ModelLoadError(
            _("Loading '{model}' needs the 'gguf' package; install it with: pip install 'termchat[gguf]'").format(
                model=model
            )
        )


def find_weight_files(folder: Path) -> list[Path]:
    """Return the weight files transformers would load from `folder`."""
    found: list[Path] = []
    for pattern in WEIGHT_PATTERNS:
        found.extend(sorted(folder.glob(pattern)))
    return found


def check_folder(folder: Path, model: str) -> None:
    """Raise ModelLoadError when `folder` lacks config.json or weight files."""
    if not (folder / "config.json").is_file():
        raise ModelLoadError(
            _("Model folder '{model}' has no config.json; pass a folder written by save_pretrained(), "
              "a .gguf file or a Hub id.").format(model=model)
        )
    if not find_weight_files(folder):
        raise ModelLoadError(
            _("Model folder '{model}' has no weights (model.safetensors or pytorch_model.bin); "
              "copy the weight files into it or pass a Hub id.").format(model=model)
        )


def choose_device(requested: str, torch: Any) -> str:
    """Return the torch device for `requested` (auto, cpu, cuda or mps).

    `auto` picks CUDA, then MPS, then the CPU. An explicit device that torch
    cannot use raises ModelLoadError.
    """
    cuda_ok = bool(torch.cuda.is_available())
    mps_ok = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())

    if requested == "auto":
        if cuda_ok:
            return "cuda"
        if mps_ok:
            return "mps"
        return "cpu"
    if requested == "cpu":
        return "cpu"
    if requested == "cuda" and not cuda_ok:
        raise ModelLoadError(
            _("Device 'cuda' is not available: torch {version} finds no CUDA GPU. "
              "Use --device cpu, or install a CUDA build of torch.").format(version=torch.__version__)
        )
    if requested == "mps" and not mps_ok:
        raise ModelLoadError(
            _("Device 'mps' is not available: torch {version} finds no Apple GPU. Use --device cpu.").format(
                version=torch.__version__
            )
        )
    if requested in ("cuda", "mps"):
        return requested
    raise ModelLoadError(
        _("Invalid device '{device}'; use auto, cpu, cuda or mps.").format(device=requested)
    )


def choose_dtype(requested: str, device: str, torch: Any) -> Any:
    """Return the torch dtype for `requested` on `device`.

    `auto` is float32 on the CPU, bfloat16 on a CUDA GPU that supports it and
    float16 on other GPUs.
    """
    if requested == "auto":
        if device == "cpu":
            return torch.float32
        if device == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float16
    dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if requested not in dtypes:
        raise ModelLoadError(
            _("Invalid dtype '{dtype}'; use auto, float32, bfloat16 or float16.").format(dtype=requested)
        )
    return dtypes[requested]
