"""RFC 9457 problem details for every error the API returns."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, NoReturn

from apispec import BasePlugin
from flask import Response, g, json, request
from flask_smorest import Api
from flask_smorest import abort as smorest_abort
from werkzeug.exceptions import HTTPException

from schemas.problems import PROBLEM_JSON, Problem

PROBLEM_TYPES = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "invalid-fields",
    429: "too-many-requests",
    503: "unavailable",
}

# Where a problem keeps its own Retry-After for the request's last hook
# (`security`), past the rate limiter's, which would replace it.
OWN_RETRY_AFTER = "own_retry_after"


def problem(
    status: int,
    title: str,
    detail: str | None = None,
    errors: list[dict[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Return an `application/problem+json` response."""
    body: dict[str, Any] = {
        "type": f"/problems/{PROBLEM_TYPES.get(status, 'error')}",
        "title": title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    body["instance"] = request.path
    if errors:
        body["errors"] = errors
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    response.headers.update(headers or {})
    if "Retry-After" in response.headers:
        setattr(g, OWN_RETRY_AFTER, response.headers["Retry-After"])
    return response


def flatten(messages: Any, prefix: str = "") -> Iterator[dict[str, str]]:
    """Turn marshmallow's nested messages into `{field, message}` pairs."""
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            yield from flatten(value, name)
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        for message in messages:
            yield {"field": prefix, "message": message}
    elif isinstance(messages, list):
        for item in messages:
            yield from flatten(item, prefix)
    else:
        yield {"field": prefix, "message": str(messages)}


def abort(status: int, detail: str, errors: list[dict[str, str]] | None = None) -> NoReturn:
    """Stop the request with a problem response; works inside any decorated view."""
    smorest_abort(status, message=detail, field_errors=errors)
    raise AssertionError("unreachable")


class ProblemApi(Api):
    """flask-smorest's Api, with problem+json error bodies."""

    ERROR_SCHEMA = Problem

    def handle_http_exception(self, error: HTTPException) -> Response:
        data = getattr(error, "data", None) or {}
        status = error.code or 500
        errors = None
        if "messages" in data:
            errors = list(flatten(data["messages"]))
        elif "field_errors" in data:
            errors = data["field_errors"]
        title = "Invalid fields" if status == 422 and errors else error.name
        detail = data.get("message") or (None if errors else error.description)
        return problem(status, title, detail, errors, data.get("headers"))


class ProblemDocs(BasePlugin):
    """An apispec plugin: documents error bodies as application/problem+json, as served."""

    def response_helper(self, response: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        content = response.get("content") or {}
        body = content.get("application/json")
        if body is not None and "/Problem" in str(body.get("schema")):
            content[PROBLEM_JSON] = content.pop("application/json")
        return response
