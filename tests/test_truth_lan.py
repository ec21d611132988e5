"""Issue 11 points 0, 2 and 6 on recorded measurements: a seat whose firewall drops ping
is working, a seat typed into the wrong subnet is named at its real address, and
SERVER-SPARE judges the site file's backup server. The drill room (config/lab/room.yaml:
drops_ping A05, wrong_subnet A21) shows the same for real."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from probes import l2_sweep
from readiness.config.profile import (
    LanSeatsThresholds,
    LanSubnetThresholds,
    ServerSpareThresholds,
)
from readiness.judges import lan, layer2
from readiness.planning.layer2 import typo_addresses
from readiness.results import CheckResult, ProbeOutcome, Status, Text
from readiness.subject import Kind, Subject

TH = LanSubnetThresholds.model_validate({
    "ping_count": 10, "warn_loss_pct": 0, "fail_loss_pct": 50, "warn_rtt_ms": 5,
    "server_same_subnet": True, "proctor_same_subnet": True})
A05_MAC = "02:52:44:59:01:69"


def _reach(received: int, *, arp: list[str] | None = None,
           tcp: dict[str, Any] | None = None) -> ProbeOutcome:
    """What probes/reachability.py measures for 198.18.10.105."""
    return ProbeOutcome(Status.PASS, Text("measured", "已测量"), {
        "address": "198.18.10.105", "count": 10, "received": received, "sent": 10,
        "loss_pct": 100.0 - 10 * received, "rtt_min_ms": None,
        "rtt_avg_ms": 0.3 if received else None, "rtt_max_ms": None, "ports": {},
        "interval_s": 0.1, "icmp_socket": "raw", "no_route": False, "port_timeout_s": 2.0,
        "arp": {"asked": True, "macs": arp or []}, "tcp": tcp,
        "latency_from": "icmp" if received else ("tcp" if tcp and tcp["answered"] else None)})


def _tcp(answered: int, sent: int = 3) -> dict[str, Any]:
    return {"port": 8765, "sent": sent, "answered": answered, "rtt_avg_ms": 0.4,
            "loss_pct": 100.0 * (sent - answered) / sent}


def test_a_seat_dropping_ping_with_its_agent_answering_warns_with_tcp_figures() -> None:
    out = lan.judge_reachability(_reach(0, arp=[A05_MAC], tcp=_tcp(3)), {"thresholds": TH})
    assert out.status == Status.WARN
    assert "answers on the LAN" in out.message.en and "drops ping" in out.message.en
    assert "allow ICMP echo" in out.message.en and "ICMP" in out.message.zh
    assert "switched on" not in out.message.en and "cable" not in out.message.en
    assert out.measured["latency_from"] == "tcp" and out.measured["tcp"]["answered"] == 3


def test_a_seat_dropping_ping_without_agent_is_up_by_arp_and_says_latency_is_unmeasured(
) -> None:
    out = lan.judge_reachability(_reach(0, arp=[A05_MAC]), {"thresholds": TH})
    assert out.status == Status.WARN
    assert A05_MAC in out.message.en and "not measured" in out.message.en


def test_tcp_loss_is_judged_like_ping_loss() -> None:
    out = lan.judge_reachability(_reach(0, arp=[A05_MAC], tcp=_tcp(1)), {"thresholds": TH})
    assert out.status == Status.FAIL and "lost 2 of 3 TCP connects" in out.message.en


def test_nothing_answering_names_every_attempt_and_the_other_address_possibility() -> None:
    out = lan.judge_reachability(_reach(0, tcp=_tcp(0)), {"thresholds": TH})
    assert out.status == Status.FAIL
    assert "10 pings, 3 TCP connects to port 8765, ARP" in out.message.en
    assert "set to another address" in out.message.en
    # the cause of the seat's other findings: the fix list leads its line with it
    [finding] = out.findings
    assert finding.root_cause and finding.code == "lan.no_answer"
    assert finding.what.en == "nothing answers (10 pings, 3 TCP connects to port 8765, ARP)"
    assert "198.18.10.105" not in finding.what.en + finding.what.zh


def _result(check_id: str, outcome: ProbeOutcome, seat: str = "") -> CheckResult:
    return CheckResult("LAN-SUBNET", Text("t", "t"), Subject(Kind.SEAT, seat, "lab"),
                       "coordinator", outcome.status,
                       outcome.message, outcome.measured, {}, None, datetime.now(UTC), 0.1,
                       check_id)


def test_lan_seats_counts_a_seat_that_only_drops_ping() -> None:
    judged = lan.judge_reachability(_reach(0, arp=[A05_MAC], tcp=_tcp(3)), {"thresholds": TH})
    results = [_result("LAN-SUBNET/lab/198.18.10.105/reach", judged, "A05")]
    th = LanSeatsThresholds(min_seats=1, recommended_seats=1)
    out = lan.count_seats(results, {"room": "lab", "seats": ["A05"], "thresholds": th})
    assert out.status == Status.PASS and out.measured["working_seats"] == 1


# ---------------------------------------------------------------- wrong subnet


def test_typo_addresses_cover_the_neighbouring_subnets_and_stay_outside_the_room() -> None:
    found = typo_addresses("198.18.10.121", "198.18.10.0/24")
    assert "198.18.11.121" in found and "198.18.9.121" in found and "198.18.1.121" in found
    assert all(not a.startswith("198.18.10.") for a in found)


def _sweep(foreign: dict[str, list[str]]) -> CheckResult:
    measured = {"layer2": True, "subnet": "198.18.10.0/24", "local_address": "198.18.10.2",
                "local_mac": "02:52:44:59:00:02", "hosts": {}, "foreign": foreign}
    return _result("LAN-SUBNET/lab/l2-sweep",
                   ProbeOutcome(Status.PASS, Text("swept", "已扫描"), measured))


def test_a_wrong_subnet_seat_is_named_at_its_real_address() -> None:
    sweep = _sweep({"198.18.11.121": ["02:52:44:59:01:79"]})
    out = layer2.judge_host(sweep, {
        "address": "198.18.10.121", "role_en": "seat A21", "role_zh": "考位 A21",
        "configured_mac": None, "strict": False, "previous_macs": {},
        "typos": typo_addresses("198.18.10.121", "198.18.10.0/24")})
    assert out.status == Status.WARN
    assert ("seat A21 is on the exam LAN at 198.18.11.121" in out.message.en
            and "wrong subnet, set it to 198.18.10.121" in out.message.en)
    assert "198.18.11.121" in out.message.zh and "子网错误" in out.message.zh
    assert out.measured["found_at"] == "198.18.11.121"
    # the finding says where it is and what to do, without naming whose check it is
    [finding] = out.findings
    assert finding.code == "l2.wrong_subnet" and not finding.root_cause
    assert finding.what.en.startswith("on the exam LAN at 198.18.11.121 (")
    assert finding.action == Text("set its address to 198.18.10.121",
                                  "请把其地址改为 198.18.10.121")
    assert "A21" not in finding.what.en + finding.what.zh + finding.action.en


def test_the_rooms_broadcast_domain_says_the_wrong_subnet_of_the_seat_it_is_about() -> None:
    seat = Subject(Kind.SEAT, "A21", "lab", "198.18.10.121")
    out = layer2.judge_broadcast_domain(_sweep({"198.18.11.121": ["02:52:44:59:01:79"]}), [], {
        "hosts": [{"label": "seat A21 (198.18.10.121)", "subject": seat,
                   "address": "198.18.10.121", "mac": None, "reach_id": "",
                   "typos": typo_addresses("198.18.10.121", "198.18.10.0/24")}]})
    assert out.status == Status.FAIL and "set it to 198.18.10.121" in out.message.en
    [finding] = out.findings
    assert finding.subject == seat and finding.action.en == "set its address to 198.18.10.121"


def test_an_unmatched_outsider_is_named_with_its_mac_and_a_matched_one_is_not_repeated(
) -> None:
    sweep = _sweep({"198.18.11.121": ["02:52:44:59:01:79"],
                    "198.51.100.77": ["02:00:00:00:00:77"]})
    out = layer2.judge_unknown(sweep, {"known": [], "known_macs": [], "previous_macs": {},
                                       "typo_of": {"198.18.11.121": "A21"}})
    assert "198.51.100.77 (MAC 02:00:00:00:00:77)" in out.message.en
    assert "198.18.11.121" not in out.message.en


def _udp_frame(src_mac: str, src_ip: str, dport: int) -> bytes:
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether

    return bytes(Ether(src=src_mac, dst="01:00:5e:00:00:fb") / IP(src=src_ip, dst="224.0.0.251")
                 / UDP(sport=dport, dport=dport) / b"hello")


def test_the_sweep_hears_a_pc_chattering_from_a_foreign_address() -> None:
    local = l2_sweep.LocalInterface("eth0", "198.18.10.2", "02:52:44:59:00:02")
    collector = l2_sweep._Collector(local, l2_sweep.ipaddress.IPv4Network("198.18.10.0/24"), 1)
    collector.feed(_udp_frame("02:52:44:59:01:79", "198.18.11.121", 5353), 0.1)  # mDNS
    collector.feed(_udp_frame("02:52:44:59:01:65", "198.18.10.101", 5355), 0.1)  # in subnet
    assert collector.foreign == {"198.18.11.121": ["02:52:44:59:01:79"]}


def test_foreign_addresses_are_asked_by_arp_probe_from_0_0_0_0() -> None:
    frames = l2_sweep.arp_requests("02:52:44:59:00:02", "0.0.0.0", ["198.18.11.121"])
    from scapy.layers.l2 import ARP, Ether

    arp = Ether(frames["198.18.11.121"])[ARP]
    assert arp.op == 1 and arp.psrc == "0.0.0.0" and arp.pdst == "198.18.11.121"


# ---------------------------------------------------------------- SERVER-SPARE


def _spare(received: int, arp: list[str] | None = None) -> ProbeOutcome:
    outcome = _reach(received, arp=arp)
    outcome.measured["address"] = "198.18.10.11"
    return outcome


def test_a_backup_server_that_answers_passes_and_one_that_does_not_fails() -> None:
    assert lan.judge_spare(_spare(10), {}).status == Status.PASS
    silent = lan.judge_spare(_spare(0), {})
    assert silent.status == Status.FAIL and "198.18.10.11" in silent.message.en
    assert "备用考试服务器" in silent.message.zh


def test_no_backup_server_warns_where_recommended() -> None:
    warn = lan.spare_missing([], {"thresholds": ServerSpareThresholds(backup_recommended=True)})
    assert warn.status == Status.WARN and "exam_servers.backup" in warn.message.en
    ok = lan.spare_missing([], {"thresholds": ServerSpareThresholds(backup_recommended=False)})
    assert ok.status == Status.PASS


# ---------------------------------------------------------------- an unstable link


def _windowed(replies: str) -> ProbeOutcome:
    received = replies.count("1")
    out = _reach(received)
    out.measured.update(replies=replies, sample_window_s=4.0)
    return out


def test_losses_in_runs_over_the_window_name_an_unstable_link() -> None:
    out = lan.judge_reachability(_windowed("1110001111"), {"thresholds": TH})
    assert out.status == Status.WARN
    assert "unstable link" in out.message.en and "1110001111" in out.message.en
    assert "3 of 10 pings were lost" in out.message.en and "时断时通" in out.message.zh
    assert [f.code for f in out.findings] == ["lan.unstable_link"]


def test_scattered_drops_are_loss_not_an_unstable_link() -> None:
    out = lan.judge_reachability(_windowed("1011101111"), {"thresholds": TH})
    assert out.status == Status.WARN
    assert "lost 2 of 10 pings" in out.message.en and "unstable" not in out.message.en


def test_no_echo_at_all_with_the_agent_answering_is_still_drops_ping() -> None:
    out = _reach(0, arp=[A05_MAC], tcp=_tcp(3))
    out.measured.update(replies="0" * 10, sample_window_s=4.0)
    judged = lan.judge_reachability(out, {"thresholds": TH})
    assert judged.status == Status.WARN and "drops ping" in judged.message.en
    assert "unstable" not in judged.message.en
