"""Streaming replies from a real (tiny, random) GPT-2 through TransformersBackend."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import pytest

from termchat.engine import ChatMessage, GenerationError, GenerationSettings, ModelSpec, StopReason, load_backend
from termchat.engine.streaming import decode_ids, finalize_reply_text
from termchat.engine.transformers_backend import TransformersReplyStream
from tests.conftest import TINY_CONTEXT_SIZE, TRAINED_REPLY

GREEDY = GenerationSettings(temperature=0, max_new_tokens=12)
HI = [ChatMessage("user", "hi")]


@pytest.fixture(scope="module")
def backend(tiny_gpt2_dir):
    import torch

    torch.set_num_threads(1)
    return load_backend(ModelSpec(model=str(tiny_gpt2_dir), device="cpu"))


@pytest.fixture(scope="module")
def trained_backend(trained_gpt2_dir):
    return load_backend(ModelSpec(model=str(trained_gpt2_dir), device="cpu"))


def run(stream):
    deltas = list(stream)
    return deltas, stream.reply


def test_backend_info_reports_model(backend):
    assert backend.info.backend == "transformers"
    assert backend.info.device == "cpu"
    assert backend.info.dtype == "float32"
    assert backend.info.context_size == TINY_CONTEXT_SIZE
    assert backend.info.has_chat_template is False


def test_stream_plan_known_before_first_delta(backend):
    stream = backend.stream(HI, GREEDY)

    assert stream.plan.tokens_in > 0
    assert stream.plan.context_size == TINY_CONTEXT_SIZE
    list(stream)


def test_stream_reply_metadata(backend):
    deltas, reply = run(backend.stream(HI, GREEDY))

    assert reply is not None
    assert reply.text == "".join(deltas)
    assert reply.metadata.tokens_out == 12
    assert reply.metadata.stop_reason is StopReason.LENGTH
    assert reply.metadata.tokens_in == backend.plan(HI, GREEDY).tokens_in
    assert reply.metadata.time_to_first_token is not None
    assert reply.metadata.tokens_per_second is not None
    assert reply.metadata.tokens_per_second > 0


def test_greedy_reply_is_repeatable(backend):
    _deltas, first = run(backend.stream(HI, GREEDY))
    _deltas, second = run(backend.stream(HI, GREEDY))

    assert first.text == second.text


def test_same_seed_gives_same_reply(backend):
    settings = GenerationSettings(temperature=1.0, top_k=0, top_p=1.0, max_new_tokens=16, seed=1234)
    _deltas, first = run(backend.stream(HI, settings))
    _deltas, second = run(backend.stream(HI, settings))
    _deltas, other = run(backend.stream(HI, settings.replace(seed=99)))

    assert first.text == second.text
    assert first.text != other.text


def test_deltas_equal_one_shot_decode(backend, monkeypatch):
    generated = {}
    original = TransformersReplyStream._finish

    def keep_ids(self):
        generated["ids"] = list(self._decoder.ids)
        original(self)

    monkeypatch.setattr(TransformersReplyStream, "_finish", keep_ids)
    settings = GenerationSettings(temperature=1.0, max_new_tokens=40, seed=5)
    deltas, reply = run(backend.stream([ChatMessage("user", "你好 😀 tell me")], settings))

    one_shot = finalize_reply_text(decode_ids(backend.tokenizer, generated["ids"]), ())
    one_shot_markers = finalize_reply_text(decode_ids(backend.tokenizer, generated["ids"]), ("\nUser:",))
    assert "".join(deltas) == reply.text
    assert reply.text in (one_shot, one_shot_markers)


def test_trained_model_stops_at_turn_marker(trained_backend):
    deltas, reply = run(trained_backend.stream(HI, GenerationSettings(temperature=0, max_new_tokens=30)))

    assert reply.text == TRAINED_REPLY
    assert reply.metadata.stop_reason is StopReason.TURN_MARKER
    assert all("User" not in delta for delta in deltas)
    assert reply.metadata.tokens_out < 30


def test_multibyte_reply_streams_without_replacement(trained_backend):
    deltas, reply = run(trained_backend.stream(HI, GenerationSettings(temperature=0, max_new_tokens=30)))

    assert len(deltas) > 3, "the reply should arrive in several deltas"
    assert all("\ufffd" not in delta for delta in deltas)
    assert "".join(deltas) == "你好😀 Paris."


def test_cancel_stops_within_one_token(backend, monkeypatch):
    cancel = threading.Event()
    original = TransformersReplyStream.on_tokens
    seen = []

    def cancel_after_five(self, ids):
        original(self, ids)
        seen.extend(ids)
        if len(seen) == 5:
            cancel.set()

    monkeypatch.setattr(TransformersReplyStream, "on_tokens", cancel_after_five)
    deltas, reply = run(backend.stream(HI, GenerationSettings(temperature=0, max_new_tokens=60), cancel))

    assert reply.metadata.stop_reason is StopReason.CANCELLED
    assert reply.metadata.tokens_out == 5
    assert reply.stopped
    assert reply.text == "".join(deltas)


def test_cancel_from_consumer_ends_stream(backend):
    cancel = threading.Event()
    stream = backend.stream(HI, GenerationSettings(temperature=0, max_new_tokens=100), cancel)
    first = next(stream)
    cancel.set()
    rest = list(stream)

    assert stream.reply.metadata.stop_reason is StopReason.CANCELLED
    assert stream.reply.text == first + "".join(rest)
    assert stream.reply.metadata.tokens_out < 100


def test_close_stops_worker(backend):
    stream = backend.stream(HI, GenerationSettings(temperature=0, max_new_tokens=100))
    next(stream)
    stream.close()

    assert not stream._thread.is_alive()
    assert stream.reply is not None
    assert stream.reply.metadata.stop_reason is StopReason.CANCELLED


def test_worker_error_reaches_consumer(backend, monkeypatch):
    model = backend.model
    original_forward = model.forward
    calls = []

    def failing_forward(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("simulated failure")
        return original_forward(*args, **kwargs)

    monkeypatch.setattr(model, "forward", failing_forward)
    stream = backend.stream(HI, GenerationSettings(temperature=0, max_new_tokens=20))
    received = []
    with pytest.raises(GenerationError) as caught:
        for delta in stream:
            received.append(delta)

    assert "simulated failure" in str(caught.value)
    assert caught.value.reply is stream.reply
    assert stream.reply.metadata.stop_reason is StopReason.ERROR
    assert stream.reply.metadata.tokens_out == 3
    assert stream.reply.text == "".join(received)
    assert not stream._thread.is_alive()


def test_generate_gets_mask_and_pad_token(backend, monkeypatch):
    recorded = {}
    original = backend.model.generate

    def spy(**kwargs):
        recorded.update(kwargs)
        return original(**kwargs)

    monkeypatch.setattr(backend.model, "generate", spy)
    run(backend.stream(HI, GREEDY))

    assert recorded["attention_mask"].shape == recorded["input_ids"].shape
    assert recorded["generation_config"].pad_token_id == backend.tokenizer.eos_token_id
    assert recorded["generation_config"].do_sample is False


def test_long_conversation_never_raises(backend):
    history = []
    for index in range(40):
        history.append(ChatMessage("user" if index % 2 == 0 else "assistant", f"turn {index} " + "text " * 30))
    messages = [*history, ChatMessage("user", "word " * 3000)]
    settings = GenerationSettings(temperature=0, max_new_tokens=200)

    deltas, reply = run(backend.stream(messages, settings))

    assert reply.metadata.turns_dropped == 40
    assert reply.metadata.tokens_in + reply.metadata.tokens_out <= TINY_CONTEXT_SIZE
    assert reply.metadata.stop_reason is StopReason.LENGTH


def test_generation_writes_nothing_to_terminal(tiny_gpt2_dir, tmp_path):
    log_file = tmp_path / "termchat.log"
    script = textwrap.dedent(
        f"""
        import torch
        torch.set_num_threads(1)
        from pathlib import Path
        from termchat.log import setup_logging
        setup_logging(Path({str(log_file)!r}))
        from termchat.engine import ChatMessage, GenerationSettings, ModelSpec, load_backend
        backend = load_backend(ModelSpec(model={str(tiny_gpt2_dir)!r}))
        for settings in (
            GenerationSettings(temperature=0, max_new_tokens=5),
            GenerationSettings(temperature=0.8, top_k=0, top_p=0.9, max_new_tokens=5, seed=1),
        ):
            reply = backend.stream([ChatMessage("user", "hi")], settings)
            for delta in reply:
                pass
        import sys
        assert "textual" not in sys.modules, "the engine imported Textual"
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)

    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr == ""
    log_text = log_file.read_text(encoding="utf-8")
    assert "generation started" in log_text
    assert "attention mask" not in log_text
    assert "pad_token_id" not in log_text
