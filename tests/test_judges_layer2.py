"""The layer-2 judges as the runner calls them (readiness/judges/layer2.py RESULTS_JUDGES):
each finds its room's sweep among the run's results by `sweep_id`. The verdicts on
recorded sweeps themselves are in tests/test_layer2.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from readiness.judges import layer2
from readiness.judges.registry import results_judges
from readiness.results import NOT_PROOF, CheckResult, ProbeOutcome, Status, Text, proves
from readiness.subject import Kind, Subject

SUBNET = "198.18.10.0/24"
OURS, A01, A05 = "02:52:44:59:00:02", "02:52:44:59:01:65", "02:52:44:59:01:69"
NAMES = ("layer2.host", "layer2.duplicates", "layer2.unknown", "layer2.broadcast_domain",
         "layer2.dhcp")


def _result(check_id: str, outcome: ProbeOutcome) -> CheckResult:
    return CheckResult("LAN-SUBNET", Text("t", "t"), Subject(Kind.ROOM, "lab", "lab"),
                       "coordinator", outcome.status,
                       outcome.message, outcome.measured, {}, None, datetime.now(UTC), 0.1,
                       check_id)


def _sweep(room: str, hosts: dict[str, list[str]]) -> CheckResult:
    measured = {"layer2": True, "interface": "eth0", "local_address": "198.18.10.2",
                "local_mac": OURS, "subnet": SUBNET, "hosts": hosts, "foreign": {},
                "dhcp_offers": [], "dhcp_sent": True, "dhcp_window_s": 4.0}
    return _result(f"LAN-SUBNET/{room}/l2-sweep",
                   ProbeOutcome(Status.PASS, Text("swept", "已扫描"), measured))


def _params(room: str = "r1", **kw: Any) -> dict[str, Any]:
    return {"room": room, "sweep_id": f"LAN-SUBNET/{room}/l2-sweep", "address": "198.18.10.101",
            "role_en": "seat A01", "role_zh": "考位 A01", "configured_mac": None,
            "strict": False, "previous_macs": {}, "hosts": [], "dhcp_server": None, **kw}


def test_every_layer2_judge_is_registered() -> None:
    assert set(NAMES) <= set(results_judges())


def test_each_room_is_judged_from_its_own_sweep() -> None:
    # two rooms with the same addresses: r2 has a conflict at .101, r1 does not
    results = [_sweep("r1", {"198.18.10.101": [A01]}),
               _sweep("r2", {"198.18.10.101": [A01, A05]})]
    judge = results_judges()["layer2.duplicates"]
    assert judge(results, _params("r1")).status == Status.PASS
    assert judge(results, _params("r2")).status == Status.FAIL
    host = results_judges()["layer2.host"]
    assert host(results, _params("r1")).measured["mac"] == A01


@pytest.mark.parametrize("name", NAMES)
def test_a_missing_sweep_is_an_error_never_a_pass(name: str) -> None:
    out = results_judges()[name]([], _params())
    assert out.status == Status.ERROR and "ARP sweep" in out.message.en


@pytest.mark.parametrize("name", NAMES)
def test_no_raw_socket_rights_is_a_warning_that_proves_nothing(name: str) -> None:
    refused = ProbeOutcome(Status.WARN, Text(
        "not verified: the ARP and DHCP checks need root (no permission to open a raw "
        "socket)", "未验证：ARP 与 DHCP 检查需要 root"),
        {"layer2": False, "needs": "root", NOT_PROOF: True})
    results = [_result("LAN-SUBNET/r1/l2-sweep", refused)]
    out = results_judges()[name](results, _params())
    assert out.status == Status.WARN and out.message.en.startswith("not verified")
    judged = _result("x", out)
    assert not proves(judged)


def test_the_judges_are_the_module_functions() -> None:
    # the wrappers add nothing but the lookup: same verdict as the pure function
    sweep = _sweep("r1", {"198.18.10.101": [A05]})
    params = _params(configured_mac=A01, strict=True)
    assert (layer2.host([sweep], params).message
            == layer2.judge_host(sweep, params).message)
