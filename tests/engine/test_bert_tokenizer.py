"""Chinese GPT-2 models with BERT's WordPiece tokenizer, such as uer/gpt2-chinese-*.

The model here is a tiny GPT-2 built offline: a config that names
`BertTokenizer` and a `vocab.txt`, with no tokenizer files of its own, so
AutoTokenizer picks the class from the config. Its vocabulary contains only
the characters and words the tests use.
"""

from __future__ import annotations

import shutil

import pytest

from termchat.engine import ChatMessage, GenerationSettings, ModelSpec, StopReason, load_backend
from termchat.engine.prompt import STOP_MARKERS, PromptBuilder, format_marker_prompt
from termchat.engine.streaming import IncrementalDecoder, ReplyTextFilter, decode_ids, finalize_reply_text
from termchat.engine.tokenizer_traits import detect_tokenizer_traits, remove_inserted_spaces
from tests.conftest import TINY_CONTEXT_SIZE

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
VOCABULARY = (
    SPECIAL_TOKENS
    + list("，。：！？,.:!?()%")
    + list("0123456789")
    + list("我爱和你好今天气很用户助手系统谢的是中文")
    + ["hello", "world", "python", "ai", "user", "assistant", "system", "##s"]
)

# Two dialogues the trained model learns by heart. After "你好" it ends its
# reply with [SEP], as the prompt format does. After "hello" it goes on
# without [SEP] straight into the next user turn, which the engine must cut.
SEPARATOR_DIALOGUE = [("用户：", "你好"), ("助手：", "今天天气很好。"), ("用户：", "谢谢")]
SEPARATOR_REPLY = "今天天气很好。"
MARKER_DIALOGUE = [("用户：", "hello"), ("助手：", "hello world，我爱python和ai！用户：谢谢")]
MARKER_REPLY = "hello world，我爱python和ai！"

GREEDY = GenerationSettings(temperature=0, max_new_tokens=30)


@pytest.fixture(scope="module")
def bert_gpt2_dir(tmp_path_factory):
    """A random 2-layer GPT-2 whose config names BertTokenizer, saved with a vocab.txt."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    folder = tmp_path_factory.mktemp("bert_gpt2")
    (folder / "vocab.txt").write_text("\n".join(VOCABULARY) + "\n", encoding="utf-8")
    torch.manual_seed(0)
    config = GPT2Config(
        n_layer=2,
        n_embd=32,
        n_head=2,
        n_positions=TINY_CONTEXT_SIZE,
        vocab_size=len(VOCABULARY),
        tokenizer_class="BertTokenizer",
    )
    # The config names no BOS or EOS id, so GPT2Config's default 50256 stays
    # although it is outside the vocabulary. Generation must still work.
    assert config.eos_token_id == 50256
    GPT2LMHeadModel(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tokenizer(bert_gpt2_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(bert_gpt2_dir)


def encode(tokenizer, text):
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def training_sequences(tokenizer):
    """Return the ids of both dialogues in the prompt format of the engine."""
    sequences = []
    for dialogue in (SEPARATOR_DIALOGUE, MARKER_DIALOGUE):
        ids = [tokenizer.cls_token_id]
        for marker, text in dialogue:
            ids += encode(tokenizer, marker + text) + [tokenizer.sep_token_id]
        sequences.append(ids)
    return sequences


@pytest.fixture(scope="module")
def trained_bert_gpt2_dir(bert_gpt2_dir, tokenizer, tmp_path_factory):
    """The tiny BERT-tokenized GPT-2 overfitted on both dialogues, in its own folder."""
    import torch
    from transformers import GPT2LMHeadModel

    folder = tmp_path_factory.mktemp("trained_bert_gpt2")
    for path in bert_gpt2_dir.iterdir():
        shutil.copy(path, folder / path.name)
    model = GPT2LMHeadModel.from_pretrained(folder)

    torch.set_num_threads(1)
    torch.manual_seed(0)
    sequences = [torch.tensor([ids]) for ids in training_sequences(tokenizer)]
    separator_id = tokenizer.sep_token_id
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for step in range(400):
        model.train()
        loss = sum(model(ids, labels=ids).loss for ids in sequences)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 10 == 9 and all(_predicts_reply_tokens(model, ids, separator_id) for ids in sequences):
            break
    learned = all(_predicts_reply_tokens(model, ids, separator_id) for ids in sequences)
    assert learned, f"the tiny model did not learn its dialogues in {step + 1} steps"
    model.save_pretrained(folder)
    return folder


def _predicts_reply_tokens(model, ids, separator_id):
    """Return whether greedy decoding reproduces every token of `ids` after its first [SEP].

    The tokens before it are the first user message, which differs between
    the dialogues after the same "[CLS]用户：" and cannot be predicted.
    """
    import torch

    start = ids[0].tolist().index(separator_id) + 1
    model.eval()
    with torch.inference_mode():
        predicted = model(ids).logits[0, start - 1 : -1].argmax(dim=-1)
    return bool((predicted == ids[0, start:]).all())


@pytest.fixture(scope="module")
def trained_backend(trained_bert_gpt2_dir):
    import torch

    torch.set_num_threads(1)
    return load_backend(ModelSpec(model=str(trained_bert_gpt2_dir), device="cpu"))


# Space removal --------------------------------------------------------------


@pytest.mark.parametrize(
    ("decoded", "expected"),
    [
        ("我 爱 python 和 ai 。", "我爱python和ai。"),
        ("今 天 天 气 很 好", "今天天气很好"),
        ("hello world ， 你 好 ！", "hello world，你好！"),
        ("hello world , it is python .", "hello world, it is python."),
        ("版 本 3 . 11 和 1 , 000 元", "版本3.11和1,000元"),
        ("( 注 ) 50 %", "(注) 50%"),
        ("“ 你 好 ” 他 说", "“你好”他说"),
        ("plain latin words", "plain latin words"),
        ("", ""),
    ],
)
def test_remove_inserted_spaces(decoded, expected):
    assert remove_inserted_spaces(decoded) == expected


def test_tokenizer_decode_inserts_spaces(tokenizer):
    ids = encode(tokenizer, "我爱python和ai。")

    assert tokenizer.decode(ids) == "我 爱 python 和 ai 。"
    assert decode_ids(tokenizer, ids, remove_spaces=True) == "我爱python和ai。"


# Tokenizer detection ---------------------------------------------------------


def test_traits_of_bert_tokenizer(tokenizer):
    traits = detect_tokenizer_traits(tokenizer)

    assert traits.inserts_spaces
    assert traits.drops_newlines
    assert traits.leading_special_ids == (tokenizer.cls_token_id,)
    assert traits.trailing_special_ids == (tokenizer.sep_token_id,)
    assert traits.separator_id == tokenizer.sep_token_id


def test_traits_of_gpt2_tokenizer(tiny_gpt2_dir):
    from transformers import AutoTokenizer

    traits = detect_tokenizer_traits(AutoTokenizer.from_pretrained(tiny_gpt2_dir))

    assert not traits.inserts_spaces
    assert not traits.drops_newlines
    assert traits.leading_special_ids == ()
    assert traits.trailing_special_ids == ()


def llama_style_tokenizer():
    """Return a SentencePiece-style BPE tokenizer with byte fallback that adds BOS, as Llama's does."""
    from tokenizers import Tokenizer, decoders, models, normalizers, processors
    from transformers import PreTrainedTokenizerFast

    vocabulary = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for byte in range(256):
        vocabulary[f"<0x{byte:02X}>"] = len(vocabulary)
    for piece in ["▁", "a", "b", "h", "i", ",", "中", "文"]:
        vocabulary[piece] = len(vocabulary)
    backend = Tokenizer(models.BPE(vocab=vocabulary, merges=[], byte_fallback=True, unk_token="<unk>"))
    backend.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    backend.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
    )
    backend.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="</s>", unk_token="<unk>")


def test_traits_of_llama_style_tokenizer():
    traits = detect_tokenizer_traits(llama_style_tokenizer())

    assert not traits.inserts_spaces
    assert not traits.drops_newlines
    assert traits.leading_special_ids == (1,)
    assert traits.trailing_special_ids == ()


# Prompt format ----------------------------------------------------------------


def test_prompt_separates_turns_with_sep(tokenizer):
    messages = [
        ChatMessage("user", "你好"),
        ChatMessage("assistant", "今天天气很好。"),
        ChatMessage("user", "谢谢"),
    ]
    settings = GenerationSettings(max_new_tokens=16)
    built = PromptBuilder(tokenizer, TINY_CONTEXT_SIZE).build(messages, settings)

    tokens = tokenizer.convert_ids_to_tokens(built.input_ids)
    assert built.plan.turns_dropped == 0
    assert tokens[0] == "[CLS]"
    assert tokens.count("[SEP]") == 3
    assert tokens[-3:] == ["助", "手", "："], "the prompt must end with the assistant marker, not [SEP]"
    assert tokenizer.decode(built.input_ids) == (
        "[CLS] 用 户 ： 你 好 [SEP] 助 手 ： 今 天 天 气 很 好 。 [SEP] 用 户 ： 谢 谢 [SEP] 助 手 ："
    )


def test_prompt_puts_system_turn_first(tokenizer):
    settings = GenerationSettings(system_prompt="你是助手", max_new_tokens=16)
    built = PromptBuilder(tokenizer, TINY_CONTEXT_SIZE).build([ChatMessage("user", "你好")], settings)

    text = remove_inserted_spaces(tokenizer.decode(built.input_ids, skip_special_tokens=True))
    assert text == "系统：你是助手用户：你好助手："


def test_prompt_stop_markers_are_chinese(tokenizer):
    built = PromptBuilder(tokenizer, TINY_CONTEXT_SIZE).build([ChatMessage("user", "你好")], GenerationSettings())

    assert built.stop_markers == ("用户：", "系统：", "助手：")


def test_prompt_trimming_keeps_format(tokenizer):
    history = [ChatMessage("user" if i % 2 == 0 else "assistant", "你好" * 10) for i in range(20)]
    settings = GenerationSettings(max_new_tokens=16)
    built = PromptBuilder(tokenizer, TINY_CONTEXT_SIZE).build([*history, ChatMessage("user", "谢谢")], settings)

    tokens = tokenizer.convert_ids_to_tokens(built.input_ids)
    assert built.plan.turns_dropped > 0
    assert len(built.input_ids) + 16 <= TINY_CONTEXT_SIZE
    assert tokens[0] == "[CLS]"
    assert tokens[-3:] == ["助", "手", "："]


def test_gpt2_prompt_keeps_newline_format(tiny_gpt2_dir):
    from transformers import AutoTokenizer

    gpt2 = AutoTokenizer.from_pretrained(tiny_gpt2_dir)
    builder = PromptBuilder(gpt2, TINY_CONTEXT_SIZE)
    built = builder.build([ChatMessage("user", "hi")], GenerationSettings())

    assert builder.separator_format is None
    assert built.stop_markers == STOP_MARKERS
    assert gpt2.decode(built.input_ids) == "User: hi\n\nAssistant:"


def test_llama_style_prompt_keeps_newline_format():
    llama = llama_style_tokenizer()
    builder = PromptBuilder(llama, TINY_CONTEXT_SIZE)
    built = builder.build([ChatMessage("user", "hi")], GenerationSettings())

    assert builder.separator_format is None
    assert built.stop_markers == STOP_MARKERS
    assert built.input_ids == llama(format_marker_prompt([ChatMessage("user", "hi")]))["input_ids"]
    assert built.input_ids[0] == llama.bos_token_id


# Streaming on cleaned text ----------------------------------------------------------


def test_stream_cuts_at_marker_in_cleaned_text(tokenizer):
    ids = encode(tokenizer, "我爱python和ai！用户：谢谢")
    markers = ("用户：", "系统：", "助手：")
    decoder = IncrementalDecoder(tokenizer, remove_spaces=True)
    text_filter = ReplyTextFilter(markers)

    deltas = [text_filter.feed(decoder.add([token_id])) for token_id in ids]
    deltas.append(text_filter.feed(decoder.flush()) + text_filter.finish())

    assert text_filter.marker_found
    assert "".join(deltas) == "我爱python和ai！"
    assert all("用" not in delta for delta in deltas)
    assert "".join(deltas) == finalize_reply_text(decode_ids(tokenizer, ids, remove_spaces=True), markers)


@pytest.mark.parametrize("seed", range(5))
def test_stream_text_never_changes(tokenizer, seed):
    import random

    generator = random.Random(seed)
    ids = [generator.randrange(len(SPECIAL_TOKENS), len(VOCABULARY)) for _ in range(200)]
    decoder = IncrementalDecoder(tokenizer, remove_spaces=True)

    deltas = [decoder.add([token_id]) for token_id in ids]
    deltas.append(decoder.flush())

    assert "".join(deltas) == decode_ids(tokenizer, ids, remove_spaces=True)


# Replies of the trained model ------------------------------------------------------


def test_reply_stops_at_sep_without_spaces(trained_backend):
    stream = trained_backend.stream([ChatMessage("user", "你好")], GREEDY)
    deltas = list(stream)

    assert stream.reply.text == SEPARATOR_REPLY
    assert "".join(deltas) == SEPARATOR_REPLY
    assert stream.reply.metadata.stop_reason is StopReason.EOS
    assert stream.reply.metadata.tokens_out < 30


def test_reply_stops_at_user_marker(trained_backend):
    stream = trained_backend.stream([ChatMessage("user", "hello")], GREEDY)
    deltas = list(stream)

    assert stream.reply.text == MARKER_REPLY
    assert all("用" not in delta for delta in deltas)
    assert stream.reply.metadata.stop_reason is StopReason.TURN_MARKER
    assert stream.reply.metadata.tokens_out < 30


def test_backend_adds_sep_to_eos(trained_backend):
    assert trained_backend.tokenizer.sep_token_id in trained_backend.eos_token_ids
