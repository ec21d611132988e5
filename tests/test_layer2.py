"""Layer 2 of the exam LAN: the ARP sweep + DHCP discovery (probes/l2_sweep.py), the
judgements made from it (readiness/judges/layer2.py) and their planning
(readiness/planning/layer2.py).

Frames, judgements and planning are tested without sending anything. The `lab` tests
build a small simulated room of their own (prefix rdyt<pid>l) and run the probe and
`readiness check` inside its proctor namespace with `ip netns exec`, so no ARP or DHCP
frame ever leaves the lab. The "no raw-socket rights" path is tested twice: for real,
by running the probe in the lab without CAP_NET_RAW (`setpriv --bounding-set=-net_raw`:
the account runs as root but the kernel refuses AF_PACKET), and everywhere by making
scapy's socket constructor refuse, as the kernel does.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from probe_params import sweep as sweep_params

from probes import l2_sweep
from readiness.judges import layer2
from readiness.results import CheckResult, ProbeOutcome, Status, Text
from readiness.subject import Kind, Subject

REPO = Path(__file__).resolve().parent.parent
SUBNET = "198.18.10.0/24"
OURS = "02:52:44:59:00:02"


@pytest.fixture(autouse=True)
def _no_frames_from_unit_tests(request: pytest.FixtureRequest,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A unit test must never put a frame on this machine's own network (its eth0 may well
    sit in a documentation range the tests use): any raw socket opened here fails the test.
    Lab tests run the probe in a lab namespace, in a subprocess, untouched by this."""
    if request.node.get_closest_marker("lab"):
        return
    import scapy.arch  # noqa: F401 - so the restored L2socket is the real one, not None
    from scapy.config import conf

    class Forbidden:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise AssertionError("a unit test tried to open a raw socket on this machine")

    monkeypatch.setattr(conf, "L2socket", Forbidden)


# ---------------------------------------------------------------- frames


def test_arp_requests_are_broadcast_who_has_with_each_target() -> None:
    frames = l2_sweep.arp_requests(OURS, "198.18.10.2", ["198.18.10.7", "198.18.10.254"])
    for target, frame in frames.items():
        assert len(frame) == 60  # padded to the Ethernet minimum
        assert frame[:6] == b"\xff" * 6
        arp = l2_sweep.parse_arp(frame)
        assert arp == l2_sweep.ArpFrame(1, "198.18.10.2", OURS, target)


def test_dhcp_discover_asks_for_a_broadcast_answer_from_our_mac() -> None:
    from scapy.layers.dhcp import BOOTP, DHCP
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether

    pkt = Ether(l2_sweep.dhcp_discover(OURS, 0x12345678))
    assert (pkt[Ether].dst, pkt[IP].src, pkt[IP].dst) == (
        "ff:ff:ff:ff:ff:ff", "0.0.0.0", "255.255.255.255")
    assert (pkt[UDP].sport, pkt[UDP].dport) == (68, 67)
    assert pkt[BOOTP].xid == 0x12345678 and pkt[BOOTP].flags == 0x8000
    assert pkt[BOOTP].chaddr[:6] == bytes.fromhex(OURS.replace(":", ""))
    assert ("message-type", 1) in pkt[DHCP].options


def _offer(xid: int, msg: str = "offer", routers: tuple[str, ...] = ("198.18.10.250",)) -> bytes:
    from scapy.layers.dhcp import BOOTP, DHCP
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether

    return bytes(
        Ether(src="02:52:44:59:03:fa", dst="ff:ff:ff:ff:ff:ff")
        / IP(src="198.18.10.250", dst="255.255.255.255") / UDP(sport=67, dport=68)
        / BOOTP(op=2, xid=xid, yiaddr="198.18.10.175")
        / DHCP(options=[("message-type", msg), ("server_id", "198.18.10.250"),
                        ("subnet_mask", "255.255.255.0"), ("router", *routers),
                        ("lease_time", 600), "end"]))


def test_offer_is_parsed_with_server_address_mask_and_routers() -> None:
    offer = l2_sweep.parse_offer(_offer(7, routers=("198.18.10.250", "198.18.10.251")), 7, 0.5)
    assert offer is not None
    assert (offer.server_id, offer.server_ip, offer.server_mac, offer.offered) == (
        "198.18.10.250", "198.18.10.250", "02:52:44:59:03:fa", "198.18.10.175")
    assert offer.subnet_mask == "255.255.255.0" and offer.lease_s == 600
    assert offer.router == ["198.18.10.250", "198.18.10.251"]
    assert l2_sweep.parse_offer(_offer(8), 7, 0.5) is None  # someone else's transaction
    assert l2_sweep.parse_offer(_offer(7, msg="ack"), 7, 0.5) is None


def _arp_reply(ip: str, mac: str, to: str = "198.18.10.2") -> bytes:
    from scapy.layers.l2 import ARP, Ether

    return bytes(Ether(src=mac, dst=OURS) / ARP(op=2, psrc=ip, hwsrc=mac, pdst=to, hwdst=OURS))


def test_collector_keeps_every_mac_per_address_and_foreign_senders() -> None:
    import ipaddress

    local = l2_sweep.LocalInterface("eth0", "198.18.10.2", OURS)
    c = l2_sweep._Collector(local, ipaddress.IPv4Network(SUBNET), xid=7)
    for frame in (_arp_reply("198.18.10.101", "02:00:00:00:00:01"),
                  _arp_reply("198.18.10.101", "02:00:00:00:00:02"),
                  _arp_reply("198.18.10.101", "02:00:00:00:00:01"),  # a retry's answer
                  _arp_reply("198.18.11.104", "02:00:00:00:00:04", to="198.18.11.1"),
                  _arp_reply("198.18.10.9", OURS),  # our own frame looped back
                  _offer(7)):
        c.feed(frame, 0.1)
    assert c.hosts == {"198.18.10.101": ["02:00:00:00:00:01", "02:00:00:00:00:02"]}
    assert c.foreign == {"198.18.11.104": ["02:00:00:00:00:04"]}
    assert [o.server_id for o in c.offers.values()] == ["198.18.10.250"]


# ---------------------------------------------------------------- no raw-socket rights


def test_no_raw_socket_rights_is_warn_not_verified(monkeypatch: pytest.MonkeyPatch) -> None:
    """Injected: scapy's socket constructor refuses as the kernel does without
    CAP_NET_RAW (the real refusal is test_lab_probe_without_cap_net_raw)."""
    import scapy.arch  # noqa: F401 - so the restored L2socket is the real one, not None
    from scapy.config import conf

    class Refused:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(conf, "L2socket", Refused)
    monkeypatch.setattr(l2_sweep, "find_interface", lambda subnet, name=None:
                        l2_sweep.LocalInterface("eth0", "198.18.10.2", OURS))
    out = asyncio.run(l2_sweep.run(sweep_params(SUBNET), 6.0))
    assert out.status == Status.WARN
    assert out.measured["layer2"] is False
    assert "not verified" in out.message.en and "CAP_NET_RAW" in out.message.en
    assert "Npcap" in out.message.en and "未验证" in out.message.zh
    sweep = _result(out)
    for judged in (layer2.judge_host(sweep, _host_params()), layer2.judge_dhcp(sweep, {}),
                   layer2.judge_duplicates(sweep, {}), layer2.judge_unknown(sweep, {}),
                   layer2.judge_broadcast_domain(sweep, [], {"hosts": []})):
        assert judged.status == Status.WARN and "not verified" in judged.message.en


def test_a_missing_or_unusable_parameter_is_an_error_naming_it() -> None:
    whole = sweep_params(SUBNET)
    needed = [p.name for p in l2_sweep.KIND.params if not p.optional]
    assert set(needed) <= set(whole)
    for name in needed:
        out = asyncio.run(l2_sweep.run({k: v for k, v in whole.items() if k != name}, 3.0))
        assert out.status == Status.ERROR, name
        assert f"parameter '{name}' is missing" in out.message.en, out.message.en
    for name, bad in (("subnet", "198.18.10.0/33"), ("arp_retries", "twice"),
                      ("outside", ["198.18.11.300"]), ("pace_pps", -1)):
        out = asyncio.run(l2_sweep.run({**whole, name: bad}, 3.0))
        assert out.status == Status.ERROR and f"'{name}'" in out.message.en, out.message.en


def _fake_interfaces(monkeypatch: pytest.MonkeyPatch,
                     nics: dict[str, tuple[str, str, bool, str]]) -> None:
    """This machine's interfaces as psutil reports them: name -> (IPv4, MAC, up, flags)."""
    import psutil

    addrs = {name: [SimpleNamespace(family=socket.AF_INET, address=ip),
                    SimpleNamespace(family=psutil.AF_LINK, address=mac)]
             for name, (ip, mac, _up, _flags) in nics.items()}
    stats = {name: SimpleNamespace(isup=up, flags=flags)
             for name, (_ip, _mac, up, flags) in nics.items()}
    monkeypatch.setattr(psutil, "net_if_addrs", lambda: addrs)
    monkeypatch.setattr(psutil, "net_if_stats", lambda: stats)


NICS = {"lo": ("127.0.0.1", "00:00:00:00:00:00", True, "up,loopback,running"),
        "eth0": ("10.0.0.5", "02:00:00:00:00:10", True, "up,broadcast,running"),
        # Windows spells MACs with dashes and in capitals
        "Ethernet 2": ("192.168.10.2", "02-52-44-59-00-AA", True, "up")}


def test_the_interface_with_an_address_in_the_subnet_is_chosen(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import ipaddress

    _fake_interfaces(monkeypatch, NICS)
    found = l2_sweep.find_interface(ipaddress.IPv4Network("192.168.10.0/24"))
    assert found == l2_sweep.LocalInterface("Ethernet 2", "192.168.10.2", "02:52:44:59:00:aa")


def test_not_on_the_exam_lan_is_an_error_naming_the_subnet(
        monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_interfaces(monkeypatch, {k: v for k, v in NICS.items() if k != "Ethernet 2"})
    out = asyncio.run(l2_sweep.run(sweep_params("192.168.10.0/24"), 3.0))
    assert out.status == Status.ERROR
    assert out.message.en == ("this machine has no address in 192.168.10.0/24: run the check "
                              "from a PC on the exam LAN")
    assert "192.168.10.0/24" in out.message.zh
    assert layer2.judge_dhcp(_result(out), {}).status == Status.ERROR


def test_an_interface_that_is_down_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_interfaces(monkeypatch, {"eth1": ("192.168.10.2", "02:00:00:00:00:01", False, "")})
    out = asyncio.run(l2_sweep.run(sweep_params("192.168.10.0/24"), 3.0))
    assert out.status == Status.ERROR and "eth1 (192.168.10.2) is down" in out.message.en


def test_a_room_on_loopback_has_no_layer_2(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_interfaces(monkeypatch, NICS)
    out = asyncio.run(l2_sweep.run(sweep_params("127.0.0.0/24"), 3.0))
    assert out.status == Status.SKIP and "loopback" in out.message.en
    assert layer2.judge_host(_result(out), _host_params()).status == Status.SKIP


# ---------------------------------------------------------------- judgements


def _result(outcome: ProbeOutcome, check_id: str = "LAN-SUBNET/lab/l2-sweep",
            requirement: str = "LAN-SUBNET") -> CheckResult:
    return CheckResult(requirement, Text("t", "t"), Subject(Kind.ROOM, "lab", "lab"),
                       "coordinator", outcome.status,
                       outcome.message, outcome.measured, {}, None, datetime.now(UTC), 0.1,
                       check_id)


def _sweep(hosts: dict[str, list[str]], foreign: dict[str, list[str]] | None = None,
           offers: list[dict[str, Any]] | None = None) -> CheckResult:
    measured = {"layer2": True, "interface": "eth0", "local_address": "198.18.10.2",
                "local_mac": OURS, "subnet": SUBNET, "hosts": hosts, "foreign": foreign or {},
                "dhcp_offers": offers or [], "dhcp_sent": True, "dhcp_window_s": 4.0}
    return _result(ProbeOutcome(Status.PASS, Text("swept", "扫描"), measured))


def _host_params(**kw: Any) -> dict[str, Any]:
    return {"address": "198.18.10.101", "role_en": "seat A01", "role_zh": "考位 A01",
            "configured_mac": None, "strict": False, "previous_macs": {}, **kw}


A01, A05 = "02:52:44:59:01:65", "02:52:44:59:01:69"


def test_host_answers_with_one_mac_which_is_recorded() -> None:
    out = layer2.judge_host(_sweep({"198.18.10.101": [A01]}), _host_params())
    assert out.status == Status.PASS and out.measured["mac"] == A01
    assert A01 in out.message.en


def test_this_computer_answers_for_itself() -> None:
    out = layer2.judge_host(_sweep({}), _host_params(address="198.18.10.2", strict=True))
    assert out.status == Status.PASS and out.measured["this_computer"]
    assert "this computer" in out.message.en and "本机" in out.message.zh


@pytest.mark.parametrize(("strict", "expected"), [(False, Status.WARN), (True, Status.FAIL)])
def test_another_mac_than_configured(strict: bool, expected: Status) -> None:
    out = layer2.judge_host(_sweep({"198.18.10.101": [A05]}),
                            _host_params(configured_mac=A01, strict=strict))
    assert out.status == expected
    assert A05 in out.message.en and A01 in out.message.en and "site file" in out.message.en


def test_another_mac_than_last_run_warns_even_for_named_hosts() -> None:
    out = layer2.judge_host(_sweep({"198.18.10.101": [A05]}),
                            _host_params(strict=True, previous_macs={"198.18.10.101": A01}))
    assert out.status == Status.WARN and "last run saw" in out.message.en


@pytest.mark.parametrize(("strict", "expected"), [(False, Status.WARN), (True, Status.FAIL)])
def test_nobody_at_the_address(strict: bool, expected: Status) -> None:
    out = layer2.judge_host(_sweep({}), _host_params(strict=strict))
    assert out.status == expected and "nothing answers ARP" in out.message.en


@pytest.mark.parametrize(("strict", "expected"), [(False, Status.SKIP), (True, Status.WARN)])
def test_a_host_outside_the_subnet_cannot_be_judged_by_arp(strict: bool,
                                                            expected: Status) -> None:
    out = layer2.judge_host(_sweep({}), _host_params(address="198.18.20.10", strict=strict))
    assert out.status == expected and "outside 198.18.10.0/24" in out.message.en


def test_a_host_found_at_another_address_is_named() -> None:
    out = layer2.judge_host(_sweep({"198.18.10.150": [A01]}),
                            _host_params(configured_mac=A01, strict=True))
    assert out.status == Status.FAIL and out.measured["found_at"] == "198.18.10.150"
    assert "is on the exam LAN at 198.18.10.150" in out.message.en
    assert "wrong address, set it to 198.18.10.101" in out.message.en


def test_duplicate_address_fails_naming_both_macs_and_whose_they_are() -> None:
    sweep = _sweep({"198.18.10.101": [A01, A05], "198.18.10.102": ["02:00:00:00:00:02"]})
    out = layer2.judge_duplicates(sweep, {
        "names": {"198.18.10.101": ["seat A01", "考位 A01"]},
        "mac_names": {A01: ["seat A01", "考位 A01"], A05: ["seat A05", "考位 A05"]},
        "expected": {"198.18.10.101": A01}})
    assert out.status == Status.FAIL
    assert f"198.18.10.101 (seat A01's address) is answered by {A01} and {A05}" in out.message.en
    assert f"{A05} is seat A05's" in out.message.en and f"{A05} 属于考位 A05" in out.message.zh
    assert out.measured["conflicts"] == {"198.18.10.101": [A01, A05]}
    assert "IP 冲突" in out.message.zh
    assert layer2.judge_host(sweep, _host_params()).status == Status.FAIL
    clean = layer2.judge_duplicates(_sweep({"198.18.10.101": [A01]}), {})
    assert clean.status == Status.PASS


def test_proxy_arp_router_is_pointed_out() -> None:
    router = "02:52:44:59:00:01"
    out = layer2.judge_duplicates(
        _sweep({"198.18.10.1": [router], "198.18.10.101": [A01, router]}),
        {"router_address": "198.18.10.1"})
    assert out.status == Status.FAIL and "proxy ARP" in out.message.en


def test_someone_else_claiming_our_own_address_is_a_conflict() -> None:
    out = layer2.judge_duplicates(_sweep({"198.18.10.2": [A05]}), {})
    assert out.status == Status.FAIL and f"{OURS} and {A05}" in out.message.en


def test_unknown_machines_are_listed_in_one_warning() -> None:
    sweep = _sweep({"198.18.10.1": ["02:00:00:00:00:01"], "198.18.10.108": [A05],
                    "198.18.10.250": ["02:52:44:59:03:fa"]},
                   foreign={"198.18.11.104": ["02:00:00:00:00:04"]})
    out = layer2.judge_unknown(sweep, {"known": ["198.18.10.1"]})
    assert out.status == Status.WARN
    assert "2 machine(s) on the exam LAN are not in the site file" in out.message.en
    assert "198.18.10.108" in out.message.en and "198.18.10.250" in out.message.en
    assert "198.18.11.104" in out.message.en  # uses an address outside the subnet
    known = layer2.judge_unknown(sweep, {"known": ["198.18.10.1", "198.18.10.108",
                                                   "198.18.10.250"],
                                         "known_macs": ["02:00:00:00:00:04"]})
    assert known.status == Status.PASS


def _reach(address: str, received: int) -> CheckResult:
    return _result(ProbeOutcome(Status.PASS if received else Status.FAIL, Text("r", "r"),
                                {"received": received, "ports": {}}),
                   check_id=f"LAN-SUBNET/lab/{address}/reach")


def test_broadcast_domain_answers_ping_not_arp_is_behind_a_router() -> None:
    hosts = [{"label": f"seat A0{n} (198.18.10.10{n})", "address": f"198.18.10.10{n}",
              "mac": None, "reach_id": f"LAN-SUBNET/lab/198.18.10.10{n}/reach"}
             for n in (1, 2, 3)]
    sweep = _sweep({"198.18.10.101": [A01]})
    results = [_reach("198.18.10.101", 10), _reach("198.18.10.102", 10),
               _reach("198.18.10.103", 0)]
    out = layer2.judge_broadcast_domain(sweep, results, {"hosts": hosts})
    assert out.status == Status.FAIL
    assert out.measured["routed"] == ["seat A02 (198.18.10.102)"]
    assert out.measured["silent"] == ["seat A03 (198.18.10.103)"]
    assert "answer ping but not ARP" in out.message.en and "路由器" in out.message.zh
    ok = layer2.judge_broadcast_domain(sweep, results[:1], {"hosts": hosts[:1]})
    assert ok.status == Status.PASS and "1 of 1" in ok.message.en


def test_broadcast_domain_finds_a_known_mac_outside_the_subnet() -> None:
    hosts = [{"label": "seat A04 (198.18.10.104)", "address": "198.18.10.104",
              "mac": None, "reach_id": "LAN-SUBNET/lab/198.18.10.104/reach"}]
    sweep = _sweep({}, foreign={"198.18.11.104": ["02:52:44:59:01:68"]})
    out = layer2.judge_broadcast_domain(
        sweep, [_reach("198.18.10.104", 0)],
        {"hosts": hosts, "previous_macs": {"198.18.10.104": "02:52:44:59:01:68"}})
    assert out.status == Status.FAIL
    assert ("seat A04 (198.18.10.104) is on the exam LAN at 198.18.11.104 (its MAC "
            "02:52:44:59:01:68 answers there): wrong subnet, set it to 198.18.10.104"
            in out.message.en)


ROGUE = {"server_id": "198.18.10.250", "server_ip": "198.18.10.250",
         "server_mac": "02:52:44:59:03:fa", "offered": "198.18.10.175",
         "subnet_mask": "255.255.255.0", "router": ["198.18.10.250"], "dns": [],
         "lease_s": 600, "first_s": 3.0}


def test_rogue_dhcp() -> None:
    out = layer2.judge_dhcp(_sweep({}, offers=[ROGUE]), {"dhcp_server": None})
    assert out.status == Status.FAIL
    assert ("198.18.10.250 (MAC 02:52:44:59:03:fa) offers 198.18.10.175/255.255.255.0, "
            "gateway 198.18.10.250") in out.message.en
    assert "fixed addresses" in out.message.en and "私设 DHCP" in out.message.zh
    assert layer2.judge_dhcp(_sweep({}, offers=[ROGUE]),
                             {"dhcp_server": "198.18.10.250"}).status == Status.PASS
    assert layer2.judge_dhcp(_sweep({}), {"dhcp_server": None}).status == Status.PASS
    assert layer2.judge_dhcp(_sweep({}), {"dhcp_server": "198.18.10.1"}).status == Status.WARN
    fail = layer2.judge_dhcp(_sweep({}, offers=[ROGUE]), {"dhcp_server": "198.18.10.1"})
    assert fail.status == Status.FAIL and "the room's own is 198.18.10.1" in fail.message.en


# ---------------------------------------------------------------- planning


LAB_SITE = textwrap.dedent("""\
    site: {name: Layer-2 test room, code: L2-1}
    profile: cbec
    rooms:
      - id: lab
        subnet: 198.18.10.0/24
        router: {address: 198.18.10.1, mac: "02:52:44:59:00:01"}
        switch: {address: 198.18.10.3}
        ups: {address: 198.18.10.4}
        exam_servers:
          primary: {address: 198.18.10.10, ports: [80]}
        proctor: {address: 198.18.10.2}
        seats:
          A01: {address: 198.18.10.101, mac: "02:52:44:59:01:65"}
          A02: 198.18.10.102
          A03: 198.18.10.103
          A04: {address: 198.18.10.104, mac: "02:52:44:59:01:68"}
          A05: 198.18.10.105
          A06: {address: 198.18.10.106, mac: "02:52:44:59:01:6a"}
          A07: {address: 198.18.10.107, mac: "02:52:44:59:01:99"}
    """)


def _plan(tmp_path: Path, only: set[str] | None = None) -> Any:
    from readiness.config.load import load_site
    from readiness.config.profile import available_profiles, load_profile
    from readiness.planning import PlanContext, build_plan

    path = tmp_path / "site.yaml"
    path.write_text(LAB_SITE)
    site = load_site(path, set(available_profiles()))
    return build_plan(PlanContext(site, load_profile("cbec")), None, only)


def test_one_sweep_per_room_and_strictness_from_the_profile(tmp_path: Path) -> None:
    from readiness.planning import layer2 as plan2

    plan = _plan(tmp_path, {"LAN-FIXED-IP"})  # pulls in LAN-SUBNET, which owns the sweep
    sweeps = [c for c in plan.checks if c.probe == "l2_sweep"]
    assert [c.check_id for c in sweeps] == ["LAN-SUBNET/lab/l2-sweep"]
    from probes import registry

    assert sweeps[0].params["subnet"] == SUBNET and registry()["l2_sweep"] is l2_sweep.run
    assert sweeps[0].params["dhcp_window_s"] == 4.0  # LanSubnetThresholds' one default
    assert sweeps[0].deadline_s > sweeps[0].params["dhcp_window_s"]
    hosts = {(c.subject.kind, c.subject.name): c for c in plan.checks
             if c.requirement == "LAN-FIXED-IP" and c.check_id.endswith("/arp")}
    # cbec's rule names the proctor and the router; seats are judged leniently
    assert hosts[(Kind.ROUTER, "router")].judge_params["strict"] is True
    assert hosts[(Kind.PROCTOR, "proctor")].judge_params["strict"] is True
    assert hosts[(Kind.EXAM_SERVER, "primary")].judge_params["strict"] is False
    assert (hosts[(Kind.SEAT, "A07")].judge_params["configured_mac"]
            == "02:52:44:59:01:99")
    derived = [c for c in plan.checks if c.check_id.startswith(
        ("LAN-FIXED-IP/lab/", "LAN-SUBNET/lab/l2-d", "LAN-SUBNET/lab/l2-u"))]
    assert derived and all(c.derived and (c.judge or "").startswith("layer2.")
                           for c in derived)
    assert all(c.judge_params["sweep_id"] == "LAN-SUBNET/lab/l2-sweep" for c in derived)
    plan2.with_previous_macs(plan.checks, {"198.18.10.102": A01})
    assert (hosts[(Kind.SEAT, "A02")].judge_params["previous_macs"]
            == {"198.18.10.102": A01})


def test_derived_checks_run_from_one_canned_sweep(tmp_path: Path) -> None:
    """The planned checks through the real runner, with the probes swapped for canned
    outcomes: the wiring from sweep to every judgement, without a packet."""
    from readiness.config.profile import load_profile
    from readiness.planning import layer2 as plan2
    from readiness.runner import Runner, run_checks

    plan = _plan(tmp_path, {"LAN-SUBNET", "LAN-FIXED-IP"})
    sweep = _sweep({"198.18.10.1": ["02:52:44:59:00:01"], "198.18.10.10": ["02:52:44:59:00:0a"],
                    "198.18.10.101": [A01], "198.18.10.102": ["02:52:44:59:01:66"],
                    "198.18.10.106": ["02:52:44:59:01:6a", A05],
                    "198.18.10.107": ["02:52:44:59:01:6b"],
                    "198.18.10.250": ["02:52:44:59:03:fa"]},
                   offers=[ROGUE])

    async def canned_sweep(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
        return ProbeOutcome(sweep.status, sweep.message, sweep.measured)

    async def canned_reach(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
        # what probes/reachability.py measures: A03 silent, every other host answering
        received = 0 if params["address"] == "198.18.10.103" else 10
        return ProbeOutcome(Status.PASS, Text("measured", "已测量"), {
            "sent": 10, "received": received, "loss_pct": 100.0 - 10 * received,
            "rtt_min_ms": 0.2 if received else None, "rtt_avg_ms": 0.3 if received else None,
            "rtt_max_ms": 0.4 if received else None, "interval_s": 0.1, "icmp_socket": "raw",
            "ports": {str(p): "open" for p in params["ports"]}, "address": params["address"],
            "count": 10, "no_route": False, "port_timeout_s": 2.0})

    checks = [c for c in plan.checks if c.probe in ("l2_sweep", "reachability") or c.derived]
    probes = {"l2_sweep": canned_sweep, "reachability": canned_reach}
    results = run_checks(Runner(load_profile("cbec"), probes), checks)
    by_id = {r.check_id: r for r in results}
    assert by_id["LAN-FIXED-IP/lab/198.18.10.1/arp"].status == Status.PASS
    assert by_id["LAN-FIXED-IP/lab/198.18.10.2/arp"].status == Status.PASS  # this computer
    assert by_id["LAN-FIXED-IP/lab/198.18.10.107/arp"].status == Status.WARN
    assert by_id["LAN-FIXED-IP/lab/l2-conflicts"].status == Status.FAIL
    assert by_id["LAN-FIXED-IP/lab/dhcp"].status == Status.FAIL
    domain = by_id["LAN-SUBNET/lab/l2-domain"]
    # A04 and A05 answer ping (canned) but not ARP; A03 answers nothing
    assert domain.status == Status.FAIL
    assert domain.measured["routed"] == ["seat A04 (198.18.10.104)", "seat A05 (198.18.10.105)"]
    assert domain.measured["silent"] == ["seat A03 (198.18.10.103)"]
    assert by_id["LAN-SUBNET/lab/l2-unknown"].measured["unknown"] == {
        "198.18.10.250": ["02:52:44:59:03:fa"]}
    assert by_id["LAN-SUBNET/lab/198.18.10.103/reach"].status == Status.FAIL
    assert by_id["LAN-SUBNET/lab/198.18.10.101/reach"].status == Status.PASS
    assert plan2.observed_macs(results)["198.18.10.101"] == A01
    assert "198.18.10.106" not in plan2.observed_macs(results)  # two MACs: no single owner


# ---------------------------------------------------------------- the lab


def _lab_unavailable() -> str | None:
    if os.geteuid() != 0:
        return "the lab needs root (network namespaces)"
    from readiness.lab import missing_prerequisites

    missing = [what for what, _ in missing_prerequisites()]
    if shutil.which("setpriv") is None:
        missing.append("setpriv (util-linux)")
    return "missing: " + "; ".join(missing) if missing else None


# 8 seats: A01 healthy with its MAC configured, A02 healthy without, A03 absent, A04 in
# the wrong subnet, A05 took A06's address, A07 configured with a wrong MAC, A08 not in
# the site file; and a home router handing out addresses by DHCP at .250.
FAULTS = [
    {"kind": "absent_seat", "seat": "A03"},
    {"kind": "wrong_subnet", "seat": "A04", "address": "198.18.11.104/24"},
    {"kind": "duplicate_address", "seat": "A05", "same_as": "A06"},
    {"kind": "rogue_dhcp"},
]


@pytest.fixture(scope="module")
def room() -> Iterator[Any]:
    reason = _lab_unavailable()
    if reason:
        pytest.skip(reason)
    from readiness.lab import LabSpec, running

    spec = LabSpec(name="layer2-test", seats=8, agents=False, faults=FAULTS)
    with running(spec, f"rdyt{os.getpid() % 10**6}l") as lab:
        yield lab


def _in_proctor(lab: Any, argv: list[str], cwd: Path | None = None,
                timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    return subprocess.run(lab.exec_argv("proctor", argv), capture_output=True, text=True,
                          timeout=timeout, cwd=cwd or REPO, env=env, check=False)


@pytest.mark.lab
def test_lab_sweep_sees_both_macs_and_the_rogue_server_fast(room: Any) -> None:
    done = _in_proctor(room, [sys.executable, "-m", "readiness.commands.l2_sweep",
                              "--subnet", SUBNET])
    assert done.returncode == 0, done.stdout + done.stderr
    m = json.loads(done.stdout)["measured"]
    assert m["interface"] == "eth0" and m["local_address"] == "198.18.10.2"
    assert set(m["hosts"]["198.18.10.106"]) == {"02:52:44:59:01:6a", "02:52:44:59:01:69"}
    assert "198.18.10.103" not in m["hosts"] and "198.18.10.104" not in m["hosts"]
    assert m["hosts"]["198.18.10.250"] == ["02:52:44:59:03:fa"]
    [offer] = m["dhcp_offers"]
    assert offer["server_id"] == "198.18.10.250" and offer["router"] == ["198.18.10.250"]
    assert offer["server_mac"] == "02:52:44:59:03:fa"
    assert 150 <= int(offer["offered"].rsplit(".", 1)[1]) <= 199
    assert m["arp_s"] <= 2.5


@pytest.mark.lab
def test_lab_probe_without_cap_net_raw(room: Any) -> None:
    done = _in_proctor(room, ["setpriv", "--bounding-set=-net_raw", "--", sys.executable,
                              "-m", "readiness.commands.l2_sweep", "--subnet", SUBNET])
    doc = json.loads(done.stdout)
    assert doc["status"] == "warn", doc
    assert doc["measured"]["layer2"] is False
    assert "not verified" in doc["message"]["en"] and "CAP_NET_RAW" in doc["message"]["en"]


@pytest.fixture(scope="module")
def checked(room: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """`readiness check` of the room from its proctor PC, while seat A04 (wrong subnet)
    tries to reach its would-be gateway, as a PC does: its ARP broadcasts give it away."""
    folder = tmp_path_factory.mktemp("layer2")
    (folder / "site.yaml").write_text(LAB_SITE)
    chatter = subprocess.Popen(room.exec_argv("seat-A04", ["ping", "-c", "30", "-i", "0.3",
                                                           "198.18.11.1"]),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.3)
        done = _in_proctor(room, [sys.executable, "-m", "readiness", "check", "site.yaml",
                                  "--only", "LAN-SUBNET,LAN-FIXED-IP", "--json", "r.json",
                                  "--lang", "en"], cwd=folder, timeout=120)
    finally:
        chatter.terminate()
        chatter.wait(5)
    assert (folder / "r.json").exists(), done.stdout + done.stderr
    doc = json.loads((folder / "r.json").read_text())
    return {r["id"]: r for r in doc["results"]}


@pytest.mark.lab
def test_lab_duplicate_address_names_both_macs(checked: dict[str, dict[str, Any]]) -> None:
    r = checked["LAN-FIXED-IP/lab/l2-conflicts"]
    assert r["status"] == "fail"
    assert "198.18.10.106" in r["message"]
    assert "02:52:44:59:01:6a" in r["message"] and "02:52:44:59:01:69" in r["message"]
    assert "02:52:44:59:01:6a is the expected one" in r["message"]
    assert checked["LAN-FIXED-IP/lab/198.18.10.106/arp"]["status"] == "fail"


@pytest.mark.lab
def test_lab_absent_and_wrong_subnet_seats_fail(checked: dict[str, dict[str, Any]]) -> None:
    assert checked["LAN-SUBNET/lab/198.18.10.103/reach"]["status"] == "fail"
    assert checked["LAN-SUBNET/lab/198.18.10.104/reach"]["status"] == "fail"
    absent = checked["LAN-FIXED-IP/lab/198.18.10.103/arp"]
    assert absent["status"] == "warn" and "nothing answers ARP" in absent["message"]
    domain = checked["LAN-SUBNET/lab/l2-domain"]
    assert domain["status"] == "fail"
    assert ("seat A04 (198.18.10.104) is on the exam LAN at 198.18.11.104"
            in domain["message"])
    assert "wrong subnet, set it to 198.18.10.104" in domain["message"]


@pytest.mark.lab
def test_lab_rogue_dhcp_server_is_found(checked: dict[str, dict[str, Any]]) -> None:
    r = checked["LAN-FIXED-IP/lab/dhcp"]
    assert r["status"] == "fail"
    assert re.search(r"198\.18\.10\.250 \(MAC 02:52:44:59:03:fa\) offers "
                     r"198\.18\.10\.1[5-9]\d/255\.255\.255\.0, gateway 198\.18\.10\.250",
                     r["message"]), r["message"]
    assert [o["server_id"] for o in r["measured"]["rogue"]] == ["198.18.10.250"]


@pytest.mark.lab
def test_lab_healthy_hosts_pass_with_their_mac(checked: dict[str, dict[str, Any]]) -> None:
    for address, mac in (("198.18.10.101", "02:52:44:59:01:65"),
                         ("198.18.10.102", "02:52:44:59:01:66"),
                         ("198.18.10.1", "02:52:44:59:00:01"),
                         ("198.18.10.10", "02:52:44:59:00:0a"),
                         ("198.18.10.2", "02:52:44:59:00:02")):
        r = checked[f"LAN-FIXED-IP/lab/{address}/arp"]
        assert r["status"] == "pass", r
        assert r["measured"]["mac"] == mac
    sweep = checked["LAN-SUBNET/lab/l2-sweep"]
    assert sweep["status"] == "pass" and sweep["measured"]["layer2"] is True


@pytest.mark.lab
def test_lab_configured_mac_that_differs_warns(checked: dict[str, dict[str, Any]]) -> None:
    r = checked["LAN-FIXED-IP/lab/198.18.10.107/arp"]
    assert r["status"] == "warn"
    assert "02:52:44:59:01:6b" in r["message"] and "02:52:44:59:01:99" in r["message"]


@pytest.mark.lab
def test_lab_unknown_hosts_are_listed(checked: dict[str, dict[str, Any]]) -> None:
    r = checked["LAN-SUBNET/lab/l2-unknown"]
    assert r["status"] == "warn"
    assert set(r["measured"]["unknown"]) == {"198.18.10.108", "198.18.10.250"}
    assert "198.18.10.108 (02:52:44:59:01:6c)" in r["message"]
