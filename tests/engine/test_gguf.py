"""Loading a single .gguf file: the chat-template path, weights and terminal output."""

from __future__ import annotations

import contextlib
import io

import pytest

from termchat.engine import ChatMessage, GenerationSettings, ModelSpec, StopReason, load_backend
from tests.engine.gguf_file import write_gpt2_gguf

TEMPLATE = (
    "{% for message in messages %}<|{{ message.role }}|>{{ message.content }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


@pytest.fixture(scope="module")
def gguf_model(tiny_gpt2_dir, tmp_path_factory):
    """A random 2-layer GPT-2 saved both as a folder and as model.gguf with a chat template."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast

    tokenizer = GPT2TokenizerFast.from_pretrained(tiny_gpt2_dir)
    torch.manual_seed(1)
    # 1024 positions, GPT-2's default, because transformers 5.25 reads the
    # GGUF context length into n_ctx but not n_positions.
    config = GPT2Config(
        n_layer=2,
        n_embd=64,
        n_head=2,
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    model = GPT2LMHeadModel(config)
    root = tmp_path_factory.mktemp("gguf")
    folder = root / "folder"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    gguf_path = root / "model.gguf"
    write_gpt2_gguf(model, tokenizer, gguf_path, chat_template=TEMPLATE)
    return folder, gguf_path


@pytest.fixture(scope="module")
def gguf_load(gguf_model, tmp_path_factory):
    """Load model.gguf once, because converting it takes about 30 s.

    The working directory then contains another, invalid file named
    model.gguf, and Python-level stderr output is recorded. The GGUF cache
    is written to a temporary TERMCHAT_HOME.
    """
    _folder, gguf_path = gguf_model
    decoy_dir = tmp_path_factory.mktemp("decoy")
    (decoy_dir / gguf_path.name).write_bytes(b"not a gguf file")
    stderr = io.StringIO()
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("TERMCHAT_HOME", str(tmp_path_factory.mktemp("gguf_home")))
        monkeypatch.chdir(decoy_dir)
        with contextlib.redirect_stderr(stderr):
            backend = load_backend(ModelSpec(model=str(gguf_path)))
    return backend, stderr.getvalue()


def test_gguf_loads_with_chat_template(gguf_load):
    backend, _stderr = gguf_load

    assert backend.info.has_chat_template
    assert backend.info.context_size == 1024
    prompt = backend.prompt_builder.build([ChatMessage("user", "hi")], GenerationSettings())
    assert backend.tokenizer.decode(prompt.input_ids) == "<|user|>hi\n<|assistant|>"
    assert prompt.stop_markers == ()


def test_gguf_load_writes_no_progress(gguf_load):
    _backend, stderr = gguf_load

    assert stderr == ""


def test_gguf_weights_match_folder(gguf_model, gguf_load):
    import torch

    folder, _gguf_path = gguf_model
    from_gguf = gguf_load[0].model
    from_folder = load_backend(ModelSpec(model=str(folder))).model
    ids = torch.tensor([[464, 3139, 286, 4881, 318]])

    with torch.no_grad():
        difference = (from_gguf(ids).logits - from_folder(ids).logits).abs().max().item()

    assert difference < 1e-4


def test_gguf_backend_streams(gguf_load):
    backend, _stderr = gguf_load
    stream = backend.stream([ChatMessage("user", "hi")], GenerationSettings(temperature=0, max_new_tokens=6))
    deltas = list(stream)

    assert stream.reply.text == "".join(deltas)
    assert stream.reply.metadata.tokens_out == 6
    assert stream.reply.metadata.stop_reason is StopReason.LENGTH
