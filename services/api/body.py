"""The request's JSON body, parsed once for the input checks, the views and the metrics.

A batch of 500 documents is some 3 MB of JSON: each further parse of it
cost some 10 ms of the API's CPU.
"""

from __future__ import annotations

import json
from typing import Any

import flask
import flask_smorest
from flask import g, request
from marshmallow import Schema
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

PARSED = "json_body"


def json_body() -> Any:
    """Return the request's JSON body, parsed on first use and kept for the request.

    Strict UTF-8, as webargs decodes: `json.loads` on bytes would let an
    encoded surrogate through. Raises `json.JSONDecodeError` for malformed
    JSON or bytes that are not UTF-8, each time it is asked.
    """
    if PARSED not in g:
        try:
            setattr(g, PARSED, (core.parse_json(request.get_data(cache=True)), None))
        except json.JSONDecodeError as malformed:
            setattr(g, PARSED, (None, malformed))
    value, failure = g.get(PARSED)
    if failure is not None:
        raise failure
    return value


class Parser(FlaskParser):
    """webargs' Flask parser, reading the body that `json_body` parsed."""

    def _raw_load_json(self, req: flask.Request) -> Any:
        if not is_json_request(req):
            return core.missing
        return json_body()


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint, its arguments read with `Parser`."""

    ARGUMENTS_PARSER = Parser()

    def arguments(self, schema: type[Schema] | Schema, *args: Any, **kwargs: Any) -> Any:
        """flask-smorest's, with a schema class made an instance once, not on every request."""
        return super().arguments(schema() if isinstance(schema, type) else schema, *args, **kwargs)
