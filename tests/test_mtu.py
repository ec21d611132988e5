"""An MTU black hole (issue 19): a path where small packets pass and large ones vanish
without an ICMP "fragmentation needed". Built for real in the pair of namespaces of
tests/test_reachability.py: the host's nftables drops every IPv4 packet over 1200 bytes
both ways, as a switch port or tunnel with a smaller MTU does. The throughput test's
handshake passes, its full-size segments do not, and a seat agent's replies are lost; the
DF echoes find the size that gets through and the verdict names it instead of duplex,
cabling or a silent agent."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator

import pytest
from test_reachability import Lab, _ns_run, in_netns, lab  # noqa: F401 (the fixture)

from probes import throughput
from probes.engines import path_mtu
from probes.engines.iperf3_server import Iperf3Server
from readiness.config.profile import LanSpeedThresholds
from readiness.judges.throughput import judge_seat
from readiness.results import ProbeOutcome, Status

TH = LanSpeedThresholds(gigabit_class_min_mbps=500, fast_ethernet_class_min_mbps=80,
                        required_class="fast_ethernet", nic_speed_mbps=1000)


@contextlib.contextmanager
def _black_hole(ns: str, over_bytes: int) -> Iterator[None]:
    _ns_run(ns, "nft", "add", "table", "ip", "rdyt_mtu")
    try:
        # both ways, as a port with a smaller MTU drops them
        for chain, hook in (("in", "input"), ("out", "output")):
            _ns_run(ns, "nft", f"add chain ip rdyt_mtu {chain} "
                               f"{{ type filter hook {hook} priority 0; }}")
            _ns_run(ns, "nft", "add", "rule", "ip", "rdyt_mtu", chain, "ip", "length", ">",
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


@pytest.mark.lab
def test_an_agent_whose_replies_are_lost_in_an_mtu_black_hole_is_named_for_it(
        lab: Lab) -> None:  # noqa: F811
    """A real agent in the host namespace behind the black hole: it accepts the
    connection and its replies (the padded health reply first) never arrive. The
    coordinator tests the path with DF echoes and says so at once, for every check of
    that seat, instead of waiting each one out as "accepted but sent no reply"."""
    from readiness.agent.allow import AllowList
    from readiness.agent.remote import AgentRemote
    from readiness.agent.server import running as agent_running
    from readiness.checks import AgentRoute
    from readiness.redact import Secret

    token = Secret("mtuT3stT0ken_9lHZUowh1CcJq4e2AeG9PlyWFxubxy1_d", "secret:agent_token")
    agent = agent_running(lab.host_ip, 0, token, AllowList.of(["198.18.0.0/24"]))
    server = in_netns(lab.b, agent.__enter__)
    try:
        route = AgentRoute("A15", lab.host_ip, server.port)

        def ask(probe: str) -> tuple[float, ProbeOutcome]:
            remote = AgentRemote(token, local=None,  # type: ignore[arg-type]
                                 own_addresses=set)
            started = time.monotonic()
            outcome = asyncio.run(remote.run(route, probe, {}, 20.0))
            return time.monotonic() - started, outcome

        whole_s, whole = in_netns(lab.a, lambda: ask("self_report"))
        assert whole.status == Status.PASS, whole.message.en  # the path is whole: it answers
        with _black_hole(lab.b, 1200):
            took_s, lost = in_netns(lab.a, lambda: ask("self_report"))
    finally:
        agent.__exit__(None, None, None)
    assert lost.status == Status.ERROR, lost.message.en
    assert "MTU black hole" in lost.message.en and "reply never arrived" in lost.message.en
    assert [f.code for f in lost.findings] == ["throughput.mtu_black_hole"]
    assert 1192 <= lost.measured["path_mtu"]["largest_ok"] <= 1200, lost.measured
    # told after the quick health look and the echoes, not at the check's 20-s deadline
    assert took_s < 8.0, (took_s, whole_s)
