"""The seat's own inventory: machine, OS, NICs (speed, duplex, static or DHCP), gateway, DNS.

Split in two so the judgement can be tested without the hardware: `gather()` reads
the machine into a `RawFacts` (psutil, /proc, `ip -j addr`, PowerShell on Windows),
and the pure functions below turn raw text and tables into the report. The lab
cannot make a slow NIC (veth always reports 10000 Mb/s and refuses `ethtool -s`), so
the NIC speed and duplex logic is tested on injected interface tables.

Units follow what a PC is sold with: RAM in GiB (a "4 GB" PC has 4 GiB, a little
less visible), disks in decimal GB (a "500 GB" disk holds 500e9 bytes).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import platform
import re
import socket
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import psutil

from readiness import __version__
from readiness.results import ProbeOutcome, Status, Text
from readiness.vocabulary import DHCP, STATIC, UNKNOWN

from . import inventory, link_watch

# psutil.NicDuplex values, so parsing needs no psutil
_DUPLEX = {2: "full", 1: "half", 0: UNKNOWN}
# Whole-disk names that are not disks a PC was bought with.
_NOT_A_DISK = re.compile(r"^(loop|ram|zram|sr|fd|dm-|md|nbd|mmcblk\d+boot|mmcblk\d+rpmb)")
_COMMAND_TIMEOUT_S = 5.0


class IfAddr(NamedTuple):
    family: str  # "inet", "inet6" or "link"
    address: str
    netmask: str | None = None


class IfStat(NamedTuple):
    isup: bool
    duplex: int  # 2 full, 1 half, 0 unknown (psutil.NicDuplex)
    speed_mbps: int  # 0 when the OS does not know
    mtu: int


@dataclass
class RawFacts:
    """Everything read from the machine, before any judgement."""

    hostname: str
    os: dict[str, str]
    cpu_model: str | None
    logical_cores: int | None
    physical_cores: int | None
    ram_bytes: int
    # (device, mountpoint, fstype, total bytes)
    partitions: list[tuple[str, str, str, int]] = field(default_factory=list)
    whole_disks: dict[str, int] = field(default_factory=dict)  # name -> bytes
    if_addrs: dict[str, list[IfAddr]] = field(default_factory=dict)
    if_stats: dict[str, IfStat] = field(default_factory=dict)
    addressing: dict[str, str] = field(default_factory=dict)  # IPv4 address -> static|dhcp
    addressing_source: str = UNKNOWN
    gateway: str | None = None
    dns_servers: list[str] = field(default_factory=list)
    # IPv4 address -> seconds its DHCP lease has left (addresses with a lifetime only)
    lease_left_s: dict[str, int] = field(default_factory=dict)
    # software, display, disks' type, USB storage (readiness/agent/inventory.py)
    inventory: dict[str, Any] = field(default_factory=dict)
    # interface -> (carrier changes, over how many seconds) lately (link_watch.py)
    link_changes: dict[str, tuple[int, float]] = field(default_factory=dict)


# ---------------------------------------------------------------- pure parsing


def duplex_name(value: int) -> str:
    return _DUPLEX.get(int(value), UNKNOWN)


def parse_cpuinfo(text: str) -> str | None:
    for line in text.splitlines():
        key, _, value = line.partition(":")
        # x86 says "model name"; some ARM kernels only "Hardware" or "Processor"
        if key.strip() in ("model name", "Processor", "Hardware", "cpu model") and value.strip():
            return " ".join(value.split())
    return None


def parse_proc_route(text: str) -> str | None:
    """The default gateway from /proc/net/route (hex, little-endian), lowest metric first."""
    best: tuple[int, str] | None = None
    for line in text.splitlines()[1:]:
        cols = line.split()
        if len(cols) < 8:
            continue
        try:
            dest, gw, flags, metric, mask = (int(cols[1], 16), int(cols[2], 16),
                                             int(cols[3], 16), int(cols[6]), int(cols[7], 16))
        except ValueError:
            continue
        # RTF_UP | RTF_GATEWAY, destination and mask 0: a default route via a router
        if dest == 0 and mask == 0 and flags & 0x3 == 0x3 and gw:
            address = str(ipaddress.IPv4Address(gw.to_bytes(4, "little")))
            if best is None or metric < best[0]:
                best = (metric, address)
    return best[1] if best else None


def parse_resolv_conf(text: str) -> list[str]:
    servers = []
    for line in text.splitlines():
        cols = line.split("#", 1)[0].split()
        if len(cols) >= 2 and cols[0] == "nameserver" and cols[1] not in servers:
            servers.append(cols[1])
    return servers


def parse_ip_addr_json(text: str) -> dict[str, str]:
    """IPv4 address -> dhcp/static from `ip -j addr`.

    A DHCP client (NetworkManager, systemd-networkd, dhclient, dhcpcd) gives the
    address the lease's lifetime, which iproute2 shows as "dynamic"; an address set by
    hand or by a static configuration is permanent.
    """
    result: dict[str, str] = {}
    for link in json.loads(text):
        for info in link.get("addr_info", []):
            if info.get("family") != "inet" or not info.get("local"):
                continue
            if info.get("scope") == "host":
                result[info["local"]] = STATIC
                continue
            result[info["local"]] = DHCP if info.get("dynamic") else STATIC
    return result


def parse_lease_lifetimes(text: str) -> dict[str, int]:
    """IPv4 address -> seconds left of its lifetime, from `ip -j addr`, for addresses
    that have one (a DHCP lease; "forever" addresses are left out)."""
    result: dict[str, int] = {}
    for link in json.loads(text):
        for info in link.get("addr_info", []):
            left = info.get("valid_life_time")
            if (info.get("family") == "inet" and info.get("local") and info.get("dynamic")
                    and isinstance(left, int) and 0 <= left < 0xFFFFFFFF):
                result[info["local"]] = left
    return result


def _linux_lease_lifetimes() -> dict[str, int]:
    text = _command(["ip", "-j", "addr"]) if sys.platform.startswith("linux") else None
    try:
        return parse_lease_lifetimes(text) if text else {}
    except (ValueError, AttributeError):
        return {}


_LEASE_ADDRESS = re.compile(r"^\s*(?:fixed-address\s+([0-9.]+)\s*;|ADDRESS=([0-9.]+)\s*$)",
                            re.MULTILINE)


def parse_lease_addresses(texts: Iterable[str]) -> set[str]:
    """Addresses named in DHCP lease files: dhclient (`fixed-address A;`) and
    systemd-networkd / NetworkManager internal client (`ADDRESS=A`)."""
    found: set[str] = set()
    for text in texts:
        for match in _LEASE_ADDRESS.finditer(text):
            found.add(match.group(1) or match.group(2))
    return found


_PREFIX_ORIGIN = {0: "other", 1: "manual", 2: "wellknown", 3: "dhcp", 4: "routeradvertisement"}


def parse_windows_netconfig(text: str) -> tuple[dict[str, str], str | None, list[str]]:
    """(address -> static/dhcp, default gateway, DNS servers) from the JSON our
    PowerShell one-liner prints (`WINDOWS_NETCONFIG`). PrefixOrigin may arrive as its
    name or, from Windows PowerShell 5.1, as the enum's number."""
    data = json.loads(text) if text.strip() else {}

    def rows(key: str) -> list[dict[str, Any]]:
        value = data.get(key) or []
        return [value] if isinstance(value, dict) else [v for v in value if isinstance(v, dict)]

    addressing: dict[str, str] = {}
    for row in rows("addresses"):
        address = row.get("IPAddress")
        origin = row.get("PrefixOrigin")
        if isinstance(origin, int):
            origin = _PREFIX_ORIGIN.get(origin, "other")
        origin = str(origin or "").lower()
        if not address:
            continue
        if origin == "dhcp":
            addressing[address] = DHCP
        elif origin in ("manual", "wellknown"):
            addressing[address] = STATIC
        else:
            addressing[address] = UNKNOWN
    routes = sorted((int(r.get("RouteMetric") or 0), str(r.get("NextHop")))
                    for r in rows("routes") if r.get("NextHop") not in (None, "0.0.0.0"))
    gateway = routes[0][1] if routes else None
    dns: list[str] = []
    for row in rows("dns"):
        servers = row.get("ServerAddresses") or []
        for server in [servers] if isinstance(servers, str) else servers:
            if server not in dns:
                dns.append(str(server))
    return addressing, gateway, dns


def whole_disks(entries: dict[str, tuple[int, bool]]) -> dict[str, int]:
    """name -> bytes from /sys/block (name -> (512-byte sectors, removable)): fixed disks
    only, not loop devices, RAM disks, optical drives, or USB sticks."""
    return {name: sectors * 512 for name, (sectors, removable) in sorted(entries.items())
            if sectors > 0 and not removable and not _NOT_A_DISK.match(name)}


def _prefixlen(netmask: str | None) -> int | None:
    if not netmask:
        return None
    try:
        return ipaddress.IPv4Network(f"0.0.0.0/{netmask}").prefixlen
    except ValueError:
        return None


def build_nics(if_addrs: dict[str, list[IfAddr]], if_stats: dict[str, IfStat],
               addressing: dict[str, str],
               lease_left_s: dict[str, int] | None = None,
               link_changes: dict[str, tuple[int, float]] | None = None
               ) -> list[dict[str, Any]]:
    nics = []
    for name in sorted(set(if_addrs) | set(if_stats)):
        addrs = if_addrs.get(name, [])
        stats = if_stats.get(name)
        mac = next((a.address.lower() for a in addrs if a.family == "link"), None)
        v4 = [{"address": a.address, "prefixlen": _prefixlen(a.netmask),
               "addressing": addressing.get(a.address, UNKNOWN),
               **({"lease_left_s": (lease_left_s or {})[a.address]}
                  if a.address in (lease_left_s or {}) else {})}
              for a in addrs if a.family == "inet"]
        nics.append({
            "name": name,
            "mac": mac,
            "up": bool(stats.isup) if stats else None,
            # 0 is how every OS says "not known" (down link, loopback, some drivers)
            "speed_mbps": stats.speed_mbps if stats and stats.speed_mbps > 0 else None,
            "duplex": duplex_name(stats.duplex) if stats else UNKNOWN,
            "mtu": stats.mtu if stats else None,
            "ipv4": v4,
            **({"link_changes": {"count": (link_changes or {})[name][0],
                                 "over_s": round((link_changes or {})[name][1])}}
               if name in (link_changes or {}) else {}),
        })
    return nics


def build_report(raw: RawFacts, *, version: str = __version__,
                 now: datetime | None = None) -> dict[str, Any]:
    disks = [{"name": n, "size_gb": round(b / 1e9, 1)} for n, b in raw.whole_disks.items()]
    partitions = [{"device": device, "mountpoint": mount, "fstype": fstype,
                   "size_gb": round(total / 1e9, 1)}
                  for device, mount, fstype, total in raw.partitions]
    # Partitions stand in for disks where the OS names no whole disk (Windows drives);
    # one device mounted twice counts once.
    disk_total = sum(raw.whole_disks.values()) if raw.whole_disks else \
        sum({d: t for d, _, _, t in raw.partitions}.values())
    return {
        "agent_version": version,
        "collected_at": (now or datetime.now(UTC)).isoformat(),
        "hostname": raw.hostname,
        "os": raw.os,
        "cpu": {"model": raw.cpu_model, "logical_cores": raw.logical_cores,
                "physical_cores": raw.physical_cores},
        "ram_gib": round(raw.ram_bytes / 2**30, 1),
        "ram_bytes": raw.ram_bytes,
        "disks": disks,
        "partitions": partitions,
        "disk_total_gb": round(disk_total / 1e9, 1),
        "nics": build_nics(raw.if_addrs, raw.if_stats, raw.addressing, raw.lease_left_s,
                           raw.link_changes),
        "addressing_source": raw.addressing_source,
        "default_gateway": raw.gateway,
        "dns_servers": raw.dns_servers,
        "inventory": raw.inventory,
    }


# ---------------------------------------------------------------- gathering


def _read(path: str | Path) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _command(argv: list[str], timeout_s: float = _COMMAND_TIMEOUT_S) -> str | None:
    # No window flashes up on a candidate's screen when the agent asks PowerShell.
    flags = getattr(subprocess, "CREATE_NO_WINDOW", 0)
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s,
                              check=False, creationflags=flags)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def _os_info() -> dict[str, str]:
    info = {"system": platform.system(), "release": platform.release(),
            "version": platform.version(), "machine": platform.machine()}
    if sys.platform == "win32":
        release, version, _, _ = platform.win32_ver()
        edition = platform.win32_edition() or ""
        info["name"] = " ".join(x for x in ("Windows", release, edition) if x)
        info["version"] = version
    elif sys.platform.startswith("linux"):
        try:
            info["name"] = platform.freedesktop_os_release().get("PRETTY_NAME", "")
        except OSError:
            pass
    elif sys.platform == "darwin":
        info["name"] = f"macOS {platform.mac_ver()[0]}"
    return {k: v for k, v in info.items() if v}


def _cpu_model() -> str | None:
    if sys.platform.startswith("linux"):
        return parse_cpuinfo(_read("/proc/cpuinfo") or "")
    if sys.platform == "win32":
        try:
            import winreg  # type: ignore[import-not-found,unused-ignore]

            key = winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE,
                                 r"HARDWARE\DESCRIPTION\System\CentralProcessor\0")
            return " ".join(str(winreg.QueryValueEx(key, "ProcessorNameString")[0]).split())
        except OSError:
            return platform.processor() or None
    if sys.platform == "darwin":
        out = _command(["sysctl", "-n", "machdep.cpu.brand_string"])
        return out.strip() if out else None
    return platform.processor() or None


def _linux_whole_disks() -> dict[str, int]:
    entries: dict[str, tuple[int, bool]] = {}
    root = Path("/sys/block")
    if not root.is_dir():
        return {}
    for dev in root.iterdir():
        size, removable = _read(dev / "size"), _read(dev / "removable")
        if size and size.strip().isdigit():
            entries[dev.name] = (int(size), (removable or "0").strip() == "1")
    return whole_disks(entries)


LEASE_FILES = (("/var/lib/dhcp", "dhclient*.leases"), ("/var/lib/NetworkManager", "*.lease"),
               ("/run/systemd/netif/leases", "*"))


def _linux_addressing() -> tuple[dict[str, str], str]:
    text = _command(["ip", "-j", "addr"])
    if text is None:
        return {}, UNKNOWN
    try:
        addressing = parse_ip_addr_json(text)
    except (ValueError, AttributeError):
        return {}, UNKNOWN
    source = "ip -j addr (dynamic flag)"
    # A lease file confirms DHCP where the client left the address permanent.
    leases = [text for folder, glob in LEASE_FILES for path in Path(folder).glob(glob)
              if (text := _read(path))]
    confirmed = {a for a in parse_lease_addresses(leases) if addressing.get(a) == STATIC}
    for address in confirmed:
        addressing[address] = DHCP
    if confirmed:
        source += " + lease files"
    return addressing, source


# Locale-independent (ipconfig's labels are translated on a Chinese Windows).
WINDOWS_NETCONFIG = (
    "$a = Get-NetIPAddress -AddressFamily IPv4 | Select-Object IPAddress,"
    "@{n='PrefixOrigin';e={\"$($_.PrefixOrigin)\"}};"
    "$r = Get-NetRoute -AddressFamily IPv4 -DestinationPrefix 0.0.0.0/0 "
    "-ErrorAction SilentlyContinue | Select-Object NextHop,RouteMetric;"
    "$d = Get-DnsClientServerAddress -AddressFamily IPv4 | Select-Object ServerAddresses;"
    "@{addresses=@($a); routes=@($r); dns=@($d)} | ConvertTo-Json -Depth 4 -Compress"
)


def _network_config() -> tuple[dict[str, str], str, str | None, list[str]]:
    """(addressing, its source, gateway, DNS servers) the way this OS tells them."""
    if sys.platform.startswith("linux"):
        addressing, source = _linux_addressing()
        gateway = parse_proc_route(_read("/proc/net/route") or "")
        dns = parse_resolv_conf(_read("/etc/resolv.conf") or "")
        if dns == ["127.0.0.53"]:
            # systemd-resolved's stub: the servers it really asks are listed here
            dns = parse_resolv_conf(_read("/run/systemd/resolve/resolv.conf") or "") or dns
        return addressing, source, gateway, dns
    if sys.platform == "win32":
        text = _command(["powershell", "-NoProfile", "-NonInteractive", "-Command",
                         WINDOWS_NETCONFIG], timeout_s=15.0)
        if text:
            try:
                addressing, gateway, dns = parse_windows_netconfig(text)
                return addressing, "Get-NetIPAddress PrefixOrigin", gateway, dns
            except (ValueError, AttributeError):
                pass
        return {}, UNKNOWN, None, []
    return {}, UNKNOWN, None, parse_resolv_conf(_read("/etc/resolv.conf") or "")


def gather() -> RawFacts:
    """Read this machine. Blocking (files, a subprocess): run it in a worker thread."""
    families = {socket.AF_INET: "inet", socket.AF_INET6: "inet6", psutil.AF_LINK: "link"}
    if_addrs = {name: [IfAddr(families[a.family], a.address, a.netmask)
                       for a in addrs if a.family in families]
                for name, addrs in psutil.net_if_addrs().items()}
    if_stats = {name: IfStat(s.isup, int(s.duplex), s.speed, s.mtu)
                for name, s in psutil.net_if_stats().items()}
    partitions = []
    for part in psutil.disk_partitions(all=False):
        try:
            total = psutil.disk_usage(part.mountpoint).total
        except OSError:  # an empty card reader, a vanished mount
            continue
        partitions.append((part.device, part.mountpoint, part.fstype, total))
    addressing, source, gateway, dns = _network_config()
    return RawFacts(
        hostname=socket.gethostname(),
        os=_os_info(),
        cpu_model=_cpu_model(),
        logical_cores=psutil.cpu_count(logical=True),
        physical_cores=psutil.cpu_count(logical=False),
        ram_bytes=psutil.virtual_memory().total,
        partitions=partitions,
        whole_disks=_linux_whole_disks() if sys.platform.startswith("linux") else {},
        if_addrs=if_addrs,
        if_stats=if_stats,
        addressing=addressing,
        addressing_source=source,
        gateway=gateway,
        dns_servers=dns,
        lease_left_s=_linux_lease_lifetimes(),
        inventory=inventory.current(),
        link_changes=link_watch.WATCH.recent(),
    )


def collect() -> dict[str, Any]:
    return build_report(gather())


async def self_report_probe(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
    report = await asyncio.to_thread(collect)
    return ProbeOutcome(Status.PASS, Text("self-report collected", "已收集本机信息"), report)
