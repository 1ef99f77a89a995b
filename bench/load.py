"""Drive the running service over its public HTTP API and time what it does."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from bench.stats import median, percentile

BATCH = 500


class FeedWatcher:
    """Follow GET /v1/feed/stream?view=documents as a live consumer; note when each document shows.

    Reconnects with Last-Event-ID when the server closes the stream.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.seen: dict[str, float] = {}
        self._cursor: str | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="feed-watcher", daemon=True)
        self._http = requests.Session()
        self._response: requests.Response | None = None

    def __enter__(self) -> FeedWatcher:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._response is not None:
            self._response.close()
        self._thread.join(timeout=30)
        self._http.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            headers = {"Last-Event-ID": self._cursor} if self._cursor else {}
            try:
                self._follow(headers)
            except (requests.RequestException, AttributeError, ValueError):
                # The stream was closed under the reader (at exit) or failed: resume.
                if not self._stop.is_set():
                    time.sleep(0.2)

    def _follow(self, headers: dict[str, str]) -> None:
        with self._http.get(
            f"{self.url}/v1/feed/stream",
            params={"view": "documents"},
            headers=headers,
            stream=True,
            timeout=(5, 60),
        ) as response:
            response.raise_for_status()
            self._response = response
            event_id = None
            for line in response.iter_lines(decode_unicode=True):
                if line.startswith("id: "):
                    event_id = line[4:]
                elif line.startswith("data: "):
                    document_id = json.loads(line[6:])["document_id"]
                    with self._lock:
                        self.seen.setdefault(document_id, time.monotonic())
                    self._cursor = event_id
                if self._stop.is_set():
                    return

    def wait_for(self, ids: list[str], timeout: float) -> dict[str, float]:
        """Wait until every id has shown; return when each one did."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if all(i in self.seen for i in ids):
                    return {i: self.seen[i] for i in ids}
            if not self._thread.is_alive():
                raise RuntimeError("the feed watcher stopped")
            time.sleep(0.05)
        missing = sum(i not in self.seen for i in ids)
        raise RuntimeError(f"{missing} of {len(ids)} documents not in the feed after {timeout}s")


class _Clients:
    """One HTTP session per thread, all closed at exit."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._all: list[requests.Session] = []
        self._lock = threading.Lock()

    def get(self) -> requests.Session:
        if not hasattr(self._local, "http"):
            self._local.http = requests.Session()
            with self._lock:
                self._all.append(self._local.http)
        http: requests.Session = self._local.http
        return http

    def __enter__(self) -> _Clients:
        return self

    def __exit__(self, *_: object) -> None:
        for http in self._all:
            http.close()


def _chunks(items: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def post_batch(http: requests.Session, url: str, payloads: list[dict[str, Any]]) -> list[str]:
    """POST one batch; return the ids of the accepted documents."""
    response = http.post(f"{url}/v1/documents/batch", json={"documents": payloads}, timeout=120)
    response.raise_for_status()
    results = response.json()["results"]
    rejected = [r for r in results if r["status"] not in (200, 202)]
    if rejected:
        raise RuntimeError(f"batch items rejected: {rejected[:2]}")
    return [r["id"] for r in results]


def post_one(http: requests.Session, url: str, payload: dict[str, Any]) -> str:
    """POST one document; return its id."""
    response = http.post(f"{url}/v1/documents", json=payload, timeout=60)
    if response.status_code != 202:
        raise RuntimeError(f"POST /v1/documents answered {response.status_code}")
    return str(response.json()["id"])


def sustained(
    url: str, watcher: FeedWatcher, payloads: list[dict[str, Any]], timeout: float
) -> dict[str, Any]:
    """Submit everything at once (batches of 100), then time until all of it is in the feed.

    `steady_docs_per_s` is the rate between the 10th and the 90th percentile
    of arrival in the feed, free of the start and of the tail.
    """
    with requests.Session() as http:
        started = time.monotonic()
        ids = [i for chunk in _chunks(payloads, 100) for i in post_batch(http, url, chunk)]
        submitted = time.monotonic()
    seen = sorted(watcher.wait_for(ids, timeout).values())
    low, high = seen[len(seen) // 10], seen[(len(seen) * 9) // 10]
    middle = (len(seen) * 9) // 10 - len(seen) // 10
    return {
        "documents": len(ids),
        "submit_seconds": submitted - started,
        "seconds": seen[-1] - started,
        "docs_per_s": len(ids) / (seen[-1] - started),
        "steady_docs_per_s": middle / (high - low) if high > low else float("nan"),
    }


def latency(
    url: str, watcher: FeedWatcher, payloads: list[dict[str, Any]], rate: float, timeout: float
) -> dict[str, Any]:
    """POST single documents at `rate` per second; time each from its 202 to the feed."""
    accepted: dict[str, float] = {}
    lock = threading.Lock()
    started = time.monotonic()

    def send(http: requests.Session, number: int) -> None:
        time.sleep(max(0.0, started + number / rate - time.monotonic()))
        document_id = post_one(http, url, payloads[number])
        with lock:
            accepted[document_id] = time.monotonic()

    with _Clients() as clients, ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda number: send(clients.get(), number), range(len(payloads))))
    offered = len(payloads) / (time.monotonic() - started)
    seen = watcher.wait_for(list(accepted), timeout)
    ms = [(seen[i] - accepted[i]) * 1000 for i in accepted]
    return {
        "documents": len(ms),
        "offered_docs_per_s": offered,
        "target_docs_per_s": rate,
        "p50_ms": median(ms),
        "p95_ms": percentile(ms, 95),
        "p99_ms": percentile(ms, 99),
        "max_ms": max(ms),
        "seen_by": "GET /v1/feed/stream",
    }


def intake_batches(url: str, batches: list[list[dict[str, Any]]], threads: int) -> dict[str, Any]:
    """POST the batches from `threads` clients; documents accepted per second."""
    started = time.monotonic()
    with _Clients() as clients, ThreadPoolExecutor(threads) as pool:
        accepted = sum(map(len, pool.map(lambda b: post_batch(clients.get(), url, b), batches)))
    seconds = time.monotonic() - started
    return {
        "documents": accepted,
        "requests": len(batches),
        "threads": threads,
        "seconds": seconds,
        "docs_per_s": accepted / seconds,
    }


def intake_single(url: str, payloads: list[dict[str, Any]], threads: int) -> dict[str, Any]:
    """POST documents one by one from `threads` clients; documents accepted per second."""
    started = time.monotonic()
    with _Clients() as clients, ThreadPoolExecutor(threads) as pool:
        accepted = len(list(pool.map(lambda p: post_one(clients.get(), url, p), payloads)))
    seconds = time.monotonic() - started
    return {
        "documents": accepted,
        "threads": threads,
        "seconds": seconds,
        "docs_per_s": accepted / seconds,
    }
