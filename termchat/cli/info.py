"""`termchat info`: versions, devices and paths for a bug report.

This command imports torch and transformers on purpose, because their
versions and the devices torch finds are what it reports.
"""

from __future__ import annotations

import platform
import sys
from typing import Any

import typer

from termchat.cli.help_format import TermchatCommand
from termchat.i18n import _


def collect_info() -> list[tuple[str, str]]:
    """Return (label, value) rows: versions, devices, default model and paths."""
    from termchat import DEFAULT_MODEL, __version__
    from termchat.paths import resolve_paths

    rows = [
        (_("termchat"), __version__),
        (_("Python"), f"{platform.python_version()} ({sys.executable})"),
        (_("Platform"), platform.platform()),
    ]
    rows.extend(_library_rows())
    rows.append((_("Default model"), _default_model(DEFAULT_MODEL)))

    paths = resolve_paths()
    rows.extend(
        [
            (_("Config file"), str(paths.config_file)),
            (_("Data folder"), str(paths.data_dir)),
            (_("Cache folder"), str(paths.cache_dir)),
            (_("Log file"), str(paths.log_file)),
            (_("Hugging Face cache"), _hf_cache_dir()),
        ]
    )
    return rows


def _library_rows() -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    try:
        import torch
    except ImportError:
        rows.append((_("torch"), _("not installed")))
        rows.append((_("Devices"), _("none (torch is not installed)")))
    else:
        rows.append((_("torch"), torch.__version__))
        rows.append((_("Devices"), ", ".join(available_devices(torch))))

    try:
        import transformers
    except ImportError:
        rows.append((_("transformers"), _("not installed")))
    else:
        rows.append((_("transformers"), transformers.__version__))

    for name in ("huggingface_hub", "tokenizers", "textual", "gguf", "accelerate"):
        rows.append((name, _package_version(name)))
    return rows


def available_devices(torch: Any) -> list[str]:
    """Return the devices torch can use, with GPU names."""
    devices = ["cpu"]
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            devices.append(f"cuda:{index} ({torch.cuda.get_device_name(index)})")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append("mps")
    return devices


def _package_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return _("not installed")


def _default_model(builtin: str) -> str:
    """Return the model `termchat` loads without --model: the config file's, else the built-in one."""
    from termchat.config import ConfigError, load_config

    try:
        configured = load_config().model
    except ConfigError as error:
        return _("{model} (the config file is invalid: {error})").format(model=builtin, error=error)
    return configured


def _hf_cache_dir() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def info() -> None:
    """Print termchat, Python, torch and transformers versions, devices and paths."""
    rows = collect_info()
    width = max(len(label) for label, _value in rows)
    for label, value in rows:
        typer.echo(f"{label + ':':<{width + 2}}{value}")


def register(app: typer.Typer) -> None:
    """Add the `info` command to the `termchat` command."""
    app.command(
        "info", help=_("Print termchat, Python, torch and transformers versions, devices and paths."), cls=TermchatCommand
    )(info)
