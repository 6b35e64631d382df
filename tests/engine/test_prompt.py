"""Prompt format, the chat-template path and trimming to the context window."""

from __future__ import annotations

import pytest

from termchat.engine import ChatMessage, GenerationError, GenerationSettings
from termchat.engine.prompt import (
    STOP_MARKERS,
    PromptBuilder,
    clamp_max_new_tokens,
    format_marker_prompt,
    split_conversation,
)
from tests.conftest import TINY_CONTEXT_SIZE

TEMPLATE = (
    "{% for message in messages %}<|{{ message.role }}|>{{ message.content }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
NO_SYSTEM_TEMPLATE = (
    "{% for message in messages %}{% if message.role == 'system' %}"
    "{{ raise_exception('System role not supported') }}{% endif %}"
    "<|{{ message.role }}|>{{ message.content }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


@pytest.fixture(scope="module")
def tokenizer(tiny_gpt2_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_gpt2_dir)


@pytest.fixture
def template_tokenizer(tiny_gpt2_dir):
    from transformers import AutoTokenizer

    loaded = AutoTokenizer.from_pretrained(tiny_gpt2_dir)
    loaded.chat_template = TEMPLATE
    return loaded


def user(text):
    return ChatMessage("user", text)


def assistant(text):
    return ChatMessage("assistant", text)


def long_history(turns, words_per_turn):
    text = " ".join(["word"] * words_per_turn)
    return [user(f"q{i} {text}") if i % 2 == 0 else assistant(f"a{i} {text}") for i in range(turns)]


def decoded_prompt(tokenizer, built):
    return tokenizer.decode(built.input_ids)


def test_marker_format_alternates_roles():
    text = format_marker_prompt([ChatMessage("system", "Be brief."), user("Hi"), assistant("Hello"), user("Bye")])

    assert text == "System: Be brief.\n\nUser: Hi\n\nAssistant: Hello\n\nUser: Bye\n\nAssistant:"


def test_stop_markers_start_next_turns():
    assert "\nUser:" in STOP_MARKERS
    assert "\nAssistant:" in STOP_MARKERS


def test_builder_without_template_uses_markers(tokenizer):
    builder = PromptBuilder(tokenizer, TINY_CONTEXT_SIZE)
    built = builder.build([user("Hi"), assistant("Hello"), user("Bye")], GenerationSettings(max_new_tokens=16))

    assert decoded_prompt(tokenizer, built) == "User: Hi\n\nAssistant: Hello\n\nUser: Bye\n\nAssistant:"
    assert built.stop_markers == STOP_MARKERS
    assert built.plan.tokens_in == len(built.input_ids)
    assert built.plan.turns_dropped == 0


def test_builder_system_prompt_setting_comes_first(tokenizer):
    builder = PromptBuilder(tokenizer, TINY_CONTEXT_SIZE)
    messages = [ChatMessage("system", "old"), user("Hi")]
    built = builder.build(messages, GenerationSettings(max_new_tokens=16, system_prompt="Be brief."))

    assert decoded_prompt(tokenizer, built) == "System: Be brief.\n\nUser: Hi\n\nAssistant:"


def test_builder_system_message_used_without_setting(tokenizer):
    builder = PromptBuilder(tokenizer, TINY_CONTEXT_SIZE)
    built = builder.build([ChatMessage("system", "old"), user("Hi")], GenerationSettings(max_new_tokens=16))

    assert decoded_prompt(tokenizer, built).startswith("System: old\n\n")


def test_builder_with_template_uses_it(template_tokenizer):
    builder = PromptBuilder(template_tokenizer, TINY_CONTEXT_SIZE)
    settings = GenerationSettings(max_new_tokens=16, system_prompt="Be brief.")
    built = builder.build([user("Hi"), assistant("Hello"), user("Bye")], settings)

    expected = "<|system|>Be brief.\n<|user|>Hi\n<|assistant|>Hello\n<|user|>Bye\n<|assistant|>"
    assert decoded_prompt(template_tokenizer, built) == expected
    assert built.stop_markers == ()


def test_template_without_system_role_gets_merged(template_tokenizer):
    template_tokenizer.chat_template = NO_SYSTEM_TEMPLATE
    builder = PromptBuilder(template_tokenizer, TINY_CONTEXT_SIZE)
    built = builder.build([user("Hi")], GenerationSettings(max_new_tokens=16, system_prompt="Be brief."))

    assert decoded_prompt(template_tokenizer, built) == "<|user|>Be brief.\n\nHi\n<|assistant|>"


def test_conversation_without_user_turn_raises():
    with pytest.raises(GenerationError):
        split_conversation([ChatMessage("system", "x")], GenerationSettings())


def test_long_history_drops_oldest_turns(tokenizer):
    builder = PromptBuilder(tokenizer, TINY_CONTEXT_SIZE)
    history = long_history(40, 5)
    settings = GenerationSettings(max_new_tokens=32, system_prompt="Be brief.")
    built = builder.build([*history, user("current question")], settings)
    text = decoded_prompt(tokenizer, built)

    assert built.plan.turns_dropped > 0
    assert len(built.input_ids) <= TINY_CONTEXT_SIZE - 32
    assert text.startswith("System: Be brief.\n\nUser: ")
    assert text.endswith("User: current question\n\nAssistant:")
    assert "q0 " not in text
    assert not built.plan.truncated_current


def test_trimming_drops_fewest_turns(tokenizer):
    builder = PromptBuilder(tokenizer, TINY_CONTEXT_SIZE)
    history = long_history(40, 5)
    settings = GenerationSettings(max_new_tokens=32)
    built = builder.build([*history, user("now")], settings)
    kept = history[built.plan.turns_dropped :]

    assert kept[0].role == "user"
    one_more = PromptBuilder(tokenizer, TINY_CONTEXT_SIZE)._encode_turns(
        None, history[built.plan.turns_dropped - 2 :], user("now")
    )
    assert len(one_more) > TINY_CONTEXT_SIZE - 32


def test_long_current_message_keeps_its_end(tokenizer):
    builder = PromptBuilder(tokenizer, TINY_CONTEXT_SIZE)
    words = [f"w{i}" for i in range(3000)]
    built = builder.build([user("old"), assistant("reply"), user(" ".join(words))], GenerationSettings(max_new_tokens=32))
    text = decoded_prompt(tokenizer, built)

    assert built.plan.truncated_current
    assert built.plan.turns_dropped == 2
    assert len(built.input_ids) <= TINY_CONTEXT_SIZE - 32
    assert text.startswith("User: ")
    assert text.endswith("w2999\n\nAssistant:")
    assert "w0 " not in text


def test_long_multibyte_message_cut_has_no_replacement(tokenizer):
    builder = PromptBuilder(tokenizer, TINY_CONTEXT_SIZE)
    built = builder.build([user("你好😀" * 500)], GenerationSettings(max_new_tokens=32))
    text = decoded_prompt(tokenizer, built)

    assert len(built.input_ids) <= TINY_CONTEXT_SIZE - 32
    assert "\ufffd" not in text
    assert text.endswith("😀\n\nAssistant:")


def test_huge_system_prompt_keeps_prompt_end(tokenizer):
    builder = PromptBuilder(tokenizer, TINY_CONTEXT_SIZE)
    settings = GenerationSettings(max_new_tokens=32, system_prompt="rule " * 3000)
    built = builder.build([user("Hi")], settings)

    assert len(built.input_ids) <= TINY_CONTEXT_SIZE - 32
    assert decoded_prompt(tokenizer, built).endswith("User: Hi\n\nAssistant:")


def test_max_new_tokens_over_context_is_clamped(tokenizer):
    builder = PromptBuilder(tokenizer, TINY_CONTEXT_SIZE)
    built = builder.build([user("Hi")], GenerationSettings(max_new_tokens=5000))

    assert built.plan.max_new_tokens_clamped
    assert built.plan.requested_max_new_tokens == 5000
    assert built.plan.max_new_tokens + len(built.input_ids) <= TINY_CONTEXT_SIZE


def test_clamp_keeps_request_below_context():
    assert clamp_max_new_tokens(100, 1024, 50) == 100
    assert clamp_max_new_tokens(1024, 1024, 50) == 974
    assert clamp_max_new_tokens(4000, 1024, 3000) == 512
    assert clamp_max_new_tokens(10, 2, 1) == 1
