"""Reading and writing the user's config file."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from termchat.config import Config, ConfigError, load_config, save_generation_defaults, save_theme
from termchat.engine import GenerationSettings


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    assert load_config(tmp_path / "absent.toml") == Config()


def test_unreadable_file_names_path(tmp_path: Path) -> None:
    folder = tmp_path / "config.toml"
    folder.mkdir()
    with pytest.raises(ConfigError) as caught:
        load_config(folder)
    assert str(folder) in str(caught.value)
    assert "cannot read the config file" in str(caught.value)


def test_full_file_is_read(tmp_path: Path) -> None:
    path = write(
        tmp_path / "config.toml",
        """
[termchat]
model = "distilgpt2"
device = "cpu"
dtype = "float32"
lang = "zh_CN"
theme = "nord"

[generation]
temperature = 0
max_new_tokens = 20
system_prompt = "Be brief."

[keys]
send = "ctrl+s"
""",
    )
    config = load_config(path)
    assert config.model == "distilgpt2"
    assert config.device == "cpu"
    assert config.dtype == "float32"
    assert config.lang == "zh_CN"
    assert config.theme == "nord"
    assert config.generation.temperature == 0
    assert config.generation.max_new_tokens == 20
    assert config.generation.system_prompt == "Be brief."
    assert config.generation.top_k == GenerationSettings().top_k
    assert config.keys == {"send": "ctrl+s"}


@pytest.mark.parametrize(
    ("text", "expected_fragment"),
    [
        ("[termchat\nmodel = 1", "invalid TOML"),
        ("[termchat]\ndevice = \"tpu\"", "device"),
        ("[termchat]\ndtype = \"int4\"", "dtype"),
        ("[termchat]\nmodle = \"gpt2\"", "modle"),
        ("[termchat]\nmodel = 3", "model"),
        ("[generation]\ntop_p = 1.5", "top_p"),
        ("[generation]\ntemprature = 1", "temprature"),
        ("[keys]\nsend = 5", "send"),
        ("[colors]\nx = 1", "colors"),
        ("termchat = 5", "termchat"),
    ],
)
def test_invalid_file_raises_one_line(tmp_path: Path, text: str, expected_fragment: str) -> None:
    path = write(tmp_path / "config.toml", text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert str(path) in message
    assert expected_fragment in message
    assert "\n" not in message


def test_save_generation_defaults_keeps_other_keys(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", '[termchat]\nmodel = "distilgpt2"\n\n[keys]\nsend = "ctrl+s"\n')
    settings = GenerationSettings(temperature=0.0, max_new_tokens=20, seed=7)

    save_generation_defaults(settings, path)

    config = load_config(path)
    assert config.model == "distilgpt2"
    assert config.keys == {"send": "ctrl+s"}
    assert config.generation == settings


def test_save_generation_defaults_omits_empty_seed(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "config.toml"

    save_generation_defaults(GenerationSettings(), path)

    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert "seed" not in data["generation"]
    assert load_config(path).generation == GenerationSettings()


def test_save_theme_keeps_other_keys(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", '[termchat]\nmodel = "distilgpt2"\n\n[generation]\ntop_k = 5\n')

    save_theme("gruvbox", path)

    config = load_config(path)
    assert config.theme == "gruvbox"
    assert config.model == "distilgpt2"
    assert config.generation.top_k == 5


def test_default_path_follows_termchat_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERMCHAT_HOME", str(tmp_path))

    save_theme("nord")

    assert (tmp_path / "config" / "config.toml").is_file()
    assert load_config().theme == "nord"
