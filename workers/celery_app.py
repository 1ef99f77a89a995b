"""The Celery app: `celery -A workers.celery_app worker`."""

from __future__ import annotations

from celery import Celery

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
        task_soft_time_limit=config.task_soft_time_limit,
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
    return app


def __getattr__(name: str) -> Celery:
    # `celery -A workers.celery_app` looks up `app` here: build it on first use,
    # not at import.
    if name in ("app", "celery"):
        global app
        app = create_celery()
        return app
    raise AttributeError(name)
