"""The Celery app: `celery -A workers.celery_app worker`."""

from __future__ import annotations

import functools
import os
from typing import Any

from celery import Celery, signals

from services import logs, metrics
from services.config import Config

QUEUE = "documents"


def create_celery(config: Config | None = None) -> Celery:
    """Build the Celery app from the service configuration."""
    config = config or Config.from_env()
    app = Celery("ingest", broker=config.redis_url, include=["workers.tasks"])
    transport = {
        # Longer than the hard time limit, so a running task is never handed
        # to a second worker while the first is still allowed to finish it.
        "visibility_timeout": config.visibility_timeout,
        "socket_connect_timeout": 2,
        "socket_timeout": 5,
        # Publishing gives up fast when the broker is down: the document is
        # already stored, and the sweeper sends it later. The worker's own
        # consumer connection keeps retrying (broker_connection_max_retries).
        "max_retries": 1,
        "interval_start": 0,
        "interval_step": 0.2,
    }
    app.conf.update(
        service_config=config,
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # Celery refuses to send any task whose soft limit exceeds its hard one.
        task_soft_time_limit=min(config.task_soft_time_limit, config.task_time_limit),
        task_time_limit=config.task_time_limit,
        task_default_queue=QUEUE,
        broker_transport_options=transport,
        result_backend_transport_options=transport,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        beat_schedule={
            "sweep": {
                "task": "ingest.sweep",
                "schedule": float(config.sweep_interval_seconds),
            },
        },
    )
    logs.connect_celery()
    metrics.connect_celery(config.worker_metrics_port)
    signals.worker_init.connect(_warm, weak=False, dispatch_uid="ingest.warm")
    signals.worker_process_init.connect(
        functools.partial(_lower_priority, config.worker_nice),
        weak=False,
        dispatch_uid="ingest.nice",
    )
    signals.worker_process_init.connect(
        functools.partial(_load_model, config.embeddings),
        weak=False,
        dispatch_uid="ingest.model",
    )
    return app


def _load_model(setting: str, **_: Any) -> None:
    # In each pool process, after the fork: the engine's threads do not
    # survive a fork, so the model is loaded here rather than before it.
    from services.pipeline.embedding import load_embedder

    embedder = load_embedder(setting)
    if embedder is not None:
        embedder.embed(["warm-up"])


def _lower_priority(increment: int, **_: Any) -> None:
    # In each pool process: processing is background work, intake is not.
    if increment > 0:
        os.nice(increment)


def _warm(**_: Any) -> None:
    # In the main worker process, before the pool forks: every pool process
    # starts with the pipeline's data loaded instead of loading it on its
    # first document.
    from services.pipeline.analyze import warm

    warm()


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
