"""The fault phase: the real service under load while a worker, Redis or the database fails.

Single POSTs arrive at a fixed rate (half the sustained rate in full mode)
on a stack of the benchmark's own: a fresh database, a private
redis-server (never the machine's shared one, even when REDIS_URL is set)
and the supervisor's restart policy. For each fault in turn:

- `worker_killed`: the Celery worker and its pool SIGKILLed at once, as
  soon as it holds a document (so its leases must bring them back);
- `redis_stopped`: the private redis-server stopped (SIGTERM) for the
  outage and started again on its port and data;
- `database_unavailable`: the run's own database for the outage: on
  PostgreSQL it refuses connections and its sessions are ended; on SQLite
  a transaction holds the write lock, so writers wait.

Each reports: documents accepted, processed once, lost (accepted, never
processed), double effects (feed entries or stories beyond one), intake
errors (answers other than 200/202, or none) while the fault lasted (a
refused document is sent again after its Retry-After, as a client would),
the time from the fault to the last document accepted before it ended
being processed, and the stack's memory before and after.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import requests
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from bench import stack
from bench.corpus import article
from bench.stack import MIB
from services.storage.db import make_engine, make_sessionmaker
from services.storage.models import FAILED, PROCESSED, PROCESSING, Document, FeedEntry, Story
from services.supervisor import PrivateRedis, RestartPolicy, Stack

FAULTS = ("worker_killed", "redis_stopped", "database_unavailable")
# Client threads: enough that a request waiting on a stalled database does
# not hold back the ones after it.
CLIENTS = 16
ANSWERED = (200, 202)


@dataclass(frozen=True)
class Timing:
    """Seconds of load before a fault, of the outage itself, of load after, and to wait."""

    lead: float
    outage: float
    tail: float
    settle: float = 180


# How long a client keeps retrying one document that was refused (503, no answer).
RETRY_SECONDS = 60


@dataclass
class Sent:
    """One POST: when it was sent, what it answered (0: no answer), the id it got.

    `first_at`: when the document was first sent (earlier for a retry).
    """

    at: float
    status: int
    document_id: str | None
    first_at: float


@dataclass
class Producer:
    """POST documents one by one at a fixed rate from a pool of clients until stopped."""

    url: str
    rate: float
    payloads: Iterator[dict[str, Any]]
    sent: list[Sent] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _local: threading.local = field(default_factory=threading.local)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="fault-producer", daemon=True)
        self._thread.start()

    def stop(self) -> list[Sent]:
        """Stop sending; wait for the answers still due; return every POST."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return sorted(self.sent, key=lambda s: s.at)

    def _run(self) -> None:
        started = time.monotonic()
        with ThreadPoolExecutor(CLIENTS) as pool:
            for number, payload in enumerate(self.payloads):
                due = started + number / self.rate
                if self._stop.wait(max(0.0, due - time.monotonic())):
                    break
                pool.submit(self._post, payload)

    def _post(self, payload: dict[str, Any]) -> None:
        """POST the document; after a refusal, retry as a client would (same external id)."""
        http: requests.Session | None = getattr(self._local, "http", None)
        if http is None:
            http = self._local.http = requests.Session()
        first_at = time.monotonic()
        give_up = first_at + RETRY_SECONDS
        while True:
            at = time.monotonic()
            wait = 1.0
            try:
                response = http.post(f"{self.url}/v1/documents", json=payload, timeout=60)
                status = response.status_code
                document_id = response.json().get("id") if status in ANSWERED else None
                wait = float(response.headers.get("Retry-After") or wait)
            except (requests.RequestException, ValueError):
                status, document_id = 0, None
            with self._lock:
                self.sent.append(Sent(at, status, document_id, first_at))
            if status in ANSWERED or time.monotonic() + wait > give_up:
                return
            time.sleep(wait)


@contextmanager
def database_outage(database_url: str) -> Iterator[None]:
    """Make the run's own database unavailable for the block."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        # Writers (intake, workers) wait on the lock, as on a stalled disk.
        connection = sqlite3.connect(str(url.database), timeout=30, isolation_level=None)
        connection.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            connection.execute("ROLLBACK")
            connection.close()
        return
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{url.database}" ALLOW_CONNECTIONS false'))
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": url.database},
            )
        yield
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{url.database}" ALLOW_CONNECTIONS true'))
        admin.dispose()


@contextmanager
def supervised(running: Stack) -> Iterator[list[str]]:
    """Apply the supervisor's restart policy to the stack, as `make run` does.

    Yields a list that receives the message of a crash loop, if any.
    """
    stop = threading.Event()
    crash_loops: list[str] = []

    def watch() -> None:
        policy = RestartPolicy()
        while not stop.wait(0.2):
            verdict = running.watch(policy)
            if verdict:
                crash_loops.append(verdict)
                return

    thread = threading.Thread(target=watch, name="fault-supervisor", daemon=True)
    thread.start()
    try:
        yield crash_loops
    finally:
        stop.set()
        thread.join()


def rss_mib(running: Stack) -> float:
    """Return the resident memory of every process of the stack, children included, in MiB."""
    total = 0
    for process in list(running.processes.values()):
        try:
            root = psutil.Process(process.pid)
            members = [root, *root.children(recursive=True)]
        except psutil.Error:
            continue
        for member in members:
            try:
                total += member.memory_info().rss
            except psutil.Error:
                continue
    return total / MIB


@dataclass(frozen=True)
class Effects:
    """What the store shows for a set of accepted documents."""

    processed_once: int
    unfinished: int
    failed: int
    double_effects: int
    last_processed_at: datetime | None


def effects(sessions: sessionmaker[Session], ids: list[str], counted: set[str]) -> Effects:
    """Count, for the documents, those processed once, unfinished, failed, and double effects.

    `last_processed_at` is over the documents in `counted` only.
    """
    with sessions() as session:
        rows = session.execute(
            select(Document.id, Document.status, Document.relation, Document.processed_at).where(
                Document.id.in_(ids)
            )
        ).all()
        entries = dict(
            session.execute(
                select(FeedEntry.document_id, func.count())
                .where(FeedEntry.document_id.in_(ids))
                .group_by(FeedEntry.document_id)
            ).all()
        )
        opened = dict(
            session.execute(
                select(Story.canonical_id, func.count())
                .where(Story.canonical_id.in_(ids))
                .group_by(Story.canonical_id)
            ).all()
        )
    once = double = unfinished = failed = 0
    last: datetime | None = None
    for row in rows:
        feed = entries.get(row.id, 0)
        stories = opened.get(row.id, 0)
        expected_stories = 1 if row.relation is None else 0
        double += max(0, feed - 1) + max(0, stories - expected_stories)
        if row.status == PROCESSED:
            once += feed == 1 and stories == expected_stories
            if row.id in counted and row.processed_at is not None:
                last = row.processed_at if last is None else max(last, row.processed_at)
        elif row.status == FAILED:
            failed += 1
        else:
            unfinished += 1
    unfinished += len(ids) - len(rows)
    return Effects(once, unfinished, failed, double, last)


@dataclass
class FaultRun:
    """Everything one fault needs: the service, its stores, the load and the timings."""

    url: str
    running: Stack
    broker: PrivateRedis
    database_url: str
    sessions: sessionmaker[Session]
    rate: float
    timing: Timing
    payloads: Iterator[dict[str, Any]]
    held: int | None = None

    def inject(self, fault: str) -> None:
        """Cause the fault; return when it is over (at once for a kill)."""
        if fault == "worker_killed":
            # In the middle of work, so its claimed documents must come back
            # through their leases (at a moment with none, only the restart shows).
            deadline = time.monotonic() + 10
            while not self.processing() and time.monotonic() < deadline:
                time.sleep(0.02)
            self.held = self.processing()
            os.killpg(self.running.processes["worker"].pid, signal.SIGKILL)
        elif fault == "redis_stopped":
            self.broker.stop()
            time.sleep(self.timing.outage)
            self.broker.start()
        elif fault == "database_unavailable":
            with database_outage(self.database_url):
                time.sleep(self.timing.outage)
        else:
            raise ValueError(f"unknown fault {fault!r}")

    def processing(self) -> int:
        """Return how many documents are claimed by a worker right now."""
        with self.sessions() as session:
            query = select(func.count()).where(Document.status == PROCESSING)
            return int(session.scalar(query) or 0)

    def warm_up(self, documents: int = 8) -> None:
        """Process a few documents first: the worker's pool is loaded and its memory settled."""
        with requests.Session() as http:
            ids = [
                http.post(f"{self.url}/v1/documents", json=next(self.payloads), timeout=60).json()[
                    "id"
                ]
                for _ in range(documents)
            ]
        deadline = time.monotonic() + self.timing.settle
        while effects(self.sessions, ids, set()).unfinished and time.monotonic() < deadline:
            time.sleep(0.5)

    def measure(self, fault: str) -> dict[str, Any]:
        """Run the load through the fault; return its figures."""
        producer = Producer(self.url, self.rate, self.payloads)
        producer.start()
        time.sleep(self.timing.lead)
        memory_before = rss_mib(self.running)
        began_at = datetime.now(UTC)
        began = time.monotonic()
        self.held = None
        self.inject(fault)
        ended = time.monotonic()
        time.sleep(self.timing.tail)
        sent = producer.stop()
        accepted = list(dict.fromkeys(s.document_id for s in sent if s.document_id is not None))
        affected = {
            s.document_id for s in sent if s.document_id is not None and s.first_at <= ended
        }
        deadline = ended + self.timing.settle
        found = effects(self.sessions, accepted, affected)
        while found.unfinished and time.monotonic() < deadline:
            time.sleep(0.5)
            found = effects(self.sessions, accepted, affected)
        recovery = (
            (found.last_processed_at - began_at).total_seconds()
            if found.last_processed_at is not None
            else None
        )
        # The window of the fault: the outage, or for a kill, until the tail ends.
        window_end = ended if ended - began > 1 else ended + self.timing.tail
        during = [s for s in sent if began <= s.at <= window_end]
        return {
            "posts": len(sent),
            "accepted": len(accepted),
            "processed_once": found.processed_once,
            "lost": found.unfinished + found.failed,
            "failed": found.failed,
            "double_effects": found.double_effects,
            "intake_errors_during_fault": sum(s.status not in ANSWERED for s in during),
            "requests_during_fault": len(during),
            "intake_errors": sum(s.status not in ANSWERED for s in sent),
            "fault_seconds": ended - began,
            "processing_at_kill": self.held,
            "recovery_seconds": recovery,
            "recovery_after_fault_end_seconds": (
                recovery - (ended - began) if recovery is not None else None
            ),
            "memory_before_mb": memory_before,
            "memory_after_mb": rss_mib(self.running),
            "memory_growth_mb": rss_mib(self.running) - memory_before,
        }


def _payloads(seed: int, start: int) -> Iterator[dict[str, Any]]:
    number = start
    while True:
        payload = article(seed, number).payload
        yield {**payload, "external_id": f"{payload['external_id']}-fault-{number}"}
        number += 1


@dataclass(frozen=True)
class Load:
    """What the clients send: documents a second, the fault's timing, and which articles."""

    rate: float
    timing: Timing
    seed: int
    first_document: int


def run(
    environ: dict[str, str],
    load: Load,
    *,
    database_url: str,
    directory: Path,
    concurrency: int,
    api_workers: int,
) -> dict[str, Any]:
    """Start a stack of the phase's own and run each fault on it in turn; return the figures."""
    rate, timing = load.rate, load.timing
    broker = PrivateRedis(directory / "fault-redis")
    broker.start()
    environ = {**environ, "DATABASE_URL": database_url, "REDIS_URL": broker.url}
    engine = make_engine(database_url)
    figures: dict[str, Any] = {"offered_docs_per_s": rate, "timing": timing.__dict__}
    try:
        with stack.running(
            environ,
            concurrency=concurrency,
            api_workers=api_workers,
            log_path=directory / "fault-stack.log",
        ) as service:
            running = service.memory.stack
            with supervised(running) as crash_loops:
                fault_run = FaultRun(
                    service.url,
                    running,
                    broker,
                    database_url,
                    make_sessionmaker(engine),
                    rate,
                    timing,
                    _payloads(load.seed, load.first_document),
                )
                fault_run.warm_up()
                for fault in FAULTS:
                    figures[fault] = fault_run.measure(fault)
                    stack.wait_ready(service.url, timeout=120)
            figures["crash_loops"] = crash_loops
    finally:
        engine.dispose()
        broker.stop()
    return figures
