"""Webhook subscriptions and their delivery log."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from schemas.feed import FeedFilters


class WebhookIn(Schema):
    """A subscription. Unknown fields are rejected."""

    url = fields.Url(
        required=True,
        schemes={"http", "https"},
        require_tld=False,
        validate=validate.Length(max=2000),
        metadata={"description": "Where signed POSTs go."},
    )
    filter = fields.Nested(
        FeedFilters,
        load_default=dict,
        metadata={"description": "The feed's filters (`view`, `lang`, `tag`, …) as JSON."},
    )
    after = fields.String(
        metadata={"description": "Start after this feed cursor (replay); default: only new items."}
    )


class WebhookPatch(Schema):
    enabled = fields.Boolean(
        required=True, metadata={"description": "`true` re-enables and forgets past failures."}
    )


class WebhookOut(Schema):
    id = fields.String(required=True)
    url = fields.String(required=True)
    filter = fields.Dict(required=True)
    enabled = fields.Boolean(required=True)
    cursor = fields.String(
        allow_none=True, metadata={"description": "Delivered up to this feed cursor."}
    )
    failures = fields.Integer(metadata={"description": "Failed attempts in a row."})
    next_attempt_at = fields.DateTime(allow_none=True)
    disabled_reason = fields.String(allow_none=True)
    created_at = fields.DateTime()


class WebhookCreated(WebhookOut):
    secret = fields.String(
        required=True, metadata={"description": "Signing secret (`whsec_…`); shown only once."}
    )


class WebhookList(Schema):
    webhooks = fields.List(fields.Nested(WebhookOut), required=True)


class DeliveriesQuery(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    before = fields.Integer(
        validate=validate.Range(min=1),
        metadata={"description": "Only attempts older than this id."},
    )


class DeliveryOut(Schema):
    id = fields.Integer(required=True)
    cursor = fields.String(required=True)
    message_id = fields.String(required=True)
    attempt = fields.Integer(required=True)
    ok = fields.Boolean(required=True)
    status_code = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True)
    duration_ms = fields.Integer()
    created_at = fields.DateTime()


class DeliveryList(Schema):
    deliveries = fields.List(fields.Nested(DeliveryOut), required=True)
