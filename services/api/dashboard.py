"""The operators' pipeline page (/dashboard) and the JSON it reads (/v1/dashboard/summary)."""

from __future__ import annotations

from typing import Any

import flask
import redis
from flask import Response, render_template
from flask.views import MethodView

from schemas.dashboard import DashboardSummary
from services import metrics, timings
from services.api import resources
from services.api.body import Blueprint
from services.queue import QUEUE
from services.storage import activity
from services.storage.models import Document, utcnow

bp = Blueprint("dashboard", __name__, url_prefix="/v1", description="What the pipeline page shows.")
page = flask.Blueprint(
    "dashboard_page",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/dashboard/static",
)

# Throughput in 10-second slots over the same window as the stage latencies.
BUCKET_SECONDS = 10
BUCKETS = timings.WINDOW_MINUTES * 60 // BUCKET_SECONDS
LIMIT = 15
# No inline script or style: the page runs only the files it is served with.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@page.get("/dashboard")
def show() -> str:
    """Return the pipeline page; its script fetches the summary every few seconds."""
    return render_template("dashboard.html")


@page.after_request
def _protect(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    return response


@bp.route("/dashboard/summary")
class Summary(MethodView):
    @bp.response(200, DashboardSummary)
    def get(self) -> Any:
        """Return counts, throughput and latencies of the last 15 minutes, stories, failures.

        Throughput counts documents received and processed per 10-second
        slot, from the database; stage and feed latencies come from the
        per-minute histograms the workers keep in Redis. Both are stored, so
        a restart of the API or the workers loses neither.
        """
        found = resources.resources()
        session = resources.session()
        now = utcnow()
        client = metrics.redis_client(found.config.redis_url)
        try:
            latencies = timings.read(client, now.timestamp())
        except redis.RedisError:
            latencies = {}
        return {
            "generated_at": now,
            "counts": activity.count_by_status(session),
            "failed_count": activity.count_retryable_failed(session),
            "queue_length": metrics.queue_length(client, QUEUE),
            "bucket_seconds": BUCKET_SECONDS,
            "window_seconds": timings.WINDOW_MINUTES * 60,
            "throughput": activity.throughput(
                session, now, buckets=BUCKETS, bucket_seconds=BUCKET_SECONDS
            ),
            "stages": [_latency(name, latencies.get(name)) for name in metrics.STAGES],
            "feed_latency": _latency("feed", latencies.get(timings.FEED)),
            "stories": [_story(item) for item in activity.latest_stories(session, LIMIT)],
            "failed": [_failed(document) for document in activity.failed_documents(session, LIMIT)],
            "set_aside": [_set_aside(item) for item in activity.set_aside(session, now, LIMIT)],
        }


def _latency(stage: str, estimate: dict[str, float | None] | None) -> dict[str, Any]:
    estimate = estimate or {}
    return {
        "stage": stage,
        "count": int(estimate.get("count") or 0),
        "p50_seconds": estimate.get("p50"),
        "p95_seconds": estimate.get("p95"),
    }


def _story(item: activity.StoryActivity) -> dict[str, Any]:
    canonical = next((m for m in item.members if m.id == item.story.canonical_id), None)
    # The canonical document's language first: the badge shown when they collapse.
    ordered = sorted(item.members, key=lambda m: m.id != item.story.canonical_id)
    languages = [m.language for m in ordered if m.language]
    return {
        "id": item.story.id,
        "title": canonical.title if canonical is not None else None,
        "languages": sorted(set(languages), key=languages.index),
        "members": len(item.members),
        "updated_at": item.story.updated_at,
    }


def _failed(document: Document) -> dict[str, Any]:
    return {
        "id": document.id,
        "error": document.error,
        "source": document.source,
        "title": _title(document),
        "deliveries": document.deliveries,
        "updated_at": document.updated_at,
    }


def _set_aside(item: activity.SetAside) -> dict[str, Any]:
    document = item.document
    return {
        "id": document.id,
        "quality": item.quality,
        "reason": item.reason,
        "source": document.source,
        "title": _title(document),
        "updated_at": document.updated_at,
    }


def _title(document: Document) -> str | None:
    raw_title = document.raw.get("title") if isinstance(document.raw, dict) else None
    return document.title or (raw_title if isinstance(raw_title, str) else None)
