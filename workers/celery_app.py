"""The Celery app: `celery -A workers.celery_app worker`.

The app is built by `services.queue.create_celery`, which the API uses to
send tasks too; this module is the worker's entry point.
"""

from __future__ import annotations

import functools

from celery import Celery

from services.queue import QUEUE, create_celery

__all__ = ["QUEUE", "create_celery", "default_app"]


@functools.cache
def default_app() -> Celery:
    """Return the app configured from the environment, built on first use."""
    return create_celery()


def __getattr__(name: str) -> Celery:
    # `celery -A workers.celery_app` looks up `app` here; building it on
    # demand keeps imports free of side effects.
    if name in ("app", "celery"):
        return default_app()
    raise AttributeError(name)
