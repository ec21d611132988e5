"""The site file's shape. Unknown keys are errors: a typo must not disable a check."""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAC_RE = re.compile(r"^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


def _ipv4(value: str) -> str:
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise ValueError(f"{value!r} is not an IPv4 address such as 192.168.10.20") from None


def _mac(value: str | None) -> str | None:
    if value is None:
        return None
    if not MAC_RE.match(value):
        raise ValueError(f"{value!r} is not a MAC address such as 00:1a:2b:3c:4d:5e")
    return value.lower().replace("-", ":")


class SiteInfo(Strict):
    name: str = Field(min_length=1)
    code: str = Field(min_length=1)


class ExamSession(Strict):
    name: str = ""
    start: datetime
    duration_min: int = Field(gt=0, le=24 * 60)


class SnmpV2c(Strict):
    version: Literal["2c"]
    community: str
    port: int = Field(161, ge=1, le=65535)


class SnmpV3(Strict):
    version: Literal["3"]
    user: str = Field(min_length=1)
    auth_protocol: Literal["SHA", "SHA256", "SHA512", "MD5"] = "SHA"
    auth_key: str
    priv_protocol: Literal["AES", "AES256", "DES"] = "AES"
    priv_key: str
    port: int = Field(161, ge=1, le=65535)


Snmp = Annotated[SnmpV2c | SnmpV3, Field(discriminator="version")]


class Host(Strict):
    address: str
    mac: str | None = None
    ports: list[Annotated[int, Field(ge=1, le=65535)]] = []

    _check_address = field_validator("address")(classmethod(lambda cls, v: _ipv4(v)))
    _check_mac = field_validator("mac")(classmethod(lambda cls, v: _mac(v)))


class Router(Host):
    web_url: str | None = None
    snmp: Snmp | None = None


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


class WanEndpoint(Strict):
    name: str = Field(min_length=1)
    kind: Literal["http_download", "librespeed", "iperf3"]
    url: str | None = None
    host: str | None = None
    port: int = Field(5201, ge=1, le=65535)


class Agent(Strict):
    port: int = Field(8765, ge=1, le=65535)
    token: str | None = None


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
    exam_urls: list[str] = []
    blocked_samples: list[str] = []
    wan_endpoints: list[WanEndpoint] = []

    @field_validator("subnet")
    @classmethod
    def _subnet(cls, value: str) -> str:
        try:
            return str(ipaddress.IPv4Network(value, strict=True))
        except ValueError:
            raise ValueError(
                f"{value!r} is not an IPv4 subnet in CIDR form such as 192.168.10.0/24 "
                "(host bits must be zero)"
            ) from None


class SiteFile(Strict):
    site: SiteInfo
    profile: str
    timezone: str = "Asia/Shanghai"
    secrets_file: str | None = None
    agent: Agent = Agent()
    exam_sessions: list[ExamSession] = []
    rooms: list[Room] = Field(min_length=1)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone name such as Asia/Shanghai") from None
        return value
