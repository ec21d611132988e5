"""The TCP fallback's connect times come from the kernel, not from a busy event loop
(loopback only: a real listener, a real closed port)."""

from __future__ import annotations

import asyncio
import socket
import sys
import time

import pytest

from probes.engines import tcp_connect


@pytest.fixture()
def listener() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield sock
    sock.close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_open_and_a_closed_port_are_told_apart(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    opened = asyncio.run(tcp_connect.connect("127.0.0.1", port, 1.0))
    refused = asyncio.run(tcp_connect.connect("127.0.0.1", _closed_port(), 1.0))
    assert opened.state == tcp_connect.OPEN and opened.rtt_ms is not None
    assert refused.state == tcp_connect.REFUSED and refused.rtt_ms is not None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="TCP_INFO is Linux's")
def test_a_late_event_loop_neither_loses_the_answer_nor_adds_its_delay(
        listener: socket.socket) -> None:
    port = listener.getsockname()[1]

    async def busy_coordinator() -> tcp_connect.Connect:
        task = asyncio.create_task(tcp_connect.connect("127.0.0.1", port, 0.5))
        await asyncio.sleep(0)  # the SYN is sent
        time.sleep(1.2)  # the loop is held past the connect's own timeout
        return await task

    tried = asyncio.run(busy_coordinator())
    # the handshake finished at once on loopback: an answer, timed in microseconds
    assert tried.state == tcp_connect.OPEN
    assert tried.timed_by == "kernel" and tried.rtt_ms < 100


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_ERROR semantics")
def test_a_refusal_seen_late_is_still_a_refusal() -> None:
    port = _closed_port()

    async def busy_coordinator() -> tcp_connect.Connect:
        task = asyncio.create_task(tcp_connect.connect("127.0.0.1", port, 0.5))
        await asyncio.sleep(0)
        time.sleep(1.2)
        return await task

    # a closed port answers with a reset: the host is there, its port is closed
    assert asyncio.run(busy_coordinator()).state == tcp_connect.REFUSED
