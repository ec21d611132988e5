"""Layer 2 of the exam LAN, seen from the coordinator: an ARP sweep and a DHCP discovery.

params:
  subnet          the room's subnet, e.g. "192.168.10.0/24" (required)
  interface       use this interface (default: the one with an address in `subnet`)
  arp_window_s    how long answers are collected after the first who-has (1.0)
  arp_retries     how often silent addresses are asked again inside the window (2)
  pace_pps        who-has frames per second, 0 = all at once (0); lower it only if
                  the switch's broadcast storm control drops the burst
  dhcp            also send a DHCP DISCOVER and list every server that offers (true)
  dhcp_window_s   how long offers are collected (4.0: dnsmasq waits 3 s before offering)
  max_hosts       refuse subnets with more addresses than this (4096)
  targets         ask only these addresses of the subnet (default: all of it)
  outside         addresses outside the subnet a mis-typed PC would have (a neighbouring
                  subnet, a typo in the network part): asked by ARP probe only, with
                  sender address 0.0.0.0 (RFC 5227), so nothing but ARP goes to them and
                  their ARP caches are not touched

Every who-has goes out at once and every ARP frame heard during the window is kept,
not only the first answer per address: two MACs answering one address (an address
conflict) is exactly what a request/response tool such as `srp` would hide. Meanwhile the
broadcasts and multicasts PCs send by themselves (NetBIOS, LLMNR, mDNS, SSDP, DHCP) are
listened to, and a sender with an address outside the subnet lands in `foreign`: a PC
typed into the wrong subnet is still cabled to the exam switch and talks. The DHCP
DISCOVER is broadcast from our own MAC with a random xid and never followed by a
REQUEST, so no server hands out a lease because of it.

The socket work runs on the caller's thread, polled from the event loop, and never in
a worker thread: a test (or the lab) may have moved only that thread into a network
namespace, and a thread pool would quietly sweep the host's own network instead.

Run by hand, inside the exam LAN (or a lab namespace):
    python -m readiness.commands.l2_sweep --subnet 198.18.10.0/24 [--no-dhcp]
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import ipaddress
import random
import socket
import sys
import time
from dataclasses import dataclass
from typing import Any

from readiness.checkkind import CheckKind, knobs, optional, param
from readiness.results import NOT_PROOF, ProbeOutcome, Status, Text

DEFAULT_ARP_WINDOW_S = 1.0
DEFAULT_ARP_RETRIES = 2
# dnsmasq (the DHCP server of most home routers) pings an address for 3 s before it
# offers it to a new client: a shorter window misses the commonest rogue server.
DEFAULT_DHCP_WINDOW_S = 4.0
DEFAULT_MAX_HOSTS = 4096
# Where the event loop cannot watch the socket (Npcap on Windows), how often it looks.
# Answers wait in the kernel's buffer meanwhile (made large below), so this only
# bounds the timing error of `first_s`.
POLL_S = 0.002
# How often a paced sweep wakes to send its next few requests.
PACE_TICK_S = 0.005
# A /24's answers arrive within a millisecond; the default 64 KiB buffer holds ~60 of
# them, so a burst from a full room would be dropped before we read it.
RCVBUF_BYTES = 4 * 1024 * 1024
SO_RCVBUFFORCE = 33  # Linux; lets root go past net.core.rmem_max
# UDP ports PCs broadcast or multicast on by themselves: DHCP (67/68), NetBIOS (137/138),
# SSDP (1900), mDNS (5353), LLMNR (5355). Heard only, never answered.
CHATTER_PORTS = (67, 68, 137, 138, 1900, 5353, 5355)
BPF_FILTER = "arp or (udp and (" + " or ".join(f"port {p}" for p in CHATTER_PORTS) + "))"
SOL_PACKET, PACKET_ADD_MEMBERSHIP, PACKET_MR_ALLMULTI = 263, 1, 2
BROADCAST = "ff:ff:ff:ff:ff:ff"
ZERO_MAC = "00:00:00:00:00:00"
# ARP request: Ethernet header (14) + hwtype, ptype, hwlen, plen, op (8) + sender MAC (6)
# + sender IP (4) + target MAC (6): the target IP starts here.
ARP_TPA_OFFSET = 38
ETH_MIN_FRAME = 60
VLAN = b"\x81\x00"

NEEDS = ("root, or CAP_NET_RAW for this Python (setcap cap_net_raw+ep), "
         "or Npcap on Windows")
NEEDS_ZH = ("root 权限，或为本 Python 授予 CAP_NET_RAW（setcap cap_net_raw+ep），"
            "Windows 上需安装 Npcap")


class Layer2Unavailable(RuntimeError):
    """This process may not send or capture raw Ethernet frames."""


class NoInterfaceInSubnet(RuntimeError):
    """This machine is not on the exam LAN (or its interface there is unusable)."""

    def __init__(self, en: str, zh: str):
        super().__init__(en)
        self.text = Text(en, zh)


class NotOnEthernet(NoInterfaceInSubnet):
    """The subnet lives on this computer's loopback interface (a test room): there is no
    layer 2 to look at, so the layer-2 checks do not apply."""


@dataclass(frozen=True)
class LocalInterface:
    name: str
    address: str
    mac: str


@dataclass
class DhcpOffer:
    server_id: str | None  # option 54, what the server calls itself
    server_ip: str  # IP source address of the offer
    server_mac: str  # Ethernet source of the offer (the relay's, if relayed)
    offered: str  # yiaddr
    subnet_mask: str | None
    router: list[str]
    dns: list[str]
    lease_s: int | None
    first_s: float  # seconds after the DISCOVER

    @property
    def key(self) -> tuple[str, str]:
        return (self.server_id or self.server_ip, self.server_mac)


@dataclass
class SweepResult:
    interface: str
    local_address: str
    local_mac: str
    subnet: str
    # address -> every MAC heard claiming it, in the order first heard
    hosts: dict[str, list[str]]
    # senders (ARP, or the broadcasts PCs send by themselves) using an address outside
    # the subnet: a PC typed into the wrong subnet
    foreign: dict[str, list[str]]
    dhcp_offers: list[DhcpOffer]
    dhcp_sent: bool
    requests_sent: int
    arp_s: float
    duration_s: float
    arp_window_s: float
    dhcp_window_s: float
    # the out-of-subnet addresses asked by ARP probe (the `outside` parameter)
    outside_asked: list[str] = dataclasses.field(default_factory=list)

    def measured(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["layer2"] = True
        out["hosts_answering"] = len(self.hosts)
        out["arp_s"] = round(self.arp_s, 3)
        out["duration_s"] = round(self.duration_s, 3)
        for offer in out["dhcp_offers"]:
            offer["first_s"] = round(offer["first_s"], 3)
        return out


# ---------------------------------------------------------------- interfaces


def normalise_mac(mac: str) -> str:
    return mac.strip().lower().replace("-", ":")


def find_interface(subnet: ipaddress.IPv4Network, name: str | None = None) -> LocalInterface:
    """The interface with an IPv4 address inside `subnet` (or the named one)."""
    import psutil

    stats = psutil.net_if_stats()
    candidates: list[LocalInterface] = []
    for ifname, entries in psutil.net_if_addrs().items():
        if name and ifname != name:
            continue
        mac = next((normalise_mac(a.address) for a in entries if a.family == psutil.AF_LINK),
                   None)
        for entry in entries:
            if entry.family != socket.AF_INET:
                continue
            if ipaddress.IPv4Address(entry.address) in subnet:
                candidates.append(LocalInterface(ifname, entry.address, mac or ""))
    if not candidates:
        where = f" on interface {name}" if name else ""
        raise NoInterfaceInSubnet(
            f"this machine has no address in {subnet}{where}: run the check from a PC on "
            "the exam LAN",
            f"本机{('的网卡 ' + name) if name else ''}没有 {subnet} 内的地址："
            "请在考场局域网内的电脑上运行检查")
    # Prefer an interface that is up and has a real Ethernet address.
    candidates.sort(key=lambda c: (not (c.name in stats and stats[c.name].isup),
                                   c.mac in ("", ZERO_MAC)))
    best = candidates[0]
    flags = str(getattr(stats.get(best.name), "flags", ""))
    if "loopback" in flags.split(",") or ipaddress.IPv4Address(best.address).is_loopback:
        raise NotOnEthernet(
            f"not applicable: {subnet} is on this computer's loopback interface {best.name}, "
            "which has no layer 2 (ARP, DHCP)",
            f"不适用：{subnet} 位于本机回环接口 {best.name} 上，没有二层（ARP、DHCP）")
    if best.mac in ("", ZERO_MAC):
        raise NoInterfaceInSubnet(
            f"{best.name} ({best.address}) has no Ethernet address, so ARP cannot run on it: "
            "run the check from a PC cabled to the exam LAN",
            f"{best.name}（{best.address}）没有以太网 MAC 地址，无法进行 ARP 扫描："
            "请在接入考场局域网的电脑上运行")
    if best.name in stats and not stats[best.name].isup:
        raise NoInterfaceInSubnet(
            f"{best.name} ({best.address}) is down: check its cable and that it is enabled",
            f"{best.name}（{best.address}）未连接：请检查网线并确认网卡已启用")
    return best


# ---------------------------------------------------------------- frames


def _pad(frame: bytes) -> bytes:
    # Sent as is, a 42-byte ARP frame relies on the driver to pad it; some do not.
    return frame + b"\0" * (ETH_MIN_FRAME - len(frame)) if len(frame) < ETH_MIN_FRAME else frame


def arp_request(src_mac: str, src_ip: str, target_ip: str) -> bytes:
    from scapy.layers.l2 import ARP, Ether

    return _pad(bytes(Ether(dst=BROADCAST, src=src_mac) /
                      ARP(op=1, hwsrc=src_mac, psrc=src_ip, hwdst=ZERO_MAC, pdst=target_ip)))


def arp_requests(src_mac: str, src_ip: str, targets: list[str]) -> dict[str, bytes]:
    # (src_ip "0.0.0.0" makes ARP probes: answered by the owner, cached by nobody)
    """One who-has per target. Built once with scapy and copied with the target address
    spliced in: building 4094 packets field by field costs more than the sweep itself."""
    template = arp_request(src_mac, src_ip, "0.0.0.0")
    head, tail = template[:ARP_TPA_OFFSET], template[ARP_TPA_OFFSET + 4:]
    return {t: head + socket.inet_aton(t) + tail for t in targets}


def dhcp_discover(mac: str, xid: int) -> bytes:
    from scapy.layers.dhcp import BOOTP, DHCP
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether

    raw_mac = bytes.fromhex(mac.replace(":", ""))
    return bytes(
        Ether(dst=BROADCAST, src=mac)
        / IP(src="0.0.0.0", dst="255.255.255.255")
        / UDP(sport=68, dport=67)
        # broadcast flag: a server must answer by broadcast, since we hold no address
        / BOOTP(op=1, chaddr=raw_mac + b"\0" * 10, xid=xid, flags=0x8000)
        / DHCP(options=[("message-type", "discover"), ("client_id", b"\x01" + raw_mac),
                        ("param_req_list", [1, 3, 6, 51, 54]), "end"]))


@dataclass(frozen=True)
class ArpFrame:
    op: int
    sender_ip: str
    sender_mac: str
    target_ip: str


def parse_arp(frame: bytes) -> ArpFrame | None:
    from scapy.layers.l2 import ARP, Ether

    pkt = Ether(frame)
    arp = pkt.getlayer(ARP)
    if arp is None or arp.hwlen != 6 or arp.plen != 4:
        return None
    return ArpFrame(int(arp.op), str(arp.psrc), normalise_mac(str(arp.hwsrc)), str(arp.pdst))


def parse_offer(frame: bytes, xid: int, now_s: float) -> DhcpOffer | None:
    from scapy.layers.dhcp import BOOTP, DHCP
    from scapy.layers.inet import IP
    from scapy.layers.l2 import Ether

    pkt = Ether(frame)
    bootp, dhcp = pkt.getlayer(BOOTP), pkt.getlayer(DHCP)
    if bootp is None or dhcp is None or bootp.op != 2 or bootp.xid != xid:
        return None
    options: dict[str, list[Any]] = {}
    for opt in dhcp.options:
        if isinstance(opt, tuple) and len(opt) >= 2:
            options[str(opt[0])] = list(opt[1:])
    if options.get("message-type", [None])[0] not in (2, "offer"):
        return None

    def one(name: str) -> Any:
        values = options.get(name)
        return values[0] if values else None

    def many(name: str) -> list[str]:
        return [str(v) for v in options.get(name, [])]

    lease = one("lease_time")
    server_id = one("server_id")
    return DhcpOffer(
        server_id=str(server_id) if server_id is not None else None,
        server_ip=str(pkt[IP].src) if pkt.haslayer(IP) else "",
        server_mac=normalise_mac(str(pkt[Ether].src)),
        offered=str(bootp.yiaddr),
        subnet_mask=str(one("subnet_mask")) if one("subnet_mask") is not None else None,
        router=many("router"),
        dns=many("name_server"),
        lease_s=int(lease) if lease is not None else None,
        first_s=now_s,
    )


# ---------------------------------------------------------------- the socket


def open_l2_socket(iface: str) -> Any:
    """A scapy layer-2 socket on `iface`; Layer2Unavailable names what is missing."""
    try:
        import scapy.arch  # noqa: F401 - sets conf.L2socket; scapy.config alone leaves None
        from scapy.config import conf
        from scapy.error import Scapy_Exception
    except ImportError as exc:  # pragma: no cover - scapy is a dependency
        raise Layer2Unavailable(f"scapy is not installed ({exc})") from None
    factory = conf.L2socket
    if factory is None and sys.platform.startswith("linux"):
        # someone reset it (a test's monkeypatch restoring the value from before
        # scapy.arch was imported): Linux's own socket class is the one it holds
        from scapy.arch.linux import L2Socket as factory
    if getattr(factory, "__name__", "") == "_NotAvailableSocket":
        raise Layer2Unavailable("Npcap is not installed (https://npcap.com)")
    try:
        try:
            # promisc=False: answers come to our own MAC; promiscuous mode would change
            # the NIC's state for every other program on this PC.
            sock = factory(iface=iface, promisc=False, filter=BPF_FILTER)
        except Scapy_Exception as exc:
            if "filter" not in str(exc).lower():
                raise
            # No libpcap to compile the filter: read everything and filter in Python.
            sock = factory(iface=iface, promisc=False, nofilter=1)
    except PermissionError as exc:
        raise Layer2Unavailable(f"no permission to open a raw socket ({exc})") from None
    except OSError as exc:
        if exc.errno in (errno.EPERM, errno.EACCES):
            raise Layer2Unavailable(f"no permission to open a raw socket ({exc})") from None
        raise
    except Scapy_Exception as exc:
        if "not available" in str(exc).lower() or "pcap" in str(exc).lower():
            raise Layer2Unavailable(str(exc)) from None
        raise
    ins = getattr(sock, "ins", None)
    if isinstance(ins, socket.socket):
        for opt in (SO_RCVBUFFORCE, socket.SO_RCVBUF):
            try:
                ins.setsockopt(socket.SOL_SOCKET, opt, RCVBUF_BYTES)
                break
            except OSError:
                continue
        _hear_all_multicast(ins, iface)
    return sock


def _hear_all_multicast(ins: socket.socket, iface: str) -> None:
    """mDNS, LLMNR and SSDP go to multicast groups this computer may not have joined, and
    the NIC filters those out. An ALLMULTI membership of this socket lets them in and ends
    with the socket (unlike promiscuous mode, it changes nothing for other programs)."""
    import struct

    try:
        mreq = struct.pack("@iHH8s", socket.if_nametoindex(iface), PACKET_MR_ALLMULTI, 0, b"")
        ins.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
    except OSError:
        pass  # only the unprompted multicast chatter is missed; ARP still works


def _readable(sock: Any) -> bool:
    return bool(type(sock).select([sock], 0))


async def _until_readable(sock: Any, timeout_s: float) -> None:
    """Until a frame waits in `sock` or `timeout_s` has passed. The event loop watches
    the socket itself: a whole room's reachability checks, each asking one silent host
    by ARP, would otherwise wake hundreds of times a second for nothing."""
    if timeout_s <= 0:
        await asyncio.sleep(0)  # still let the rest of the event loop run
        return
    loop = asyncio.get_running_loop()
    ready = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    try:
        fd = sock.fileno()
        loop.add_reader(fd, wake)
    except (AttributeError, NotImplementedError, OSError, ValueError):
        await asyncio.sleep(min(POLL_S, timeout_s))
        return
    try:
        await asyncio.wait_for(ready, timeout_s)
    except TimeoutError:
        pass
    finally:
        loop.remove_reader(fd)


def _drain(sock: Any, limit: int = 10_000) -> list[bytes]:
    """Every frame waiting in the socket, without blocking."""
    frames: list[bytes] = []
    while len(frames) < limit and _readable(sock):
        _cls, data, _ts = sock.recv_raw()
        if data:  # None for our own outgoing frames
            frames.append(data)
    return frames


# ---------------------------------------------------------------- the sweep


class _Collector:
    def __init__(self, local: LocalInterface, subnet: ipaddress.IPv4Network, xid: int):
        self.local, self.subnet, self.xid = local, subnet, xid
        self.hosts: dict[str, list[str]] = {}
        self.foreign: dict[str, list[str]] = {}
        self.offers: dict[tuple[str, str], DhcpOffer] = {}

    def feed(self, frame: bytes, now_s: float) -> None:
        if len(frame) < 14:
            return
        ethertype = frame[12:14]
        if ethertype in (b"\x08\x06", VLAN):
            self._arp(frame)
        if ethertype == VLAN or (ethertype == b"\x08\x00" and _udp_to_68(frame)):
            offer = parse_offer(frame, self.xid, now_s)
            if offer is not None:
                self.offers.setdefault(offer.key, offer)
        if ethertype == b"\x08\x00":
            self._chatter(frame)

    def _chatter(self, frame: bytes) -> None:
        """A PC's own broadcast or multicast: who is talking, from which address."""
        if len(frame) < 34 or frame[23] != socket.IPPROTO_UDP:
            return
        mac = normalise_mac(frame[6:12].hex(":"))
        sender = socket.inet_ntoa(frame[26:30])
        if mac == self.local.mac or sender == "0.0.0.0":
            return
        if ipaddress.IPv4Address(sender) not in self.subnet:
            macs = self.foreign.setdefault(sender, [])
            if mac not in macs:
                macs.append(mac)

    def _arp(self, frame: bytes) -> None:
        # Our own who-has (and that of other sweeps on this computer) is most of what
        # comes by: skip it before scapy dissects anything.
        if frame[12:14] == b"\x08\x06" and frame[22:28].hex(":") == self.local.mac:
            return
        arp = parse_arp(frame)
        if arp is None or arp.sender_mac == self.local.mac or arp.sender_ip == "0.0.0.0":
            return
        # Answers to our who-has, but also who-has and gratuitous ARP from others: every
        # one of them is a machine saying "this address is mine".
        # (Another MAC claiming our own address lands in `hosts` too: a conflict as well.)
        inside = ipaddress.IPv4Address(arp.sender_ip) in self.subnet
        table = self.hosts if inside else self.foreign
        macs = table.setdefault(arp.sender_ip, [])
        if arp.sender_mac not in macs:
            macs.append(arp.sender_mac)


def _udp_to_68(frame: bytes) -> bool:
    """Cheap test before scapy dissects a frame: without a kernel filter (no libpcap)
    every frame on a busy LAN comes through here."""
    if len(frame) < 34 or frame[23] != socket.IPPROTO_UDP:
        return False
    port_at = 14 + (frame[14] & 0x0F) * 4 + 2
    return frame[port_at:port_at + 2] == b"\x00\x44"


def _targets(subnet: ipaddress.IPv4Network, local: str) -> list[str]:
    return [str(a) for a in subnet.hosts() if str(a) != local]


async def sweep(subnet: str, *, interface: str | None = None,
                arp_window_s: float = DEFAULT_ARP_WINDOW_S,
                arp_retries: int = DEFAULT_ARP_RETRIES, pace_pps: float = 0.0,
                dhcp: bool = True, dhcp_window_s: float = DEFAULT_DHCP_WINDOW_S,
                max_hosts: int = DEFAULT_MAX_HOSTS, targets: list[str] | None = None,
                outside: list[str] | None = None) -> SweepResult:
    net = ipaddress.IPv4Network(subnet, strict=False)
    outside = outside or []
    if net.num_addresses > max_hosts or len(outside) > max_hosts:
        raise ValueError(f"{net} has {net.num_addresses} addresses, more than the "
                         f"{max_hosts} an ARP sweep may ask")
    local = find_interface(net, interface)
    if targets is None:
        targets = _targets(net, local.address)
    outside = [a for a in dict.fromkeys(outside) if ipaddress.IPv4Address(a) not in net]
    frames = arp_requests(local.mac, local.address, targets)
    frames.update(arp_requests(local.mac, "0.0.0.0", outside))
    targets = [*targets, *outside]
    xid = random.getrandbits(32)
    discover = dhcp_discover(local.mac, xid) if dhcp else b""
    sock = open_l2_socket(local.name)
    collector = _Collector(local, net, xid)
    # Ask again at even steps through the first half of the window: late answers from
    # the last round still have the second half to arrive.
    rounds_at = [i * arp_window_s / (2 * max(arp_retries, 1)) for i in range(arp_retries + 1)]
    dhcp_at = [0.0, min(1.0, dhcp_window_s / 2)] if dhcp else []
    end_s = max(arp_window_s, dhcp_window_s if dhcp else 0.0)
    queue: list[str] = []  # targets still to ask in this round
    sent = 0
    budget = 0.0
    try:
        t0 = time.monotonic()
        last = t0
        while True:
            now = time.monotonic()
            elapsed = now - t0
            while rounds_at and rounds_at[0] <= elapsed:
                rounds_at.pop(0)
                pending = set(queue)  # (only when paced can a round outlast the next)
                answered = collector.hosts.keys() | collector.foreign.keys()
                queue.extend(t for t in targets if t not in answered and t not in pending)
            while dhcp_at and dhcp_at[0] <= elapsed:
                dhcp_at.pop(0)
                _send(sock, discover)
            if queue:
                if pace_pps > 0:
                    budget = min(budget + (now - last) * pace_pps, max(1.0, pace_pps * 0.05))
                    count = int(budget) if budget >= 1 else 0
                    budget -= count
                else:
                    count = len(queue)
                for target in queue[:count]:
                    _send(sock, frames[target])
                sent += min(count, len(queue))
                del queue[:count]
            last = now
            for frame in _drain(sock):
                collector.feed(frame, time.monotonic() - t0)
            if elapsed >= end_s and not queue:
                break
            # a paced sweep past its window still has requests to send: tick on
            wake_at = elapsed + PACE_TICK_S if queue else \
                min([end_s, *rounds_at[:1], *dhcp_at[:1]])
            await _until_readable(sock, wake_at - (time.monotonic() - t0))
        duration = time.monotonic() - t0
    finally:
        sock.close()
    return SweepResult(
        interface=local.name,
        local_address=local.address,
        local_mac=local.mac,
        subnet=str(net),
        hosts=dict(sorted(collector.hosts.items(),
                          key=lambda kv: ipaddress.IPv4Address(kv[0]))),
        foreign=dict(sorted(collector.foreign.items())),
        dhcp_offers=list(collector.offers.values()),
        dhcp_sent=dhcp,
        requests_sent=sent,
        arp_s=min(arp_window_s, duration),
        duration_s=duration,
        arp_window_s=arp_window_s,
        dhcp_window_s=dhcp_window_s if dhcp else 0.0,
        outside_asked=outside,
    )


def _send(sock: Any, frame: bytes) -> None:
    for _ in range(50):
        try:
            sock.send(frame)
            return
        except OSError as exc:
            # A full transmit queue on a slow link: give it a moment, then try again.
            if exc.errno not in (errno.ENOBUFS, errno.EAGAIN):
                raise
            time.sleep(0.001)


# ---------------------------------------------------------------- the probe


def _not_negative(params: dict[str, Any], key: str) -> float:
    value = param(params, key, float)
    if value < 0:
        raise ValueError(f"{key!r} must not be negative")
    return value


def _subnet(value: Any) -> str:
    ipaddress.IPv4Network(value, strict=False)
    return str(value)


def not_verified(detail: str = "") -> ProbeOutcome:
    """The outcome every layer-2 check gives without raw-socket rights: never a pass."""
    more = f" ({detail})" if detail else ""
    return ProbeOutcome(Status.WARN, Text(
        f"not verified: the ARP and DHCP checks need {NEEDS}{more}; run readiness "
        "again with those rights",
        f"未验证：ARP 与 DHCP 检查需要 {NEEDS_ZH}{more}；请以相应权限重新运行"),
        {"layer2": False, "needs": NEEDS, NOT_PROOF: True})


async def run(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
    try:
        subnet = param(params, "subnet", _subnet)
        arp_window_s = _not_negative(params, "arp_window_s")
        dhcp_window_s = _not_negative(params, "dhcp_window_s")
        retries = param(params, "arp_retries", int)
        pace = _not_negative(params, "pace_pps")
        dhcp = param(params, "dhcp", bool)
        max_hosts = param(params, "max_hosts", int)
        targets = None if params.get("targets") is None else param(
            params, "targets", lambda v: [str(ipaddress.IPv4Address(t)) for t in v])
        outside = param(params, "outside", lambda v: [str(ipaddress.IPv4Address(a)) for a in v])
    except ValueError as exc:
        return ProbeOutcome(Status.ERROR, Text(f"bad layer-2 sweep parameters: {exc}",
                                               f"二层扫描参数错误：{exc}"))
    # Keep inside the deadline ourselves: the runner's hard stop would lose every answer.
    budget = max(0.2, deadline_s - 0.5)
    arp_window_s = min(arp_window_s, budget)
    dhcp_window_s = min(dhcp_window_s, budget)
    try:
        result = await sweep(subnet, interface=params.get("interface"),
                             arp_window_s=arp_window_s, arp_retries=retries, pace_pps=pace,
                             dhcp=dhcp, dhcp_window_s=dhcp_window_s, max_hosts=max_hosts,
                             targets=targets, outside=outside)
    except Layer2Unavailable as exc:
        return not_verified(str(exc))
    except NotOnEthernet as exc:
        return ProbeOutcome(Status.SKIP, exc.text, {"layer2": None, "subnet": subnet})
    except NoInterfaceInSubnet as exc:
        return ProbeOutcome(Status.ERROR, exc.text, {"layer2": None, "subnet": subnet})
    except ValueError as exc:
        return ProbeOutcome(Status.ERROR, Text(str(exc), f"无法扫描：{exc}"))
    offers = result.dhcp_offers
    servers = sorted({o.server_id or o.server_ip for o in offers})
    dhcp_en = (f"; DHCP servers answering: {', '.join(servers)}" if servers
               else "; no DHCP server answered" if dhcp else "")
    dhcp_zh = (f"；应答的 DHCP 服务器：{', '.join(servers)}" if servers
               else "；无 DHCP 服务器应答" if dhcp else "")
    return ProbeOutcome(Status.PASS, Text(
        f"{len(result.hosts)} addresses answered ARP on {result.subnet} "
        f"(from {result.interface} {result.local_address}, {result.arp_s:.1f} s){dhcp_en}",
        f"{result.subnet} 内有 {len(result.hosts)} 个地址应答 ARP"
        f"（从 {result.interface} {result.local_address} 扫描，"
        f"用时 {result.arp_s:.1f} 秒）{dhcp_zh}"),
        result.measured())


KIND = CheckKind(
    probe="l2_sweep", run=run,
    params=(*knobs("subnet", "arp_window_s", "arp_retries", "dhcp", "dhcp_window_s",
                   "outside", "pace_pps", "max_hosts"),
            *optional("interface", "targets")),
    judges=("layer2.sweep",))
