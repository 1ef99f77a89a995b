"""Fuzz the API from its own OpenAPI document: no 5xx, no answer that breaks the schema.

Schemathesis generates requests for every operation (valid and invalid
bodies, parameters and headers) and checks each response against the
document. FUZZ_EXAMPLES (default 25) bounds the examples per operation.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from services.app import create_app
from services.config import Config
from services.storage import keys
from services.storage.db import make_engine, make_sessionmaker, session_scope

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
# Validators JSON Schema cannot express (a URL that parses, content that is not
# blank, no NUL) make some "schema-valid" bodies 422: that is not a failure.
NOT_CHECKED = [positive_data_acceptance]
# A stream holds its connection open by design; a fuzzer would wait on it.
UNFUZZED = "/v1/feed/stream"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fuzz_app(private_database_url: str, private_redis_url: str) -> Iterator[Flask]:
    """The API on a database and broker of its own: nothing fuzzed reaches a worker."""
    config = Config.from_env(
        {},
        database_url=private_database_url,
        redis_url=private_redis_url,
        rate_limit="1000000/hour",
    )
    app = create_app(config)
    yield app
    app.extensions["ingest"].engine.dispose()


@pytest.fixture(scope="module")
def fuzz_headers(private_database_url: str) -> Iterator[dict[str, str]]:
    engine = make_engine(private_database_url)
    with session_scope(make_sessionmaker(engine)) as session:
        token = keys.create(session, "fuzz", keys.SCOPES).token
    engine.dispose()
    yield {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def api_schema(fuzz_app: Flask) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_wsgi("/openapi.json", fuzz_app)


def test_no_server_errors_and_answers_match_the_schema(
    api_schema: schemathesis.BaseSchema, fuzz_headers: dict[str, str]
) -> None:
    # One Hypothesis run per operation and mode (schemathesis's own pytest
    # loader does not run on pytest 9), every failure gathered before failing.
    failures: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 10
    for operation in operations:
        if operation.path == UNFUZZED:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def check(case: schemathesis.Case) -> None:
                # The real key replaces a generated one; a negative case made
                # by leaving the key out is sent without it (else it would be
                # a valid request that schemathesis says should be refused).
                headers = case.headers or {}
                key = fuzz_headers if "Authorization" in headers else {}
                case.call_and_validate(headers={**headers, **key}, excluded_checks=NOT_CHECKED)

            try:
                check()
            except Unsatisfiable:
                # No invalid request exists for an operation without inputs.
                continue
            except Exception as error:  # noqa: BLE001 - report every operation, then fail
                failures.append(
                    f"{operation.method.upper()} {operation.path} ({mode.value}): {error}"
                )
    assert not failures, "\n\n".join(failures)
