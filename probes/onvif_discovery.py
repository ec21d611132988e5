"""ONVIF WS-Discovery: which cameras on the exam LAN answer a Probe, and are they all
in the site file?

Sends one SOAP-over-UDP `Probe` for `dn:NetworkVideoTransmitter` to 239.255.255.250:3702
(TTL 1: it never leaves the LAN) from this machine's interface in the room subnet, and
collects the `ProbeMatch` replies for a short window: `measured["found"]`. Which of them
the site file lacks is judged by `cameras.discovery` (readiness/judges/cameras.py).

params: subnet, window_s.
"""

from __future__ import annotations

import asyncio
import ipaddress
import selectors
import socket
import time
import uuid
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import unquote

from readiness.checkkind import CheckKind, knobs, param
from readiness.results import ProbeOutcome, Status, Text

GROUP = "239.255.255.250"
PORT = 3702
MAX_DATAGRAM = 65535
MAX_DEVICES = 256
MAX_XADDRS = 8
MAX_SCOPES = 32
MAX_FIELD = 512

NS_SOAP = "http://www.w3.org/2003/05/soap-envelope"
NS_WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
NS_WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
NS_DN = "http://www.onvif.org/ver10/network/wsdl"
PROBE_ACTION = "http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe"
WSD_TO = "urn:schemas-xmlsoap-org:ws:2005:04:discovery"
SCOPE_NAME = "onvif://www.onvif.org/name/"
SCOPE_HARDWARE = "onvif://www.onvif.org/hardware/"


class NoAddressInSubnet(RuntimeError):
    def __init__(self, subnet: str):
        super().__init__(subnet)
        self.text = Text(
            f"this machine has no address in {subnet}: run the check from a PC on the exam LAN",
            f"本机没有 {subnet} 内的地址：请在考场局域网内的电脑上运行检查")


class OnLoopback(RuntimeError):
    """A test room on loopback: there is no LAN to send multicast on."""


def new_message_id() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def build_probe(message_id: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<e:Envelope xmlns:e="{NS_SOAP}" xmlns:w="{NS_WSA}" xmlns:d="{NS_WSD}" '
        f'xmlns:dn="{NS_DN}">'
        "<e:Header>"
        f"<w:MessageID>{message_id}</w:MessageID>"
        f'<w:To e:mustUnderstand="true">{WSD_TO}</w:To>'
        f'<w:Action e:mustUnderstand="true">{PROBE_ACTION}</w:Action>'
        "</e:Header>"
        "<e:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></e:Body>"
        "</e:Envelope>"
    ).encode()


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1]


def _text(element: ET.Element | None) -> str:
    return (element.text or "").strip()[:MAX_FIELD * MAX_SCOPES] if element is not None else ""


def _child(element: ET.Element, name: str) -> ET.Element | None:
    return next((c for c in element.iter() if _local(c.tag) == name), None)


def safe_xml(data: bytes) -> ET.Element | None:
    """Parse a datagram, refusing anything oversized or with a DTD (entity expansion)."""
    if len(data) > MAX_DATAGRAM or b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
        return None
    try:
        return ET.fromstring(data)
    except ET.ParseError:
        return None


def parse_probe_matches(data: bytes) -> list[dict[str, Any]]:
    """Every ProbeMatch in one reply: {xaddrs, scopes, name, hardware, types, endpoint}."""
    root = safe_xml(data)
    if root is None:
        return []
    out = []
    for match in (e for e in root.iter() if _local(e.tag) == "ProbeMatch"):
        xaddrs = [x[:MAX_FIELD] for x in _text(_child(match, "XAddrs")).split()][:MAX_XADDRS]
        scopes = [s[:MAX_FIELD] for s in _text(_child(match, "Scopes")).split()][:MAX_SCOPES]
        endpoint_ref = _child(match, "EndpointReference")
        out.append({
            "xaddrs": xaddrs,
            "scopes": scopes,
            "name": _scope_value(scopes, SCOPE_NAME),
            "hardware": _scope_value(scopes, SCOPE_HARDWARE),
            "types": _text(_child(match, "Types")).split()[:MAX_SCOPES],
            "endpoint": _text(_child(endpoint_ref, "Address") if endpoint_ref is not None
                              else None)[:MAX_FIELD],
        })
    return out[:MAX_DEVICES]


def _scope_value(scopes: list[str], prefix: str) -> str | None:
    for scope in scopes:
        if scope.lower().startswith(prefix):
            return unquote(scope[len(prefix):]) or None
    return None


def local_address(subnet: str) -> str:
    """This machine's IPv4 address inside `subnet`."""
    import psutil

    net = ipaddress.IPv4Network(subnet, strict=False)
    stats = psutil.net_if_stats()
    found = []
    for ifname, entries in psutil.net_if_addrs().items():
        for entry in entries:
            if entry.family == socket.AF_INET and ipaddress.IPv4Address(entry.address) in net:
                found.append((not (ifname in stats and stats[ifname].isup), entry.address))
    if not found:
        raise NoAddressInSubnet(str(net))
    address = sorted(found)[0][1]
    if ipaddress.IPv4Address(address).is_loopback:
        raise OnLoopback(str(net))
    return address


def discover(subnet: str, window_s: float) -> list[dict[str, Any]]:
    """Probe from our address in `subnet`; one entry per answering address, in order."""
    source = local_address(subnet)
    message_id = new_message_id()
    probe = build_probe(message_id)
    devices: dict[str, dict[str, Any]] = {}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP) as sock:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(source))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
        sock.bind((source, 0))
        sock.setblocking(False)
        start = time.monotonic()
        end = start + window_s
        # UDP may lose one: send again shortly after (same MessageID, as the spec allows)
        resend = [start, start + min(0.3, window_s / 4)]
        while True:
            now = time.monotonic()
            if now >= end:
                break
            while resend and resend[0] <= now:
                resend.pop(0)
                sock.sendto(probe, (GROUP, PORT))
            wait = min(end, resend[0] if resend else end) - now
            # a selector, not select(): a busy coordinator may hold sockets numbered past
            # 1024, which select() refuses ("filedescriptor out of range")
            with selectors.DefaultSelector() as sel:
                sel.register(sock, selectors.EVENT_READ)
                ready = sel.select(max(0.0, wait))
            if not ready:
                continue
            try:
                data, (address, _port) = sock.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                continue
            for match in parse_probe_matches(data):
                _merge(devices, address, match)
            if len(devices) >= MAX_DEVICES:
                break
    return list(devices.values())


def _merge(devices: dict[str, dict[str, Any]], address: str, match: dict[str, Any]) -> None:
    entry = devices.get(address)
    if entry is None:
        if len(devices) >= MAX_DEVICES:
            return
        entry = devices[address] = {"address": address, "xaddrs": [], "scopes": [],
                                    "name": None, "hardware": None}
    for key in ("xaddrs", "scopes"):
        for value in match[key]:
            if value not in entry[key]:
                entry[key].append(value)
    entry["name"] = entry["name"] or match["name"]
    entry["hardware"] = entry["hardware"] or match["hardware"]


def _subnet(value: Any) -> str:
    ipaddress.IPv4Network(value, strict=False)
    return str(value)


async def run(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
    try:
        subnet = param(params, "subnet", _subnet)
        window = param(params, "window_s", float)
    except ValueError as exc:
        return ProbeOutcome(Status.ERROR, Text(f"bad WS-Discovery parameters: {exc}",
                                               f"WS-Discovery 探测参数错误：{exc}"))
    window = max(0.1, min(window, deadline_s - 0.5))
    try:
        found = await asyncio.to_thread(discover, subnet, window)
    except NoAddressInSubnet as exc:
        return ProbeOutcome(Status.ERROR, exc.text, {"subnet": subnet})
    except OnLoopback:
        return ProbeOutcome(Status.SKIP, Text(
            f"not applicable: {subnet} is on this computer's loopback interface, where no "
            "camera can answer WS-Discovery",
            f"不适用：{subnet} 位于本机回环接口上，没有摄像头可响应 WS-Discovery"),
            {"subnet": subnet})
    except OSError as exc:
        return ProbeOutcome(Status.ERROR, Text(
            f"cannot send WS-Discovery from this machine: {exc}",
            f"无法从本机发送 WS-Discovery 探测：{exc}"), {"subnet": subnet})
    # which of these the site file lacks is judged in readiness/judges/cameras.py
    return ProbeOutcome(Status.PASS, Text(
        f"{len(found)} ONVIF camera(s) answered WS-Discovery on {subnet}",
        f"{subnet} 上有 {len(found)} 路 ONVIF 摄像头响应 WS-Discovery 探测"), {"found": found})


KIND = CheckKind(probe="onvif_discovery", run=run, params=knobs("subnet", "window_s"),
                 judges=("cameras.discovery",))
