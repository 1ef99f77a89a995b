"""Validation messages become RFC 9457 field errors."""

from __future__ import annotations

from services.api.problems import flatten


def test_nested_messages_flatten_to_dotted_fields() -> None:
    messages = {"json": {"title": ["Too long."], "documents": {"3": {"content": ["Empty."]}}}}
    assert list(flatten(messages)) == [
        {"field": "json.title", "message": "Too long."},
        {"field": "json.documents.3.content", "message": "Empty."},
    ]
