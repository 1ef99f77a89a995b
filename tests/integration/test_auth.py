"""API keys, scopes, rate limits and security headers, through the real app and database."""

from __future__ import annotations

import stat
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from seeds.load import API_KEY_FILE, api_key
from services.__main__ import main
from services.app import create_app
from services.config import Config
from services.storage import documents, keys
from services.storage.models import ApiKey
from services.supervisor import ensure_local_key

PROBLEM = "application/problem+json"
DOCUMENT = {"content": "The river rose three metres overnight in the valley."}


def _key(sessions: sessionmaker[Session], *scopes: str) -> dict[str, str]:
    with sessions.begin() as session:
        token = keys.create(session, f"test-{uuid.uuid4().hex[:6]}", scopes).token
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def anonymous(app: Flask) -> FlaskClient:
    """A client that sends no key."""
    client = app.test_client()
    client.environ_base.pop("HTTP_AUTHORIZATION", None)
    return client


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/v1/documents"),
        ("post", "/v1/documents/batch"),
        ("get", "/v1/feed"),
        ("get", f"/v1/documents/{uuid.uuid4()}"),
        ("get", f"/v1/stories/{uuid.uuid4()}"),
        ("post", f"/v1/documents/{uuid.uuid4()}/retry"),
    ],
)
def test_no_key_gets_401_problem_with_a_bearer_challenge(
    anonymous: FlaskClient, method: str, path: str
) -> None:
    response = getattr(anonymous, method)(path, json=DOCUMENT)
    assert response.status_code == 401
    assert response.content_type == PROBLEM
    assert response.json["status"] == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_unauthenticated_caller_learns_nothing_about_validation(anonymous: FlaskClient) -> None:
    response = anonymous.post("/v1/documents", json={"colour": "red"})
    assert response.status_code == 401


@pytest.mark.parametrize(
    "header",
    ["Bearer nik_00000000_not-a-real-token", "Basic dXNlcjpwYXNz", "Bearer", "nik_x", "Bearer a b"],
)
def test_a_wrong_or_malformed_key_gets_401(anonymous: FlaskClient, header: str) -> None:
    response = anonymous.get("/v1/feed", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.content_type == PROBLEM
    assert "Bearer" in response.headers["WWW-Authenticate"]


def test_scopes_decide_what_a_key_may_do(
    anonymous: FlaskClient, client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    ingest, read = _key(sessions, "ingest"), _key(sessions, "read")
    accepted = anonymous.post("/v1/documents", json=DOCUMENT, headers=ingest)
    assert accepted.status_code == 202
    location = accepted.headers["Location"]

    denied = anonymous.get(location, headers=ingest)
    assert denied.status_code == 403
    assert denied.content_type == PROBLEM
    assert 'error="insufficient_scope"' in denied.headers["WWW-Authenticate"]
    assert 'scope="read"' in denied.headers["WWW-Authenticate"]
    assert anonymous.get(location, headers=read).status_code == 200
    assert anonymous.post("/v1/documents", json=DOCUMENT, headers=read).status_code == 403
    batch = {"documents": [DOCUMENT]}
    assert anonymous.post("/v1/documents/batch", json=batch, headers=read).status_code == 403
    retry = anonymous.post(f"{location}/retry", headers={**ingest})
    assert retry.status_code == 403
    assert 'scope="admin"' in retry.headers["WWW-Authenticate"]
    # The tests' own key has every scope: past the check, the retry is refused on its merits.
    assert client.post(f"{location}/retry").status_code in (409, 202)


def test_a_revoked_key_stops_working(
    anonymous: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    headers = _key(sessions, "read")
    assert anonymous.get("/v1/feed", headers=headers).status_code == 200
    prefix = "_".join(headers["Authorization"].removeprefix("Bearer ").split("_")[:2])
    with sessions.begin() as session:
        assert keys.revoke(session, prefix)
        assert not keys.revoke(session, prefix)
    response = anonymous.get("/v1/feed", headers=headers)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_only_a_hash_of_the_token_is_stored(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        created = keys.create(session, "hash-check", ["read"])
    with sessions() as session:
        row = session.scalars(select(ApiKey).where(ApiKey.id == created.key.id)).one()
        stored = [str(getattr(row, column.key)) for column in ApiKey.__table__.columns]
    assert not any(created.token in value for value in stored)
    assert row.key_hash == keys.hash_token(created.token)
    assert created.token.startswith(row.prefix + "_")


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/openapi.json", "/docs", "/metrics"])
def test_operational_endpoints_stay_open(anonymous: FlaskClient, path: str) -> None:
    assert anonymous.get(path).status_code == 200


def test_open_mode_needs_no_key(config: Config) -> None:
    open_app = create_app(replace(config, auth_mode="open"))
    try:
        response = open_app.test_client().post("/v1/documents", json=DOCUMENT)
        assert response.status_code == 202
    finally:
        open_app.extensions["ingest"].engine.dispose()


def test_an_unknown_auth_mode_is_refused(config: Config) -> None:
    with pytest.raises(ValueError, match="AUTH_MODE"):
        create_app(replace(config, auth_mode="none"))


def test_the_openapi_document_names_each_operations_scope(anonymous: FlaskClient) -> None:
    spec = anonymous.get("/openapi.json").json
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    paths = spec["paths"]
    assert paths["/v1/documents"]["post"]["x-scope"] == "ingest"
    assert paths["/v1/documents/{document_id}"]["get"]["x-scope"] == "read"
    assert paths["/v1/documents/{document_id}/retry"]["post"]["x-scope"] == "admin"
    assert {"401", "403", "429"} <= set(paths["/v1/feed"]["get"]["responses"])
    assert "security" not in paths["/healthz"]["get"]


def test_rate_limit_answers_429_with_retry_after(
    config: Config, sessions: sessionmaker[Session], request: pytest.FixtureRequest
) -> None:
    limited_app = create_app(replace(config, rate_limit="3/minute"))
    request.addfinalizer(limited_app.extensions["ingest"].engine.dispose)
    limited = limited_app.test_client()
    first, second = _key(sessions, "ingest", "read"), _key(sessions, "read")
    batch = {"documents": [DOCUMENT, {"content": "Another report from the valley."}]}
    statuses = [
        limited.post("/v1/documents/batch", json=batch, headers=first).status_code,
        limited.get("/v1/feed", headers=first).status_code,
        limited.get("/v1/feed", headers=first).status_code,
    ]
    assert statuses == [200, 200, 200]
    refused = limited.get("/v1/feed", headers=first)
    assert refused.status_code == 429
    assert refused.content_type == PROBLEM
    assert refused.json["status"] == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    # Limits are per key: another key is unaffected, and the open endpoints are not counted.
    assert limited.get("/v1/feed", headers=second).status_code == 200
    assert limited.get("/healthz").status_code == 200
    assert "Retry-After" not in limited.get("/v1/feed", headers=second).headers


def test_every_response_carries_security_headers(client: FlaskClient) -> None:
    for response in (
        client.get("/v1/feed"),
        client.get("/healthz"),
        client.get(f"/v1/documents/{uuid.uuid4()}"),
        client.post("/v1/documents", json={}),
    ):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
        assert response.mimetype in ("application/json", PROBLEM)


def test_a_page_that_sets_its_own_csp_keeps_it(client: FlaskClient) -> None:
    docs = client.get("/docs")
    assert "script-src 'self'" in docs.headers["Content-Security-Policy"]
    dashboard = client.get("/dashboard")
    assert "connect-src 'self'" in dashboard.headers["Content-Security-Policy"]


def test_cli_creates_lists_and_revokes_keys(
    config: Config,
    anonymous: FlaskClient,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", config.database_url)
    assert main(["keys", "create", "--scopes", "ingest,read", "--name", "crawler"]) == 0
    token = capsys.readouterr().out.strip()
    headers = {"Authorization": f"Bearer {token}"}
    assert anonymous.get("/v1/feed", headers=headers).status_code == 200
    assert main(["keys", "list"]) == 0
    listed = capsys.readouterr().out
    prefix = "_".join(token.split("_")[:2])
    assert prefix in listed and "crawler" in listed and "ingest read" in listed
    assert token not in listed
    assert main(["keys", "revoke", prefix]) == 0
    assert anonymous.get("/v1/feed", headers=headers).status_code == 401
    assert main(["keys", "revoke", prefix]) == 1
    assert main(["keys", "create", "--scopes", "everything", "--name", "x"]) == 2


def test_make_run_writes_a_local_key_once(config: Config, tmp_path: Path) -> None:
    path = tmp_path / "var" / "api-key"
    assert ensure_local_key(config.database_url, path)
    token = path.read_text().strip()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not ensure_local_key(config.database_url, path)
    assert path.read_text().strip() == token
    path.write_text("nik_00000000_stale\n")
    assert ensure_local_key(config.database_url, path)
    assert path.read_text().strip() != "nik_00000000_stale"


def test_seed_loader_sends_api_key_or_the_local_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_KEY", "nik_12345678_token")
    assert api_key() == "nik_12345678_token"
    monkeypatch.delenv("API_KEY")
    local = API_KEY_FILE.read_text().strip() if API_KEY_FILE.exists() else None
    assert api_key() == local


def test_repeated_bad_tokens_from_one_address_get_429_and_good_keys_elsewhere_do_not(
    config: Config, sessions: sessionmaker[Session], request: pytest.FixtureRequest
) -> None:
    guarded_app = create_app(replace(config, auth_failure_limit="3/minute"))
    request.addfinalizer(guarded_app.extensions["ingest"].engine.dispose)
    # Addresses of this test's own: the counts live in the session's Redis.
    guesser, colleague = (
        f"10.{n}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}" for n in (1, 2)
    )
    guessing = guarded_app.test_client()
    guessing.environ_base["REMOTE_ADDR"] = guesser
    working = guarded_app.test_client()
    working.environ_base["REMOTE_ADDR"] = colleague
    good = _key(sessions, "ingest", "read")
    with sessions.begin() as session:
        created = keys.create(session, f"revoked-{uuid.uuid4().hex[:6]}", ["read"])
        assert keys.revoke(session, created.key.prefix)
    revoked = {"Authorization": f"Bearer {created.token}"}
    bad = {"Authorization": "Bearer ingest_not-a-real-token-" + uuid.uuid4().hex}
    # A good key from the address never counts.
    for _ in range(5):
        assert guessing.get("/v1/feed", headers=good).status_code == 200
    statuses = [guessing.get("/v1/feed", headers=h).status_code for h in (bad, revoked, bad)]
    assert statuses == [401, 401, 401]
    refused = guessing.post("/v1/documents", json=DOCUMENT, headers=bad)
    assert refused.status_code == 429
    assert refused.content_type == PROBLEM
    assert refused.json["status"] == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    # Once limited, any token from the address gets 429: a right guess is not told apart.
    assert guessing.get("/v1/feed", headers=good).status_code == 429
    # Another address is unaffected, with a good key and with its own first mistakes.
    assert working.get("/v1/feed", headers=good).status_code == 200
    assert working.post("/v1/documents", json=DOCUMENT, headers=good).status_code == 202
    assert working.get("/v1/feed", headers=bad).status_code == 401


def test_requests_are_answered_while_a_write_is_open(
    client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    # A worker's write transaction, held open: on SQLite it holds the
    # database's one write lock. A key check, readiness and the backlog only read.
    paths = ["/v1/feed", "/readyz", "/metrics"]
    with sessions() as writer, ThreadPoolExecutor(len(paths)) as pool:
        documents.accept(writer, {"content": "A document being written."})
        answers = [pool.submit(client.application.test_client().get, path) for path in paths]
        statuses = [answer.result(timeout=10).status_code for answer in answers]
        writer.rollback()
    assert statuses == [200, 200, 200]
