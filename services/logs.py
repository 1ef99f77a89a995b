"""Structured logs: one JSON object per line, carrying the document and task ids when known.

`grep '"document_id": "<id>"'` follows one document through every process.
Applied by the factories (create_app, and the Celery worker's `setup_logging`
signal), never at import.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import logging.config
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from celery import signals

document_id_var: ContextVar[str | None] = ContextVar("document_id", default=None)
task_id_var: ContextVar[str | None] = ContextVar("task_id", default=None)

CONTEXT = (("document_id", document_id_var), ("task_id", task_id_var))


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON line: time, level, logger, message, ids, exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, var in CONTEXT:
            value = getattr(record, name, None) or var.get()
            if value:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure(level: str = "INFO", *, force: bool = False) -> None:
    """Send every log line to stderr as JSON.

    Leaves a root logger that already has handlers alone (a test runner's
    capture, a host application's setup) unless `force`.
    """
    if logging.getLogger().handlers and not force:
        return
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"json": {"()": JsonFormatter}},
            "handlers": {
                "stderr": {
                    "class": "logging.StreamHandler",
                    "formatter": "json",
                    "stream": "ext://sys.stderr",
                }
            },
            "root": {"level": level.upper(), "handlers": ["stderr"]},
        }
    )


@contextmanager
def document_context(document_id: str) -> Iterator[None]:
    """Tag every log line inside the block with the document id."""
    token = document_id_var.set(document_id)
    try:
        yield
    finally:
        document_id_var.reset(token)


def _on_setup_logging(loglevel: str | int | None = None, **_: Any) -> None:
    level = logging.getLevelName(loglevel) if isinstance(loglevel, int) else loglevel
    configure(str(level or "INFO"), force=True)


def _on_task_prerun(
    task_id: str | None = None,
    task: Any = None,
    args: tuple[Any, ...] | None = None,
    kwargs: dict[str, Any] | None = None,
    **_: Any,
) -> None:
    task_id_var.set(task_id)
    document_id_var.set(_document_argument(task, args or (), kwargs or {}))


def _document_argument(task: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    # Celery logs "Task ... succeeded" outside the task body: a task that
    # takes a document id first gets that id on all of its lines.
    found = kwargs.get("document_id")
    if found is None and args and _first_parameter(task) == "document_id":
        found = args[0]
    return found if isinstance(found, str) else None


@functools.cache
def _first_parameter(task: Any) -> str | None:
    run = getattr(task, "run", None)
    if run is None:
        return None
    return next(iter(inspect.signature(run).parameters), None)


def _on_task_postrun(**_: Any) -> None:
    task_id_var.set(None)
    document_id_var.set(None)


def connect_celery() -> None:
    """Let a Celery worker log JSON lines, each task's lines with its task id.

    Connecting `setup_logging` stops Celery from installing its own handlers.
    Idempotent.
    """
    signals.setup_logging.connect(_on_setup_logging, weak=False, dispatch_uid="ingest.logs.setup")
    signals.task_prerun.connect(_on_task_prerun, weak=False, dispatch_uid="ingest.logs.prerun")
    signals.task_postrun.connect(_on_task_postrun, weak=False, dispatch_uid="ingest.logs.postrun")
