"""Hand accepted documents to the workers from a thread, coalesced into batches."""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Iterable

import redis
from celery import Celery
from sqlalchemy.orm import Session, sessionmaker

from services import metrics, processing
from services.queue import enqueue_processing
from services.storage import documents
from services.storage.db import session_scope

log = logging.getLogger(__name__)

# While tasks wait in the broker, ids wait one more linger per waiting task,
# up to this many more.
BEHIND_LINGERS = 10


class Sender:
    """Sends the ids of committed documents to be processed, and records what reached the broker.

    A request hands its ids over and returns. A thread sends what waits as
    soon as a batch (`processing.BATCH`) is full, else `linger` seconds after
    the first id arrived, plus one linger per task waiting in the broker (up
    to `BEHIND_LINGERS`): the workers are behind, and the ids would wait for
    them anyway. Single POSTs that arrive close together thus travel as one
    task, which a worker processes in one transaction each to claim, look up
    and record. Ids still waiting when the process ends are stored without
    `enqueued_at`, and the sweeper sends them.
    """

    def __init__(
        self,
        celery: Celery,
        sessions: sessionmaker[Session],
        broker: redis.Redis,
        linger: float,
    ) -> None:
        self._celery = celery
        self._sessions = sessions
        self._broker = broker
        self._linger = linger
        self._changed = threading.Condition()
        self._waiting: list[str] = []
        self._first_at = 0.0
        self._sending = 0
        self._closed = False
        self._owner: int | None = None

    def add(self, document_ids: Iterable[str]) -> None:
        """Queue the ids for sending (call after their commit)."""
        ids = list(document_ids)
        if not ids:
            return
        with self._changed:
            self._start()
            first = not self._waiting
            if first:
                self._first_at = time.monotonic()
            self._waiting += ids
            # Otherwise the thread already waits until the first id's linger is up.
            if first or len(self._waiting) >= processing.BATCH:
                self._changed.notify_all()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every id handed over so far was sent (or failed to be); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            self._first_at = 0.0  # send what waits now
            self._changed.notify_all()
            while self._waiting or self._sending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True

    def close(self) -> None:
        """Send what waits, then stop the thread."""
        with self._changed:
            if self._owner != os.getpid():
                return
        self.flush()
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def _start(self) -> None:
        # Started on first use in each process: a thread does not survive a fork.
        if self._owner == os.getpid():
            return
        self._owner = os.getpid()
        self._waiting, self._sending, self._closed = [], 0, False
        threading.Thread(target=self._run, name="sender", daemon=True).start()
        atexit.register(self.close)

    def _run(self) -> None:
        while True:
            with self._changed:
                self._wait_until(self._linger)
                if self._closed:
                    return
                full = len(self._waiting) >= processing.BATCH
            behind = 0 if full else self._tasks_waiting()
            if behind:
                with self._changed:
                    self._wait_until(self._linger * (1 + min(behind, BEHIND_LINGERS)))
                    if self._closed:
                        return
            with self._changed:
                ids, self._waiting = self._waiting, []
                self._sending = len(ids)
            try:
                self._send(ids)
            except Exception as exc:  # noqa: BLE001 - the sweeper sends what this could not
                log.warning("could not send %d documents: %r", len(ids), exc)
            with self._changed:
                self._sending = 0
                self._changed.notify_all()

    def _wait_until(self, linger: float) -> None:
        """Wait (holding the condition) for a full batch, or `linger` past the first id."""
        while not self._closed:
            if self._waiting:
                left = self._first_at + linger - time.monotonic()
                if len(self._waiting) >= processing.BATCH or left <= 0:
                    return
                self._changed.wait(left)
            else:
                self._changed.wait()

    def _tasks_waiting(self) -> int:
        queue = self._celery.conf.task_default_queue
        return metrics.queue_length(self._broker, queue) or 0

    def _send(self, document_ids: list[str]) -> None:
        sent = enqueue_processing(self._celery, document_ids)
        with session_scope(self._sessions) as session:
            documents.mark_enqueued(session, sent)
