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
