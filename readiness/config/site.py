"""The site file's shape. Unknown keys are errors: a typo must not disable a check."""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime, time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

# The widest subnet a room's LAN may be: a /16 already holds 65 536 addresses.
MIN_ROOM_PREFIX = 16
MAC_RE = re.compile(r"^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


def _ipv4(value: str) -> str:
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise ValueError(f"{value!r} is not an IPv4 address such as 192.168.10.20") from None


def _no_credentials(value: str | None) -> str | None:
    """A URL must not carry a user:password: it would be printed with every result."""
    if value is not None and re.match(r"^[a-z][a-z0-9+.-]*://[^/@]*@", value, re.IGNORECASE):
        raise ValueError("has a user or password in it; readiness prints URLs in results, "
                         "so leave credentials out of them")
    return value


def _mac(value: str | None) -> str | None:
    if value is None:
        return None
    if not MAC_RE.match(value):
        raise ValueError(f"{value!r} is not a MAC address such as 00:1a:2b:3c:4d:5e")
    return value.lower().replace("-", ":")


def _not_yes_no(value: Any) -> Any:
    # YAML reads yes/no/on/off as booleans, and pydantic would take True as port 1
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a port number: write a number from 1 to 65535")
    return value


def _port_range(value: int) -> int:
    if not 1 <= value <= 65535:
        raise ValueError(f"{value} is not a port number: ports run from 1 to 65535")
    return value


Port = Annotated[int, BeforeValidator(_not_yes_no), AfterValidator(_port_range)]


def _not_a_number(value: Any) -> Any:
    # pydantic would read a number as seconds since 1970, and YAML 1.1 reads an
    # unquoted 12:30 as the number 750
    if isinstance(value, int | float):
        raise ValueError(f"{value!r} is not a date and time; write it such as "
                         "2026-12-05T09:00:00 (local time)")
    return value


class SiteInfo(Strict):
    name: str = Field(min_length=1)
    code: str = Field(min_length=1)
    # where the site is: the province's monitoring groups and routes alerts by them
    # (readiness province expected-sites reads them; optional for a site on its own)
    province: str | None = Field(default=None, min_length=1)
    city: str | None = Field(default=None, min_length=1)


class ExamSession(Strict):
    name: str = ""
    start: Annotated[datetime, BeforeValidator(_not_a_number)]
    duration_min: int = Field(gt=0, le=24 * 60)

    @field_validator("start")
    @classmethod
    def _plausible_year(cls, value: datetime) -> datetime:
        # a typo such as 0026 or 9999 would overflow the countdown's date arithmetic
        if not 2000 <= value.year <= 2100:
            raise ValueError(f"year {value.year} is not an exam date; write the date and "
                             "local time such as 2026-12-05T09:00:00")
        return value


class SnmpV2c(Strict):
    version: Literal["2c"]
    community: str
    port: Port = 161


class SnmpV3(Strict):
    version: Literal["3"]
    user: str = Field(min_length=1)
    auth_protocol: Literal["SHA", "SHA256", "SHA512", "MD5"] = "SHA"
    auth_key: str
    priv_protocol: Literal["AES", "AES256", "DES"] = "AES"
    priv_key: str
    port: Port = 161


Snmp = Annotated[SnmpV2c | SnmpV3, Field(discriminator="version")]


class Host(Strict):
    address: str
    mac: str | None = None
    ports: list[Port] = []

    _check_address = field_validator("address")(classmethod(lambda cls, v: _ipv4(v)))
    _check_mac = field_validator("mac")(classmethod(lambda cls, v: _mac(v)))


class Router(Host):
    web_url: str | None = None
    snmp: Snmp | None = None

    _check_url = field_validator("web_url")(classmethod(lambda cls, v: _no_credentials(v)))


class Switch(Strict):
    address: str
    snmp: Snmp | None = None

    _check_address = field_validator("address")(classmethod(lambda cls, v: _ipv4(v)))


class Ups(Switch):
    name: str = "UPS"


class ExamServers(Strict):
    primary: Host
    backup: Host | None = None


class SeatSpec(Strict):
    address: str
    mac: str | None = None

    _check_mac = field_validator("mac")(classmethod(lambda cls, v: _mac(v)))


class Camera(Strict):
    name: str = Field(min_length=1)
    url: str
    username: str | None = None
    password: str | None = None
    # RTSP Basic authentication sends the password to anyone on the LAN who listens;
    # readiness answers only Digest unless the site says this camera can do no better
    allow_basic_auth: bool = False
    # the camera's recording token on the room's recorder, when the recorder's recording
    # names neither the camera's address nor its name (CAM-STORE)
    recording: str | None = Field(None, min_length=1)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^(rtsp|rtsps|http|https)://", value):
            raise ValueError("must start with rtsp://, rtsps://, http:// or https://")
        if re.match(r"^[a-z]+://[^/@]*:[^/@]*@", value):
            raise ValueError(
                "has a password in it; put the user in 'username' and the password "
                "in 'password' as ${ENV_VAR} or secret:NAME"
            )
        return value


class Recorder(Strict):
    """The room's recorder (NVR), or a camera that records on its own storage: ONVIF
    Profile G (Search, Replay, Recording services) at http://address:port."""

    address: str
    port: Port = 80
    username: str | None = None
    password: str | None = None
    # where the disks' free space is read: "isapi" (/ISAPI/ContentMgmt/Storage, the
    # recorders of Hikvision and its OEMs), "none" (ONVIF has no free-space query: the
    # storage is then not verified)
    storage_api: Literal["isapi", "none"] = "isapi"
    # answer an RTSP Basic challenge on the replay (the password in clear on the LAN)
    allow_basic_auth: bool = False

    _check_address = field_validator("address")(classmethod(lambda cls, v: _ipv4(v)))


class WanEndpoint(Strict):
    name: str = Field(min_length=1)
    kind: Literal["http_download", "librespeed", "iperf3"]
    url: str | None = None
    host: str | None = None
    port: Port = 5201

    _check_url = field_validator("url")(classmethod(lambda cls, v: _no_credentials(v)))


class Agent(Strict):
    port: Port = 8765
    token: str | None = None


class Serve(Strict):
    """`readiness serve`: "run now" on the live page needs its own credential, never
    the agents' token (every seat PC holds that one)."""

    run_now_token: str | None = None


class LanSpeed(Strict):
    """How each seat's own link is proven (LAN-SPEED by measurement).

    pairs:  seats test each other through their agents, half the room against the other
            half at once, both directions at once; a slow pair is tried again against a
            seat known to be fast, to name the slow one. The seat <-> exam server path is
            proven by the room load test. Needs seats that may reach each other (TCP 5201,
            5202 between seats).
    server: every seat against the exam server, one after another (for rooms whose seats
            are isolated from each other).
    """

    method: Literal["pairs", "server"] = "pairs"


class FilterAudit(Strict):
    """What the filter audit tries beyond the room's exam URLs and blocked samples.
    No default names a real resolver: what a site may contact is its own decision."""

    # asked from the coordinator for the blocked names' real addresses
    control_resolvers: list[str] = []
    # "another DNS server" a candidate would try from a seat
    bypass_resolvers: list[str] = []
    # DNS-over-HTTPS endpoints a candidate would try
    doh_urls: list[str] = []

    @field_validator("doh_urls")
    @classmethod
    def _doh(cls, values: list[str]) -> list[str]:
        return [_no_credentials(v) or v for v in values]
    # blocked names' addresses known without DNS
    blocked_addresses: dict[str, list[str]] = {}
    # words the keyword filter must block in URLs
    keywords: list[str] = []
    # regular expressions of this router's block page, and hosts its block redirect goes to
    block_page_patterns: list[str] = []
    block_hosts: list[str] = []
    # seats the FILTER-FEATURES audit runs from
    sample_seats: int = Field(1, ge=1, le=40)
    # the router's remote (WAN-side) management page, if it must answer
    remote_management_url: str | None = None

    _check_remote = field_validator("remote_management_url")(
        classmethod(lambda cls, v: _no_credentials(v)))

    @field_validator("control_resolvers", "bypass_resolvers")
    @classmethod
    def _addresses(cls, values: list[str]) -> list[str]:
        return [_ipv4(v) for v in values]


class Room(Strict):
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_-]+$")
    name: str = ""
    subnet: str
    router: Router
    switch: Switch | None = None
    ups: Ups | None = None
    exam_servers: ExamServers
    proctor: Host
    # label or range ("A01-A40") -> address or range ("192.168.10.101-140") or SeatSpec
    seats: dict[str, str | SeatSpec]
    cameras: list[Camera] = []
    recorder: Recorder | None = None
    exam_urls: list[str] = []
    blocked_samples: list[str] = []
    wan_endpoints: list[WanEndpoint] = []
    filter_audit: FilterAudit | None = None
    lan_speed: LanSpeed = LanSpeed()
    # The room's own DHCP server, if it has one. Any other server answering on the exam
    # LAN is rogue; without one (fixed addresses) every DHCP server is rogue.
    dhcp_server: str | None = None

    _check_dhcp_server = field_validator("dhcp_server")(
        classmethod(lambda cls, v: None if v is None else _ipv4(v)))

    @field_validator("subnet")
    @classmethod
    def _subnet(cls, value: str) -> str:
        try:
            network = ipaddress.IPv4Network(value, strict=True)
        except ValueError:
            raise ValueError(
                f"{value!r} is not an IPv4 subnet in CIDR form such as 192.168.10.0/24 "
                "(host bits must be zero)"
            ) from None
        if network.prefixlen < MIN_ROOM_PREFIX:
            # the agents' allow-list and the ARP sweep take the room's subnet as given:
            # 0.0.0.0/0 would let an agent be sent against every IPv4 address
            raise ValueError(
                f"{network} has {network.num_addresses:,} addresses, more than an exam room's "
                f"LAN can have (at most /{MIN_ROOM_PREFIX}, {2 ** (32 - MIN_ROOM_PREFIX):,} "
                "addresses): write the room's own subnet, such as 192.168.10.0/24")
        return str(network)


DURATION_RE = re.compile(r"^\s*(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?\s*$")
DURATION_HELP = "a duration with its unit, such as 7d, 2h, 30m, 1h30m or 20s"
MAX_DURATION = timedelta(days=366)  # a countdown longer than a year is a typo


def _duration(value: Any) -> Any:
    if isinstance(value, timedelta) or value is None:
        return value
    if isinstance(value, bool) or not isinstance(value, str):
        # a bare number has no unit, and minutes and hours are both plausible
        raise ValueError(f"{value!r} is not {DURATION_HELP}")
    match = DURATION_RE.match(value)
    if not match or not any(match.groups()):
        raise ValueError(f"{value!r} is not {DURATION_HELP}")
    d, h, m, s = (int(g) if g else 0 for g in match.groups())
    # compared in seconds first: timedelta itself overflows past 999999999 days
    if ((d * 24 + h) * 60 + m) * 60 + s > MAX_DURATION.total_seconds():
        raise ValueError(f"{value!r} is longer than {MAX_DURATION.days}d; "
                         "write a shorter duration")
    return timedelta(days=d, hours=h, minutes=m, seconds=s)


def _time_of_day(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 20:00 as the base-60 number 1200
        raise ValueError('write the time in quotes, e.g. daily_at: "20:00"')
    if isinstance(value, str) and not re.match(r"^\d{1,2}:\d{2}(:\d{2})?$", value.strip()):
        raise ValueError(f"{value!r} is not a time of day such as \"20:00\"")
    return value.strip() if isinstance(value, str) else value


Duration = Annotated[timedelta, BeforeValidator(_duration)]
TimeOfDay = Annotated[time, BeforeValidator(_time_of_day)]


class Schedule(Strict):
    """When `readiness schedule` checks the site, counting down to each exam session.

    Each phase runs from its `*_from` (how long before the session starts) until the
    next phase begins; `null` switches a phase off. Times inside an exam session are
    left out: a check must not load the network candidates are using.
    """

    daily_from: Duration | None = timedelta(days=7)
    daily_at: TimeOfDay = time(20, 0)
    night_from: Duration | None = timedelta(days=1)
    night_every: Duration = timedelta(hours=2)
    final_from: Duration | None = timedelta(hours=3)
    final_every: Duration = timedelta(minutes=30)
    last: Duration | None = timedelta(minutes=30)
    # what each scheduled run checks (default: every room, every requirement)
    rooms: list[str] = []
    only: list[str] = []
    # a run missed while the machine was off still runs if it is at most this late
    misfire_grace: Duration = timedelta(minutes=15)

    @model_validator(mode="after")
    def _order(self) -> Schedule:
        for name in ("night_every", "final_every", "misfire_grace"):
            if getattr(self, name) < timedelta(seconds=5):
                raise ValueError(f"{name} must be at least 5s")
        marks = [(n, getattr(self, n)) for n in ("daily_from", "night_from", "final_from",
                                                   "last") if getattr(self, n) is not None]
        for (earlier, a), (later, b) in zip(marks, marks[1:], strict=False):
            if a <= b:
                raise ValueError(f"{earlier} ({a}) must be longer before the exam than "
                                 f"{later} ({b})")
        return self


class Webhook(Strict):
    kind: Literal["generic", "dingtalk", "wecom", "feishu"]
    # the robot's address carries its access token: a reference, like any secret
    url: str
    # DingTalk "加签" / Feishu "签名校验" secret, when the robot has one
    sign_secret: str | None = None
    format: Literal["text", "markdown"] = "text"

    @model_validator(mode="after")
    def _kind_options(self) -> Webhook:
        if self.format == "markdown" and self.kind not in ("dingtalk", "wecom"):
            raise ValueError("format: markdown is for dingtalk and wecom robots only")
        if self.sign_secret is not None and self.kind not in ("dingtalk", "feishu"):
            raise ValueError("sign_secret is for dingtalk and feishu robots only")
        return self


class EmailAlerts(Strict):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    host: str = Field(min_length=1)
    port: Port = 587
    sender: str = Field(alias="from", min_length=3)
    to: list[str] = Field(min_length=1)
    username: str | None = None
    password: str | None = None
    starttls: bool = True
    ssl: bool = False  # implicit TLS (usually port 465) instead of STARTTLS

    @model_validator(mode="after")
    def _auth(self) -> EmailAlerts:
        if self.password is not None and not self.username:
            raise ValueError("a password needs a username")
        if self.ssl and self.starttls:
            raise ValueError("choose ssl (port 465) or starttls (port 587), not both")
        return self


class Alerts(Strict):
    """Who hears when a scheduled run finds a requirement broken (or fixed again)."""

    webhooks: list[Webhook] = []
    email: EmailAlerts | None = None
    timeout_s: float = Field(10, gt=0, le=120)


class SiteFile(Strict):
    site: SiteInfo
    profile: str
    timezone: str = "Asia/Shanghai"
    secrets_file: str | None = None
    agent: Agent = Agent()
    serve: Serve = Serve()
    exam_sessions: list[ExamSession] = []
    schedule: Schedule = Schedule()
    alerts: Alerts | None = None
    rooms: list[Room] = Field(min_length=1)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone name such as Asia/Shanghai") from None
        return value
