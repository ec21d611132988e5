"""The judges of what a host's agent reports about itself, on injected reports: the
lab's veth links always report 10000 Mb/s full duplex and `ethtool -s` cannot change
them, so a slow or half-duplex NIC cannot be made for real here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from readiness.agent import self_report as sr
from readiness.agent.inventory import parse_windows_inventory
from readiness.config.profile import SeatSpecThresholds, load_profile
from readiness.judges.registry import outcome_judges
from readiness.judges.seat import judge_seat_spec, judge_self_report
from readiness.planning import thresholds_of
from readiness.results import ProbeOutcome, Status, Text

ADDRESS = "198.18.10.107"


def _nic_report(speed: int, duplex: int, dynamic: bool, cpu: str = "Intel(R) Core(TM) "
                "i5-8500 CPU @ 3.00GHz", ram_gib: float = 8, disk_gb: int = 500,
                ) -> dict[str, Any]:
    half = disk_gb * 1_000_000_000 // 2
    raw = sr.RawFacts(
        hostname="seat-a07", os={"system": "Windows", "name": "Windows 10 Education"},
        cpu_model=cpu, logical_cores=6,
        physical_cores=6, ram_bytes=int(ram_gib * 2**30) - 300 * 2**20,
        partitions=[("C:\\", "C:\\", "NTFS", half + 5_000_000_000),
                    ("D:\\", "D:\\", "NTFS", half - 5_000_000_000)],
        if_addrs={"Ethernet": [sr.IfAddr("link", "00:1A:2B:3C:4D:5E"),
                               sr.IfAddr("inet", ADDRESS, "255.255.255.0")],
                  "Loopback": [sr.IfAddr("inet", "127.0.0.1", "255.0.0.0")]},
        if_stats={"Ethernet": sr.IfStat(True, duplex, speed, 1500),
                  "Loopback": sr.IfStat(True, 0, 0, 1500)},
        addressing={ADDRESS: sr.DHCP if dynamic else sr.STATIC},
        addressing_source="test", gateway="198.18.10.1", dns_servers=["198.18.10.1"])
    return sr.build_report(raw, version="9.9")


def _reported(report: dict[str, Any]) -> ProbeOutcome:
    # what the self_report probe returns (on the agent, or here for this machine)
    return ProbeOutcome(Status.PASS, Text("self-report collected", "已收集本机信息"),
                        {**report, "agent": "A07"})


def _judge(report: dict[str, Any], rule: dict[str, Any], address: str = ADDRESS,
           label: str = "A07") -> ProbeOutcome:
    return judge_self_report(_reported(report), {"address": address, "label": label,
                                                 "port": 8765, **rule})


LAN_SPEED = {"fail_below_mbps": 100, "warn_below_mbps": 1000, "warn_half_duplex": True}


def test_the_judges_are_registered() -> None:
    judges = outcome_judges()
    assert judges["seat.self_report"] is judge_self_report
    assert judges["seat.spec"] is judge_seat_spec


def test_gigabit_full_duplex_static_seat_passes() -> None:
    report = _nic_report(1000, 2, dynamic=False)
    outcome = _judge(report, {**LAN_SPEED, "require_static": True})
    assert outcome.status == Status.PASS, outcome.message
    m = outcome.measured
    assert (m["nic"], m["mac"], m["nic_speed_mbps"], m["duplex"], m["addressing"]) == (
        "Ethernet", "00:1a:2b:3c:4d:5e", 1000, "full", "static")
    assert m["ram_gib"] == 7.7 and m["disk_gb"] == 500.0
    assert m["cpu"].startswith("Intel(R) Core(TM) i5")
    assert "1000 Mbit/s, full duplex" in outcome.message.en and "全双工" in outcome.message.zh


def test_100_mbit_half_duplex_dhcp_seat() -> None:
    report = _nic_report(100, 1, dynamic=True)
    outcome = _judge(report, LAN_SPEED)
    assert outcome.status == Status.WARN
    assert "100 Mbit/s, below the recommended 1000" in outcome.message.en
    assert "half duplex" in outcome.message.en and "半双工" in outcome.message.zh
    assert outcome.measured["addressing"] == "dhcp"
    static = _judge(report, {"require_static": True})
    assert static.status == Status.FAIL and "DHCP" in static.message.en


def test_10_mbit_fails_and_unknown_nic_warns() -> None:
    outcome = _judge(_nic_report(10, 2, False), LAN_SPEED)
    assert outcome.status == Status.FAIL and "below the minimum 100" in outcome.message.en
    elsewhere = _judge(_nic_report(1000, 2, False), {}, "198.18.10.108", "A08")
    assert elsewhere.status == Status.WARN
    assert "none of its NICs has 198.18.10.108" in elsewhere.message.en


def test_an_agent_that_did_not_answer_is_passed_on() -> None:
    absent = ProbeOutcome(Status.WARN, Text("no agent answers on exam server", "无代理"),
                          {"agent": "absent"})
    assert _judge_outcome(absent) is absent


def _judge_outcome(outcome: ProbeOutcome) -> ProbeOutcome:
    return judge_self_report(outcome, {"address": ADDRESS, "label": "A07", "port": 8765})


def test_clock_skew_the_agent_showed_is_kept() -> None:
    outcome = _reported(_nic_report(1000, 2, False))
    outcome.measured["clock_skew_s"] = 12.5
    assert _judge_outcome(outcome).measured["clock_skew_s"] == 12.5


# -- SEAT-SPEC -------------------------------------------------------------------------------


def _spec(report: dict[str, Any], profile: str) -> ProbeOutcome:
    req = load_profile(profile).requirement("SEAT-SPEC")
    assert req is not None
    th = thresholds_of(req, SeatSpecThresholds)
    return judge_seat_spec(_reported(report), {"address": ADDRESS, "label": "A07",
                                               "port": 8765, "thresholds": th})


# what WINDOWS_INVENTORY prints on a Windows 10 seat that meets both certificates
WINDOWS10 = parse_windows_inventory(
    (Path(__file__).parent / "fixtures" / "windows10_seat_inventory.json").read_text("utf-8"))


def _windows10(**report: Any) -> dict[str, Any]:
    return {**_nic_report(1000, 2, False, **report), "inventory": WINDOWS10}


def test_an_i5_with_8_gb_meets_eda_and_only_the_cbec_minimum() -> None:
    outcome = _spec(_windows10(ram_gib=8), "eda")
    assert outcome.status == Status.PASS, outcome.message.en
    assert outcome.message.en.startswith("A07: all ")
    # 8 GB of RAM shows as 7.7 GiB usable: under cbec's recommended PC (8 GB), a warning
    cbec = _spec(_windows10(ram_gib=8), "cbec")
    assert cbec.status == Status.WARN
    assert "RAM 7.7 GB is below the recommended 8 GB" in cbec.message.en
    assert _spec(_windows10(ram_gib=16), "cbec").status == Status.PASS


def test_an_agent_without_an_inventory_says_which_items_are_not_verified() -> None:
    outcome = _spec(_nic_report(1000, 2, False, ram_gib=8), "eda")
    assert outcome.status == Status.WARN
    assert ("os, chrome, office, fscapture, usb, restore not verified: the agent sent no "
            "inventory") in outcome.message.en
    verdicts = {i["item"]: i["verdict"] for i in outcome.measured["items"]}
    assert verdicts["ram"] == "pass" and verdicts["chrome"] == "not_verified"


def test_below_the_minimum_pc_fails_naming_each_part() -> None:
    small = _windows10(cpu="Intel(R) Core(TM) i3-7100 CPU @ 3.90GHz", ram_gib=2, disk_gb=250)
    eda = _spec(small, "eda")
    assert eda.status == Status.FAIL
    for words in ("RAM 1.7 GB is below the minimum 4 GB", "disk 250 GB is below the minimum",
                  "is below i5"):
        assert words in eda.message.en, eda.message.en
    assert "内存" in eda.message.zh
    # cbec asks only for an i3
    assert "below i" not in _spec(small, "cbec").message.en


def test_a_cpu_without_a_tier_warns_to_check_by_hand() -> None:
    amd = _windows10(cpu="AMD Ryzen 5 3600")
    outcome = _spec(amd, "eda")
    assert outcome.status == Status.WARN
    assert "cannot be compared with i5: check it by hand" in outcome.message.en


def test_spec_passes_on_an_agent_that_did_not_answer() -> None:
    absent = ProbeOutcome(Status.SKIP, Text("no agent answers on A07", "无代理"),
                          {"agent": "absent"})
    req = load_profile("eda").requirement("SEAT-SPEC")
    assert req is not None
    judged = judge_seat_spec(absent, {"address": ADDRESS, "label": "A07", "port": 8765,
                                      "thresholds": thresholds_of(req, SeatSpecThresholds)})
    assert judged is absent
