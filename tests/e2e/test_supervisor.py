"""`python -m services run` keeps intake up and finishes every document when its worker is killed.

The real supervisor, on free ports with its own var/ directory, a private
redis-server and a database of this module's own. The Celery worker and its
pool are SIGKILLed mid-burst, as the kernel's out-of-memory killer would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from services.storage.db import make_engine, make_sessionmaker
from services.storage.models import PROCESSED, Document, FeedEntry
from services.supervisor import free_port
from tests.helpers import ready, wait_for

ROOT = Path(__file__).resolve().parents[2]
BATCHES = 15
BATCH_SIZE = 20
# The target: every document processed within this long of the kill, no one acting.
RECOVERY_SECONDS = 60


@dataclass
class Supervised:
    """A running `python -m services run`: its URL, token, output and process."""

    url: str
    token: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def worker(self) -> psutil.Process:
        """Return the Celery worker's main process (Flower is a Celery command too)."""
        for child in psutil.Process(self.process.pid).children():
            command = " ".join(child.cmdline())
            if "celery" in command and " worker" in command:
                return child
        raise AssertionError("no worker process under the supervisor")


@pytest.fixture
def supervised(
    private_database_url: str, private_redis_url: str, tmp_path: Path
) -> Iterator[Supervised]:
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "FLOWER_PORT": str(free_port()),
        "VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": private_database_url,
        "REDIS_URL": private_redis_url,
        "LOG_LEVEL": "INFO",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log_path = tmp_path / "run.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "services", "run"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    token_path = tmp_path / "var" / "api-key"
    try:
        wait_for(lambda: token_path.exists() and token_path.read_text().strip(), timeout=120)
        running = Supervised(
            f"http://127.0.0.1:{port}", token_path.read_text().strip(), process, log_path
        )
        wait_for(lambda: ready(running.url), timeout=120)
        wait_for(lambda: " ready." in running.log(), timeout=120)
        yield running
    finally:
        # Ctrl-C, as a person at the terminal would.
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
            raise


@dataclass
class Burst:
    """Batches POSTed from a thread, every answer kept."""

    url: str
    token: str
    ids: list[str] = field(default_factory=list)
    answers: list[tuple[float, int]] = field(default_factory=list)
    sent: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        run = uuid.uuid4().hex[:8]
        headers = {"Authorization": f"Bearer {self.token}"}
        with requests.Session() as http:
            for batch in range(BATCHES):
                documents = [
                    {
                        "content": f"Bulletin {run}-{batch}-{i}: the river at gauge "
                        f"{batch * 31 + i} rose {i + 2} cm; {batch + 5} roads closed in {i}.",
                        "source": "supervisor-test",
                        "external_id": f"{run}-{batch}-{i}",
                    }
                    for i in range(BATCH_SIZE)
                ]
                try:
                    response = http.post(
                        f"{self.url}/v1/documents/batch",
                        json={"documents": documents},
                        headers=headers,
                        timeout=30,
                    )
                    status = response.status_code
                    if status == 200:
                        items = response.json()["results"]
                        self.ids += [item["id"] for item in items if item["status"] in (200, 202)]
                        status = max(item["status"] for item in items)
                except requests.RequestException:
                    status = 0  # refused or timed out: the outage this test forbids
                self.answers.append((time.monotonic(), status))
                time.sleep(0.3)
        self.sent.set()


def _processed(sessions: sessionmaker[Session], ids: list[str]) -> int:
    with sessions() as session:
        query = select(func.count()).where(Document.id.in_(ids), Document.status == PROCESSED)
        return int(session.scalar(query) or 0)


@pytest.mark.slow
def test_a_killed_worker_is_restarted_and_every_document_is_processed_once(
    supervised: Supervised, private_database_url: str
) -> None:
    burst = Burst(supervised.url, supervised.token)
    producer = threading.Thread(target=burst.run)
    producer.start()
    wait_for(lambda: len(burst.answers) >= 4, timeout=120)
    engine = make_engine(private_database_url)
    sessions = make_sessionmaker(engine)
    try:
        worker = supervised.worker()
        pool = worker.children()
        assert pool, "the worker has no pool processes"
        killed = time.monotonic()
        os.killpg(worker.pid, signal.SIGKILL)
        psutil.wait_procs([worker, *pool], timeout=10)
        producer.join(120)
        assert burst.sent.is_set()
        assert [status for _, status in burst.answers if status not in (200, 202)] == []
        assert len(burst.ids) == BATCHES * BATCH_SIZE
        during = [status for at, status in burst.answers if at >= killed]
        assert during, "no request was sent after the kill"
        remaining = RECOVERY_SECONDS - (time.monotonic() - killed)
        wait_for(
            lambda: _processed(sessions, burst.ids) == len(burst.ids),
            timeout=max(remaining, 0.1),
            interval=0.5,
        )
        with sessions() as session:
            entries = session.scalar(
                select(func.count(FeedEntry.document_id.distinct())).where(
                    FeedEntry.document_id.in_(burst.ids)
                )
            )
            rows = session.scalar(
                select(func.count())
                .select_from(FeedEntry)
                .where(FeedEntry.document_id.in_(burst.ids))
            )
        assert entries == rows == len(burst.ids)
    finally:
        engine.dispose()
    log = supervised.log()
    assert "worker (pid" in log and "exited with signal SIGKILL; restarting" in log
    assert "worker restarted" in log
    assert supervised.process.poll() is None, "the supervisor stopped"
