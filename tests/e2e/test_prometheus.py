"""A real Prometheus on the repository's own configuration, scraping the real service.

It proves that every query of the Grafana dashboard and every alert
expression finds its series, and that the worker alert goes pending, fires
when the worker is killed and resolves once a worker is back.

The stack runs without its own worker: the supervisor would restart that
one within a second, and the alert is for a worker that does not come back.
The test's worker is the same command (`supervisor.worker_command`), in a
process group the test alone controls.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from services.config import PROJECT_ROOT, Config
from services.queue import create_celery, enqueue_processing
from services.storage.db import make_engine, make_sessionmaker, session_scope
from services.storage.models import Document
from services.supervisor import Stack, free_port, start, worker_command
from tests.helpers import CONSENT, ready, wait_for

MONITORING = PROJECT_ROOT / "monitoring"
DASHBOARD = MONITORING / "grafana" / "dashboards" / "ingest.json"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
# The test's copy of the rules: every `for:` this short, the rest unchanged.
TEST_FOR = "15s"
HEARTBEAT_SECONDS = 2
COMPARISON = re.compile(r"(==|!=|>=|<=|>|<)")


@dataclass
class Worker:
    """A Celery worker (with beat) that the test starts and kills; nothing restarts it."""

    environ: dict[str, str]
    directory: Path
    process: subprocess.Popen[bytes] | None = None
    started: int = 0
    logs: list[Path] = field(default_factory=list)

    def start(self) -> subprocess.Popen[bytes]:
        self.started += 1
        log_path = self.directory / f"worker-{self.started}.log"
        self.logs.append(log_path)
        command = worker_command(2, self.directory / f"beat-{self.started}")
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                env=self.environ,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                process_group=0,
            )
        return self.process

    def kill(self) -> None:
        """SIGKILL the worker and its pool, as the kernel's OOM killer or a crash would."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        finally:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@dataclass
class Service:
    url: str
    stack: Stack
    environ: dict[str, str]
    worker: Worker


@dataclass
class Prometheus:
    url: str
    config: dict[str, Any]
    rules: dict[str, Any]

    def query(self, expr: str) -> list[dict[str, Any]]:
        response = requests.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        body = response.json()
        assert body["status"] == "success", (expr, body)
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def alerts(self) -> dict[str, str]:
        """Return the state of each active alert by name (pending or firing)."""
        response = requests.get(f"{self.url}/api/v1/alerts", timeout=10)
        return {a["labels"]["alertname"]: a["state"] for a in response.json()["data"]["alerts"]}


@pytest.fixture(scope="module")
def service(
    private_database_url: str, private_redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """Run the service on stores of its own, its worker apart, with a fast worker heartbeat."""
    port = free_port()
    environ = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": private_database_url,
        "REDIS_URL": private_redis_url,
        "AUTH_MODE": "open",
        "RATE_LIMIT": "100000/minute",
        "WORKER_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
        # The webhook that makes deliveries retry listens on loopback.
        "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
    }
    stack, env = start(port=port, flower_port=None, api_workers=2, environ=environ, worker=False)
    worker = Worker(env, tmp_path_factory.mktemp("worker"))
    url = f"http://127.0.0.1:{port}"
    try:
        worker.start()
        wait_for(lambda: ready(url), timeout=60, interval=0.2)
        yield Service(url, stack, env, worker)
    finally:
        worker.stop()
        stack.stop()


def test_rules_for_the_test_differ_from_the_committed_ones_only_in_for() -> None:
    committed = (MONITORING / "alerts.yml").read_text()
    shortened = _shorten_for(committed)
    assert shortened != committed
    changed = [
        (old, new)
        for old, new in zip(committed.splitlines(), shortened.splitlines(), strict=True)
        if old != new
    ]
    assert changed and all(new.strip() == f"for: {TEST_FOR}" for _, new in changed)


def _shorten_for(rules: str) -> str:
    return re.sub(r"(?m)^(\s+)for: \S+$", rf"\g<1>for: {TEST_FOR}", rules)


@pytest.fixture(scope="module")
def prometheus(service: Service, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    """Run Prometheus on a copy of monitoring/: the same prometheus.yml, this service as target.

    The rules are the committed ones with short `for:` durations. Stopped,
    and its data directory removed, after the module.
    """
    home = tmp_path_factory.mktemp("prometheus")
    config_dir = home / "monitoring"
    (config_dir / "targets").mkdir(parents=True)
    shutil.copyfile(MONITORING / "prometheus.yml", config_dir / "prometheus.yml")
    (config_dir / "alerts.yml").write_text(_shorten_for((MONITORING / "alerts.yml").read_text()))
    target = service.url.removeprefix("http://")
    (config_dir / "targets" / "ingest.yml").write_text(yaml.safe_dump([{"targets": [target]}]))
    data = home / "data"
    port = free_port()
    log = (home / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config_dir / 'prometheus.yml'}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    log.close()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(f"{url}/-/ready"), timeout=60, interval=1)
        yield Prometheus(
            url,
            yaml.safe_load((config_dir / "prometheus.yml").read_text()),
            yaml.safe_load((config_dir / "alerts.yml").read_text()),
        )
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(data)
    assert not data.exists()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def test_every_dashboard_query_and_alert_expression_returns_a_series(
    service: Service, prometheus: Prometheus
) -> None:
    _make_traffic(service)
    # Scraped by the repository's own configuration, at this service's address.
    instance = service.url.removeprefix("http://")
    assert wait_for(lambda: _scraped(prometheus), timeout=60, interval=1) == {instance: "up"}

    queries = dashboard_queries(json.loads(DASHBOARD.read_text()), prometheus.config)
    expressions = {name: with_bool(expr) for name, expr in alert_expressions(prometheus.rules)}
    assert len(queries) >= 19 and len(expressions) >= 9

    def missing() -> dict[str, str]:
        lacking = {title: expr for title, expr in queries.items() if not prometheus.query(expr)}
        lacking.update(
            {name: expr for name, expr in expressions.items() if not prometheus.query(expr)}
        )
        return lacking

    # Rates need two scrapes after the traffic; a scrape is every 15 s.
    started = time.monotonic()
    deadline = started + 150
    lacking = missing()
    while time.monotonic() < deadline and lacking:
        time.sleep(3)
        lacking = missing()
    print(f"every series there after {time.monotonic() - started:.0f}s but {sorted(lacking)}")
    assert lacking == {}
    # The ratio of pages without an article joins per site: both counters
    # label the consent wall's registered domain alike.
    ratio = prometheus.query(
        'sum by (source) (ingest_no_article_documents_total{source="example.de"})'
        ' / sum by (source) (ingest_source_documents_total{source="example.de"})'
    )
    assert [float(sample["value"][1]) for sample in ratio] == [1.0]


def _scraped(prometheus: Prometheus) -> dict[str, str] | None:
    """Return each scraped target's health, once every one was scraped."""
    response = requests.get(f"{prometheus.url}/api/v1/targets", timeout=10)
    targets = response.json()["data"]["activeTargets"]
    health = {t["labels"]["instance"]: t["health"] for t in targets}
    return health if health and "unknown" not in health.values() else None


def _make_traffic(service: Service) -> None:
    """Give every metric a series: accepted, repeated, rejected, failed, retried, read.

    And a page without an article, so that its counter has a site's series.
    """
    url = service.url
    closed = free_port()
    hook = requests.post(
        f"{url}/v1/webhooks", json={"url": f"http://127.0.0.1:{closed}/hook"}, timeout=10
    )
    assert hook.status_code == 201, hook.text
    documents = [
        {
            "content": f"The port authority of town {n} opened a ferry terminal on Tuesday. "
            f"It cost {n + 40} million euros and carries {n * 100 + 7} passengers a day.",
            "title": f"Terminal {n} opens",
            "source": f"wire-{n % 3}",
            "external_id": f"terminal-{n}",
        }
        for n in range(40)
    ]
    documents.append({"title": "no content"})
    batch = requests.post(f"{url}/v1/documents/batch", json={"documents": documents}, timeout=30)
    assert batch.status_code == 200, batch.text
    assert batch.json()["accepted"] == 40
    wall = requests.post(f"{url}/v1/documents", json=CONSENT, timeout=10)
    assert wall.status_code == 202, wall.text
    wall_id = wall.json()["id"]
    repeat = requests.post(f"{url}/v1/documents", json=documents[0], timeout=10)
    assert repeat.status_code == 200
    # A stored row whose raw payload lost its content fails in the worker.
    engine = make_engine(service.environ["DATABASE_URL"])
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            broken = Document(raw={"content_type": "text/plain", "title": "Broken"}, deliveries=0)
            session.add(broken)
            session.flush()
            broken_id = broken.id
    finally:
        engine.dispose()
    celery = create_celery(Config.from_env(service.environ))
    try:
        assert enqueue_processing(celery, [broken_id]) == [broken_id]
    finally:
        celery.close()
    wait_for(lambda: _status(url, broken_id) == "failed", timeout=60, interval=1)
    wait_for(lambda: _status(url, wall_id) == "processed", timeout=60, interval=1)
    quality = requests.get(f"{url}/v1/documents/{wall_id}", timeout=10).json()["quality"]
    assert quality == "no_article"
    assert requests.get(f"{url}/v1/feed", timeout=10).status_code == 200


def _status(url: str, document_id: str) -> str:
    return str(requests.get(f"{url}/v1/documents/{document_id}", timeout=10).json()["status"])


def dashboard_queries(dashboard: dict[str, Any], config: dict[str, Any]) -> dict[str, str]:
    """Return each query of the dashboard by panel title and refId, variables substituted.

    As Grafana does with this Prometheus: `$__interval` is the scrape
    interval, `$__rate_interval` four of them, `$__range` the dashboard's
    time range; template variables take their current value.
    """
    scrape = _seconds(config["global"]["scrape_interval"])
    since = str(dashboard["time"]["from"]).removeprefix("now-")
    values = {
        "__interval": f"{scrape}s",
        "__rate_interval": f"{4 * scrape}s",
        "__range": since,
    }
    for variable in dashboard.get("templating", {}).get("list", []):
        current = variable.get("current", {}).get("value")
        values[variable["name"]] = current[0] if isinstance(current, list) else str(current)
    queries: dict[str, str] = {}
    for panel in _panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            expr = re.sub(
                r"\$\{(\w+)\}|\$(\w+)",
                lambda match: values[match.group(1) or match.group(2)],
                target["expr"],
            )
            queries[f"{panel['title']} ({target['refId']})"] = expr
    return queries


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def _seconds(duration: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600}
    return int(duration[:-1]) * units[duration[-1]]


def alert_expressions(rules: dict[str, Any]) -> list[tuple[str, str]]:
    """Return (alert name, expression) for every alerting rule, ("record:NAME", ...) for others."""
    return [
        (rule["alert"] if "alert" in rule else f"record:{rule['record']}", rule["expr"])
        for group in rules["groups"]
        for rule in group["rules"]
    ]


def with_bool(expr: str) -> str:
    """Return the expression with each comparison made a `bool` one.

    An alert expression returns series only while it would fire; with `bool`
    it returns them always, 0 or 1, as long as its data exists. Label
    matchers (inside braces) and strings are left alone.
    """
    out: list[str] = []
    depth = 0
    quote: str | None = None
    index = 0
    while index < len(expr):
        char = expr[index]
        if quote:
            out.append(char)
            if char == quote and expr[index - 1] != "\\":
                quote = None
            index += 1
            continue
        if char in "\"'`":
            quote = char
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
        elif depth == 0:
            match = COMPARISON.match(expr, index)
            if match and not expr[match.end() :].lstrip().startswith("bool"):
                out.append(f"{match.group(1)} bool")
                index = match.end()
                continue
        out.append(char)
        index += 1
    return "".join(out)


def test_with_bool_leaves_matchers_alone() -> None:
    assert with_bool('sum(x{a!="b", c=~"d"}) > 0.5 and y{e="f"} >= 2') == (
        'sum(x{a!="b", c=~"d"}) > bool 0.5 and y{e="f"} >= bool 2'
    )
    assert with_bool("x == bool 1") == "x == bool 1"


def test_the_worker_alert_fires_when_the_worker_dies_and_resolves_when_it_is_back(
    service: Service, prometheus: Prometheus
) -> None:
    name = "IngestNoWorkerAlive"
    wait_for(
        lambda: any(float(s["value"][1]) >= 1 for s in prometheus.query("ingest_workers_alive")),
        timeout=90,
        interval=1,
    )
    assert name not in prometheus.alerts()
    killed_at = time.monotonic()
    service.worker.kill()

    wait_for(lambda: prometheus.alerts().get(name) == "pending", timeout=90, interval=1)
    pending_after = time.monotonic() - killed_at
    wait_for(lambda: prometheus.alerts().get(name) == "firing", timeout=60, interval=1)
    fired_after = time.monotonic() - killed_at
    # Heard from last up to three beats before, then one scrape and one
    # evaluation to go pending, `for:` pending, one evaluation to fire.
    scrape = _seconds(prometheus.config["global"]["scrape_interval"])
    evaluation = _seconds(prometheus.config["global"]["evaluation_interval"])
    bound = 3 * HEARTBEAT_SECONDS + scrape + 2 * evaluation + _seconds(TEST_FOR) + 10
    assert fired_after <= bound, (fired_after, bound)
    # Nothing started a worker meanwhile: the stack has none of its own.
    assert "worker" not in service.stack.processes

    restarted = service.worker.start()
    restarted_at = time.monotonic()
    wait_for(lambda: name not in prometheus.alerts(), timeout=120, interval=1)
    assert restarted.poll() is None
    print(
        f"{name}: pending {pending_after:.0f}s and firing {fired_after:.0f}s after the kill "
        f"(bound {bound}s), resolved {time.monotonic() - restarted_at:.0f}s after the restart"
    )
