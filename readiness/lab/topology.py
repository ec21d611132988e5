"""Who lives where in the simulated room: namespaces, addresses, links, shaping.

Addresses are fixed (the lab's site file is written against them) and come only from
the benchmarking and documentation ranges, so nothing the lab sends can mean anything
outside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import LabError
from .spec import CameraSpec, DuplicateAddress, LabSpec, WrongSubnet

LAN_PREFIXLEN = 24
ROUTER_LAN = "198.18.10.1"
PROCTOR = "198.18.10.2"
SWITCH = "198.18.10.3"
UPS = "198.18.10.4"
RECORDER = "198.18.10.5"
RECORDER_ONVIF_PORT = 80
SERVER = "198.18.10.10"
LAN_NET = "198.18.10.0/24"
SEAT_FIRST, SEAT_LAST = "198.18.10.101", "198.18.10.140"

ROUTER_WAN = "203.0.113.2"
ISP = "203.0.113.1"
WAN_PREFIXLEN = 24

EXAM_SITE = "198.51.100.10"
PUBLIC_RESOLVER = "198.51.100.53"
SPEED_SITE = "198.51.100.80"
SITES = {
    "exam.example": EXAM_SITE,
    "games.example": "198.51.100.20",
    "video.example": "198.51.100.21",
    "speed.example": SPEED_SITE,
}
BLOCKED_SITES = ("games.example", "video.example")

# IPv6 (ipv4_only_router_with_ipv6): documentation addresses (2001:db8::/32) only. The
# lab has no link to the host, and "the internet" blackholes every other IPv6 address,
# so no IPv6 packet can leave the lab's namespaces.
LAN6_PREFIXLEN = 64
ROUTER_LAN6 = "2001:db8:10::1"
LAN6_NET = "2001:db8:10::/64"
ROUTER_WAN6 = "2001:db8:113::2"
ISP6 = "2001:db8:113::1"
# the blocked sites answer on IPv6 too (the exam and speed sites stay IPv4-only)
SITES6 = {
    "games.example": "2001:db8:51::20",
    "video.example": "2001:db8:51::21",
}

IPERF_PORT = 5201
RTSP_PORT = 554
RTSP_PATH = "/stream"

# Interface names. Hosts see one NIC, eth0; the router has lan0/wan0, the ISP side isp0.
HOST_NIC = "eth0"
ROUTER_LAN_NIC = "lan0"
ROUTER_WAN_NIC = "wan0"
ISP_NIC = "isp0"
BRIDGE = "br0"
# The role of the rogue_dhcp fault's device: its namespace is <prefix>-rogue-dhcp.
ROGUE_DHCP = "rogue-dhcp"

PREFIX = re.compile(r"^[a-z][a-z0-9]{0,11}$")


def check_prefix(prefix: str) -> str:
    """Every name the lab creates starts with `<prefix>-`; keep the prefix plain and short."""
    if not PREFIX.match(prefix):
        raise LabError(
            f"lab prefix {prefix!r} must be 1-12 lowercase letters or digits, starting "
            "with a letter (e.g. rdy)"
        )
    return prefix


def seat_address(seat: str) -> str:
    return f"198.18.10.{100 + int(seat[1:])}"


def seat_address6(seat: str) -> str:
    return f"2001:db8:10::{100 + int(seat[1:])}"


def camera_address(camera: CameraSpec) -> str:
    return f"198.18.10.{200 + camera.number}"


def _mac(host_octet: int, group: int = 0) -> str:
    # Locally administered, "RDY" in the middle: recognisable in ARP tables and stable
    # across rebuilds, so an ARP sweep sees the same MAC for the same seat every time.
    return f"02:52:44:59:{group:02x}:{host_octet:02x}"


@dataclass(frozen=True)
class LanHost:
    """A machine on the room's LAN: its own namespace, one veth to a switch port."""

    role: str  # namespace suffix: "seat-A07", "srv", "proctor", "ups", "cam-1"
    port: str  # the switch-side veth, named after the host
    address: str  # with prefix length, "198.18.10.107/24"
    gateway: str | None
    mac: str
    link_mbit: int | None  # tbf on both ends of the veth; None leaves the link unshaped
    # with prefix length, "2001:db8:10::107/64", default route via the router's LAN6
    address6: str | None = None
    # the IPv4 address is a DHCP lease of this many seconds (iproute2 shows it "dynamic")
    lease_s: int | None = None


@dataclass(frozen=True)
class Topology:
    prefix: str
    spec: LabSpec
    hosts: list[LanHost] = field(default_factory=list)
    cameras: list[CameraSpec] = field(default_factory=list)

    @property
    def uplink_mbit(self) -> int:
        return self.spec.effective_uplink_mbit()

    def ns(self, role: str) -> str:
        return f"{self.prefix}-{role}"

    def roles(self) -> list[str]:
        return ["sw", "rtr", "inet", *(h.role for h in self.hosts)]

    def namespaces(self) -> list[str]:
        return [self.ns(r) for r in self.roles()]

    def host(self, role: str) -> LanHost:
        for h in self.hosts:
            if h.role == role:
                return h
        raise LabError(f"the lab has no host {role!r}")


def plan(spec: LabSpec, prefix: str) -> Topology:
    check_prefix(prefix)
    cams = spec.effective_cameras()
    v6 = spec.ipv4_only_router_with_ipv6
    hosts = [
        LanHost("srv", "p-srv", f"{SERVER}/24", ROUTER_LAN, _mac(10), spec.server_link_mbit),
        LanHost("proctor", "p-proctor", f"{PROCTOR}/24", ROUTER_LAN, _mac(2), None,
                "2001:db8:10::2/64" if v6 else None),
        LanHost("ups", "p-ups", f"{UPS}/24", ROUTER_LAN, _mac(4), None),
    ]
    for seat in spec.seat_ids():
        fault = spec.seat_fault(seat)
        address, gateway = f"{seat_address(seat)}/24", ROUTER_LAN
        if fault is not None and fault.kind == "absent_seat":
            continue
        if isinstance(fault, WrongSubnet):
            # A PC typed into the wrong subnet has no working gateway: leave it without one.
            address, gateway = str(fault.address), None
        elif isinstance(fault, DuplicateAddress):
            address = f"{seat_address(fault.same_as)}/24"
        hosts.append(
            LanHost(
                f"seat-{seat}",
                f"p-{seat}",
                address,
                gateway,
                _mac(100 + int(seat[1:]), group=1),
                spec.seat_rate_mbit(seat),
                # a seat typed into the wrong subnet has no gateway for IPv6 either
                f"{seat_address6(seat)}/{LAN6_PREFIXLEN}" if v6 and gateway else None,
                spec.lease_s(seat),
            )
        )
    for cam in cams:
        hosts.append(
            LanHost(
                cam.name,
                f"p-{cam.name}",
                f"{camera_address(cam)}/24",
                ROUTER_LAN,
                _mac(200 + cam.number, group=2),
                None,
            )
        )
    if spec.recorder is not None:
        hosts.append(LanHost("nvr", "p-nvr", f"{RECORDER}/24", ROUTER_LAN, _mac(5), None))
    rogue = spec.rogue_dhcp()
    if rogue is not None:
        # Cabled to the exam switch like any PC; no gateway, since it plays the gateway.
        hosts.append(
            LanHost(ROGUE_DHCP, "p-rogue", str(rogue.address), None, _mac(0xFA, group=3), None)
        )
    return Topology(prefix, spec, hosts, cams)
