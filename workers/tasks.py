"""Thin Celery tasks. Names and arguments are a wire format: add keyword-only arguments."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from celery import Task, shared_task
from celery.exceptions import Retry
from sqlalchemy.orm import Session, sessionmaker

from services import leases, logs, metrics, processing, queue, timings, webhooks
from services.config import Config
from services.feeds import nudge
from services.pipeline.embedding import load_embedder
from services.queue import (
    DELIVER_WEBHOOK,
    PROCESS_DOCUMENT,
    PROCESS_DOCUMENTS,
    QUEUE,
    RETAG_DOCUMENT,
    SWEEP,
    enqueue_processing,
    enqueue_webhook_delivery,
    enqueue_webhooks,
)
from services.storage import documents
from services.storage.db import make_engine, make_sessionmaker, session_scope
from services.storage.models import utcnow

log = logging.getLogger(__name__)


class PipelineTask(Task):
    """Base task: late acks, redelivery on worker loss, retry of transient errors.

    Every task of a process shares one engine, built after fork. Task and
    document ids reach every log line through `services.logs`, and the task
    counters through `services.metrics` (both connected to Celery's signals
    by `services.queue.create_celery`).
    """

    acks_late = True
    reject_on_worker_lost = True
    _sessions: tuple[tuple[int, str], sessionmaker[Session]] | None = None
    _redis: tuple[tuple[int, str], redis.Redis] | None = None

    @property
    def config(self) -> Config:
        config: Config = self.app.conf.service_config
        return config

    @property
    def sessions(self) -> sessionmaker[Session]:
        """Return this process's session factory (built after fork, once)."""
        owner = (os.getpid(), self.config.database_url)
        if PipelineTask._sessions is None or PipelineTask._sessions[0] != owner:
            PipelineTask.dispose()
            PipelineTask._sessions = (owner, make_sessionmaker(make_engine(owner[1])))
        return PipelineTask._sessions[1]

    @property
    def redis(self) -> redis.Redis:
        """Return this process's Redis client (for feed nudges), built once after fork."""
        owner = (os.getpid(), self.config.redis_url)
        if PipelineTask._redis is None or PipelineTask._redis[0] != owner:
            client = redis.Redis.from_url(owner[1], socket_connect_timeout=1, socket_timeout=2)
            PipelineTask._redis = (owner, client)
        return PipelineTask._redis[1]

    @classmethod
    def dispose(cls) -> None:
        """Close this process's database connections (tests, shutdown)."""
        if PipelineTask._sessions is not None:
            engine = PipelineTask._sessions[1].kw["bind"]
            if PipelineTask._sessions[0][0] == os.getpid():
                engine.dispose()
            PipelineTask._sessions = None

    def retry_transient(self, exc: Exception) -> None:
        """Retry after `queue.retry_delay`; give up after the budget."""
        delay = queue.retry_delay(self.request.retries)
        log.warning(
            "transient error, retry %s in %.1fs: %r",
            self.request.retries + 1,
            delay,
            exc,
        )
        raise self.retry(exc=exc, countdown=delay, max_retries=self.config.max_retries)

    @contextmanager
    def retrying(self) -> Iterator[None]:
        """Retry the task on a transient error (`queue.is_transient`) within the budget.

        Any other error, and a transient one past the budget, propagates.
        """
        try:
            yield
        except Retry:
            raise
        except Exception as exc:
            if queue.is_transient(exc) and self.request.retries < self.config.max_retries:
                self.retry_transient(exc)
            raise


@shared_task(bind=True, base=PipelineTask, name=PROCESS_DOCUMENT)
def process_document(self: PipelineTask, document_id: str) -> str:
    """Process one stored document; a final failure is recorded on the document."""
    with logs.document_context(document_id):
        try:
            processed = _process(self, [document_id])
        except Retry:
            raise
        except Exception as exc:
            with session_scope(self.sessions) as session:
                documents.mark_failed(session, document_id, f"{type(exc).__name__}: {exc}")
            metrics.record_failed()
            raise
    outcome = processed.outcomes.get(document_id)
    return outcome.result if outcome else processing.SKIPPED


@shared_task(bind=True, base=PipelineTask, name=PROCESS_DOCUMENTS)
def process_documents(self: PipelineTask, document_ids: list[str]) -> int:
    """Process stored documents together; any failure sends each to be processed alone."""
    try:
        processed = _process(self, document_ids)
    except Retry:
        raise
    except Exception as exc:  # noqa: BLE001 - the documents are processed again, alone
        log.warning("batch of %d failed, each goes alone: %r", len(document_ids), exc)
        processed = processing.Processed(alone=tuple(document_ids))
    if processed.alone:
        sent = enqueue_processing(self.app, processed.alone, together=False)
        with session_scope(self.sessions) as session:
            documents.mark_enqueued(session, sent)
    return len(processed.outcomes)


def _process(self: PipelineTask, document_ids: list[str]) -> processing.Processed:
    config = self.config
    with self.retrying(), leases.renewed(self.sessions, document_ids, config.lease_seconds):
        processed = processing.process(
            self.sessions,
            document_ids,
            max_deliveries=config.max_deliveries,
            lease_seconds=config.lease_seconds,
            embedder=load_embedder(config.embeddings),
        )
    durations = [(o.seconds, o.feed_seconds) for o in processed.outcomes.values()]
    timings.record(self.redis, durations, time.time())
    for document_id, outcome in processed.outcomes.items():
        metrics.record_processed(
            outcome.result, outcome.seconds, outcome.feed_seconds, site=outcome.site
        )
        with logs.document_context(document_id):
            log.info("document %s: %s", document_id, outcome.result)
    if processed.fed:
        nudge.announce(self.redis)
    enqueue_webhook_delivery(self.app, processed.webhooks)
    return processed


@shared_task(bind=True, base=PipelineTask, name=RETAG_DOCUMENT)
def retag_document(self: PipelineTask, document_id: str) -> bool:
    """Tag a processed document again after the taxonomy or gazetteers changed."""
    with self.retrying():
        return processing.retag(self.sessions, document_id)


@shared_task(bind=True, base=PipelineTask, name=SWEEP)
def sweep(self: PipelineTask) -> int:
    """Re-enqueue documents that no task is going to finish."""
    with session_scope(self.sessions) as session:
        lost = leases.collect_lost(session, utcnow(), self.config, queue_empty=_queue_empty(self))
    if lost.released:
        log.info("sweeper releases %d documents whose lease expired", len(lost.released))
    if lost.released or lost.stuck:
        log.info("sweeper re-enqueues %d documents", len(lost.released) + len(lost.stuck))
        # Delivered before, each goes alone: a batch would leave it to run alone anyway.
        sent = enqueue_processing(self.app, lost.released, together=False)
        sent += enqueue_processing(self.app, lost.stuck)
        metrics.record_resent(len(sent))
        with session_scope(self.sessions) as session:
            documents.mark_enqueued(session, sent)
    enqueue_webhooks(self.app, self.sessions)
    return len(lost.released) + len(lost.stuck)


def _queue_empty(task: PipelineTask) -> bool:
    try:
        return int(task.redis.llen(QUEUE)) == 0
    except redis.RedisError:
        return False


@shared_task(bind=True, base=PipelineTask, name=DELIVER_WEBHOOK, max_retries=None)
def deliver_webhook(self: PipelineTask, webhook_id: str) -> str:
    """Deliver a webhook's pending feed items; retry with backoff after a failed POST."""
    config = self.config
    settings = webhooks.Settings(
        timeout_seconds=config.webhook_timeout_seconds,
        max_failures=config.webhook_max_failures,
        backoff_seconds=config.webhook_backoff_seconds,
        backoff_max_seconds=config.webhook_backoff_max_seconds,
        allowed_networks=webhooks.networks(config.webhook_allowed_networks),
    )
    with self.retrying():
        outcome = webhooks.deliver(self.sessions, webhook_id, settings)
    log.info("webhook %s: %s, %d delivered", webhook_id, outcome.status, outcome.delivered)
    if outcome.retry_in is not None:
        # The failure count on the webhook, not the task's retry budget, ends this.
        raise self.retry(countdown=outcome.retry_in, max_retries=None)
    if outcome.status == webhooks.MORE:
        enqueue_webhook_delivery(self.app, [webhook_id])
    return outcome.status
