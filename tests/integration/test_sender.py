"""The API's sender coalesces accepted documents into tasks on the real broker."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import redis
from celery import Celery
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from services import processing
from services.api.sender import Sender
from services.config import Config
from services.queue import PROCESS_DOCUMENT, PROCESS_DOCUMENTS, create_celery
from services.storage import documents
from services.storage.models import Document
from tests.helpers import wait_for


@dataclass
class Queue:
    """A queue no worker reads, on the real broker, and senders that publish to it."""

    celery: Celery
    client: redis.Redis
    sessions: sessionmaker[Session]
    name: str
    senders: list[Sender] = field(default_factory=list)

    def sender(self, linger: float) -> Sender:
        """A sender publishing here, closed after the test."""
        self.senders.append(Sender(self.celery, self.sessions, self.client, linger=linger))
        return self.senders[-1]

    def tasks(self) -> list[tuple[str, object]]:
        """The messages waiting, oldest first: (task name, its one argument)."""
        raws = reversed(self.client.lrange(self.name, 0, -1))
        messages = [json.loads(raw) for raw in raws]
        return [
            (m["headers"]["task"], json.loads(base64.b64decode(m["body"]))[0][0]) for m in messages
        ]


@pytest.fixture
def queue(config: Config, sessions: sessionmaker[Session]) -> Iterator[Queue]:
    name = f"sender-test-{uuid.uuid4().hex}"
    celery = create_celery(config)
    celery.conf.task_default_queue = name
    found = Queue(celery, redis.Redis.from_url(config.redis_url), sessions, name)
    yield found
    for sender in found.senders:
        sender.close()
    found.client.delete(name)
    found.client.close()


@pytest.fixture
def accepted(sessions: sessionmaker[Session]) -> Iterator[list[str]]:
    """Ten stored documents; deleted after the test, as no worker processes them."""
    with sessions.begin() as session:
        ids = [documents.accept(session, {"content": f"Report {n}."}).id for n in range(10)]
    yield ids
    with sessions.begin() as session:
        session.execute(delete(Document).where(Document.id.in_(ids)))


def _enqueued(sessions: sessionmaker[Session], ids: list[str]) -> bool:
    with sessions() as session:
        rows = session.scalars(select(Document.enqueued_at).where(Document.id.in_(ids)))
        return all(at is not None for at in rows)


def _send_a_full_batch(queue: Queue, sender: Sender, ids: list[str]) -> None:
    """Hand over a full batch; return once it was sent, without waiting for a linger."""
    full = ids[: processing.BATCH]
    sender.add(full)
    wait_for(lambda: queue.tasks() == [(PROCESS_DOCUMENTS, full)], timeout=10)
    assert sender.flush()


def test_documents_handed_over_apart_travel_as_one_task(
    queue: Queue,
    sessions: sessionmaker[Session],
    accepted: list[str],
) -> None:
    sender = queue.sender(linger=60)
    for document_id in accepted[:3]:
        sender.add([document_id])
    assert queue.tasks() == []
    assert sender.flush()
    assert queue.tasks() == [(PROCESS_DOCUMENTS, accepted[:3])]
    assert _enqueued(sessions, accepted[:3])


def test_a_full_batch_goes_without_waiting_and_a_lone_document_alone(
    queue: Queue,
    sessions: sessionmaker[Session],
    accepted: list[str],
) -> None:
    sender = queue.sender(linger=60)
    _send_a_full_batch(queue, sender, accepted)
    assert _enqueued(sessions, accepted[: processing.BATCH])
    last = accepted[processing.BATCH]
    sender.add([last])
    assert sender.flush()
    assert queue.tasks()[1:] == [(PROCESS_DOCUMENT, last)]


def test_a_lone_document_is_sent_after_the_linger(
    queue: Queue,
    sessions: sessionmaker[Session],
    accepted: list[str],
) -> None:
    sender = queue.sender(linger=0.05)
    sender.add([accepted[0]])
    wait_for(lambda: queue.tasks() == [(PROCESS_DOCUMENT, accepted[0])], timeout=10)
    wait_for(lambda: _enqueued(sessions, accepted[:1]), timeout=10)


def test_a_lone_document_waits_longer_while_tasks_wait_in_the_broker(
    queue: Queue, accepted: list[str]
) -> None:
    sender = queue.sender(linger=1.0)
    # No worker reads this queue: the batch stays there, as behind a backlog.
    _send_a_full_batch(queue, sender, accepted)
    last = accepted[processing.BATCH]
    started = time.monotonic()
    sender.add([last])
    wait_for(lambda: queue.tasks()[1:] == [(PROCESS_DOCUMENT, last)], timeout=30)
    # One task waits: the lone document waited one more linger (2 s in all),
    # not one linger. A loaded machine can only make the wait longer.
    assert time.monotonic() - started >= 1.5
