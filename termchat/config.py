"""The user's config file: TOML with `[termchat]`, `[generation]` and `[keys]` tables.

Example:

    [termchat]
    model = "gpt2"          # Hub id, local folder or .gguf file
    device = "auto"         # auto, cpu, cuda or mps
    dtype = "auto"          # auto, float32, bfloat16 or float16
    lang = "zh_CN"          # optional; the locale decides when missing
    theme = "nord"          # optional; any Textual theme name

    [generation]
    temperature = 0.7
    max_new_tokens = 256

    [keys]
    send = "enter"          # binding id = key, as Textual's set_keymap takes it

Command-line options override these values; a missing file gives the defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

from termchat import DEFAULT_MODEL
from termchat.engine.backend import Device, DType
from termchat.engine.errors import SettingsError
from termchat.engine.settings import GenerationSettings
from termchat.i18n import _
from termchat.paths import resolve_paths

DEVICES: tuple[str, ...] = get_args(Device)
DTYPES: tuple[str, ...] = get_args(DType)
_TERMCHAT_KEYS = ("model", "device", "dtype", "lang", "theme")
_TABLES = ("termchat", "generation", "keys")


class ConfigError(ValueError):
    """Raised when the config file cannot be read or contains an invalid value. Its message is one line."""


@dataclass(frozen=True)
class Config:
    """Settings read from the config file, with defaults for everything missing."""

    model: str = DEFAULT_MODEL
    """A Hub id, a local model folder or a `.gguf` file."""
    device: str = "auto"
    """One of DEVICES."""
    dtype: str = "auto"
    """One of DTYPES."""
    lang: str | None = None
    """Language of the interface, such as `zh_CN`. None means the locale decides."""
    theme: str | None = None
    """Textual theme name. None keeps Textual's default theme."""
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    """Default generation settings for new conversations."""
    keys: dict[str, str] = field(default_factory=dict)
    """Binding id to key string, for `App.set_keymap`."""


def default_config_path() -> Path:
    return resolve_paths().config_file


def load_config(path: Path | None = None) -> Config:
    """Read the config file at `path` (default: the config dir's config.toml).

    Raises ConfigError naming the file, the key and the fix when the file is
    malformed or a value is invalid. A missing file gives `Config()`.
    """
    config_path = path if path is not None else default_config_path()
    data = _read_toml(config_path)
    if not data:
        return Config()

    for table in data:
        if table not in _TABLES:
            raise ConfigError(
                _("{file}: unknown table [{table}]; use [termchat], [generation] or [keys].").format(
                    file=config_path, table=table
                )
            )

    termchat_table = _table(data, "termchat", config_path)
    generation_table = _table(data, "generation", config_path)
    keys_table = _table(data, "keys", config_path)

    values = _parse_termchat_table(termchat_table, config_path)
    generation = _parse_generation_table(generation_table, config_path)
    keys = _parse_keys_table(keys_table, config_path)
    return Config(**values, generation=generation, keys=keys)


def save_generation_defaults(settings: GenerationSettings, path: Path | None = None) -> Path:
    """Write `settings` as the `[generation]` table, keeping every other key. Returns the file path."""
    config_path = path if path is not None else default_config_path()
    data = _read_toml(config_path)
    data["generation"] = {
        name: value for name, value in settings.to_dict().items() if value is not None
    }
    _write_toml(config_path, data)
    return config_path


def save_theme(theme: str, path: Path | None = None) -> Path:
    """Write `theme` as `[termchat] theme`, keeping every other key. Returns the file path."""
    config_path = path if path is not None else default_config_path()
    data = _read_toml(config_path)
    table = data.get("termchat")
    if not isinstance(table, dict):
        table = {}
    table["theme"] = theme
    data["termchat"] = table
    _write_toml(config_path, data)
    return config_path


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        file = path.open("rb")
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise _read_error(path, error) from None
    # Imported only when a config file exists: about 1.5 ms of the app's start.
    import tomllib

    try:
        with file:
            return tomllib.load(file)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(
            _("{file}: invalid TOML ({error}); fix the line or delete the file to use the defaults.").format(
                file=path, error=error
            )
        ) from None
    except OSError as error:
        raise _read_error(path, error) from None


def _read_error(path: Path, error: OSError) -> ConfigError:
    return ConfigError(
        _("{file}: cannot read the config file ({error}); check its permissions.").format(
            file=path, error=error.strerror or error
        )
    )


def _write_toml(path: Path, data: Mapping[str, Any]) -> None:
    # Write to a temporary file and rename it, so a crash never leaves half a config file.
    # tomli_w is imported here because only saving needs it, not the start of the app.
    import tomli_w

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".tmp")
        with temporary.open("wb") as file:
            tomli_w.dump(data, file)
        temporary.replace(path)
    except OSError as error:
        raise ConfigError(
            _("{file}: cannot write the config file ({error}); check the folder's permissions.").format(
                file=path, error=error.strerror or error
            )
        ) from None


def _table(data: Mapping[str, Any], name: str, path: Path) -> Mapping[str, Any]:
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise ConfigError(
            _("{file}: '{name}' must be a table; write it as [{name}] followed by key = value lines.").format(
                file=path, name=name
            )
        )
    return table


def _parse_termchat_table(table: Mapping[str, Any], path: Path) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in _TERMCHAT_KEYS:
            raise ConfigError(
                _("{file}: unknown key '{key}' in [termchat]; known keys: {known}.").format(
                    file=path, key=key, known=", ".join(_TERMCHAT_KEYS)
                )
            )
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(
                _("{file}: [termchat] {key} must be a non-empty string, not {value!r}.").format(
                    file=path, key=key, value=value
                )
            )
        values[key] = value.strip()

    for key, allowed in (("device", DEVICES), ("dtype", DTYPES)):
        if key in values and values[key] not in allowed:
            raise ConfigError(
                _("{file}: [termchat] {key} = {value!r} is invalid; use one of: {allowed}.").format(
                    file=path, key=key, value=values[key], allowed=", ".join(allowed)
                )
            )
    return values


def _parse_generation_table(table: Mapping[str, Any], path: Path) -> GenerationSettings:
    try:
        return GenerationSettings.from_mapping(table)
    except SettingsError as error:
        raise ConfigError(
            _("{file}: [generation] {message}").format(file=path, message=error)
        ) from None


def _parse_keys_table(table: Mapping[str, Any], path: Path) -> dict[str, str]:
    keys: dict[str, str] = {}
    for binding_id, key in table.items():
        if not isinstance(key, str) or not key.strip():
            raise ConfigError(
                _("{file}: [keys] {id} must be a key name such as \"ctrl+s\", not {value!r}.").format(
                    file=path, id=binding_id, value=key
                )
            )
        keys[binding_id] = key.strip()
    return keys
