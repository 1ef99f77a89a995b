"""Access control: API keys with scopes, sent as `Authorization: Bearer <token>`.

The policy, checked before any view runs (so an unauthenticated caller learns
nothing about validation): a view marked with `requires(scope)` needs that
scope; any other view under /v1 needs `read` for GET, HEAD and OPTIONS and
`admin` for anything else; everything outside /v1 (health, metrics, the
OpenAPI document and its viewer) is open. AUTH_MODE=open turns the checks off
for local development.

Failed authentication is rate limited per client address
(AUTH_FAILURE_LIMIT), counted in Redis with the other limits: once an
address has sent that many bad or revoked tokens, every token it sends gets
429 until the window passes, before the token is looked at (answering a
right guess otherwise would keep guessing at line rate worthwhile). Good
keys never count; a request without a token is no guess and is not counted.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from apispec import APISpec, BasePlugin
from flask import Flask, current_app, g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse_many
from werkzeug.routing import Rule
from werkzeug.wrappers import Response

from services.api import resources
from services.api.problems import problem
from services.storage import keys
from services.storage.keys import ADMIN, INGEST, READ

__all__ = ["ADMIN", "INGEST", "READ", "AccessDocs", "init_app", "requires"]

OPEN_MODE = "open"
KEYS_MODE = "keys"
AUTH_MODES = (KEYS_MODE, OPEN_MODE)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PROTECTED_PREFIX = "/v1/"
REALM = 'Bearer realm="ingest"'
BEARER = re.compile(r"Bearer +([\x21-\x7e]+) *", re.IGNORECASE)

View = TypeVar("View", bound=Callable[..., Any])

log = logging.getLogger(__name__)

FAILURES_EXTENSION = "ingest-auth-failures"


def requires(scope: str) -> Callable[[View], View]:
    """Mark a view as needing the scope; the app's access check enforces it."""
    if scope not in keys.SCOPES:
        raise ValueError(f"unknown scope {scope!r}")

    def decorator(view: View) -> View:
        # flask-smorest's decorators copy the function's __dict__, so the mark
        # survives whichever order the decorators are stacked in.
        view.required_scope = scope  # type: ignore[attr-defined]
        return view

    return decorator


def required_scope(app: Flask, endpoint: str | None, method: str, path: str) -> str | None:
    """Return the scope a request needs, or None when the endpoint is open."""
    view = app.view_functions.get(endpoint or "")
    if view is None:
        return None
    view_class = getattr(view, "view_class", None)
    handler: object = view
    if view_class is not None:
        handler = getattr(view_class, method.lower(), None)
        if handler is None and method == "HEAD":
            handler = getattr(view_class, "get", None)
    declared = getattr(handler, "required_scope", None)
    if isinstance(declared, str):
        return declared
    if not path.startswith(PROTECTED_PREFIX):
        return None
    return READ if method in SAFE_METHODS else ADMIN


def init_app(app: Flask) -> None:
    """Check every request's key and scope before the view runs."""
    mode = app.extensions["ingest"].config.auth_mode
    if mode not in AUTH_MODES:
        raise ValueError(f"AUTH_MODE must be one of {', '.join(AUTH_MODES)}, not {mode!r}")
    app.before_request(_check_access)


@dataclass(frozen=True)
class FailureLimit:
    """Counts failed authentications per client address in the rate limiter's storage."""

    limiter: Limiter
    items: tuple[RateLimitItem, ...]

    def retry_after(self, address: str) -> int | None:
        """Return the seconds until the address may try a token again; None when it may now.

        Counting that fails (Redis unreachable, before the limiter falls back
        to memory) lets the request through: intake never depends on it.
        """
        try:
            strategy = self.limiter.limiter
            for item in self.items:
                if not strategy.test(item, "auth-failures", address):
                    reset = strategy.get_window_stats(item, "auth-failures", address).reset_time
                    return max(1, math.ceil(reset - time.time()))
        except Exception as exc:  # noqa: BLE001 - fail open, as the other limits do
            log.warning("could not read the failed-authentication count: %r", exc)
        return None

    def count(self, address: str) -> None:
        """Count one failed authentication from the address."""
        try:
            strategy = self.limiter.limiter
            for item in self.items:
                strategy.hit(item, "auth-failures", address)
        except Exception as exc:  # noqa: BLE001 - fail open, as the other limits do
            log.warning("could not count a failed authentication: %r", exc)


def limit_failures(app: Flask, limiter: Limiter, limit: str) -> None:
    """Rate limit failed authentication per client address to `limit` ("10/minute;100/hour")."""
    app.extensions[FAILURES_EXTENSION] = FailureLimit(limiter, tuple(parse_many(limit)))


def key_prefix() -> str | None:
    """Return the public prefix of this request's API key, if it sent a valid one."""
    prefix: str | None = g.get("api_key_prefix")
    return prefix


def _check_access() -> Response | None:
    scope = required_scope(current_app, request.endpoint, request.method, request.path)
    if scope is None or resources.resources().config.auth_mode == OPEN_MODE:
        return None
    match = BEARER.fullmatch(request.headers.get("Authorization", ""))
    if match is None:
        return _unauthorized("Send an API key as `Authorization: Bearer <token>`.", REALM)
    failures: FailureLimit | None = current_app.extensions.get(FAILURES_EXTENSION)
    address = get_remote_address()
    retry_after = failures.retry_after(address) if failures is not None else None
    if retry_after is not None:
        return problem(
            429,
            "Too many requests",
            "Too many bad or revoked API keys from this address; try again later.",
            headers={"Retry-After": str(retry_after)},
        )
    # A read: on SQLite it must not wait for the write lock a worker holds.
    with resources.resources().read_sessions() as session:
        key = keys.authenticate(session, match.group(1))
        granted = keys.scopes_of(key) if key is not None else frozenset()
        prefix = key.prefix if key is not None else None
    if prefix is None:
        if failures is not None:
            failures.count(address)
        return _unauthorized(
            "The API key is not valid or was revoked.", f'{REALM}, error="invalid_token"'
        )
    g.api_key_prefix = prefix
    if scope not in granted:
        return problem(
            403,
            "Forbidden",
            f"This API key lacks the `{scope}` scope.",
            headers={"WWW-Authenticate": f'{REALM}, error="insufficient_scope", scope="{scope}"'},
        )
    return None


def _unauthorized(detail: str, challenge: str) -> Response:
    return problem(401, "Unauthorized", detail, headers={"WWW-Authenticate": challenge})


class AccessDocs(BasePlugin):
    """An apispec plugin: documents each operation's scope and its 401/403 answers."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def init_spec(self, spec: APISpec) -> None:
        spec.components.security_scheme(
            "bearer",
            {
                "type": "http",
                "scheme": "bearer",
                "description": "An API key from `python -m services keys create`.",
            },
        )

    def operation_helper(
        self,
        path: str | None = None,
        operations: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        rule = kwargs.get("rule")
        if not isinstance(rule, Rule) or operations is None:
            return
        for method, operation in operations.items():
            scope = required_scope(self.app, rule.endpoint, method.upper(), rule.rule)
            if scope is None:
                continue
            operation["security"] = [{"bearer": []}]
            operation["x-scope"] = scope
            responses = operation.setdefault("responses", {})
            responses.setdefault("401", _problem_doc("No API key, or not a valid one."))
            responses.setdefault("403", _problem_doc(f"The API key lacks the `{scope}` scope."))
            responses.setdefault(
                "429",
                _problem_doc("Too many requests for this key, or bad keys from this address."),
            )


def _problem_doc(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }
