"""Model sources, device and dtype choice, load progress and one-line load errors."""

from __future__ import annotations

import shutil
import sys
import types

import pytest

from termchat.engine import LoadProgress, ModelLoadError, ModelSpec, load_backend
from termchat.engine.loader import make_download_bar_class, offline_variables
from termchat.engine.source import choose_device, choose_dtype, resolve_source


def fake_torch(cuda=False, mps=False, bf16=True):
    import torch

    return types.SimpleNamespace(
        __version__="2.13.0+test",
        cuda=types.SimpleNamespace(is_available=lambda: cuda, is_bf16_supported=lambda: bf16),
        backends=types.SimpleNamespace(mps=types.SimpleNamespace(is_available=lambda: mps)),
        float32=torch.float32,
        float16=torch.float16,
        bfloat16=torch.bfloat16,
    )


def copy_model(source, tmp_path, name="model"):
    target = tmp_path / name
    shutil.copytree(source, target)
    return target


def assert_one_line(error, *parts):
    message = str(error)
    assert "\n" not in message
    for part in parts:
        assert part in message


# Sources -------------------------------------------------------------------


def test_source_hub_id():
    source = resolve_source("gpt2")

    assert source.kind == "hub"
    assert source.model_id == "gpt2"


def test_source_hub_id_with_owner():
    assert resolve_source("HuggingFaceTB/SmolLM2-135M-Instruct").kind == "hub"


def test_source_folder(tmp_path):
    source = resolve_source(str(tmp_path))

    assert source.kind == "folder"
    assert source.path == tmp_path.resolve()


def test_source_gguf_file(tmp_path):
    model_file = tmp_path / "m.gguf"
    model_file.write_bytes(b"GGUF")
    source = resolve_source(str(model_file))

    assert source.kind == "gguf"
    assert source.path == tmp_path.resolve()
    assert source.gguf_file == str(model_file.resolve())


@pytest.mark.parametrize("model", ["./missing", "/no/such/model", "missing.gguf", "a/b/c", "bad id!", ""])
def test_source_rejects_bad_names(model):
    with pytest.raises(ModelLoadError) as caught:
        resolve_source(model)

    assert_one_line(caught.value, repr(model.strip())[1:-1] if model.strip() else "empty")


def test_source_rejects_non_gguf_file(tmp_path):
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"x")

    with pytest.raises(ModelLoadError) as caught:
        resolve_source(str(weights))

    assert_one_line(caught.value, str(weights), "folder")


# Device and dtype ----------------------------------------------------------


@pytest.mark.parametrize(
    ("cuda", "mps", "expected"),
    [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")],
)
def test_auto_device_prefers_cuda_then_mps(cuda, mps, expected):
    assert choose_device("auto", fake_torch(cuda=cuda, mps=mps)) == expected


@pytest.mark.parametrize("device", ["cuda", "mps"])
def test_unavailable_device_raises(device):
    with pytest.raises(ModelLoadError) as caught:
        choose_device(device, fake_torch())

    assert_one_line(caught.value, f"'{device}'", "--device cpu")


def test_auto_dtype_per_device():
    torch = fake_torch(cuda=True)

    assert choose_dtype("auto", "cpu", torch) is torch.float32
    assert choose_dtype("auto", "cuda", torch) is torch.bfloat16
    assert choose_dtype("auto", "cuda", fake_torch(cuda=True, bf16=False)) is torch.float16
    assert choose_dtype("auto", "mps", torch) is torch.float16
    assert choose_dtype("bfloat16", "cpu", torch) is torch.bfloat16


def test_cuda_request_on_cpu_machine_fails_load(tiny_gpt2_dir):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ModelLoadError) as caught:
        load_backend(ModelSpec(model=str(tiny_gpt2_dir), device="cuda"))

    assert_one_line(caught.value, "'cuda'", "--device cpu")


# Loading -------------------------------------------------------------------


def test_load_reports_steps_in_order(tiny_gpt2_dir):
    reports: list[LoadProgress] = []
    backend = load_backend(ModelSpec(model=str(tiny_gpt2_dir)), reports.append)

    assert [report.stage for report in reports] == ["load"] * 4
    assert [report.completed for report in reports] == [0, 1, 2, 3]
    assert all(report.total == 4 for report in reports)
    assert backend.info.model_id == str(tiny_gpt2_dir)


def test_load_chat_template_folder(tiny_gpt2_dir, tmp_path):
    from transformers import AutoTokenizer

    folder = copy_model(tiny_gpt2_dir, tmp_path)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.chat_template = "{% for m in messages %}{{ m.content }}{% endfor %}"
    tokenizer.save_pretrained(folder)

    assert load_backend(ModelSpec(model=str(folder))).info.has_chat_template


def test_folder_without_config(tiny_gpt2_dir, tmp_path):
    folder = copy_model(tiny_gpt2_dir, tmp_path)
    (folder / "config.json").unlink()

    with pytest.raises(ModelLoadError) as caught:
        load_backend(ModelSpec(model=str(folder)))

    assert_one_line(caught.value, str(folder), "config.json")


def test_folder_without_weights(tiny_gpt2_dir, tmp_path):
    folder = copy_model(tiny_gpt2_dir, tmp_path)
    (folder / "model.safetensors").unlink()

    with pytest.raises(ModelLoadError) as caught:
        load_backend(ModelSpec(model=str(folder)))

    assert_one_line(caught.value, str(folder), "no weights")


def test_unreadable_weights(tiny_gpt2_dir, tmp_path):
    folder = copy_model(tiny_gpt2_dir, tmp_path)
    (folder / "model.safetensors").write_bytes(b"\x00\x01 not a safetensors file")

    with pytest.raises(ModelLoadError) as caught:
        load_backend(ModelSpec(model=str(folder)))

    assert_one_line(caught.value, str(folder), "cannot be read")


def test_not_a_causal_lm(tmp_path):
    from transformers import ViTConfig, ViTModel

    folder = tmp_path / "vit"
    config = ViTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, image_size=32)
    ViTModel(config).save_pretrained(folder)

    with pytest.raises(ModelLoadError) as caught:
        load_backend(ModelSpec(model=str(folder)))

    assert_one_line(caught.value, str(folder), "'vit'", "not a causal language model")


def test_out_of_memory_while_loading(tiny_gpt2_dir, monkeypatch):
    import torch
    import transformers

    def out_of_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", out_of_memory)
    with pytest.raises(ModelLoadError) as caught:
        load_backend(ModelSpec(model=str(tiny_gpt2_dir)))

    assert_one_line(caught.value, "Out of memory", str(tiny_gpt2_dir), "smaller model")


def test_hub_model_not_cached_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")

    with pytest.raises(ModelLoadError) as caught:
        load_backend(ModelSpec(model="gpt2"))

    assert_one_line(
        caught.value,
        "'gpt2'",
        "not in the cache",
        "offline mode is on (HF_HUB_OFFLINE=1, TRANSFORMERS_OFFLINE=1)",
        "`unset HF_HUB_OFFLINE TRANSFORMERS_OFFLINE`",
    )
    assert "cannot be reached" not in str(caught.value)


def test_hub_model_not_cached_unreachable(monkeypatch):
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    def unreachable(repo_id, **kwargs):
        raise LocalEntryNotFoundError("An error happened while trying to locate the files on the Hub")

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE")
    monkeypatch.setattr(huggingface_hub, "snapshot_download", unreachable)
    with pytest.raises(ModelLoadError) as caught:
        load_backend(ModelSpec(model="gpt2"))

    assert_one_line(caught.value, "'gpt2'", "not in the cache", "cannot be reached", "connect to the network")
    assert "offline mode" not in str(caught.value)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, []),
        ({"HF_HUB_OFFLINE": "1"}, ["HF_HUB_OFFLINE"]),
        ({"HF_HUB_OFFLINE": "yes"}, ["HF_HUB_OFFLINE"]),
        ({"HF_HUB_OFFLINE": "0"}, []),
        ({"TRANSFORMERS_OFFLINE": "true"}, ["TRANSFORMERS_OFFLINE"]),
        ({"HF_HUB_OFFLINE": "", "TRANSFORMERS_OFFLINE": "ON"}, ["TRANSFORMERS_OFFLINE"]),
        # huggingface_hub reads TRANSFORMERS_OFFLINE only when HF_HUB_OFFLINE is unset or empty.
        ({"HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": "1"}, []),
        ({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "0"}, ["HF_HUB_OFFLINE"]),
        ({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}, ["HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"]),
    ],
)
def test_offline_variables(environ, expected):
    assert offline_variables(environ) == expected


def test_unknown_hub_id(monkeypatch):
    import huggingface_hub
    from huggingface_hub.errors import RepositoryNotFoundError

    def not_found(repo_id, **kwargs):
        response = types.SimpleNamespace(headers={}, request=None, status_code=404)
        raise RepositoryNotFoundError(f"404 Client Error. Repository Not Found for url: {repo_id}", response=response)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", not_found)
    with pytest.raises(ModelLoadError) as caught:
        load_backend(ModelSpec(model="nobody/no-such-model"))

    assert_one_line(caught.value, "'nobody/no-such-model'", "not found")


def test_cached_hub_model_loads_offline(tiny_gpt2_dir, monkeypatch):
    import huggingface_hub

    requests = []

    def cached(repo_id, **kwargs):
        requests.append((repo_id, kwargs["allow_patterns"]))
        return str(tiny_gpt2_dir)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", cached)
    backend = load_backend(ModelSpec(model="gpt2"))

    assert backend.info.model_id == "gpt2"
    assert len(requests) == 1
    assert "*.safetensors" in requests[0][1]
    assert "*.py" not in requests[0][1]


def test_gguf_without_extra(tmp_path, monkeypatch):
    model_file = tmp_path / "model.gguf"
    model_file.write_bytes(b"GGUF")
    monkeypatch.setitem(sys.modules, "gguf", None)

    with pytest.raises(ModelLoadError) as caught:
        load_backend(ModelSpec(model=str(model_file)))

    assert_one_line(caught.value, "pip install 'termchat[gguf]'")


def test_remote_code_model_without_flag(tiny_gpt2_dir, tmp_path):
    import json

    folder = copy_model(tiny_gpt2_dir, tmp_path)
    config = json.loads((folder / "config.json").read_text())
    config["model_type"] = "custom-remote"
    config["auto_map"] = {"AutoConfig": "configuration_custom.CustomConfig"}
    (folder / "config.json").write_text(json.dumps(config))

    with pytest.raises(ModelLoadError) as caught:
        load_backend(ModelSpec(model=str(folder)))

    assert_one_line(caught.value, "--trust-remote-code")


# Download progress ---------------------------------------------------------


def test_download_bar_reports_bytes():
    reports: list[LoadProgress] = []
    bar_class = make_download_bar_class(reports.append)

    files = bar_class(total=2, desc="Fetching 2 files")
    received = bar_class(total=0, unit="B", unit_scale=True, desc="Downloading bytes")
    received.total = 1000
    received.update(400)
    received.update(600)
    files.update(1)
    received.close()
    files.close()

    assert [report.stage for report in reports] == ["download", "download"]
    assert [report.completed for report in reports] == [400, 1000]
    assert reports[-1].total == 1000


def test_download_bar_draws_nothing(capsys):
    bar_class = make_download_bar_class(lambda report: None)
    bar = bar_class(total=10, unit="B")
    bar.update(10)
    bar.close()

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ""
