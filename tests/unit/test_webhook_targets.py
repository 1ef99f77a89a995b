"""Webhook receivers must be public addresses unless a network is allowed."""

from __future__ import annotations

import ipaddress

import pytest

from services import webhooks


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[fd00::5]/hook",
        "http://0.0.0.0/hook",
    ],
)
def test_loopback_private_and_link_local_receivers_are_refused(url: str) -> None:
    reason = webhooks.refusal(url)
    assert reason is not None
    assert "not a public address" in reason


@pytest.mark.parametrize("url", ["https://8.8.8.8/hook", "http://[2001:4860:4860::8888]:80/x"])
def test_public_addresses_are_accepted(url: str) -> None:
    assert webhooks.refusal(url) is None


def test_an_allowed_network_admits_its_addresses_only() -> None:
    allowed = webhooks.networks(" 127.0.0.0/8 , fd00::/8 ")
    assert allowed == (
        ipaddress.ip_network("127.0.0.0/8"),
        ipaddress.ip_network("fd00::/8"),
    )
    assert webhooks.refusal("http://127.0.0.1:9/", allowed) is None
    assert webhooks.refusal("http://[fd00::5]/", allowed) is None
    assert webhooks.refusal("http://10.0.0.1/", allowed) is not None


def test_a_host_that_does_not_resolve_is_refused() -> None:
    reason = webhooks.refusal("http://no-such-host.invalid/hook")
    assert reason is not None and "does not resolve" in reason
