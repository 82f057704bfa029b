"""Sessions, messages and usage in assistant.db: per user, capped."""

from __future__ import annotations

from pathlib import Path

import pytest

from integrations.assistant.const import MAX_SESSION_MESSAGES, MAX_SESSIONS_PER_USER
from integrations.assistant.store import ConversationStore, SessionNotFound, Usage


def _text(role: str, value: str) -> dict:
    return {"role": role, "content": [{"type": "text", "text": value}]}


def test_a_session_keeps_its_newest_messages_and_belongs_to_its_user(tmp_path: Path) -> None:
    """Past the cap the oldest messages go; another user can neither read nor write it."""
    store = ConversationStore(tmp_path / "assistant.db")
    session = store.create_session("ann", "Hello")
    for i in range(MAX_SESSION_MESSAGES + 10):
        store.append("ann", session, [_text("user", f"m{i}")])
    messages = store.messages("ann", session)
    assert len(messages) == MAX_SESSION_MESSAGES
    assert messages[-1]["content"][0]["text"] == f"m{MAX_SESSION_MESSAGES + 9}"
    with pytest.raises(SessionNotFound):
        store.messages("bob", session)
    with pytest.raises(SessionNotFound):
        store.append("bob", session, [_text("user", "x")])
    store.close()


def test_a_user_keeps_the_most_recent_sessions(tmp_path: Path) -> None:
    """Past MAX_SESSIONS_PER_USER the least recently used session is deleted."""
    store = ConversationStore(tmp_path / "assistant.db")
    first = store.create_session("ann", "first")
    for i in range(MAX_SESSIONS_PER_USER):
        store.create_session("ann", f"s{i}")
    ids = {s["id"] for s in store.list_sessions("ann")}
    assert len(ids) == MAX_SESSIONS_PER_USER
    assert first not in ids
    store.close()


def test_usage_adds_up_per_user_and_day(tmp_path: Path) -> None:
    """Two turns on one day are summed; another day starts at zero."""
    store = ConversationStore(tmp_path / "assistant.db")
    store.add_usage("ann", "2026-12-06", Usage(100, 20, 5, 1000, 0.01))
    store.add_usage("ann", "2026-12-06", Usage(50, 10, 0, 1000, 0.005))
    usage, turns = store.usage("ann", "2026-12-06")
    assert (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens, turns) == (
        150,
        30,
        2000,
        2,
    )
    assert usage.total == 150 + 30 + 5 + 2000
    assert store.usage("ann", "2026-12-07") == (Usage(), 0)
    store.close()
