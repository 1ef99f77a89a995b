"""/v1/webhooks: subscribe a URL to the feed; signed POSTs, retries, a delivery log."""

from __future__ import annotations

from typing import Any, NoReturn

from flask import url_for
from flask.views import MethodView
from marshmallow import RAISE

from schemas.webhooks import (
    DeliveriesQuery,
    DeliveryList,
    WebhookCreated,
    WebhookIn,
    WebhookList,
    WebhookOut,
    WebhookPatch,
)
from services import webhooks as delivery
from services.api import resources
from services.api.body import Blueprint
from services.api.feed import position
from services.api.problems import abort
from services.feeds import items
from services.feeds.cursor import encode_cursor
from services.queue import enqueue_webhook_delivery
from services.storage import feed, webhooks
from services.storage.models import Webhook, WebhookDelivery

bp = Blueprint("webhooks", __name__, url_prefix="/v1", description="Push the feed to a URL.")


def _shown(webhook: Webhook) -> dict[str, Any]:
    filter_params = items.filter_params(feed.Filter.from_json(webhook.filter))
    return {
        "id": webhook.id,
        "url": webhook.url,
        "filter": {key: _plain(value) for key, value in filter_params.items()},
        "enabled": webhook.enabled,
        "cursor": encode_cursor(webhook.delivered_seq) if webhook.delivered_seq else None,
        "failures": webhook.failures,
        "next_attempt_at": webhook.next_attempt_at,
        "disabled_reason": webhook.disabled_reason,
        "created_at": webhook.created_at,
    }


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _delivery(row: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": row.id,
        "cursor": encode_cursor(row.seq),
        "message_id": row.message_id,
        "attempt": row.attempt,
        "ok": row.ok,
        "status_code": row.status_code,
        "error": row.error,
        "duration_ms": row.duration_ms,
        "created_at": row.created_at,
    }


def _not_found(webhook_id: str) -> NoReturn:
    abort(404, f"No webhook {webhook_id}.")


@bp.route("/webhooks")
class Webhooks(MethodView):
    @bp.arguments(WebhookIn, unknown=RAISE)
    @bp.response(201, WebhookCreated)
    def post(self, fields: dict[str, Any]) -> Any:
        """Subscribe a URL; the signing secret is in this answer only.

        Delivery starts after `after` (a feed cursor), else at the current
        end of the feed.
        """
        config = resources.resources().config
        refused = delivery.refusal(
            fields["url"], delivery.networks(config.webhook_allowed_networks)
        )
        if refused:
            abort(
                422,
                f"The URL may not receive webhooks: {refused}.",
                [{"field": "json.url", "message": refused}],
            )
        session = resources.session()
        after = position(fields.get("after"), "json.after") if "after" in fields else None
        secret = delivery.new_secret()
        webhook = webhooks.create(
            session,
            url=fields["url"],
            secret=secret,
            flt=items.make_filter(fields["filter"]).to_json(),
            delivered_seq=feed.head(session) if after is None else after,
        )
        session.commit()
        enqueue_webhook_delivery(resources.resources().celery, [webhook.id])
        location = url_for("webhooks.Subscription", webhook_id=webhook.id)
        return {**_shown(webhook), "secret": secret}, 201, {"Location": location}

    @bp.response(200, WebhookList)
    def get(self) -> Any:
        """List the webhooks (never their secrets)."""
        return {"webhooks": [_shown(w) for w in webhooks.listed(resources.session())]}


@bp.route("/webhooks/<string:webhook_id>")
class Subscription(MethodView):
    @bp.etag
    @bp.response(200, WebhookOut)
    def get(self, webhook_id: str) -> Any:
        """Return the webhook: its filter, position and failure state."""
        webhook = webhooks.get(resources.session(), webhook_id)
        if webhook is None:
            _not_found(webhook_id)
        return _shown(webhook)

    @bp.arguments(WebhookPatch, unknown=RAISE)
    @bp.response(200, WebhookOut)
    def patch(self, fields: dict[str, Any], webhook_id: str) -> Any:
        """Enable (forgetting past failures) or disable the webhook."""
        session = resources.session()
        webhook = webhooks.set_enabled(session, webhook_id, fields["enabled"])
        if webhook is None:
            _not_found(webhook_id)
        session.commit()
        if webhook.enabled:
            enqueue_webhook_delivery(resources.resources().celery, [webhook_id])
        return _shown(webhook)

    @bp.response(204)
    def delete(self, webhook_id: str) -> Any:
        """Unsubscribe; the delivery log goes too."""
        session = resources.session()
        if not webhooks.remove(session, webhook_id):
            _not_found(webhook_id)
        session.commit()
        return None


@bp.route("/webhooks/<string:webhook_id>/deliveries")
class Deliveries(MethodView):
    @bp.arguments(DeliveriesQuery, location="query", unknown=RAISE, error_status_code=400)
    @bp.response(200, DeliveryList)
    def get(self, query: dict[str, Any], webhook_id: str) -> Any:
        """Return delivery attempts, newest first; page with `before`."""
        session = resources.session()
        if webhooks.get(session, webhook_id) is None:
            _not_found(webhook_id)
        rows = webhooks.deliveries(
            session, webhook_id, limit=query["limit"], before=query.get("before")
        )
        return {"deliveries": [_delivery(row) for row in rows]}
