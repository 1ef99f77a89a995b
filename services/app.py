"""The Flask application factory."""

from __future__ import annotations

import gc

import swagger_ui_bundle
from flask import Flask, send_from_directory
from werkzeug.wrappers import Response

from schemas.documents import DocumentIn
from services import logs, sites
from services.api import (
    auth,
    dashboard,
    documents,
    feed,
    health,
    intake,
    resources,
    security,
    stories,
)
from services.api import metrics as metrics_view
from services.api import stream as stream_view
from services.api import webhooks as webhooks_view
from services.api.problems import ProblemApi, ProblemDocs
from services.config import Config


def create_app(config: Config | None = None) -> Flask:
    """Build the API: intake, read API, health and the offline OpenAPI docs."""
    config = config or Config.from_env()
    logs.configure(config.log_level)
    app = Flask(__name__)
    app.config.update(
        API_TITLE="Multilingual news ingestion",
        API_VERSION="1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        OPENAPI_SWAGGER_UI_URL="/docs/assets/",
        JSON_SORT_KEYS=False,
        # The largest body any endpoint takes; intake lowers it per endpoint.
        MAX_CONTENT_LENGTH=config.max_batch_bytes,
    )
    resources.init_app(app, config)
    _warm()
    auth.init_app(app)
    security.init_app(app, config)
    plugins = [auth.AccessDocs(app), ProblemDocs()]
    api = ProblemApi(app, spec_kwargs={"extra_plugins": plugins})
    for bp in (intake.bp, documents.bp, stories.bp, feed.bp, health.bp, dashboard.bp):
        api.register_blueprint(bp)
    for bp in (stream_view.bp, webhooks_view.bp):
        api.register_blueprint(bp)
    app.register_blueprint(dashboard.page)
    app.register_blueprint(metrics_view.bp)
    app.add_url_rule("/docs/assets/<path:filename>", "docs_assets", _docs_asset)
    return app


def serve() -> Flask:
    """Build the API as a server process runs it (gunicorn's `services.app:serve()`).

    What the process loaded to start is then moved out of the cyclic garbage
    collector's reach: it lives as long as the process, and every full
    collection walked it again, tripling a feed page's 90th percentile
    (docs/performance.md).
    """
    app = create_app()
    gc.freeze()
    return app


def _warm() -> None:
    # What each process would otherwise load while its first requests wait:
    # the Public Suffix List (some 30 ms) and the URL validator's pattern (25 ms).
    sites.warm()
    DocumentIn().load({"content": "-", "url": "https://example.com/"})


def _docs_asset(filename: str) -> Response:
    # Swagger UI ships inside a Python package, so /docs works offline.
    return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename)
