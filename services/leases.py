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
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

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
