"""Leases on claimed documents: held while a worker works, renewed from a thread.

A document in `processing` whose lease passed has lost its worker (killed,
out of memory, its host gone); the sweeper puts it back in the queue at once
(`storage.documents.release_expired`). The rule needs no clock of the worker
beyond the database's own writes, so it serves many hosts as well as one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from services.config import Config
from services.storage import documents
from services.storage.db import session_scope

log = logging.getLogger(__name__)

# Renewals per lease: two may fail (a busy database) before the lease lapses.
RENEWALS_PER_LEASE = 3


@contextmanager
def renewed(
    sessions: sessionmaker[Session], document_ids: Sequence[str], lease_seconds: float
) -> Iterator[None]:
    """Renew the documents' leases every third of `lease_seconds` until the block ends.

    The claim (`documents.begin_delivery`) sets the first lease; a failed
    renewal is logged and tried again at the next tick, never raised.
    """
    stop = threading.Event()
    lease = timedelta(seconds=lease_seconds)
    ids = list(document_ids)

    def renew() -> None:
        while not stop.wait(lease_seconds / RENEWALS_PER_LEASE):
            try:
                with session_scope(sessions) as session:
                    documents.renew_leases(session, ids, lease)
            except Exception as exc:  # noqa: BLE001 - the next tick tries again
                log.warning("could not renew the leases of %d documents: %r", len(ids), exc)

    thread = threading.Thread(target=renew, name="lease-renewal", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@dataclass(frozen=True)
class Lost:
    """Documents for the sweeper to send again.

    `released`: their lease expired (delivered before: each goes alone);
    `stuck`: queued, and no message of theirs is going to arrive.
    """

    released: list[str]
    stuck: list[str]


def collect_lost(session: Session, now: datetime, config: Config, *, queue_empty: bool) -> Lost:
    """Release expired leases and find the queued documents no task will process. Caller commits.

    With the broker's queue empty, a document queued more than a lease ago
    is lost too: a worker took its message and died before claiming it.
    """
    queued_after = config.sweep_after_seconds
    if queue_empty:
        queued_after = min(queued_after, config.lease_seconds)
    released = documents.release_expired(
        session, now, processing_after=timedelta(seconds=config.task_time_limit * 2)
    )
    stuck = documents.find_stuck(
        session,
        now,
        unsent_after=timedelta(seconds=config.sweep_unsent_after_seconds),
        queued_after=timedelta(seconds=queued_after),
    )
    freed = set(released)
    return Lost(released, [i for i in stuck if i not in freed])
