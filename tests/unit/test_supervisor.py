"""The supervisor's restart policy, on real short-lived processes."""

from __future__ import annotations

import io
import sys
import time

from services.supervisor import RestartPolicy, Stack, describe_exit

CRASH = "import sys; print('cannot reach the broker at redis://nowhere'); sys.exit(3)"


def _watch_until(stack: Stack, policy: RestartPolicy, seconds: float) -> str | None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        verdict = stack.watch(policy)
        if verdict:
            return verdict
        time.sleep(0.02)
    return None


def test_the_delay_doubles_up_to_its_cap() -> None:
    policy = RestartPolicy(first_delay=1, max_delay=8)
    assert [policy.delay(n) for n in range(1, 7)] == [1, 2, 4, 8, 8, 8]


def test_an_exited_process_is_started_again_and_the_others_keep_running() -> None:
    stack = Stack(sink=io.StringIO())
    try:
        steady = stack.launch("api", [sys.executable, "-c", "import time; time.sleep(60)"], {})
        first = stack.launch("worker", [sys.executable, "-c", "print('ready')"], {})
        policy = RestartPolicy(limit=5, window=60, first_delay=0.05)
        deadline = time.monotonic() + 30
        while stack.processes["worker"].pid == first.pid and time.monotonic() < deadline:
            assert stack.watch(policy) is None
            time.sleep(0.02)
        assert stack.processes["worker"].pid != first.pid
        assert stack.processes["api"] is steady and steady.poll() is None
        log = stack.sink.getvalue()  # type: ignore[attr-defined]
        assert "worker (pid" in log and "exited with code 0; restarting" in log
        assert "worker restarted" in log
    finally:
        stack.stop(timeout=5)


def test_a_crash_loop_gives_up_naming_the_process_and_its_last_lines() -> None:
    stack = Stack(sink=io.StringIO())
    try:
        stack.launch("worker", [sys.executable, "-c", CRASH], {})
        policy = RestartPolicy(limit=2, window=60, first_delay=0.05)
        verdict = _watch_until(stack, policy, 60)
    finally:
        stack.stop(timeout=5)
    assert verdict is not None
    assert verdict.startswith("worker exited (code 3) 3 times within 60s, a crash loop")
    assert "cannot reach the broker at redis://nowhere" in verdict


def test_exits_are_described_by_code_or_signal() -> None:
    assert describe_exit(3) == "code 3"
    assert describe_exit(-9) == "signal SIGKILL"
