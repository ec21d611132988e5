"""The SNMP judges on recorded measurements: what the probes read from net-snmp (the
router, the UPS card) and from the lab switch (ports, each seat's port)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from readiness.config.profile import UpsRuntimeThresholds
from readiness.judges import snmp as judge
from readiness.judges.registry import outcome_judges
from readiness.results import ProbeOutcome, Status, Text


def _read(measured: dict) -> ProbeOutcome:
    return ProbeOutcome(Status.PASS, Text("read", "read"), measured)


# ---------------------------------------------------------------- device identity

ROUTER = {"target": "198.18.10.1:161", "snmp": "SNMPv3 user readiness (authPriv SHA/AES)",
          "sys_name": "exam-room-router", "sys_descr": "Linux router", "uptime_s": 93784.5,
          "checked_at": "2025-05-10T08:00:00+00:00"}


def test_a_router_that_answers_passes_with_its_uptime() -> None:
    out = judge.device(_read(ROUTER), {"name": "router"})
    assert out.status == Status.PASS
    assert out.message.en == "router (exam-room-router) answers SNMP, up 1 d 02:03"
    assert "已运行 1 d 02:03" in out.message.zh


def test_a_reboot_since_the_last_check_warns() -> None:
    hour_ago = (datetime.fromisoformat(ROUTER["checked_at"]) - timedelta(hours=1))
    rebooted = {**ROUTER, "uptime_s": 120.0, "previous_uptime_s": 10 * 86400,
                "previous_checked_at": hour_ago.isoformat(), "rebooted": True}
    out = judge.device(_read(rebooted), {"name": "router"})
    assert out.status == Status.WARN
    assert "router (exam-room-router) rebooted since the last check" in out.message.en
    assert "the check 01:00:00 ago saw 10 d 00:00" in out.message.en
    assert "重启" in out.message.zh
    steady = {**rebooted, "uptime_s": 10 * 86400 + 3600, "rebooted": False}
    assert judge.device(_read(steady), {"name": "router"}).status == Status.PASS


def test_no_uptime_is_an_error_naming_the_system_group() -> None:
    out = judge.device(_read({**ROUTER, "uptime_s": None, "sys_name": None}),
                       {"name": "router"})
    assert out.status == Status.ERROR and "1.3.6.1.2.1.1" in out.message.en
    assert out.message.en.startswith("router answers SNMP but gives no sysUpTime")


def test_an_snmp_failure_passes_through() -> None:
    failed = ProbeOutcome(Status.ERROR, Text("no answer", "无回应"), {"snmp_error": "timeout"})
    for name in ("snmp.device", "snmp.interfaces", "snmp.port_speed", "snmp.ups"):
        assert outcome_judges()[name](failed, {}) is failed


# ---------------------------------------------------------------- speed classes


@pytest.mark.parametrize("mbps, required, status", [
    (1000, "gigabit", Status.PASS), (10000, "gigabit", Status.PASS),
    (100, "gigabit", Status.FAIL), (100, "fast_ethernet", Status.WARN),
    (10, "fast_ethernet", Status.FAIL), (None, "gigabit", Status.WARN),
])
def test_speed_classes(mbps: int | None, required: str, status: Status) -> None:
    assert judge.classify_speed(mbps, required) == status


# ---------------------------------------------------------------- switch ports


def _port(name: str, status: str = "up", mbps: int | None = 1000, errors: int = 0) -> dict:
    return {"if_index": 3, "name": name, "if_type": 6, "oper_status": status,
            "speed_mbps": mbps, "in_errors": 10, "out_errors": 0, "in_discards": 0,
            "in_errors_delta": errors, "out_errors_delta": 0, "in_discards_delta": 0}


PORTS = {"name": "switch", "required_class": "gigabit", "gigabit_mbps": 1000, "fast_mbps": 100}


def test_switch_ports_down_slow_and_erroring() -> None:
    measured = {"target": "127.0.0.1:161", "interval_s": 0.6,
                "ports": {"swp1": _port("swp1"), "swp2": _port("swp2", mbps=100),
                          "swp3": _port("swp3", errors=7), "swp4": _port("swp4", "down")}}
    out = judge.interfaces(_read(measured), PORTS)
    assert out.status == Status.FAIL
    assert "port swp4 of switch is down" in out.message.en
    assert "port swp2 of switch runs at 100 Mbit/s (at least 1000 Mbit/s" in out.message.en
    assert "port swp3 of switch counted 7 new errors in 0.6 s" in out.message.en
    assert out.message.en.index("swp4") < out.message.en.index("swp3")  # worst first
    lenient = judge.interfaces(_read({**measured, "ports": {"swp2": _port("swp2", mbps=100)}}),
                               {**PORTS, "required_class": "fast_ethernet"})
    assert lenient.status == Status.WARN and "1000 Mbit/s is recommended" in lenient.message.en


def test_healthy_ports_pass_and_unknown_port_names_are_errors() -> None:
    measured = {"interval_s": 2.0, "ports": {"swp1": _port("swp1"), "swp3": _port("swp3")}}
    out = judge.interfaces(_read(measured), PORTS)
    assert out.status == Status.PASS
    assert out.message.en == "2 ports of switch are up at 1000 Mbit/s, no new errors"
    wrong = judge.interfaces(_read({**measured, "unknown_ports": ["gi9"],
                                    "known_ports": ["swp1", "swp3"]}), PORTS)
    assert wrong.status == Status.ERROR
    assert "switch has no port named 'gi9' (it has: swp1, swp3)" in wrong.message.en
    empty = judge.interfaces(_read({"interval_s": None, "ports": {}}), PORTS)
    assert empty.status == Status.WARN and "no Ethernet port that is up" in empty.message.en


def test_more_findings_than_listed_are_counted() -> None:
    ports = {f"p{i}": _port(f"p{i}", "down") for i in range(9)}
    out = judge.interfaces(_read({"interval_s": 1.0, "ports": ports}), PORTS)
    assert out.message.en.endswith("; and 3 more") and out.message.zh.endswith("另有 3 项")


# ---------------------------------------------------------------- seats' ports

SEAT_A, SEAT_B, SEAT_C, SEAT_OFF = ("02:52:44:00:00:0a", "02:52:44:00:00:0b",
                                    "02:52:44:00:00:0c", "02:52:44:00:00:0f")


def _seat(mac: str, port: str, mbps: int, macs_on_port: int = 1, duplex: str = "full") -> dict:
    return {"mac": mac, "bridge_port": 1, "if_index": 17, "port": port, "speed_mbps": mbps,
            "oper_status": "up", "duplex": duplex, "macs_on_port": macs_on_port,
            "vlan": None, "source": "BRIDGE-MIB", "if_index_assumed": False}


MACS = {"A01": SEAT_A, "A02": SEAT_B, "A03": SEAT_C, "A04": SEAT_OFF}
SEATS = {"A01": _seat(SEAT_A, "swp1", 1000), "A02": _seat(SEAT_B, "swp2", 100),
         "A03": _seat(SEAT_C, "swp3", 1000, macs_on_port=2), "A04": None}


def test_a_seat_on_a_100_mbit_port_fails_the_gigabit_rule() -> None:
    params = {**PORTS, "name": "127.0.0.1", "macs": MACS}
    out = judge.port_speed(_read({"seats": SEATS, "fdb_source": "BRIDGE-MIB"}), params)
    assert out.status == Status.FAIL
    assert out.message.en.startswith("seat A02's switch port swp2 runs at 100 Mbit/s")
    assert "another switch or hub" in out.message.en
    assert f"seat A04 ({SEAT_OFF}) is not in 127.0.0.1's MAC address table" in out.message.en
    assert "100 Mbit/s" in out.message.zh
    assert out.measured["required_class"] == "gigabit"
    lenient = judge.port_speed(_read({"seats": {"A02": SEATS["A02"]}}),
                               {**params, "required_class": "fast_ethernet"})
    assert lenient.status == Status.WARN


def test_seats_at_gigabit_pass_half_duplex_fails_and_none_found_is_an_error() -> None:
    params = {**PORTS, "macs": MACS}
    fast = {"A01": SEATS["A01"], "A03": _seat(SEAT_C, "swp3", 1000)}
    out = judge.port_speed(_read({"seats": fast}), params)
    assert out.status == Status.PASS
    assert out.message.en == "all 2 seats are on switch ports that are up at 1000 Mbit/s"
    half = judge.port_speed(_read({"seats": {"A01": _seat(SEAT_A, "swp1", 1000,
                                                          duplex="half")}}), params)
    assert half.status == Status.FAIL and "half duplex" in half.message.en
    none = judge.port_speed(_read({"seats": {"A04": None}}), params)
    assert none.status == Status.ERROR and "none of the 1 seats" in none.message.en


# ---------------------------------------------------------------- UPS

EDA_UPS = UpsRuntimeThresholds(min_minutes=120, covers="exam_server")


def _ups(on_battery: str = "warn", **values: object) -> ProbeOutcome:
    measured = {"target": "127.0.0.1:161", "snmp": "SNMPv2c (community)",
                "minutes_remaining": None, "output_source": None, "battery_status": None,
                "charge_pct": None, "seconds_on_battery": None, "model": None, **values}
    return judge.ups(_read(measured), {"name": "机房 UPS", "thresholds": EDA_UPS,
                                       "on_battery": on_battery})


@pytest.mark.parametrize("values, status, words", [
    ({"minutes_remaining": 42, "output_source": "normal", "battery_status": "batteryNormal"},
     Status.FAIL, "about 42 min, 120 min"),
    ({"minutes_remaining": 240, "output_source": "normal", "battery_status": "batteryNormal"},
     Status.PASS, "on mains"),
    ({"minutes_remaining": 240, "output_source": "battery", "battery_status": "batteryNormal",
      "seconds_on_battery": 95}, Status.WARN, "running on battery now (for 95 s)"),
    ({"minutes_remaining": 240, "output_source": "normal", "battery_status": "batteryLow"},
     Status.FAIL, "batteryLow"),
    ({"minutes_remaining": 240, "output_source": "bypass", "battery_status": "batteryNormal"},
     Status.FAIL, "bypass"),
    ({"minutes_remaining": 240, "output_source": "none", "battery_status": "batteryNormal"},
     Status.FAIL, "output is off"),
    ({"minutes_remaining": 240, "output_source": "booster", "battery_status": "batteryNormal"},
     Status.PASS, "the UPS is boosting it"),
    ({"minutes_remaining": 240}, Status.WARN, "battery status and output source cannot be read"),
    ({}, Status.ERROR, "does not report its estimated runtime"),
])
def test_ups_runtime(values: dict, status: Status, words: str) -> None:
    out = _ups(**values)
    assert out.status == status, out.message.en
    assert words in out.message.en
    assert out.message.zh and "UPS" in out.message.zh
    assert out.measured["min_minutes"] == 120


def test_ups_on_battery_can_be_made_a_failure() -> None:
    values = {"minutes_remaining": 300, "output_source": "battery",
              "battery_status": "batteryNormal"}
    assert _ups("warn", **values).status == Status.WARN
    assert _ups("fail", **values).status == Status.FAIL


def test_the_judges_are_registered_by_name() -> None:
    judges = outcome_judges()
    assert judges["snmp.ups"] is judge.ups and judges["snmp.device"] is judge.device
    assert judges["snmp.interfaces"] is judge.interfaces
    assert judges["snmp.port_speed"] is judge.port_speed
