"""Layer 2 of the exam LAN: one ARP sweep + DHCP discovery per room, judged many ways.

LAN-SUBNET (plan_layer2_for_subnet): the sweep itself, the broadcast domain (the proctor,
the exam servers and the seats answer ARP: no router between them), machines the site
file does not name.
LAN-FIXED-IP (plan_lan_fixed_ip): every host answers at its configured address with its
configured MAC (strictly for the hosts the certificate's rule names: thresholds.roles),
no address is answered by two MACs, no DHCP server but the room's own answers. The
profiles put "no duplicate IP, no rogue DHCP server" under LAN-FIXED-IP, so those
findings are reported there, under that rule's citation.

The sweep is a probe check of LAN-SUBNET; everything else is a derived check whose judge
(readiness/judges/layer2.py) reads its measured data, so the room is swept once however
many checks judge it. Whether the proctor's address is static or DHCP comes from
readiness.planning.agents.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..checks import COORDINATOR, Check
from ..config.profile import LanFixedIpThresholds, LanSubnetThresholds
from ..config.site import Room
from ..results import CheckResult
from ..subject import Subject
from ..subject import label as subject_label
from . import subjects
from .context import thresholds_of
from .knobs import knobs

if TYPE_CHECKING:
    from ..config.profile import Requirement
    from .context import PlanContext

# judge_params key marking the derived checks that read `previous_macs`
PREVIOUS_MACS = "previous_macs"


def sweep_check_id(room_id: str) -> str:
    return f"LAN-SUBNET/{room_id}/l2-sweep"


def _reach_id(room_id: str, address: str) -> str:
    # the id readiness.planning.lan gives each host's reachability check
    return f"LAN-SUBNET/{room_id}/{address}/reach"


def _hosts(ctx: PlanContext, room: Room) -> list[dict[str, Any]]:
    """Every host the site file places on the exam LAN with its role (for `roles`)."""
    out = [
        {"role": "router", "subject": subjects.router(room),
         "address": room.router.address, "mac": room.router.mac,
         "role_en": "the router", "role_zh": "路由器"},
        {"role": "proctor", "subject": subjects.proctor(room),
         "address": room.proctor.address, "mac": room.proctor.mac,
         "role_en": "the proctor PC", "role_zh": "监考机"},
    ]
    servers = [("primary", room.exam_servers.primary), ("backup", room.exam_servers.backup)]
    for name, server in servers:
        if server is None:
            continue
        out.append({"role": "exam_server",
                    "subject": (subjects.exam_server(room) if name == "primary"
                                else subjects.backup_server(room, server.address)),
                    "address": server.address, "mac": server.mac,
                    "role_en": f"the {name} exam server",
                    "role_zh": "主考试服务器" if name == "primary" else "备用考试服务器"})
    for seat in ctx.site.seats[room.id]:
        out.append({"role": "seat", "subject": subjects.seat(room, seat.label, seat.address),
                    "address": seat.address, "mac": seat.mac,
                    "role_en": f"seat {seat.label}", "role_zh": f"考位 {seat.label}"})
    return out


# at most this many out-of-subnet addresses are asked per seat
MAX_TYPOS_PER_HOST = 8


def _octet_typos(octet: int) -> list[int]:
    """What a hurried hand makes of one octet: a digit dropped, doubled or swapped, one
    off (10 -> 1, 100, 11, 01, 9)."""
    digits = str(octet)
    found = [octet - 1, octet + 1]
    for i in range(len(digits)):
        found.append(digits[:i] + digits[i + 1:])
        found.append(digits[:i + 1] + digits[i:])
        if i + 1 < len(digits):
            found.append(digits[:i] + digits[i + 1] + digits[i] + digits[i + 2:])
    out = []
    for value in found:
        try:
            number = int(value)
        except ValueError:
            continue  # a dropped digit of a one-digit octet
        if 0 <= number <= 255 and number != octet and number not in out:
            out.append(number)
    return out


def typo_addresses(address: str, subnet: str) -> list[str]:
    """Addresses a PC meant to be at `address` has when its subnet was typed wrong: the
    same host part in the neighbouring subnets, and typos of the octet that holds the
    network's last bits. Only ever asked by ARP probe (probes/l2_sweep.py)."""
    net = ipaddress.IPv4Network(subnet)
    addr = ipaddress.IPv4Address(address)
    if addr not in net:
        return []
    offset = int(addr) - int(net.network_address)
    out: list[ipaddress.IPv4Address] = []
    for step in (1, -1):
        base = int(net.network_address) + step * net.num_addresses
        if 0 <= base and base + offset <= 0xFFFFFFFF:
            out.append(ipaddress.IPv4Address(base + offset))
    octet = min(3, (net.prefixlen - 1) // 8)  # the octet holding the network's last bits
    if octet < 3:  # a /24 or wider: whole octets can be mistyped
        parts = list(addr.packed)
        for value in _octet_typos(parts[octet]):
            parts_typo = [*parts[:octet], value, *parts[octet + 1:]]
            out.append(ipaddress.IPv4Address(bytes(parts_typo)))
    unique = [a for a in dict.fromkeys(out)
              if a not in net and not (a.is_loopback or a.is_multicast or a.is_unspecified
                                       or a.is_reserved or a.is_link_local)]
    return [str(a) for a in unique[:MAX_TYPOS_PER_HOST]]


def _known_addresses(ctx: PlanContext, room: Room) -> list[str]:
    known = [h["address"] for h in _hosts(ctx, room)]
    for device in (room.switch, room.ups):
        if device is not None:
            known.append(device.address)
    if room.dhcp_server:
        known.append(room.dhcp_server)
    for camera in room.cameras:
        host = urlsplit(camera.url).hostname or ""
        try:
            known.append(str(ipaddress.IPv4Address(host)))
        except ValueError:
            continue  # a camera named by DNS name: cannot be matched to an address
    return known


def _derived(check_id: str, requirement: str, subject: Subject, aspect: str | None,
             judge: str, params: dict[str, Any],
             threshold: dict[str, Any] | None = None) -> Check:
    """A check judged from the room's sweep. The judge reads `judge_params` when it
    runs, so with_previous_macs() may still fill them in after planning."""
    return Check(check_id=check_id, requirement=requirement, subject=subject, aspect=aspect,
                 vantage=COORDINATOR, probe=None, threshold=threshold or {}, deadline_s=1.0,
                 judge=judge, judge_params={"sweep_id": sweep_check_id(params["room"]),
                                            **params})


def plan_layer2_for_subnet(ctx: PlanContext, req: Requirement, room: Room) -> list[Check]:
    th = thresholds_of(req, LanSubnetThresholds)
    seats = ctx.site.seats[room.id]
    outside = sorted({a for s in seats for a in typo_addresses(s.address, room.subnet)},
                     key=ipaddress.IPv4Address)
    sweep = Check(
        check_id=sweep_check_id(room.id),
        requirement="LAN-SUBNET",
        subject=subjects.room_subject(room),
        aspect="arp_sweep",
        vantage=COORDINATOR,
        probe="l2_sweep",
        params={"subnet": room.subnet, "arp_window_s": float(th.arp_window_s),
                "arp_retries": th.arp_retries, "dhcp": True,
                "dhcp_window_s": float(th.dhcp_window_s),
                **knobs("l2_sweep"),
                # ARP probes only: where a seat with a mistyped subnet would answer
                "outside": outside},
        deadline_s=th.dhcp_window_s + 3.0,
        judge="layer2.sweep",
    )
    subnet = ipaddress.IPv4Network(room.subnet)
    in_domain = [
        {"label": subject_label(h["subject"], None, "en"), "subject": h["subject"],
         "address": h["address"], "mac": h["mac"], "reach_id": _reach_id(room.id, h["address"]),
         "typos": typo_addresses(h["address"], room.subnet) if h["role"] == "seat" else []}
        for h in _hosts(ctx, room)
        # a host outside the subnet is routed by design (LAN-SUBNET's subnet check judges it)
        if h["role"] != "router" and ipaddress.IPv4Address(h["address"]) in subnet
    ]
    known_macs = sorted({h["mac"] for h in _hosts(ctx, room) if h["mac"]})
    return [
        sweep,
        _derived(f"LAN-SUBNET/{room.id}/l2-domain", "LAN-SUBNET",
                 subjects.room_subject(room), "broadcast_domain", "layer2.broadcast_domain",
                 {"room": room.id, "hosts": in_domain, PREVIOUS_MACS: {}},
                 {"arp_answers": "proctor, exam servers, seats"}),
        _derived(f"LAN-SUBNET/{room.id}/l2-unknown", "LAN-SUBNET",
                 subjects.room_subject(room), "unlisted", "layer2.unknown",
                 {"room": room.id, "known": _known_addresses(ctx, room),
                  "known_macs": known_macs, PREVIOUS_MACS: {},
                  # a seat answering at one of its typo addresses is named under its own
                  # checks, not again as a stranger
                  "typo_of": {a: s.label for s in seats
                              for a in typo_addresses(s.address, room.subnet)}}),
    ]


def plan_lan_fixed_ip(ctx: PlanContext, req: Requirement, room: Room) -> list[Check]:
    roles = set(thresholds_of(req, LanFixedIpThresholds).roles)
    hosts = _hosts(ctx, room)
    checks = []
    for h in hosts:
        strict = h["role"] in roles
        checks.append(_derived(
            f"LAN-FIXED-IP/{room.id}/{h['address']}/arp", "LAN-FIXED-IP", h["subject"], None,
            "layer2.host",
            {"room": room.id, "address": h["address"], "role_en": h["role_en"],
             "role_zh": h["role_zh"], "configured_mac": h["mac"], "strict": strict,
             "typos": (typo_addresses(h["address"], room.subnet) if h["role"] == "seat"
                       else []),
             PREVIOUS_MACS: {}},
            {"address": h["address"], "mac": h["mac"], "named_by_rule": strict}))
    expected = {h["address"]: h["mac"] for h in hosts if h["mac"]}
    checks.append(_derived(
        f"LAN-FIXED-IP/{room.id}/l2-conflicts", "LAN-FIXED-IP",
        subjects.room_subject(room), "conflicts", "layer2.duplicates",
        {"room": room.id, "names": {h["address"]: [h["role_en"], h["role_zh"]] for h in hosts},
         # whom a conflict at an address is about (the fix list's line for that host)
         "subjects": {h["address"]: h["subject"] for h in hosts},
         "mac_names": {h["mac"]: [h["role_en"], h["role_zh"]] for h in hosts if h["mac"]},
         "expected": expected, "router_address": room.router.address, PREVIOUS_MACS: {}},
        {"macs_per_address": 1}))
    checks.append(_derived(
        f"LAN-FIXED-IP/{room.id}/dhcp", "LAN-FIXED-IP", subjects.room_subject(room), "dhcp",
        "layer2.dhcp", {"room": room.id, "dhcp_server": room.dhcp_server},
        {"dhcp_server": room.dhcp_server}))
    return checks


def with_previous_macs(checks: list[Check], macs: dict[str, str]) -> None:
    """Give the layer-2 checks of a plan the MACs an earlier run saw ({address: mac}), so
    a host answering with another MAC than last time warns. Call after build_plan()."""
    for check in checks:
        if PREVIOUS_MACS in check.judge_params:
            check.judge_params[PREVIOUS_MACS] = dict(macs)


def observed_macs(results: list[CheckResult]) -> dict[str, str]:
    """{address: mac} for every address that exactly one MAC answered in this run's
    sweeps: what to store and hand to with_previous_macs() next time."""
    out: dict[str, str] = {}
    for result in results:
        if result.aspect != "arp_sweep" or not result.measured.get("layer2"):
            continue
        m = result.measured
        for address, macs in m.get("hosts", {}).items():
            if len(macs) == 1:
                out[address] = macs[0]
        if m.get("local_address") and m.get("local_mac"):
            out.setdefault(m["local_address"], m["local_mac"])
    return out


# the requirements this module plans checks for (readiness/planning/__init__.py finds it)
PLANS = {"LAN-SUBNET": [plan_layer2_for_subnet], "LAN-FIXED-IP": [plan_lan_fixed_ip]}
# the requirements whose checks these derive from
NEEDS = {"LAN-FIXED-IP": {"LAN-SUBNET"}}
