"""The judges of what a host's agent reports about itself, on injected reports: the
lab's veth links always report 10000 Mb/s full duplex and `ethtool -s` cannot change
them, so a slow or half-duplex NIC cannot be made for real here."""

from __future__ import annotations

import textwrap
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
    assert "cannot be compared with i5: check by hand that its CPU is an i5" in outcome.message.en


def test_spec_passes_on_an_agent_that_did_not_answer() -> None:
    absent = ProbeOutcome(Status.SKIP, Text("no agent answers on A07", "无代理"),
                          {"agent": "absent"})
    req = load_profile("eda").requirement("SEAT-SPEC")
    assert req is not None
    judged = judge_seat_spec(absent, {"address": ADDRESS, "label": "A07", "port": 8765,
                                      "thresholds": thresholds_of(req, SeatSpecThresholds)})
    assert judged is absent


# ---------------------------------------------------------------- a seat on a DHCP lease


def _leased(left_s: int | None) -> dict[str, Any]:
    report = _nic_report(1000, 2, dynamic=True)
    if left_s is not None:
        for nic in report["nics"]:
            for entry in nic["ipv4"]:
                if entry["address"] == ADDRESS:
                    entry["lease_left_s"] = left_s
    return report


def test_a_seat_on_a_dhcp_lease_warns_with_its_lifetime_where_fixed_addresses_are_planned(
) -> None:
    outcome = _judge(_leased(86_280), {"warn_dhcp_lease": True})
    assert outcome.status == Status.WARN, outcome.message.en
    assert "holds its planned address 198.18.10.107 as a DHCP lease (23 h 58 min left)" \
        in outcome.message.en
    assert "next boot" in outcome.message.en
    assert "租约（剩余 23 小时 58 分钟）" in outcome.message.zh
    assert [f.code for f in outcome.findings] == ["seat.dhcp_lease"]
    assert outcome.measured["lease_left_s"] == 86_280
    # a fixed address passes; without the rule (LAN-SPEED reads the same report) no word
    assert _judge(_nic_report(1000, 2, dynamic=False), {"warn_dhcp_lease": True}).status \
        == Status.PASS
    assert _judge(_leased(86_280), LAN_SPEED).status == Status.PASS


def test_the_lease_lifetime_comes_from_ip_addr_and_only_for_leased_addresses() -> None:
    text = ('[{"ifname": "eth0", "addr_info": ['
            '{"family": "inet", "local": "198.18.10.103", "dynamic": true, '
            '"valid_life_time": 86280, "preferred_life_time": 86280}, '
            '{"family": "inet", "local": "198.18.10.203", "valid_life_time": 4294967295}, '
            '{"family": "inet6", "local": "2001:db8:10::103", "dynamic": true, '
            '"valid_life_time": 600}]}]')
    assert sr.parse_lease_lifetimes(text) == {"198.18.10.103": 86280}
    assert sr.parse_ip_addr_json(text)["198.18.10.103"] == sr.DHCP


def test_both_profiles_ask_every_seat_about_its_lease_when_the_room_plans_fixed_addresses(
        tmp_path: Path) -> None:
    from readiness.config.load import load_site
    from readiness.config.profile import available_profiles
    from readiness.planning import PlanContext, build_plan

    site_text = textwrap.dedent("""\
        site: {name: Test school, code: T-1}
        profile: eda
        rooms:
          - id: r1
            subnet: 198.18.10.0/24
            router: {address: 198.18.10.1}
            exam_servers:
              primary: {address: 198.18.10.10}
            proctor: {address: 198.18.10.2}
            seats:
              A01-A02: 198.18.10.101-102
        """)
    for dhcp, expected in (("", {"A01", "A02"}), ("    dhcp_server: 198.18.10.1\n", set())):
        path = tmp_path / "site.yaml"
        path.write_text(site_text + dhcp)
        site = load_site(path, set(available_profiles()))
        for profile in ("eda", "cbec"):
            plan = build_plan(PlanContext(site, load_profile(profile)), None, {"LAN-FIXED-IP"})
            seats = {c.subject.name for c in plan.checks
                     if c.judge_params.get("warn_dhcp_lease")}
            assert seats == expected, (profile, dhcp, seats)
