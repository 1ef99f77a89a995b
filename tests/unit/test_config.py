"""Settings come from the environment, typed."""

from __future__ import annotations

from services.config import Config


def test_environment_values_are_typed_and_overridable() -> None:
    config = Config.from_env({"MAX_DOCUMENT_BYTES": "1024", "REDIS_URL": "redis://x:1/2"})
    assert config.max_document_bytes == 1024
    assert config.redis_url == "redis://x:1/2"
    assert Config.from_env({}, max_retries=2).max_retries == 2
    assert Config.from_env({}).is_sqlite
