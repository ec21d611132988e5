"""The lab spec: what the simulated exam room looks like and which faults it carries.

Shape is checked by pydantic (unknown keys are errors); meaning (a fault names a seat
the room has, an address stays inside the lab's documentation ranges) is checked by
`LabSpec` itself so that a spec built in Python is held to the same rules as a file.
"""

from __future__ import annotations

import ipaddress
import re
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from readiness import packaged
from readiness.config.errors import ConfigError, ConfigIssue
from readiness.config.yamlsource import PathKey, YamlSource, dotted, load_yaml

from .errors import LabSpecError

# config/lab/room.yaml in a checkout, the shipped copy in an installed package
DEFAULT_SPEC = packaged.data_file("lab", "room.yaml")

MAX_SEATS = 40
MAX_CAMERA_NUMBER = 40  # cam-N lives at 198.18.10.(200+N)
SEAT_ID = re.compile(r"^A(\d{2})$")
CAMERA_NAME = re.compile(r"^cam-([1-9]\d?)$")
BLOCKED_SITE_NAMES = ("games.example", "video.example")

# The only ranges the lab may ever use (RFC 2544 benchmarking and RFC 5737 documentation).
# 192.0.2.0/24 is left out although it is a documentation range: the CI machines' own
# LAN uses it, and a lab address there could be confused with the host's network.
LAB_RANGES = tuple(
    ipaddress.IPv4Network(n) for n in ("198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24")
)

SeatId = Annotated[str, Field(pattern=SEAT_ID.pattern, description="A01 ... A40")]
CameraName = Annotated[str, Field(pattern=CAMERA_NAME.pattern, description="cam-1 ... cam-40")]
Mbit = Annotated[int, Field(ge=1, le=10_000)]
# black/white/grey: a lens under a dark or light cloth; dark: a dim room with content
Pattern = Literal["ball", "black", "white", "grey", "dark", "smpte"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UpsSpec(_Strict):
    """UPS-MIB (RFC 1628) values the UPS card serves."""

    minutes_remaining: int = Field(240, ge=0)  # upsEstimatedMinutesRemaining
    seconds_on_battery: int = Field(0, ge=0)  # upsSecondsOnBattery, 0 = on mains
    output_source: int = Field(3, ge=1, le=7)  # upsOutputSource, 3 = normal, 5 = battery
    battery_status: int = Field(2, ge=1, le=4)  # upsBatteryStatus, 2 = normal, 3 = low


class CameraSpec(_Strict):
    name: CameraName
    width: int = Field(1920, ge=16, le=3840)
    height: int = Field(1080, ge=16, le=2160)
    fps: int = Field(15, ge=1, le=30)
    audio: bool = True
    pattern: Pattern = "ball"  # black = covered lens, smpte = frozen picture
    # digest: the stream needs RTSP Digest auth, user admin, the lab secret camera_password
    auth: Literal["none", "digest"] = "none"
    # the video stops this long into each stream while the RTSP session stays open (an
    # encoder that hung): None, a camera that keeps sending
    stall_after_s: float | None = Field(None, gt=0, le=60)

    @property
    def number(self) -> int:
        return int(CAMERA_NAME.match(self.name).group(1))  # type: ignore[union-attr]


class RecorderSpec(_Strict):
    """The room's recorder (NVR) at 198.18.10.5: ONVIF Profile G on port 80, the replay
    of what it recorded on RTSP 554, its disk on ISAPI /ISAPI/ContentMgmt/Storage. It
    records every camera but those of `camera_not_recorded` faults."""

    capacity_gb: int = Field(4000, ge=1)
    free_gb: int = Field(2000, ge=0)
    # seconds of each camera's stream recorded at start and served as its replay: long
    # enough for a decoder that opens slowly on a busy machine (open, a second try,
    # warm-up and measuring take up to ~9 s)
    clip_s: float = Field(10.0, ge=2.0, le=30.0)


class SeatLinkRate(_Strict):
    kind: Literal["seat_link_rate"]
    seat: SeatId
    rate_mbit: Mbit


class AbsentSeat(_Strict):
    kind: Literal["absent_seat"]
    seat: SeatId


class WrongSubnet(_Strict):
    kind: Literal["wrong_subnet"]
    seat: SeatId
    address: ipaddress.IPv4Interface


class DuplicateAddress(_Strict):
    kind: Literal["duplicate_address"]
    seat: SeatId
    same_as: SeatId


class DropsPing(_Strict):
    """The seat's firewall drops ICMP echo (Windows' default) while the PC works."""

    kind: Literal["drops_ping"]
    seat: SeatId


class DhcpLease(_Strict):
    """The seat holds its planned address as a DHCP lease (the address has a lifetime,
    as a DHCP client sets it) in a room that plans fixed addresses: it works today, and
    may come up elsewhere after the next boot."""

    kind: Literal["dhcp_lease"]
    seat: SeatId
    lease_s: int = Field(86400, ge=60, le=30 * 86400)


class BlockedSiteOpenByIp(_Strict):
    kind: Literal["blocked_site_open_by_ip"]
    site: Literal["games.example", "video.example"]


class HttpsUnfiltered(_Strict):
    """The router stops this blocked site's HTTP by its Host header (a block page) and
    lets its HTTPS through; its DNS answers the name. What a candidate's browser, going to
    https:// first, loads: the audit must find the HTTPS leak (the other blocked site
    stays stopped by name and address)."""

    kind: Literal["https_unfiltered"]
    site: Literal["games.example", "video.example"]


class PublicResolverOpen(_Strict):
    kind: Literal["public_resolver_open"]


class SlowUplink(_Strict):
    kind: Literal["slow_uplink"]
    rate_mbit: Mbit


class NoAgent(_Strict):
    """The seat's PC is up but nobody started `readiness agent` on it; with
    `throughput_server`, `readiness throughput-server` runs there instead (how a room
    without agents has its seats' throughput measured from the coordinator)."""

    kind: Literal["no_agent"]
    seat: SeatId
    throughput_server: bool = False


class MtuBlackHole(_Strict):
    """The seat's path drops every IPv4 packet larger than `mtu` bytes without a word
    (no ICMP "fragmentation needed"), as a switch port or a VLAN set below 1500 does:
    a TCP handshake and small requests pass, bulk data stalls."""

    kind: Literal["mtu_black_hole"]
    seat: SeatId
    mtu: int = Field(1200, ge=576, le=1499)


class RogueDhcp(_Strict):
    """A DHCP server nobody configured on the exam LAN: the home router a student or a
    teacher plugged into the exam switch, handing out its own addresses and gateway."""

    kind: Literal["rogue_dhcp"]
    # the device's own address (it answers ARP there and names itself as the gateway)
    address: ipaddress.IPv4Interface = ipaddress.IPv4Interface("198.18.10.250/24")
    # the pool it offers from
    pool_start: ipaddress.IPv4Address = ipaddress.IPv4Address("198.18.10.150")
    pool_end: ipaddress.IPv4Address = ipaddress.IPv4Address("198.18.10.199")


class CameraFault(_Strict):
    kind: Literal["camera"]
    camera: CameraName
    width: int | None = Field(None, ge=16, le=3840)
    height: int | None = Field(None, ge=16, le=2160)
    fps: int | None = Field(None, ge=1, le=30)
    audio: bool | None = None
    pattern: Pattern | None = None
    stall_after_s: float | None = Field(None, gt=0, le=60)


class FlappingLink(_Strict):
    """The seat's switch port goes down and up again and again for as long as the room is
    up (a loose plug, a failing port): `down_s` without carrier, then `up_s` with it."""

    kind: Literal["flapping_link"]
    seat: SeatId
    down_s: float = Field(1.5, ge=0.2, le=30)
    up_s: float = Field(2.5, ge=0.2, le=30)


class CameraNotRecorded(_Strict):
    """The recorder has no recording of this camera (its channel was never added)."""

    kind: Literal["camera_not_recorded"]
    camera: CameraName


class RecorderDiskFull(_Strict):
    """The recorder's disk is full: it reports 0 MB free and its jobs say so."""

    kind: Literal["recorder_disk_full"]


Fault = Annotated[
    SeatLinkRate
    | AbsentSeat
    | WrongSubnet
    | DuplicateAddress
    | DropsPing
    | DhcpLease
    | BlockedSiteOpenByIp
    | HttpsUnfiltered
    | PublicResolverOpen
    | SlowUplink
    | NoAgent
    | RogueDhcp
    | CameraFault
    | CameraNotRecorded
    | RecorderDiskFull
    | FlappingLink
    | MtuBlackHole,
    Field(discriminator="kind"),
]

_SEAT_ADDRESSING = (AbsentSeat, WrongSubnet, DuplicateAddress)


class SpecProblems(ValueError):
    """Meaning errors, each with the field path it is about (carried through pydantic)."""

    def __init__(self, problems: list[tuple[PathKey, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{dotted(p)}: {m}" for p, m in problems))


class LabSpec(_Strict):
    name: str = "exam-room"
    seats: int = Field(MAX_SEATS, ge=1, le=MAX_SEATS)
    seat_link_mbit: Mbit = 1000
    server_link_mbit: Mbit = 1000
    uplink_mbit: Mbit = 1000
    ups: UpsSpec = UpsSpec()
    cameras: list[CameraSpec] = Field(default_factory=list)
    recorder: RecorderSpec | None = None
    # run `readiness agent` on every seat and on the exam server (no_agent faults aside)
    agents: bool = True
    # words the router's transparent HTTP filter blocks in URLs to allowed sites, with a
    # block page (readiness/lab/keyword_filter.py); empty: the router has no keyword filter
    keyword_filter: list[str] = Field(default_factory=list)
    # the LAN also has an IPv6 path out (2001:db8::/32) while the router's filter and DNS
    # cover IPv4 only: its nftables table is `ip` family and its DNS answers AAAA for the
    # blocked names, so they are reached over IPv6 (readiness/lab/topology.py)
    ipv4_only_router_with_ipv6: bool = False
    # how the router stops the blocked sample sites: "address" drops their addresses and
    # its DNS answers NXDOMAIN for their names; "http_host" answers their names and stops
    # HTTP by its Host header (a block page) but lets HTTPS through; "http_host_tls_sni"
    # stops HTTP by Host as well and resets the TLS handshake whose ClientHello names one
    # (readiness/lab/keyword_filter.py); "http_host_tls_router_cert" stops HTTP by Host and
    # answers HTTPS to them itself, with its own certificate and a block page
    blocked_sites_filter: Literal["address", "http_host", "http_host_tls_sni",
                                  "http_host_tls_router_cert"] = "address"
    # this blocked site's page title is `<script>alert(1)</script>`, served raw: a report
    # must show what the network sent as text, never as markup
    hostile_title_site: Literal["games.example", "video.example"] | None = None
    faults: list[Fault] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_meaning(self) -> LabSpec:
        problems = _meaning_problems(self)
        if problems:
            raise SpecProblems(problems)
        return self

    # -- derived views used to build the room -------------------------------------------------

    def seat_ids(self) -> list[str]:
        return [f"A{n:02d}" for n in range(1, self.seats + 1)]

    def faults_of(self, kind: type[_Strict]) -> list[Any]:
        return [f for f in self.faults if isinstance(f, kind)]

    def seat_fault(self, seat: str) -> AbsentSeat | WrongSubnet | DuplicateAddress | None:
        return next(
            (f for f in self.faults if isinstance(f, _SEAT_ADDRESSING) and f.seat == seat), None
        )

    def agent_on(self, seat: str) -> bool:
        return self.agents and seat not in {f.seat for f in self.faults_of(NoAgent)}

    def throughput_server_on(self, seat: str) -> bool:
        """`readiness throughput-server` runs on this agent-less seat."""
        return not self.agent_on(seat) and any(
            f.seat == seat and f.throughput_server for f in self.faults_of(NoAgent))

    def mtu_black_hole(self, seat: str) -> int | None:
        """The largest IPv4 packet that gets to or from this seat, when its path is an
        MTU black hole."""
        sizes = [f.mtu for f in self.faults_of(MtuBlackHole) if f.seat == seat]
        return sizes[-1] if sizes else None

    def lease_s(self, seat: str) -> int | None:
        """The lifetime of the seat's address when it holds it as a DHCP lease."""
        leases = [f.lease_s for f in self.faults_of(DhcpLease) if f.seat == seat]
        return leases[-1] if leases else None

    def flapping(self) -> list[FlappingLink]:
        """The seats whose switch port goes down and up, each once (the last fault wins)."""
        return list({f.seat: f for f in self.faults_of(FlappingLink)}.values())

    def seat_rate_mbit(self, seat: str) -> int:
        rates = [f.rate_mbit for f in self.faults_of(SeatLinkRate) if f.seat == seat]
        return rates[-1] if rates else self.seat_link_mbit

    def effective_uplink_mbit(self) -> int:
        slow = self.faults_of(SlowUplink)
        return slow[-1].rate_mbit if slow else self.uplink_mbit

    def open_blocked_sites(self) -> set[str]:
        return {f.site for f in self.faults_of(BlockedSiteOpenByIp)}

    def https_unfiltered_sites(self) -> set[str]:
        """Blocked sites whose HTTP alone the router filters (the https_unfiltered fault;
        blocked_sites_filter "http_host" does it for every blocked site)."""
        return {f.site for f in self.faults_of(HttpsUnfiltered)}

    def public_resolver_open(self) -> bool:
        return bool(self.faults_of(PublicResolverOpen))

    def rogue_dhcp(self) -> RogueDhcp | None:
        rogue = self.faults_of(RogueDhcp)
        return rogue[0] if rogue else None

    def recorded_cameras(self) -> list[CameraSpec]:
        """The cameras the recorder records (none without a recorder)."""
        if self.recorder is None:
            return []
        left_out = {f.camera for f in self.faults_of(CameraNotRecorded)}
        return [c for c in self.effective_cameras() if c.name not in left_out]

    def recorder_free_gb(self) -> int:
        assert self.recorder is not None
        return 0 if self.faults_of(RecorderDiskFull) else self.recorder.free_gb

    def effective_cameras(self) -> list[CameraSpec]:
        """The camera list with every `camera` fault applied on top."""
        out = []
        for cam in self.cameras:
            changes: dict[str, Any] = {}
            for fault in self.faults_of(CameraFault):
                if fault.camera == cam.name:
                    changes.update(fault.model_dump(exclude={"kind", "camera"}, exclude_none=True))
            out.append(cam.model_copy(update=changes))
        return out


def _in_lab_ranges(address: ipaddress.IPv4Interface) -> bool:
    return any(address.ip in net for net in LAB_RANGES)


def _meaning_problems(spec: LabSpec) -> list[tuple[PathKey, str]]:
    problems: list[tuple[PathKey, str]] = []
    seats = set(spec.seat_ids())
    seat_range = f"A01-A{spec.seats:02d}"
    names = [c.name for c in spec.cameras]
    for i, name in enumerate(names):
        if names.index(name) != i:
            problems.append((("cameras", i, "name"), f"{name} is listed twice"))
        elif int(name.split("-")[1]) > MAX_CAMERA_NUMBER:
            problems.append(
                (("cameras", i, "name"), f"camera numbers go up to {MAX_CAMERA_NUMBER}")
            )
    addressed: dict[str, int] = {}
    absent = {f.seat for f in spec.faults_of(AbsentSeat)}
    for i, fault in enumerate(spec.faults):
        at: PathKey = ("faults", i)
        for field in ("seat", "same_as"):
            seat = getattr(fault, field, None)
            if seat is not None and seat not in seats:
                problems.append(
                    (at + (field,), f"{seat} is not a seat of this room ({seat_range})")
                )
        if isinstance(fault, _SEAT_ADDRESSING):
            if fault.seat in addressed:
                problems.append(
                    (
                        at + ("seat",),
                        f"{fault.seat} already has an addressing fault "
                        f"(faults[{addressed[fault.seat]}]); give each seat at most one",
                    )
                )
            addressed.setdefault(fault.seat, i)
        if isinstance(fault, DuplicateAddress):
            if fault.same_as == fault.seat:
                problems.append((at + ("same_as",), "a seat cannot duplicate itself"))
            elif fault.same_as in absent:
                problems.append((at + ("same_as",), f"{fault.same_as} is an absent seat"))
        if isinstance(fault, WrongSubnet):
            if not _in_lab_ranges(fault.address):
                problems.append(
                    (
                        at + ("address",),
                        "the lab only uses 198.18.0.0/15, "
                        "198.51.100.0/24 and 203.0.113.0/24",
                    )
                )
            elif fault.address.ip in ipaddress.IPv4Network("198.18.10.0/24"):
                problems.append((at + ("address",), "must be outside the room's 198.18.10.0/24"))
        if isinstance(fault, RogueDhcp):
            problems += [(at + (k,), m) for k, m in _rogue_dhcp_problems(spec, fault, i)]
        if isinstance(fault, CameraNotRecorded | RecorderDiskFull) and spec.recorder is None:
            problems.append((at + ("kind",), "the room has no recorder: add a recorder: section"))
        if isinstance(fault, MtuBlackHole) and fault.seat in absent:
            problems.append((at + ("seat",), f"{fault.seat} is an absent seat: it has no "
                                             "path to drop packets on"))
        if isinstance(fault, FlappingLink) and fault.seat in absent:
            problems.append((at + ("seat",), f"{fault.seat} is an absent seat: it has no "
                                             "switch port to go down and up"))
        if isinstance(fault, CameraFault | CameraNotRecorded) and fault.camera not in names:
            problems.append((at + ("camera",), f"{fault.camera} is not in the cameras list"))
    return problems


# Addresses the room's own machines hold (router, proctor, switch, UPS, exam server).
_ROOM_FIXED = ("198.18.10.1", "198.18.10.2", "198.18.10.3", "198.18.10.4", "198.18.10.5",
               "198.18.10.10")


def _rogue_dhcp_problems(spec: LabSpec, fault: RogueDhcp, index: int) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    first = next(i for i, f in enumerate(spec.faults) if isinstance(f, RogueDhcp))
    if first != index:
        problems.append(("kind", f"the room has one rogue DHCP server already (faults[{first}])"))
    for key, addr in (("address", fault.address.ip), ("pool_start", fault.pool_start),
                      ("pool_end", fault.pool_end)):
        if not _in_lab_ranges(ipaddress.IPv4Interface(addr)):
            problems.append((key, "the lab only uses 198.18.0.0/15, "
                                  "198.51.100.0/24 and 203.0.113.0/24"))
        elif key != "address" and addr not in fault.address.network:
            problems.append((key, f"must be inside the rogue server's own subnet "
                                  f"{fault.address.network}"))
    if fault.pool_start > fault.pool_end:
        problems.append(("pool_end", "must not come before pool_start"))
    used = {*_ROOM_FIXED, *(f"198.18.10.{100 + n}" for n in range(1, spec.seats + 1)),
            *(f"198.18.10.{200 + c.number}" for c in spec.cameras)}
    if str(fault.address.ip) in used:
        problems.append(("address", f"{fault.address.ip} belongs to a machine of the room; "
                                    "pick a free address"))
    return problems


def load_spec(path: Path | None = None) -> LabSpec:
    """Read and check a lab spec; every mistake is reported with file, line and field."""
    path = path or DEFAULT_SPEC
    try:
        source = load_yaml(path)
    except ConfigError as exc:
        raise LabSpecError(exc.issues) from None
    data = source.data if source.data is not None else {}
    if not isinstance(data, dict):
        raise LabSpecError([ConfigIssue(source.file, 1, "", "a lab spec is a YAML mapping")])
    try:
        return LabSpec.model_validate(data)
    except ValidationError as exc:
        raise LabSpecError(_issues(exc, source)) from None


def _issues(exc: ValidationError, source: YamlSource) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    for err in exc.errors():
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, SpecProblems):
            for path, message in cause.problems:
                issues.append(ConfigIssue(source.file, source.line_of(path), dotted(path), message))
            continue
        # A discriminated union puts the tag (e.g. "seat_link_rate") into the location.
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p in _FAULT_KINDS))
        message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        issues.append(ConfigIssue(source.file, source.line_of(loc), dotted(loc), message))
    return issues


_FAULT_KINDS = {
    m.model_fields["kind"].annotation.__args__[0]  # type: ignore[union-attr]
    for m in typing.get_args(typing.get_args(Fault)[0])
}
