"""Hosts built from Linux network namespaces: one machine, several network stacks.

Each host is a namespace with one interface on a private /24; a switch
namespace holds the bridge that joins them, so nothing the hosts send leaves
the namespaces made here, and the machine's own network never sees it. A
process starts inside a host with `ip netns exec`; a thread of the test can
enter a host (setns) to talk to the others as a client would. Needs root.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

CLONE_NEWNET = 0x40000000
NETNS_DIR = Path("/run/netns")


def ip(*args: str) -> str:
    """Run `ip` with the arguments; raise with its message when it fails."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


@dataclass
class Host:
    """A namespace with an address, and the processes started in it."""

    namespace: str
    address: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(
        self,
        command: Sequence[str],
        *,
        env: Mapping[str, str],
        log: Path,
        cwd: Path | None = None,
        user: str | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start a command inside this host (as user, if given); its output goes to log."""
        prefix = ["ip", "netns", "exec", self.namespace]
        if user is not None:
            # setpriv execs the command itself: the pid is the server's.
            prefix += ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups"]
        # The child keeps its own copy of the descriptor.
        with log.open("ab") as output:
            process = subprocess.Popen(
                [*prefix, *command], env=dict(env), cwd=cwd, stdout=output, stderr=subprocess.STDOUT
            )
        self.processes.append(process)
        return process

    def run(
        self, command: Sequence[str], *, env: Mapping[str, str], cwd: Path | None = None
    ) -> str:
        """Run a command inside this host to its end; return its output."""
        done = subprocess.run(
            ["ip", "netns", "exec", self.namespace, *command],
            env=dict(env),
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{command} in {self.namespace}: {done.stdout}{done.stderr}")
        return done.stdout

    def pids(self) -> list[int]:
        """Return every process in this host's namespace, whoever started it."""
        try:
            return [int(pid) for pid in ip("netns", "pids", self.namespace).split()]
        except RuntimeError:
            return []

    def kill(self, timeout: float = 10) -> int:
        """SIGKILL every process in the host, as a power cut would; return how many."""
        killed: set[int] = set()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = self.pids()
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            time.sleep(0.05)
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(max(0.1, deadline - time.monotonic()))
        return len(killed)


class Network:
    """Hosts on one bridged /24 (10.231.21.0/24 inside the namespaces only)."""

    PREFIX = "10.231.21"

    def __init__(self) -> None:
        self.tag = f"ih{os.getpid() % 100000}{secrets.token_hex(2)}"
        self.switch = f"{self.tag}-switch"
        self.hosts: dict[str, Host] = {}
        ip("netns", "add", self.switch)
        ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        ip("-n", self.switch, "link", "set", "br0", "up")

    def add(self, name: str) -> Host:
        """Create a host, wired to the bridge, with the next address."""
        host = Host(f"{self.tag}-{name}", f"{self.PREFIX}.{len(self.hosts) + 2}")
        self.hosts[name] = host
        port = f"p{len(self.hosts)}"
        ip("netns", "add", host.namespace)
        ip(
            "-n", self.switch, "link", "add", port, "type", "veth",
            "peer", "name", "eth0", "netns", host.namespace,
        )  # fmt: skip
        ip("-n", self.switch, "link", "set", port, "master", "br0", "up")
        ip("-n", host.namespace, "addr", "add", f"{host.address}/24", "dev", "eth0")
        ip("-n", host.namespace, "link", "set", "eth0", "up")
        ip("-n", host.namespace, "link", "set", "lo", "up")
        return host

    def remove(self) -> None:
        """Kill every process in every host and delete the namespaces (bounded in time)."""
        for host in reversed(list(self.hosts.values())):
            host.kill(timeout=10)
            with contextlib.suppress(RuntimeError):
                ip("netns", "del", host.namespace)
        with contextlib.suppress(RuntimeError):
            ip("netns", "del", self.switch)

    def namespaces(self) -> list[str]:
        """Return the namespaces of this network that still exist."""
        ours = {self.switch, *(h.namespace for h in self.hosts.values())}
        present = {path.name for path in NETNS_DIR.iterdir()} if NETNS_DIR.exists() else set()
        return sorted(ours & present)


def _enter(namespace: str) -> None:
    # A network namespace belongs to a thread: this one, and the sockets it
    # opens from now on, are inside the host.
    libc = ctypes.CDLL(None, use_errno=True)
    descriptor = os.open(NETNS_DIR / namespace, os.O_RDONLY)
    try:
        if libc.setns(descriptor, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into {namespace}")
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def inside(host: Host) -> Iterator[Callable[..., Any]]:
    """Yield a function that runs a call on a thread inside the host, and returns its result."""
    with ThreadPoolExecutor(1, initializer=_enter, initargs=(host.namespace,)) as thread:

        def call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
            return thread.submit(function, *args, **kwargs).result()

        yield call
