"""RFC 9457 problem details."""

from __future__ import annotations

from marshmallow import Schema, fields

PROBLEM_JSON = "application/problem+json"


class FieldError(Schema):
    field = fields.String(
        required=True, metadata={"description": "Where: `json.title`, `query.limit`…"}
    )
    message = fields.String(required=True)


class Problem(Schema):
    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    instance = fields.String()
    errors = fields.List(fields.Nested(FieldError))
