"""Soak: POST at a steady rate while a consumer pages the feed, on the real stack.

Checks that every accepted document reaches the feed exactly once and that no
process's memory keeps growing (resident memory of the last third of the run
within 50% of the first third, after a warm-up). Bounded and loopback only:
SOAK_SECONDS (default 60) and SOAK_RATE (documents per second, default 8)
make it longer or heavier. The figures are printed (`pytest -s`).
"""

from __future__ import annotations

import os
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
import requests

from services.storage import keys
from services.storage.db import make_engine, make_sessionmaker, session_scope
from services.supervisor import Stack, free_port, start
from tests.helpers import ready, wait_for

SECONDS = float(os.environ.get("SOAK_SECONDS", "60"))
RATE = float(os.environ.get("SOAK_RATE", "8"))
WARM_UP_DOCUMENTS = 20
SAMPLE_SECONDS = 1.0
MAX_GROWTH = 1.5
SEEDS = Path(__file__).resolve().parents[2] / "seeds"

pytestmark = pytest.mark.slow


@dataclass
class Soak:
    url: str
    stack: Stack
    producer: dict[str, str]
    consumer: dict[str, str]


@pytest.fixture(scope="module")
def soak(
    private_database_url: str, private_redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Soak]:
    engine = make_engine(private_database_url)
    with session_scope(make_sessionmaker(engine)) as session:
        producer = keys.create(session, "soak producer", ["ingest"]).token
        consumer = keys.create(session, "soak consumer", ["read"]).token
    engine.dispose()
    port = free_port()
    environ = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": private_database_url,
        "REDIS_URL": private_redis_url,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path_factory.mktemp("soak-metrics")),
        "LOG_LEVEL": "WARNING",
        # Comfortably above the offered load, for any SOAK_SECONDS and SOAK_RATE.
        "RATE_LIMIT": f"{int(RATE * 120) + 600}/minute",
    }
    stack, _ = start(port=port, flower_port=None, concurrency=2, api_workers=2, environ=environ)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: ready(url), timeout=60, interval=0.2)
        yield Soak(
            url,
            stack,
            {"Authorization": f"Bearer {producer}"},
            {"Authorization": f"Bearer {consumer}"},
        )
    finally:
        stack.stop()


def _documents(run: str) -> Iterator[dict[str, str]]:
    """Yield distinct articles built from the seeds; every tenth repeats an earlier text."""
    seeds = [path.read_text() for path in sorted(SEEDS.glob("*.txt"))]
    sent: list[str] = []
    number = 0
    while True:
        if number % 10 == 9 and sent:
            content = sent[number // 2]
        else:
            base = seeds[number % len(seeds)]
            content = f"{base}\n\nUpdate {run}-{number}: figures revised at {number % 24}:00."
            sent.append(content)
        yield {"content": content, "source": f"soak-{run}-{number % 7}", "external_id": str(number)}
        number += 1


@dataclass
class Memory:
    """Resident memory of each process of the stack, sampled over time."""

    samples: dict[str, list[float]] = field(default_factory=dict)

    def sample(self, stack: Stack) -> None:
        for name, process in stack.processes.items():
            try:
                root = psutil.Process(process.pid)
                tree = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
            for member in tree:
                try:
                    rss = member.memory_info().rss / 2**20
                except psutil.NoSuchProcess:
                    continue
                key = f"{name}:{member.pid}" if member.pid != root.pid else f"{name}:main"
                self.samples.setdefault(key, []).append(rss)

    def thirds(self) -> dict[str, tuple[float, float]]:
        """Return each process's mean RSS (MiB) in the first and the last third of the run."""
        figures = {}
        for key, values in self.samples.items():
            third = len(values) // 3
            if third:
                figures[key] = (statistics.mean(values[:third]), statistics.mean(values[-third:]))
        return figures


def test_steady_load_reaches_the_feed_once_with_flat_memory(soak: Soak) -> None:
    run = uuid.uuid4().hex[:8]
    documents = _documents(run)
    session = requests.Session()
    warm = [_post(session, soak, next(documents)) for _ in range(WARM_UP_DOCUMENTS)]
    seen: list[str] = []
    cursor: list[str | None] = [None]
    _consume_until(session, soak, seen, cursor, set(warm), timeout=120)

    accepted: list[str] = []
    memory = Memory()
    stop = threading.Event()
    consumer = threading.Thread(target=_consume, args=(soak, seen, cursor, stop))
    sampler = threading.Thread(target=_sample, args=(soak.stack, memory, stop))
    consumer.start()
    sampler.start()
    started = time.monotonic()
    for number in range(int(SECONDS * RATE)):
        delay = started + number / RATE - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        accepted.append(_post(session, soak, next(documents)))
    produced_in = time.monotonic() - started
    try:
        deadline = time.monotonic() + 120
        while not set(accepted) <= set(seen) and time.monotonic() < deadline:
            time.sleep(0.5)
        drained_in = time.monotonic() - started
    finally:
        stop.set()
        consumer.join(30)
        sampler.join(30)

    counts = Counter(seen)
    missing = set(accepted) - set(seen)
    repeated = {document_id: n for document_id, n in counts.items() if n > 1}
    figures = memory.thirds()
    print(
        f"\nsoak: {len(accepted)} documents in {produced_in:.1f}s "
        f"({len(accepted) / produced_in:.1f}/s offered), all in the feed after {drained_in:.1f}s; "
        f"{len(seen)} feed items read, {len(missing)} missing, {len(repeated)} repeated"
    )
    for key, (first, last) in sorted(figures.items()):
        print(f"  {key:<16} RSS first third {first:7.1f} MiB  last third {last:7.1f} MiB")
    assert not missing
    assert not repeated
    assert set(seen) == set(warm) | set(accepted)
    grown = {key: pair for key, pair in figures.items() if pair[1] > pair[0] * MAX_GROWTH}
    assert not grown, grown
    assert all(process.poll() is None for process in soak.stack.processes.values())


def _post(session: requests.Session, soak: Soak, document: dict[str, str]) -> str:
    response = session.post(
        f"{soak.url}/v1/documents", json=document, headers=soak.producer, timeout=30
    )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def _consume_until(
    session: requests.Session,
    soak: Soak,
    seen: list[str],
    cursor: list[str | None],
    wanted: set[str],
    timeout: float,
) -> None:
    deadline = time.monotonic() + timeout
    while not wanted <= set(seen):
        assert time.monotonic() < deadline, "the warm-up documents did not reach the feed"
        if not _read_page(session, soak, seen, cursor):
            time.sleep(0.2)


def _consume(soak: Soak, seen: list[str], cursor: list[str | None], stop: threading.Event) -> None:
    session = requests.Session()
    while not stop.is_set():
        if not _read_page(session, soak, seen, cursor):
            stop.wait(0.5)


def _read_page(
    session: requests.Session, soak: Soak, seen: list[str], cursor: list[str | None]
) -> bool:
    """Read the next feed page into `seen`; return whether it had items."""
    params = {"view": "documents", "limit": "100"}
    if cursor[0]:
        params["after"] = cursor[0]
    response = session.get(f"{soak.url}/v1/feed", params=params, headers=soak.consumer, timeout=30)
    assert response.status_code == 200, response.text
    page = response.json()
    seen.extend(item["document_id"] for item in page["items"])
    cursor[0] = page["next_cursor"] or cursor[0]
    return bool(page["items"])


def _sample(stack: Stack, memory: Memory, stop: threading.Event) -> None:
    while not stop.is_set():
        memory.sample(stack)
        stop.wait(SAMPLE_SECONDS)
