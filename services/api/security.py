"""Protections every response and request gets: headers, rate limits, hostile JSON, outages.

- Security headers on every response; a view or blueprint that sets its own
  Content-Security-Policy (the dashboard) keeps it.
- Rate limits per API key (RATE_LIMIT), counted in Redis so they hold across
  gunicorn workers and hosts; a batch is one request. When Redis does not
  answer, counting falls back to process memory rather than refusing intake.
- Failed authentication per client address (AUTH_FAILURE_LIMIT), in the
  same storage (`auth.limit_failures`).
- JSON bodies nested deeper than MAX_JSON_DEPTH get 400 before any view
  parses them, so no request can end in a RecursionError; strings that no
  database can store (NUL, unpaired surrogates) get 422 (400 in the URL),
  and so do integers wider than 64 bits.
- A database that does not answer gives 503 with Retry-After, not 500.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app, g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from sqlalchemy.exc import OperationalError
from werkzeug.wrappers import Response

from services.api import auth, resources
from services.api.body import json_body
from services.api.problems import OWN_RETRY_AFTER, problem
from services.config import Config

log = logging.getLogger(__name__)

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# The Swagger UI page starts itself with an inline script.
DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)
DOCS_PREFIX = "/docs"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
DATABASE_RETRY_AFTER = "5"


def init_app(app: Flask, config: Config) -> Limiter:
    """Install the headers, the rate limiter, the JSON guard and the outage handler.

    Call after `auth.init_app`, so a request is authenticated before it is
    counted, and counted before its body is parsed.
    """
    # Registered before the limiter's own hook, so it runs after it.
    app.after_request(_set_headers)
    limiter = Limiter(
        _rate_limit_key,
        app=app,
        # One budget per key across every endpoint (default limits count per route).
        application_limits=[config.rate_limit],
        application_limits_exempt_when=_exempt,
        storage_uri=config.redis_url,
        storage_options={"socket_connect_timeout": 1, "socket_timeout": 2},
        strategy="sliding-window-counter",
        headers_enabled=True,
        swallow_errors=True,
        in_memory_fallback_enabled=True,
        key_prefix="ingest-limits",
    )
    auth.limit_failures(app, limiter, config.auth_failure_limit)
    app.before_request(_check_input)
    app.register_error_handler(OperationalError, _database_unavailable)
    return limiter


def _rate_limit_key() -> str:
    prefix = auth.key_prefix()
    return f"key:{prefix}" if prefix else f"addr:{get_remote_address()}"


def _exempt() -> bool:
    return not request.path.startswith(auth.PROTECTED_PREFIX)


def _set_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
    if "Content-Security-Policy" not in headers:
        docs = request.path.startswith(DOCS_PREFIX)
        headers["Content-Security-Policy"] = DOCS_CSP if docs else API_CSP
    # The limiter adds Retry-After to every answer; it means something only here.
    if response.status_code not in (429, 503):
        headers.pop("Retry-After", None)
    elif OWN_RETRY_AFTER in g:
        # The limiter raised a problem's own Retry-After to its window's reset
        # (up to an hour): clients of a brief database outage waited that long.
        headers["Retry-After"] = g.get(OWN_RETRY_AFTER)
    return response


def json_depth(value: Any, limit: int) -> int:
    """Return the nesting depth of a parsed JSON value, or limit + 1 once past it.

    Iterative, so a hostile document cannot exhaust the stack.
    """
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, dict | list):
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


def storable(text: str) -> bool:
    """Return whether a string can be stored: no NUL, no lone UTF-16 surrogate.

    PostgreSQL rejects NUL in text, and a lone surrogate has no UTF-8 form.
    """
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# Integers JSON storage keeps exactly (orjson, on both databases): a wider
# one could not be stored, and read back it would be a float.
STORABLE_INTEGERS = range(-(2**63), 2**64)
UNSTORABLE_TEXT = "Contains NUL or unpaired surrogate characters."
UNSTORABLE_INTEGER = "An integer out of the range -2**63 to 2**64 - 1."


def unstorable_fields(value: Any, prefix: str = "json", limit: int = 20) -> list[tuple[str, str]]:
    """Return the paths (`json.documents.0.title`) of values that cannot be stored, and why."""
    found: list[tuple[str, str]] = []
    stack: list[tuple[str, Any]] = [(prefix, value)]
    while stack and len(found) < limit:
        path, node = stack.pop()
        if isinstance(node, str):
            if not storable(node):
                found.append((path, UNSTORABLE_TEXT))
        elif isinstance(node, dict):
            for key, child in node.items():
                if not storable(key):
                    found.append((path, UNSTORABLE_TEXT))
                else:
                    stack.append((f"{path}.{key}", child))
        elif isinstance(node, list):
            stack.extend((f"{path}.{index}", child) for index, child in enumerate(node))
        elif type(node) is int and node not in STORABLE_INTEGERS:  # not bool, a subclass
            found.append((path, UNSTORABLE_INTEGER))
    return sorted(found)


def _check_input() -> Response | None:
    if not storable(request.path) or not all(
        storable(name) and storable(value) for name, value in request.args.items(multi=True)
    ):
        return problem(400, "Bad Request", "The URL contains NUL or unpaired surrogate characters.")
    if request.method not in BODY_METHODS or not request.is_json:
        return None
    limit = resources.resources().config.max_json_depth
    try:
        body = json_body()
        depth = json_depth(body, limit)
    except RecursionError:
        depth = limit + 1
    except ValueError:
        # Malformed JSON or bytes that are not UTF-8: the view's parser says 400.
        return None
    if depth > limit:
        return problem(
            400,
            "Bad Request",
            f"The JSON body is nested deeper than {limit} levels.",
            [{"field": "json", "message": f"Nested deeper than {limit} levels."}],
        )
    unstorable = unstorable_fields(body)
    if unstorable:
        return problem(
            422,
            "Invalid fields",
            "Some values cannot be stored.",
            [{"field": field, "message": message} for field, message in unstorable],
        )
    return None


def _database_unavailable(error: OperationalError) -> Response:
    current_app.logger.warning("database unavailable: %s", type(error.__cause__ or error).__name__)
    return problem(
        503,
        "Service Unavailable",
        "The database does not answer; try again shortly.",
        headers={"Retry-After": DATABASE_RETRY_AFTER},
    )
