"""Prometheus metrics: the pipeline's counters and histograms, and what a scrape reads.

Multiprocess mode when `PROMETHEUS_MULTIPROC_DIR` is set: every gunicorn and
Celery process writes its values to files in that directory and one scrape
adds them up (`MultiProcessCollector`). The metric objects are built on first
use, never at import, so a test or the supervisor can set the variable first.
Labels stay low-cardinality: stage names, outcomes, reasons, exception types,
and sites as registered domains (`services.sites.site_label`).
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import redis
from celery import signals
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    start_http_server,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker

from services import heartbeat
from services.storage import activity

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
FAILED = "failed"
STAGES = ("normalize", "language", "tag", "fingerprint", "embed", "deduplicate", "store")
# Stages take milliseconds; a slow PostgreSQL lock wait takes seconds.
STAGE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# From acceptance to the feed: sub-second when idle, minutes behind a backlog.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
# kombu's Redis transport keeps messages with a priority in suffixed lists.
PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")


@dataclass(frozen=True)
class Metrics:
    """This process's metric objects."""

    accepted: Counter
    rejected: Counter
    repeated: Counter
    processed: Counter
    no_article: Counter
    stage_seconds: Histogram
    feed_latency: Histogram
    retries: Counter
    task_failures: Counter
    feed_requests: Counter
    stream_connections: Gauge
    resent: Counter
    source_documents: Counter


def multiprocess_dir() -> str | None:
    """Return the multiprocess directory, or None in single-process mode."""
    return os.environ.get(MULTIPROC_ENV) or None


def prepare_multiprocess_dir(path: str | os.PathLike[str]) -> str:
    """Create the directory and remove what earlier processes left there; return it.

    Call before starting the processes that write to it, never while they run.
    """
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if name.endswith(".db"):
            os.remove(os.path.join(path, name))
    return os.fspath(path)


def _process_identifier() -> str:
    # Host and pid, so containers sharing one directory never share a file;
    # '_' separates the parts of the file name, so none in the host name.
    return f"{socket.gethostname().replace('_', '-')}-{os.getpid()}"


# functools.cache alone lets two threads build at once: the second
# registration of the same names raises DuplicateTimeseries.
_BUILDING = threading.Lock()


def metrics() -> Metrics:
    """Return this process's metrics, built once even when threads ask at the same moment."""
    with _BUILDING:
        return _build_metrics()


@functools.cache
def _build_metrics() -> Metrics:
    """Build this process's metrics on first use.

    In multiprocess mode when PROMETHEUS_MULTIPROC_DIR is set at that moment;
    prometheus_client chose its value class when it was imported, so it is
    chosen again here.
    """
    directory = multiprocess_dir()
    if directory:
        os.makedirs(directory, exist_ok=True)
        values.ValueClass = values.MultiProcessValue(process_identifier=_process_identifier)
    built = Metrics(
        accepted=Counter(
            "ingest_documents_accepted", "Documents accepted for processing (new, not repeats)."
        ),
        rejected=Counter(
            "ingest_documents_rejected", "Documents refused at intake, by reason.", ["reason"]
        ),
        repeated=Counter(
            "ingest_documents_repeated", "Submissions that repeat an already accepted document."
        ),
        processed=Counter(
            "ingest_documents_processed", "Documents processed, by outcome.", ["outcome"]
        ),
        no_article=Counter(
            "ingest_no_article_documents",
            "Documents without an article (consent walls, block notices...), by site.",
            ["source"],
        ),
        stage_seconds=Histogram(
            "ingest_stage_duration_seconds",
            "Time spent in each pipeline stage.",
            ["stage"],
            buckets=STAGE_BUCKETS,
        ),
        feed_latency=Histogram(
            "ingest_feed_latency_seconds",
            "Time from a document's acceptance to its entry in the feed.",
            buckets=LATENCY_BUCKETS,
        ),
        retries=Counter("ingest_task_retries", "Task retries after a transient error.", ["task"]),
        task_failures=Counter(
            "ingest_task_failures", "Tasks that raised, by exception type.", ["task", "exception"]
        ),
        feed_requests=Counter(
            "ingest_feed_requests", "Requests to the feed endpoints.", ["route", "status"]
        ),
        stream_connections=Gauge(
            "ingest_stream_connections",
            "Open live-stream connections.",
            multiprocess_mode="livesum",
        ),
        resent=Counter(
            "ingest_sweeper_resent_documents",
            "Documents the sweeper sent again: never sent, or left queued or processing too long.",
        ),
        source_documents=Counter(
            "ingest_source_documents",
            "Documents accepted for processing, by site (the ratios per site divide by it).",
            ["source"],
        ),
    )
    # At zero from the start: a rate sees the first failure, and the failure
    # ratio's alert has its series before anything failed.
    built.processed.labels(outcome=FAILED)
    return built


def record_feed_request(route: str, status: int) -> None:
    """Count a request to a feed endpoint; `route` is its URL rule, not its path."""
    metrics().feed_requests.labels(route=route, status=str(status)).inc()


def stream_opened() -> None:
    """Count a live-stream connection as open; pair with stream_closed()."""
    metrics().stream_connections.inc()


def stream_closed() -> None:
    """Count a live-stream connection as closed."""
    metrics().stream_connections.dec()


def record_processed(
    result: str,
    seconds: Mapping[str, float],
    feed_seconds: float | None = None,
    *,
    site: str | None = None,
) -> None:
    """Count an outcome and observe its stage durations and its feed latency.

    The feed latency runs from acceptance to the commit that made the document
    visible; a skipped redelivery has none. `site`: given for a document
    without an article, counted per site so that a crawler being blocked shows.
    """
    found = metrics()
    found.processed.labels(outcome=result).inc()
    if site is not None:
        found.no_article.labels(source=site).inc()
    for stage, value in seconds.items():
        found.stage_seconds.labels(stage=stage).observe(value)
    if feed_seconds is not None:
        found.feed_latency.observe(feed_seconds)


def record_failed() -> None:
    """Count a document whose processing failed for good."""
    metrics().processed.labels(outcome=FAILED).inc()


def record_resent(count: int) -> None:
    """Count documents the sweeper sent to the queue again."""
    metrics().resent.inc(count)


def record_source(site: str, count: int = 1) -> None:
    """Count documents accepted from a site (`services.sites.site_label`, as `no_article`)."""
    metrics().source_documents.labels(source=site).inc(count)


def _on_task_retry(sender: Any = None, **_: Any) -> None:
    task = getattr(sender, "name", None) or "unknown"
    metrics().retries.labels(task=task).inc()


def _on_task_failure(sender: Any = None, exception: BaseException | None = None, **_: Any) -> None:
    task = getattr(sender, "name", None) or "unknown"
    name = type(exception).__name__ if exception is not None else "unknown"
    metrics().task_failures.labels(task=task, exception=name).inc()


def connect_celery(worker_metrics_port: int = 0) -> None:
    """Count retries and failures from Celery's signals; serve a worker port if asked.

    Idempotent: each receiver is connected once per process.
    """
    signals.task_retry.connect(_on_task_retry, weak=False, dispatch_uid="ingest.metrics.retry")
    signals.task_failure.connect(
        _on_task_failure, weak=False, dispatch_uid="ingest.metrics.failure"
    )
    if worker_metrics_port:
        signals.worker_ready.connect(
            functools.partial(_serve_worker_metrics, port=worker_metrics_port),
            weak=False,
            dispatch_uid="ingest.metrics.serve",
        )


def _serve_worker_metrics(port: int, **_: Any) -> None:
    # In the main worker process, after the pool started: it adds up what the
    # pool's processes wrote, for a Prometheus that scrapes each worker host.
    start_http_server(port, registry=scrape_registry())
    log.info("worker metrics on :%d/metrics", port)


def scrape_registry(extra: Iterable[Collector] = ()) -> CollectorRegistry:
    """Return a registry that reads every process's values, plus the extra collectors."""
    registry = CollectorRegistry()
    directory = multiprocess_dir()
    if directory:
        os.makedirs(directory, exist_ok=True)
        MultiProcessCollector(registry, path=directory)
    else:
        registry.register(_Forward(REGISTRY))
    for collector in extra:
        registry.register(collector)
    return registry


class _Forward(Collector):
    """The default registry's metrics, inside another registry."""

    def __init__(self, source: CollectorRegistry) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        yield from self._source.collect()


class BacklogCollector(Collector):
    """Read at scrape time: the broker queue's length, documents by status, live workers.

    And whether Redis and the database answer this process
    (`ingest_dependency_up`): what cannot be read is left out, not zero.
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        client: redis.Redis,
        queue: str,
        heartbeat_seconds: float = 0,
    ) -> None:
        self._factory = factory
        self._client = client
        self._queue = queue
        self._heartbeat_seconds = heartbeat_seconds

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "ingest_dependency_up",
            "Whether a store answers the API at scrape time (1) or not (0).",
            labels=["dependency"],
        )
        depth = queue_length(self._client, self._queue)
        up.add_metric(["redis"], 0 if depth is None else 1)
        if depth is not None:
            family = GaugeMetricFamily(
                "ingest_queue_length", "Messages waiting in the broker queue.", labels=["queue"]
            )
            family.add_metric([self._queue], depth)
            yield family
            yield from self._workers()
        try:
            with self._factory() as session:
                counts = activity.count_by_status(session)
        except Exception as error:  # noqa: BLE001 - a scrape reports what it can
            log.warning("documents by status unavailable: %r", error)
            up.add_metric(["database"], 0)
            yield up
            return
        up.add_metric(["database"], 1)
        yield up
        family = GaugeMetricFamily("ingest_documents", "Documents by status.", labels=["status"])
        for status, count in counts.items():
            family.add_metric([status], count)
        yield family

    def _workers(self) -> Iterator[Metric]:
        if self._heartbeat_seconds <= 0:
            return
        try:
            alive = heartbeat.count_alive(self._client, self._heartbeat_seconds)
        except redis.RedisError as error:
            log.warning("worker heartbeats unavailable: %r", error)
            return
        yield GaugeMetricFamily(
            "ingest_workers_alive",
            "Workers whose heartbeat reached Redis within the last three heartbeat intervals.",
            value=alive,
        )


def queue_length(client: redis.Redis, queue: str) -> int | None:
    """Return how many messages wait in the Celery queue, or None if Redis does not answer."""
    try:
        with client.pipeline(transaction=False) as pipe:
            for suffix in PRIORITY_SUFFIXES:
                pipe.llen(f"{queue}{suffix}")
            return int(sum(pipe.execute()))
    except redis.RedisError as error:
        log.warning("queue length unavailable: %r", error)
        return None


@functools.cache
def redis_client(url: str) -> redis.Redis:
    """Return this process's client for reading queue lengths (short timeouts)."""
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)


def histogram_quantiles(
    registry: CollectorRegistry, name: str, quantiles: tuple[float, ...] = (0.5, 0.95)
) -> dict[str, dict[str, float | None]]:
    """Estimate quantiles of a histogram, per value of its one label (or "" without one).

    Linear interpolation inside the bucket, as PromQL's histogram_quantile does;
    cumulative since the processes started.
    """
    buckets: dict[str, list[tuple[float, float]]] = {}
    for family in registry.collect():
        if family.name != name:
            continue
        for sample in family.samples:
            if not sample.name.endswith("_bucket"):
                continue
            label = next((v for k, v in sample.labels.items() if k != "le"), "")
            bound = float(sample.labels["le"])
            buckets.setdefault(label, []).append((bound, sample.value))
    estimates: dict[str, dict[str, float | None]] = {}
    for label, pairs in buckets.items():
        pairs.sort()
        total = pairs[-1][1] if pairs else 0.0
        estimates[label] = {"count": total}
        for wanted in quantiles:
            estimates[label][f"p{round(wanted * 100)}"] = quantile(pairs, total, wanted)
    return estimates


def quantile(pairs: list[tuple[float, float]], total: float, wanted: float) -> float | None:
    """Estimate a quantile from cumulative (upper bound, count) pairs, lowest bound first."""
    if total <= 0:
        return None
    rank = wanted * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in pairs:
        if count >= rank:
            if bound == float("inf"):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (
                count - lower_count
            )
        lower_bound, lower_count = bound, count
    return lower_bound
