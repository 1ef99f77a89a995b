"""Run the real service (gunicorn, Celery worker) for the benchmark, and watch its memory."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import requests

from services.supervisor import Stack, free_port, start

# The benchmark's and the live evaluation's clients: no keys, no rate limit to speak of.
SERVICE_ENVIRONMENT = {"AUTH_MODE": "open", "RATE_LIMIT": "10000000/minute"}

MIB = 1024 * 1024


@contextmanager
def _output_to(path: Path) -> Iterator[None]:
    """Point file descriptors 1 and 2 at a file while children are started.

    The children inherit the file, so their access and task logs stay out
    of the benchmark's table.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with path.open("ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


@dataclass
class MemorySampler:
    """Sample the resident memory of every process of the stack, keeping each one's peak."""

    stack: Stack
    interval: float = 0.25
    peaks: dict[int, tuple[str, str, int]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        """Sample in a background thread until `stop`."""
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Take a last sample and stop."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        """Record each live process's resident set size."""
        for name, child in self.stack.processes.items():
            try:
                root = psutil.Process(child.pid)
                members = [(root, "main"), *((p, "child") for p in root.children(True))]
            except psutil.Error:
                continue
            for process, role in members:
                try:
                    rss = process.memory_info().rss
                except psutil.Error:
                    continue
                _, _, peak = self.peaks.get(process.pid, (name, role, 0))
                self.peaks[process.pid] = (name, role, max(peak, rss))

    def cpu_seconds(self) -> dict[str, float]:
        """Return the CPU seconds (user + system) used so far by each service's live processes."""
        used: dict[str, float] = {"bench": _cpu(psutil.Process())}
        for name, child in self.stack.processes.items():
            try:
                root = psutil.Process(child.pid)
                members = [root, *root.children(True)]
            except psutil.Error:
                continue
            used[name] = sum(_cpu(process) for process in members)
        return used

    def summary(self) -> dict[str, Any]:
        """Return peak RSS in MiB per service, main process and each child."""
        out: dict[str, Any] = {}
        for pid, (name, role, rss) in sorted(self.peaks.items()):
            entry = out.setdefault(name, {"main_mb": None, "children_mb": []})
            mb = round(rss / MIB, 1)
            if role == "main":
                entry["main_mb"] = mb
            else:
                entry["children_mb"].append({"pid": pid, "mb": mb})
        return out


def _cpu(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
    except psutil.Error:
        return 0.0
    return float(times.user + times.system)


@dataclass
class Running:
    """A started stack: its URL, environment and memory sampler."""

    url: str
    environ: dict[str, str]
    memory: MemorySampler


def wait_ready(url: str, timeout: float = 60) -> None:
    """Wait until /readyz answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the API at {url} did not become ready in {timeout:.0f}s")


@contextmanager
def running(
    environ: dict[str, str], *, concurrency: int, api_workers: int, log_path: Path
) -> Iterator[Running]:
    """Start the service with `services.supervisor.start`; stop it after."""
    port = free_port()
    with _output_to(log_path):
        stack, env = start(
            port=port,
            flower_port=None,
            concurrency=concurrency,
            api_workers=api_workers,
            environ=environ,
        )
    memory = MemorySampler(stack)
    memory.start()
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url)
        yield Running(url, env, memory)
    except BaseException:
        tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-40:]
        print("\n".join(["--- end of the service's log ---", *tail]), file=sys.stderr)
        raise
    finally:
        memory.stop()
        stack.stop()
