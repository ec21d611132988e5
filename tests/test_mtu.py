"""An MTU black hole (issue 19): a path where small packets pass and large ones vanish
without an ICMP "fragmentation needed". Built for real in the pair of namespaces of
tests/test_reachability.py: the host's nftables drops every IPv4 packet over 1200 bytes,
as a switch port or tunnel with a smaller MTU does. The throughput test's handshake
passes, its full-size segments do not; the DF echoes find the size that gets through and
the verdict names it instead of duplex or cabling."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import pytest
from test_reachability import Lab, _ns_run, in_netns, lab  # noqa: F401 (the fixture)

from probes import throughput
from probes.engines import path_mtu
from probes.engines.iperf3_server import Iperf3Server
from readiness.config.profile import LanSpeedThresholds
from readiness.judges.throughput import judge_seat
from readiness.results import Status

TH = LanSpeedThresholds(gigabit_class_min_mbps=500, fast_ethernet_class_min_mbps=80,
                        required_class="fast_ethernet", nic_speed_mbps=1000)


@contextlib.contextmanager
def _black_hole(ns: str, over_bytes: int) -> Iterator[None]:
    _ns_run(ns, "nft", "add", "table", "ip", "rdyt_mtu")
    try:
        _ns_run(ns, "nft", "add chain ip rdyt_mtu in { type filter hook input priority 0; }")
        _ns_run(ns, "nft", "add", "rule", "ip", "rdyt_mtu", "in", "ip", "length", ">",
                str(over_bytes), "drop")
        yield
    finally:
        _ns_run(ns, "nft", "delete", "table", "ip", "rdyt_mtu")


@pytest.mark.lab
def test_df_echoes_find_the_size_that_gets_through(lab: Lab) -> None:  # noqa: F811
    clear = in_netns(lab.a, lambda: asyncio.run(path_mtu.probe(lab.host_ip)))
    assert not clear.black_hole and clear.largest_ok == 1500
    with _black_hole(lab.b, 1200):
        hole = in_netns(lab.a, lambda: asyncio.run(path_mtu.probe(lab.host_ip)))
    assert hole.black_hole, hole
    assert 1192 <= hole.largest_ok <= 1200 < hole.smallest_lost <= 1208, hole


@pytest.mark.lab
def test_a_stalled_throughput_test_names_the_mtu_black_hole_with_its_size(
        lab: Lab) -> None:  # noqa: F811
    server = in_netns(lab.b, lambda: Iperf3Server(lab.host_ip, 0, idle_timeout_s=2.0,
                                                   grace_s=1.0).start())
    params = {"host": lab.host_ip, "port": server.port, "duration_s": 1, "omit_s": 0,
              "parallel": 1, "reverse": False, "connect_timeout_s": 2.0}
    deadline = throughput.deadline_for(1, 0, 2.0)
    try:
        with _black_hole(lab.b, 1200):
            outcome = in_netns(lab.a, lambda: asyncio.run(throughput.run(params, deadline)))
    finally:
        server.shutdown()
    judged = judge_seat(outcome, {"thresholds": TH, "seat": "A07", "path": "seat_to_server"})
    assert judged.status == Status.FAIL, (judged.message.en, outcome.measured)
    assert "MTU black hole" in judged.message.en and "MTU 黑洞" in judged.message.zh
    size = outcome.measured["path_mtu"]["largest_ok"]
    assert 1192 <= size <= 1200 and f"up to {size} bytes" in judged.message.en
    assert "duplex" not in judged.message.en
    assert [f.code for f in judged.findings] == ["throughput.mtu_black_hole"]
