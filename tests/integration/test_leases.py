"""Leases on claimed documents: set at the claim, renewed while working, released when lost."""

from __future__ import annotations

import time
from datetime import timedelta

from celery import Celery
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from services import leases, processing
from services.config import Config
from services.queue import SWEEP
from services.storage import documents
from services.storage.models import PROCESSED, PROCESSING, QUEUED, Document, FeedEntry, utcnow
from tests.helpers import metric, wait_for

RESENT = "ingest_sweeper_resent_documents_total"


def _accept(sessions: sessionmaker[Session], content: str) -> str:
    with sessions.begin() as session:
        return documents.accept(session, {"content": content}).id


def _claim(sessions: sessionmaker[Session], document_id: str, lease_seconds: float) -> None:
    with sessions.begin() as session:
        delivery = documents.begin_delivery(
            session, [document_id], 5, timedelta(seconds=lease_seconds)
        )
    assert list(delivery.raw) == [document_id]


def _row(sessions: sessionmaker[Session], document_id: str) -> Document:
    with sessions() as session:
        row = session.get(Document, document_id)
    assert row is not None
    return row


def test_a_claim_holds_a_lease_that_is_released_only_once_it_expires(
    sessions: sessionmaker[Session],
) -> None:
    document_id = _accept(sessions, "The ferry to the islands resumed on 3 June after a storm.")
    _claim(sessions, document_id, 30)
    lease = _row(sessions, document_id).lease_expires_at
    assert lease is not None
    assert timedelta(seconds=25) < lease - utcnow() <= timedelta(seconds=30)
    with sessions.begin() as session:
        assert documents.release_expired(session, utcnow(), timedelta(seconds=180)) == []
        assert documents.release_expired(
            session, utcnow() + timedelta(seconds=31), timedelta(seconds=180)
        ) == [document_id]
    released = _row(sessions, document_id)
    assert (released.status, released.lease_expires_at, released.enqueued_at) == (
        QUEUED,
        None,
        None,
    )
    # Queued and unsent: the sweeper sends it in the same pass.
    with sessions() as session:
        stuck = documents.find_stuck(
            session, utcnow(), timedelta(seconds=0), queued_after=timedelta(seconds=900)
        )
    assert document_id in stuck
    with sessions.begin() as session:
        documents.mark_failed(session, document_id, "never sent in this test")


def test_the_renewal_pushes_the_lease_forward_while_the_block_runs(
    sessions: sessionmaker[Session],
) -> None:
    document_id = _accept(sessions, "Snow closed the mountain pass for 2 days in March.")
    _claim(sessions, document_id, 1.5)
    first = _row(sessions, document_id).lease_expires_at
    assert first is not None
    with leases.renewed(sessions, [document_id], 1.5):
        wait_for(lambda: (_row(sessions, document_id).lease_expires_at or first) > first)
        time.sleep(2)  # longer than the lease: only the renewals keep it
        with sessions() as session:
            assert documents.release_expired(session, utcnow(), timedelta(seconds=180)) == []
            session.rollback()
    assert _row(sessions, document_id).status == PROCESSING
    # Renewal touches only documents still processing.
    with sessions.begin() as session:
        documents.mark_failed(session, document_id, "given up in this test")
        assert documents.renew_leases(session, [document_id], timedelta(seconds=30)) == 0


def test_a_lost_claim_is_swept_processed_once_and_a_late_delivery_changes_nothing(
    sessions: sessionmaker[Session], celery_app: Celery, client: FlaskClient
) -> None:
    resent = metric(client, RESENT)
    document_id = _accept(sessions, "A bridge over the Irtysh opened on 12 May, 840 m long.")
    # Claimed by a worker that then died: its lease lapses in a second.
    _claim(sessions, document_id, 0.5)
    time.sleep(1)
    celery_app.send_task(SWEEP)
    wait_for(lambda: _row(sessions, document_id).status == PROCESSED, timeout=60)
    # What the lease rule sends again is counted.
    assert metric(client, RESENT) >= resent + 1
    assert _row(sessions, document_id).deliveries == 2
    # The lost worker's message, redelivered by Redis after its visibility timeout.
    late = processing.process(sessions, [document_id], max_deliveries=5, lease_seconds=30)
    assert late.outcomes == {}
    with sessions() as session:
        entries = session.scalar(
            select(func.count()).select_from(FeedEntry).where(FeedEntry.document_id == document_id)
        )
    assert entries == 1
    assert _row(sessions, document_id).deliveries == 2


def test_a_queued_document_whose_message_left_an_empty_queue_counts_as_lost(
    sessions: sessionmaker[Session], config: Config
) -> None:
    document_id = _accept(sessions, "The dam on the Syr Darya released 400 m3 a second.")
    with sessions.begin() as session:
        documents.mark_enqueued(session, [document_id])
    later = utcnow() + timedelta(seconds=config.lease_seconds + 1)
    with sessions.begin() as session:
        waiting = leases.collect_lost(session, later, config, queue_empty=False)
        taken = leases.collect_lost(session, later, config, queue_empty=True)
        # Its message still waits in a busy queue: not lost until SWEEP_AFTER_SECONDS.
        assert document_id not in waiting.stuck
        # No message waits: a worker took it and died before claiming the document.
        assert document_id in taken.stuck
        assert taken.released == []
        documents.mark_failed(session, document_id, "never sent in this test")
