"""Faults on real processes: a killed worker, a broker outage, a database outage, a poison document.

Each test runs a real `celery worker` subprocess against a private redis-server
and a database of this module's own, so stopping either never disturbs the
rest of the suite. Every assertion is on outcomes (each accepted document is
processed once in its effects), never on how fast.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import psutil
import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from services.app import create_app
from services.config import Config
from services.storage import keys
from services.storage.db import make_engine, make_sessionmaker, session_scope
from services.storage.models import (
    FAILED,
    PROCESSED,
    PROCESSING,
    Document,
    FeedEntry,
    Story,
    utcnow,
)
from services.supervisor import PrivateRedis
from tests.helpers import post, wait_for

ROOT = Path(__file__).resolve().parents[2]
WORDS = (ROOT / "seeds" / "000_a893fa683b4c574b.txt").read_text().split()

pytestmark = pytest.mark.slow


def big_document(size: int, tag: str) -> str:
    """Return `size` bytes of distinct paragraphs: seconds of normalization, never a duplicate."""
    rng = random.Random(tag)
    paragraphs: list[str] = []
    total = 0
    while total < size:
        words = " ".join(rng.choice(WORDS) for _ in range(60))
        paragraph = f"Dispatch {tag} part {len(paragraphs)}: {words}."
        paragraphs.append(paragraph)
        total += len(paragraph) + 2
    return "\n\n".join(paragraphs)


@dataclass
class Workers:
    """Real `celery worker` processes, each in its own process group."""

    config: Config
    log_dir: Path
    running: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: dict[int, Path] = field(default_factory=dict)

    def start(self, *, beat: bool = False, **settings: object) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "DATABASE_URL": self.config.database_url,
            "REDIS_URL": self.config.redis_url,
            "LOG_LEVEL": "INFO",
            **{name.upper(): str(value) for name, value in settings.items()},
        }
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        name = f"fault-{len(self.running)}-{uuid.uuid4().hex[:6]}"
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "workers.celery_app",
            "worker",
            "--concurrency",
            "2",
            "--loglevel",
            "INFO",
            "--hostname",
            f"{name}@%h",
        ]
        if beat:
            command += ["--beat", "--schedule", str(self.log_dir / f"{name}-beat")]
        log = (self.log_dir / f"{name}.log").open("wb")
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True
        )
        log.close()
        self.running.append(process)
        self.logs[process.pid] = self.log_dir / f"{name}.log"
        return process

    def log(self, process: subprocess.Popen[bytes]) -> str:
        return self.logs[process.pid].read_text(errors="replace")

    def ready(self, process: subprocess.Popen[bytes]) -> bool:
        """Whether the worker consumes from the queue."""
        return " ready." in self.log(process)

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL the worker and its pool processes at once, as a crashed host would."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def stop_all(self) -> None:
        for process in self.running:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(10)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[PrivateRedis]:
    running = PrivateRedis(tmp_path / "redis")
    running.start()
    yield running
    running.stop()


@pytest.fixture
def fault_config(private_database_url: str, broker: PrivateRedis) -> Config:
    return Config.from_env(
        {},
        database_url=private_database_url,
        redis_url=broker.url,
        rate_limit="100000/minute",
        sweep_unsent_after_seconds=1,
    )


@pytest.fixture
def sessions(fault_config: Config) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(fault_config.database_url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def api(fault_config: Config, sessions: sessionmaker[Session]) -> Iterator[FlaskClient]:
    """A test client of the API on the private broker, sending a key with every scope."""
    with session_scope(sessions) as session:
        token = keys.create(session, "faults", keys.SCOPES).token
    app = create_app(fault_config)
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    yield client
    app.extensions["ingest"].engine.dispose()


@pytest.fixture
def workers(fault_config: Config, tmp_path: Path) -> Iterator[Workers]:
    started = Workers(fault_config, tmp_path)
    yield started
    started.stop_all()


def _row(sessions: sessionmaker[Session], document_id: str) -> Document:
    with sessions() as session:
        row = session.get(Document, document_id)
    assert row is not None
    return row


def _status(sessions: sessionmaker[Session], document_id: str) -> str:
    return _row(sessions, document_id).status


def _assert_recorded_once(sessions: sessionmaker[Session], document_id: str) -> None:
    """One feed entry, one story membership, whatever the number of deliveries."""
    with sessions() as session:
        row = session.get(Document, document_id)
        assert row is not None and row.status == PROCESSED and row.story_id is not None
        entries = session.scalar(
            select(func.count()).select_from(FeedEntry).where(FeedEntry.document_id == document_id)
        )
        opened = session.scalar(
            select(func.count()).select_from(Story).where(Story.canonical_id == document_id)
        )
    assert entries == 1
    assert opened == (1 if row.relation is None else 0)


def test_a_worker_killed_mid_task_is_redelivered_and_records_once(
    api: FlaskClient, workers: Workers, sessions: sessionmaker[Session]
) -> None:
    first = workers.start(visibility_timeout=5)
    document_id = post(api, big_document(500_000, uuid.uuid4().hex))
    wait_for(lambda: _status(sessions, document_id) == PROCESSING, timeout=60, interval=0.02)
    workers.kill(first)
    assert _row(sessions, document_id).status == PROCESSING
    # Redis hands an unacknowledged message out again once its visibility timeout passed.
    time.sleep(6)
    workers.start(visibility_timeout=5)
    wait_for(lambda: _status(sessions, document_id) == PROCESSED, timeout=180)
    assert _row(sessions, document_id).deliveries == 2
    _assert_recorded_once(sessions, document_id)


def test_a_killed_pool_process_hands_its_task_back(
    api: FlaskClient, workers: Workers, sessions: sessionmaker[Session]
) -> None:
    worker = workers.start()
    document_id = post(api, big_document(500_000, uuid.uuid4().hex))
    wait_for(lambda: _status(sessions, document_id) == PROCESSING, timeout=60, interval=0.02)
    for child in psutil.Process(worker.pid).children():
        child.send_signal(signal.SIGKILL)
    wait_for(lambda: _status(sessions, document_id) == PROCESSED, timeout=180)
    assert _row(sessions, document_id).deliveries == 2
    _assert_recorded_once(sessions, document_id)
    assert worker.poll() is None


def test_a_poison_document_fails_after_its_budget_without_blocking_the_queue(
    api: FlaskClient, workers: Workers, sessions: sessionmaker[Session]
) -> None:
    # A document that takes its pool process down on every delivery, as an
    # out-of-memory kill would: each loss hands the task back, until
    # MAX_DELIVERIES is spent.
    worker = workers.start(max_deliveries=3)
    poison = post(api, big_document(1_000_000, uuid.uuid4().hex))
    others: list[str] = []
    for delivery in range(1, 4):
        wait_for(
            lambda n=delivery: (
                _row(sessions, poison).deliveries == n and _status(sessions, poison) == PROCESSING
            ),
            timeout=60,
            interval=0.02,
        )
        others.append(post(api, f"Bulletin {uuid.uuid4().hex}: ferry line {delivery} resumed."))
        # Both pool processes: which one holds the poison is not ours to know;
        # a small document lost with the other is handed back like any task.
        for child in psutil.Process(worker.pid).children():
            child.send_signal(signal.SIGKILL)
    wait_for(lambda: _status(sessions, poison) == FAILED, timeout=120)
    assert "delivered 3 times without finishing" in (_row(sessions, poison).error or "")
    wait_for(lambda: all(_status(sessions, i) == PROCESSED for i in others), timeout=120)
    for document_id in others:
        _assert_recorded_once(sessions, document_id)
    assert worker.poll() is None

    # Re-queued by an operator (here, the document's trouble has passed), it gets through.
    retried = api.post(f"/v1/documents/{poison}/retry")
    assert retried.status_code == 202
    wait_for(lambda: _status(sessions, poison) == PROCESSED, timeout=300)
    _assert_recorded_once(sessions, poison)


def test_documents_posted_while_redis_dies_and_returns_are_all_processed(
    api: FlaskClient, workers: Workers, sessions: sessionmaker[Session], broker: PrivateRedis
) -> None:
    workers.start(
        beat=True,
        sweep_interval_seconds=1,
        sweep_unsent_after_seconds=1,
        sweep_after_seconds=5,
        task_soft_time_limit=8,
        task_time_limit=10,
        visibility_timeout=15,
    )
    accepted: list[str] = []
    failures: list[int] = []
    lock = threading.Lock()
    run = uuid.uuid4().hex[:8]

    def producer(number: int) -> None:
        client = api.application.test_client()
        client.environ_base.update(api.environ_base)
        for i in range(15):
            response = client.post(
                "/v1/documents",
                json={"content": f"Wire {run} {number}-{i}: river level {i * 7} cm at gauge {i}."},
            )
            with lock:
                if response.status_code == 202:
                    accepted.append(response.json["id"])
                else:
                    failures.append(response.status_code)
            time.sleep(0.1)

    producers = [threading.Thread(target=producer, args=(n,)) for n in range(4)]
    for thread in producers:
        thread.start()
    wait_for(lambda: len(accepted) >= 12, timeout=60, interval=0.02)
    broker.kill()
    wait_for(lambda: api.get("/readyz").status_code == 503, timeout=30)
    broker.start()
    for thread in producers:
        thread.join(60)
    assert failures == []
    assert len(accepted) == 60
    wait_for(lambda: all(_status(sessions, i) == PROCESSED for i in accepted), timeout=180)
    for document_id in accepted:
        _assert_recorded_once(sessions, document_id)


@dataclass
class Outage:
    """Make the module's database refuse new connections, then take them again."""

    database_url: str
    hidden: Path | None = None

    def begin(self) -> None:
        url = make_url(self.database_url)
        if url.get_backend_name() == "sqlite":
            # A directory where the file was: no new connection can open it.
            path = Path(str(url.database))
            self.hidden = path.with_name(path.name + ".away")
            path.rename(self.hidden)
            path.mkdir()
            return
        self._admin(
            f'ALTER DATABASE "{url.database}" ALLOW_CONNECTIONS false',
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{url.database}' AND pid <> pg_backend_pid()",
        )

    def end(self) -> None:
        url = make_url(self.database_url)
        if url.get_backend_name() == "sqlite":
            path = Path(str(url.database))
            path.rmdir()
            assert self.hidden is not None
            self.hidden.rename(path)
            return
        self._admin(f'ALTER DATABASE "{url.database}" ALLOW_CONNECTIONS true')

    def _admin(self, *statements: str) -> None:
        admin_url = make_url(self.database_url).set(database="postgres")
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            for statement in statements:
                connection.execute(text(statement))
        admin.dispose()


def test_tasks_retry_while_the_database_is_down_and_finish_when_it_returns(
    api: FlaskClient,
    workers: Workers,
    sessions: sessionmaker[Session],
    fault_config: Config,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    run = uuid.uuid4().hex[:8]
    ids = [
        post(api, f"Report {run} {i}: the dam held after {i + 3} days of rain.") for i in range(4)
    ]
    outage = Outage(fault_config.database_url)
    outage.begin()
    try:
        worker = workers.start(max_retries=12)
        # A fresh API process, as a restarted or newly scaled one would be.
        fresh_app = create_app(fault_config)
        request.addfinalizer(fresh_app.extensions["ingest"].engine.dispose)
        fresh = fresh_app.test_client()
        fresh.environ_base.update(api.environ_base)
        assert fresh.get("/readyz").status_code == 503
        refused = fresh.post("/v1/documents", json={"content": "Sent while the store is down."})
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "5"
        # Counted by the rate limiter (no key to look up first), the answer
        # still carries the database's hint, not the limiter's window.
        counted_app = create_app(replace(fault_config, auth_mode="open"))
        request.addfinalizer(counted_app.extensions["ingest"].engine.dispose)
        counted = counted_app.test_client().post("/v1/documents", json={"content": "Sent again."})
        assert counted.status_code == 503
        assert counted.headers["Retry-After"] == "5"
        assert fresh.get("/healthz").status_code == 200
        wait_for(lambda: _retries_logged(tmp_path) >= 2, timeout=60)
    finally:
        outage.end()
    wait_for(lambda: all(_status(sessions, i) == PROCESSED for i in ids), timeout=180)
    for document_id in ids:
        _assert_recorded_once(sessions, document_id)
    assert worker.poll() is None
    assert api.get("/readyz").status_code == 200


def _retries_logged(log_dir: Path) -> int:
    return sum(
        path.read_text(errors="replace").count("transient error, retry")
        for path in log_dir.glob("fault-*.log")
    )


@dataclass
class Beat:
    """A real `celery beat` process, sending the sweep on its schedule."""

    config: Config
    log_dir: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self, **settings: object) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": self.config.database_url,
            "REDIS_URL": self.config.redis_url,
            **{name.upper(): str(value) for name, value in settings.items()},
        }
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        command = [
            sys.executable, "-m", "celery", "-A", "workers.celery_app", "beat",
            "--loglevel", "INFO", "--schedule", str(self.log_dir / "beat-schedule"),
        ]  # fmt: skip
        with (self.log_dir / "beat.log").open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True
            )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(30)


@pytest.fixture
def beat(fault_config: Config, tmp_path: Path) -> Iterator[Beat]:
    running = Beat(fault_config, tmp_path)
    yield running
    running.stop()


# Lease and sweep of the lease tests: short, so the test is short; the rule
# is the one the defaults (30 s, 10 s) follow.
LEASE = 3
SWEEP_INTERVAL = 2


def test_a_killed_workers_document_is_sent_again_within_a_lease_and_a_sweep(
    api: FlaskClient,
    workers: Workers,
    beat: Beat,
    sessions: sessionmaker[Session],
) -> None:
    settings = {"lease_seconds": LEASE, "sweep_interval_seconds": SWEEP_INTERVAL}
    lost = workers.start(**settings)
    wait_for(lambda: workers.ready(lost), timeout=60)
    # The survivor starts while the lost worker takes a document of many
    # seconds' work, and consumes before the loss, so only the sweep is timed.
    survivor = workers.start(**settings)
    beat.start(**settings)
    document_id = post(api, big_document(1_500_000, uuid.uuid4().hex))
    wait_for(lambda: _status(sessions, document_id) == PROCESSING, timeout=60, interval=0.02)
    wait_for(lambda: workers.ready(survivor), timeout=60)
    assert _status(sessions, document_id) == PROCESSING
    killed = utcnow()
    workers.kill(lost)

    def sent_again() -> bool:
        row = _row(sessions, document_id)
        return row.deliveries == 2 or (row.enqueued_at is not None and row.enqueued_at > killed)

    wait_for(sent_again, timeout=60, interval=0.05)
    waited = (utcnow() - killed).total_seconds()
    # Lease, one sweep interval, and a second for the sweep task itself to run.
    assert waited <= LEASE + SWEEP_INTERVAL + 1, waited
    wait_for(lambda: _status(sessions, document_id) == PROCESSED, timeout=120)
    assert _row(sessions, document_id).deliveries == 2
    _assert_recorded_once(sessions, document_id)


def test_a_worker_that_stalls_past_its_lease_and_finishes_late_changes_nothing_twice(
    api: FlaskClient,
    workers: Workers,
    beat: Beat,
    sessions: sessionmaker[Session],
) -> None:
    settings = {"lease_seconds": LEASE, "sweep_interval_seconds": SWEEP_INTERVAL}
    stalled = workers.start(**settings)
    wait_for(lambda: workers.ready(stalled), timeout=60)
    document_id = post(api, big_document(500_000, uuid.uuid4().hex))
    wait_for(lambda: _status(sessions, document_id) == PROCESSING, timeout=60, interval=0.02)
    # Frozen mid-analysis (holding no database lock), as a paused VM or a
    # partitioned host would be: its lease lapses and the document is re-sent.
    os.killpg(stalled.pid, signal.SIGSTOP)
    try:
        survivor = workers.start(**settings)
        beat.start(**settings)
        wait_for(lambda: workers.ready(survivor), timeout=60)
        wait_for(lambda: _status(sessions, document_id) == PROCESSED, timeout=120)
    finally:
        os.killpg(stalled.pid, signal.SIGCONT)
    # The original worker finishes its copy late: it finds the document
    # processed, and its message is acknowledged.
    wait_for(lambda: f"{document_id}: skipped" in workers.log(stalled), timeout=120)
    assert _row(sessions, document_id).deliveries == 2
    _assert_recorded_once(sessions, document_id)
