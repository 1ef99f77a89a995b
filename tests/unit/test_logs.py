"""JSON log lines carry the document and task ids of the work they describe."""

from __future__ import annotations

import json
import logging

from services import logs


def _line(message: str, **extra: object) -> dict[str, object]:
    record = logging.LogRecord("workers.tasks", logging.INFO, __file__, 1, message, (), None)
    for name, value in extra.items():
        setattr(record, name, value)
    parsed: dict[str, object] = json.loads(logs.JsonFormatter().format(record))
    return parsed


def test_a_line_is_one_json_object_with_the_basic_fields() -> None:
    line = _line("document processed: ✓ مرحبا")
    assert line["level"] == "INFO" and line["logger"] == "workers.tasks"
    assert line["message"] == "document processed: ✓ مرحبا"
    assert str(line["time"]).endswith("+00:00")
    assert "document_id" not in line and "task_id" not in line


def test_the_document_context_tags_every_line_inside_it() -> None:
    with logs.document_context("doc-1"):
        assert _line("inside")["document_id"] == "doc-1"
    assert "document_id" not in _line("outside")


def test_an_explicit_id_wins_over_the_context() -> None:
    with logs.document_context("doc-1"):
        line = _line("x", document_id="doc-2", task_id="t-9")
    assert (line["document_id"], line["task_id"]) == ("doc-2", "t-9")
