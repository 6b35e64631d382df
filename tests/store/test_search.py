"""Full-text search: kept in step with writes, ranked, and safe for any user query."""

from __future__ import annotations

import pytest

from termchat.store import Store, fts_query

from .conftest import ManualClock


@pytest.fixture
def filled(store: Store, clock: ManualClock) -> Store:
    first = store.create_conversation("gpt2", {})
    store.add_message(first.id, "user", "How do I bake sourdough bread?")
    store.add_message(first.id, "assistant", "Feed the starter, then bake the bread at 230 C.")
    clock.advance()
    second = store.create_conversation("gpt2", {})
    store.add_message(second.id, "user", "Tell me about the café in Paris")
    return store


def test_search_finds_words(filled: Store) -> None:
    hits = filled.search("bread")

    assert len(hits) == 2
    assert {hit.message.role for hit in hits} == {"user", "assistant"}
    assert all(hit.conversation.title == "How do I bake sourdough bread?" for hit in hits)
    assert all("**bread**" in hit.snippet for hit in hits)


def test_search_needs_every_word(filled: Store) -> None:
    hits = filled.search("bake starter")

    assert [hit.message.role for hit in hits] == ["assistant"]


def test_search_folds_case_and_accents(filled: Store) -> None:
    assert [hit.message.content for hit in filled.search("CAFE")] == ["Tell me about the café in Paris"]


def test_search_custom_markers(filled: Store) -> None:
    hits = filled.search("paris", snippet_start="<", snippet_end=">")

    assert hits[0].snippet == "Tell me about the café in <Paris>"


def test_search_limit(filled: Store) -> None:
    assert len(filled.search("bread", limit=1)) == 1


def test_search_follows_updates(store: Store) -> None:
    conversation = store.create_conversation("gpt2", {})
    reply = store.start_reply(conversation.id)
    store.update_reply(reply.id, "early words")
    store.finish_reply(reply.id, "final words", "complete")

    assert store.search("early") == []
    assert [hit.message.id for hit in store.search("final")] == [reply.id]


@pytest.mark.parametrize(
    "query",
    ['"', '"unbalanced', "bread*", "-bread", "bread AND", "AND", "OR NOT", "(bread", "bread)",
     "NEAR(bread starter)", "col:bread", "^bread", "{content}: x", "+", "*", "''", "\x00", "\ud800"],
)
def test_search_syntax_is_text(filled: Store, query: str) -> None:
    # Must not raise: FTS5 syntax characters from the user are searched as plain words.
    hits = filled.search(query)

    assert isinstance(hits, list)


def test_search_operator_words_literal(store: Store) -> None:
    conversation = store.create_conversation("gpt2", {})
    store.add_message(conversation.id, "user", "cats AND dogs")
    store.add_message(conversation.id, "user", "cats only")

    assert [hit.message.content for hit in store.search("cats AND")] == ["cats AND dogs"]
    assert len(store.search("cats")) == 2


def test_search_quoted_word(filled: Store) -> None:
    assert len(filled.search('"bread"')) == 2


@pytest.mark.parametrize("query", ["", "   ", "\n\t"])
def test_search_blank_query(filled: Store, query: str) -> None:
    assert filled.search(query) == []


def test_fts_query_quotes_terms() -> None:
    assert fts_query('say "hi" -now') == '"say" """hi""" "-now"'
    assert fts_query("  ") is None


# Chinese, Japanese and Korean text has no spaces between words, so these
# queries search substrings through the trigram index or a scan of the text.


@pytest.fixture
def cjk(store: Store, clock: ManualClock) -> Store:
    conversation = store.create_conversation("gpt2", {})
    for text in [
        "我想去北京旅游",
        "東京に行きたいです。東京タワーを見たい",
        "我在学习Python编程",
        "AI 模型很大",
        "서울에서 만나요",
        "Plain English about Beijing",
    ]:
        clock.advance()
        store.add_message(conversation.id, "user", text)
    return store


def contents(hits: list) -> list[str]:
    return [hit.message.content for hit in hits]


def test_cjk_chinese_substring(cjk: Store) -> None:
    hits = cjk.search("北京旅游")

    assert contents(hits) == ["我想去北京旅游"]
    assert hits[0].snippet == "我想去**北京旅游**"


def test_cjk_japanese_substring(cjk: Store) -> None:
    assert contents(cjk.search("東京タワー")) == ["東京に行きたいです。東京タワーを見たい"]
    assert contents(cjk.search("きたい")) == ["東京に行きたいです。東京タワーを見たい"]


def test_cjk_korean_substring(cjk: Store) -> None:
    assert contents(cjk.search("서울")) == ["서울에서 만나요"]


def test_cjk_two_characters(cjk: Store) -> None:
    hits = cjk.search("北京")

    assert contents(hits) == ["我想去北京旅游"]
    assert hits[0].snippet == "我想去**北京**旅游"


def test_cjk_one_character(cjk: Store) -> None:
    hits = cjk.search("京")

    # Short queries scan from the newest message.
    assert contents(hits) == ["東京に行きたいです。東京タワーを見たい", "我想去北京旅游"]
    assert hits[0].snippet == "東**京**に行きたいです。東**京**タワーを見たい"


def test_cjk_short_query_limit(cjk: Store) -> None:
    assert contents(cjk.search("京", limit=1)) == ["東京に行きたいです。東京タワーを見たい"]


def test_cjk_long_query_limit(store: Store) -> None:
    conversation = store.create_conversation("gpt2", {})
    for _ in range(5):
        store.add_message(conversation.id, "user", "北京旅游")

    assert len(store.search("北京旅游", limit=3)) == 3


@pytest.mark.parametrize("query", ["python 编程", "Python编程", "PYTHON编程", "编程 python"])
def test_cjk_mixed_with_english(cjk: Store, query: str) -> None:
    hits = cjk.search(query)

    assert contents(hits) == ["我在学习Python编程"]
    assert "**" in hits[0].snippet


def test_cjk_mixed_short_terms(cjk: Store) -> None:
    hits = cjk.search("ai 模型")

    assert contents(hits) == ["AI 模型很大"]
    assert hits[0].snippet == "**AI** **模型**很大"


def test_cjk_needs_every_term(cjk: Store) -> None:
    assert cjk.search("北京 東京") == []
    assert cjk.search("北京旅游 東京タワー") == []


def test_english_query_keeps_words(cjk: Store) -> None:
    # Without a CJK character the query searches whole words, as before.
    assert contents(cjk.search("beijing")) == ["Plain English about Beijing"]
    assert cjk.search("beij") == []


@pytest.mark.parametrize(
    "query",
    ['"北京"', '"北京', "北京*", "-北京", "(北京)", "北京)", "^北京", "北京:", "{北京}", "北京\x00", "北京\ud800"],
)
def test_cjk_syntax_characters_separate_terms(cjk: Store, query: str) -> None:
    # FTS5 syntax characters in a CJK query separate terms and are never parsed as syntax.
    hits = cjk.search(query)

    assert contents(hits) == ["我想去北京旅游"]


@pytest.mark.parametrize("query", ["北京 AND", "北京 OR 東京", "NOT 北京", "北京 NEAR", "NEAR(北京 旅游)"])
def test_cjk_operator_words_literal(cjk: Store, query: str) -> None:
    # AND, OR, NOT and NEAR are terms that must occur in the text, as in a query without CJK characters.
    assert cjk.search(query) == []


def test_cjk_operator_word_in_text(store: Store) -> None:
    conversation = store.create_conversation("gpt2", {})
    store.add_message(conversation.id, "user", "北京 OR 上海")

    assert contents(store.search("北京 OR")) == ["北京 OR 上海"]


def test_cjk_punctuation_only(cjk: Store) -> None:
    assert cjk.search("「」") == []


def test_cjk_text_after_nul(store: Store) -> None:
    conversation = store.create_conversation("gpt2", {})
    store.add_message(conversation.id, "user", "x\x00去北京旅游")

    assert contents(store.search("北京")) == ["x\x00去北京旅游"]
    assert contents(store.search("北京旅游")) == ["x\x00去北京旅游"]


def test_cjk_snippet_of_long_message(store: Store) -> None:
    conversation = store.create_conversation("gpt2", {})
    text = "前" * 200 + "北京旅游" + "后" * 200
    store.add_message(conversation.id, "user", text)

    snippet = store.search("北京旅游", snippet_start="<", snippet_end=">")[0].snippet

    assert "<北京旅游>" in snippet
    assert snippet.startswith("…")
    assert snippet.endswith("…")
    assert len(snippet) < 80


def test_cjk_follows_updates_and_deletes(store: Store) -> None:
    conversation = store.create_conversation("gpt2", {})
    reply = store.start_reply(conversation.id)
    store.update_reply(reply.id, "早期的回答")
    store.finish_reply(reply.id, "最后的回答", "complete")
    other = store.add_message(conversation.id, "user", "最后一次")

    assert store.search("早期的") == []
    assert [hit.message.id for hit in store.search("最后的")] == [reply.id]

    store.delete_message(reply.id)
    assert store.search("最后的") == []
    assert [hit.message.id for hit in store.search("最后")] == [other.id]

    store.delete_conversation(conversation.id)
    assert store.search("最后") == []
    assert store.connection.execute("SELECT count(*) FROM messages_cjk_fts").fetchone()[0] == 0


def test_cjk_index_skips_other_text(cjk: Store) -> None:
    indexed = [row[0] for row in cjk.connection.execute("SELECT content FROM messages_cjk_fts ORDER BY rowid")]

    assert "Plain English about Beijing" not in indexed
    assert len(indexed) == 5
