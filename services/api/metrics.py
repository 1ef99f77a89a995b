"""GET /metrics for Prometheus, and the request hook that counts intake and feed traffic."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services import metrics
from services.api import resources
from services.api.body import json_body
from services.api.problems import PROBLEM_TYPES
from services.queue import QUEUE
from services.sites import UNKNOWN_SITE, site_label

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def scrape() -> Response:
    """Return every API and worker process's metrics, and the backlog read now.

    The processes share PROMETHEUS_MULTIPROC_DIR, so one scrape here covers
    all of them on this host; the backlog comes from Redis and the database.
    """
    found = resources.resources()
    backlog = metrics.BacklogCollector(
        found.read_sessions,
        metrics.redis_client(found.config.redis_url),
        QUEUE,
        heartbeat_seconds=found.config.worker_heartbeat_seconds,
    )
    body = generate_latest(metrics.scrape_registry([backlog]))
    return Response(body, mimetype=None, content_type=CONTENT_TYPE_LATEST)


@bp.after_app_request
def _count(response: Response) -> Response:
    endpoint = request.endpoint or ""
    if endpoint.startswith("intake."):
        status = response.status_code
        body = response.get_json(silent=True) if endpoint == "intake.Batch" else None
        # Only a body the view accepted, and so already parsed.
        submitted = json_body() if status in (200, 202) else None
        record_intake(endpoint, status, body, submitted)
    elif request.path.startswith("/v1/feed"):
        rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
        metrics.record_feed_request(rule, response.status_code)
    return response


def record_intake(endpoint: str, status: int, body: Any, submitted: Any = None) -> None:
    """Count what an intake response accepted, repeated and rejected, by reason.

    `submitted` is the request's JSON: each newly accepted document counts
    for its site too (`services.sites.site_label`, the label of
    `ingest_no_article_documents_total`, so that the two divide per site).
    """
    found = metrics.metrics()
    if endpoint == "intake.Documents" or status != 200 or not isinstance(body, Mapping):
        if status == 202:
            found.accepted.inc()
            metrics.record_source(_site(submitted))
        elif status == 200:
            found.repeated.inc()
        elif status >= 400:
            found.rejected.labels(reason=rejection_reason(status)).inc()
        return
    found.accepted.inc(int(body.get("accepted") or 0))
    found.repeated.inc(int(body.get("repeated") or 0))
    items = submitted.get("documents") if isinstance(submitted, Mapping) else []
    items = items if isinstance(items, list) else []
    sites: Counter[str] = Counter()
    for item in body.get("results") or ():
        if not isinstance(item, Mapping):
            continue
        if int(item.get("status") or 0) >= 400:
            found.rejected.labels(reason=rejection_reason(int(item["status"]))).inc()
        elif int(item.get("status") or 0) == 202:
            index = item.get("index")
            if isinstance(index, int) and 0 <= index < len(items):
                sites[_site(items[index])] += 1
            else:
                sites[UNKNOWN_SITE] += 1
    for site, count in sorted(sites.items()):
        metrics.record_source(site, count)


def _site(document: Any) -> str:
    """Return the site label of a submitted document, as processing labels `no_article` ones."""
    if not isinstance(document, Mapping):
        return UNKNOWN_SITE
    url, source = document.get("url"), document.get("source")
    return site_label(
        url if isinstance(url, str) else None, source if isinstance(source, str) else None
    )


def rejection_reason(status: int) -> str:
    """Return the reason label for a refused submission: its problem type, snake_case."""
    fallback = "client_error" if status < 500 else "server_error"
    return PROBLEM_TYPES.get(status, fallback).replace("-", "_")
