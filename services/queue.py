"""The task queue's sending side: the Celery app, task names, sending, and the retry policy.

The API, the command line and the workers all send through here; `workers/`
imports this module, never the other way round. Task names and arguments
are a wire format: new arguments are keyword-only with defaults.
"""

from __future__ import annotations

import functools
import logging
import os
import random
from collections.abc import Iterable
from typing import Any, TypeVar

from celery import Celery, signals
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from services import heartbeat, logs, metrics, processing
from services.config import Config
from services.storage import webhooks as webhook_store
from services.storage.db import read_scope
from services.storage.models import utcnow

log = logging.getLogger(__name__)

T = TypeVar("T")

QUEUE = "documents"

PROCESS_DOCUMENT = "ingest.process_document"
PROCESS_DOCUMENTS = "ingest.process_documents"
SWEEP = "ingest.sweep"
RETAG_DOCUMENT = "ingest.retag_document"
DELIVER_WEBHOOK = "ingest.deliver_webhook"

# Tasks sent in one round trip to the broker.
PUBLISH_CHUNK = 100

# Errors that pass: a database, broker or Redis that is restarting or
# briefly unreachable. A task retries them; anything else is a failure.
TRANSIENT = (
    OperationalError,
    BrokerError,
    RedisConnectionError,
    ConnectionError,
    TimeoutError,
)
MAX_RETRY_DELAY = 300


def is_transient(exc: BaseException) -> bool:
    """Return whether the error is worth retrying: the same call may succeed later."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, TRANSIENT)


def retry_delay(retries: int) -> float:
    """Return the seconds to wait before retry number `retries + 1`.

    Exponential (1, 2, 4 ... up to MAX_RETRY_DELAY), with jitter of ±50% so
    tasks that failed together do not come back together.
    """
    return min(MAX_RETRY_DELAY, 2**retries) * random.uniform(0.5, 1.5)


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
                "task": SWEEP,
                "schedule": float(config.sweep_interval_seconds),
            },
        },
    )
    logs.connect_celery()
    metrics.connect_celery(config.worker_metrics_port)
    heartbeat.connect_celery(config.redis_url, config.worker_heartbeat_seconds)
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
    from services.pipeline.embedding import load_embedder, one_blas_thread

    one_blas_thread()
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
    from services import sites
    from services.pipeline.analyze import warm

    warm()
    sites.warm()


def send(celery: Celery, task_name: str, items: Iterable[T]) -> list[T]:
    """Send one task per item (its one argument); return the items that reached the broker.

    Never raises for a broker outage: what is not sent stays recorded in the
    database, and the sweeper (or the caller, run again) sends it later.
    """
    pending = list(items)
    sent: list[T] = []
    if not pending:
        return sent
    try:
        with celery.producer_or_acquire() as producer:
            for start in range(0, len(pending), PUBLISH_CHUNK):
                chunk = pending[start : start + PUBLISH_CHUNK]
                # kombu buffers the chunk in one Redis pipeline: a round trip
                # per chunk, not per task.
                with producer.batch():
                    for item in chunk:
                        celery.send_task(task_name, args=[item], producer=producer, retry=False)
                sent += chunk
    except Exception as exc:  # noqa: BLE001 - any broker failure leaves the rest for later
        log.warning("broker unavailable, %s not sent past %d items: %r", task_name, len(sent), exc)
    return sent


def enqueue_processing(
    celery: Celery, document_ids: Iterable[str], *, together: bool = True
) -> list[str]:
    """Send the documents to be processed; return the ids that reached the broker.

    Together: in batches of `processing.BATCH` (a batch of one goes alone).
    """
    ids = list(document_ids)
    size = processing.BATCH if together else 1
    batches = [ids[start : start + size] for start in range(0, len(ids), size)]
    together_sent = send(celery, PROCESS_DOCUMENTS, [b for b in batches if len(b) > 1])
    sent = [document_id for batch in together_sent for document_id in batch]
    return sent + send(celery, PROCESS_DOCUMENT, [b[0] for b in batches if len(b) == 1])


def enqueue_webhooks(celery: Celery, sessions: sessionmaker[Session]) -> list[str]:
    """Send a delivery task for every webhook that is behind the feed and free to deliver.

    Never raises: a webhook left behind is picked up by the next call (after
    the next document, or by the sweeper).
    """
    try:
        with read_scope(sessions) as session:
            due = webhook_store.due(session, utcnow())
    except Exception as exc:  # noqa: BLE001 - webhooks must never fail document processing
        log.warning("could not look for due webhooks: %r", exc)
        return []
    return enqueue_webhook_delivery(celery, due)


def enqueue_webhook_delivery(celery: Celery, webhook_ids: Iterable[str]) -> list[str]:
    """Send one delivery task per webhook; return the ids that reached the broker."""
    return send(celery, DELIVER_WEBHOOK, webhook_ids)
