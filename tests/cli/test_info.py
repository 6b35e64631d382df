"""`termchat info`: versions, devices, default model and paths."""

from __future__ import annotations

import platform

import pytest
import typer
from typer.testing import CliRunner

from termchat import __version__
from termchat.cli import info as info_module
from termchat.cli.info import available_devices, collect_info

runner = CliRunner()


@pytest.fixture
def cli_app(tmp_home):
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """termchat"""

    info_module.register(app)
    return app


def test_info_prints_versions_and_paths(cli_app, tmp_home):
    import torch
    import transformers

    result = runner.invoke(cli_app, ["info"])

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("termchat:") and __version__ in line for line in lines)
    assert any(line.startswith("Python:") and platform.python_version() in line for line in lines)
    assert any(line.startswith("torch:") and torch.__version__ in line for line in lines)
    assert any(line.startswith("transformers:") and transformers.__version__ in line for line in lines)
    assert any(line.startswith("Devices:") and "cpu" in line for line in lines)
    assert any(line.startswith("Default model:") and "gpt2" in line for line in lines)
    for label in ("Config file:", "Data folder:", "Cache folder:", "Log file:"):
        assert any(line.startswith(label) and str(tmp_home) in line for line in lines), label
    assert result.stderr == ""


def test_info_default_model_from_config(tmp_home):
    (tmp_home / "config").mkdir()
    (tmp_home / "config" / "config.toml").write_text('[termchat]\nmodel = "my/model"\n', encoding="utf-8")

    rows = dict(collect_info())

    assert rows["Default model"] == "my/model"


def test_info_lists_cuda_devices():
    class FakeCuda:
        @staticmethod
        def is_available():
            return True

        @staticmethod
        def device_count():
            return 2

        @staticmethod
        def get_device_name(index):
            return f"GPU {index}"

    class FakeTorch:
        cuda = FakeCuda
        backends = None

    assert available_devices(FakeTorch) == ["cpu", "cuda:0 (GPU 0)", "cuda:1 (GPU 1)"]
