"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields

from services.api import resources
from services.api.body import Blueprint
from services.api.problems import abort
from services.storage.db import ping

bp = Blueprint("health", __name__, description="Health checks.")


class Health(Schema):
    status = fields.String(required=True)
    checks = fields.Dict(keys=fields.String(), values=fields.String())


@bp.route("/healthz")
class Live(MethodView):
    @bp.response(200, Health)
    def get(self) -> Any:
        """Answer while the process is up."""
        return {"status": "ok"}


@bp.route("/readyz")
class Ready(MethodView):
    @bp.response(200, Health)
    @bp.alt_response(503, description="The database or the broker does not answer.")
    def get(self) -> Any:
        """Answer 200 when the database and the broker both answer, 503 otherwise."""
        checks = {"database": _check_database(), "broker": _check_broker()}
        if any(value != "ok" for value in checks.values()):
            failing = ", ".join(name for name, value in checks.items() if value != "ok")
            abort(
                503,
                f"Unavailable: {failing}.",
                [{"field": name, "message": value} for name, value in checks.items()],
            )
        return {"status": "ok", "checks": checks}


def _check_database() -> str:
    session = resources.resources().read_sessions()
    try:
        ping(session)
        return "ok"
    except Exception as error:  # noqa: BLE001 - any failure means not ready
        return type(error).__name__
    finally:
        session.close()


def _check_broker() -> str:
    celery = resources.resources().celery
    try:
        with celery.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
        return "ok"
    except Exception as error:  # noqa: BLE001 - any failure means not ready
        return type(error).__name__
