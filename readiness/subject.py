"""Whom a result is about, and the one place its label is written in either language.

A planner gives every Check a `Subject` (what kind of thing, its name as the site file
spells it, its room, its address) and, when a check looks at one side of it, an
`aspect` ("download", "dhcp", "keyword"...). The console, the fix list, the report, the
live page and `/metrics` all read these fields; none of them parses a label, a check id
or a message. `label()` is the only code that turns a subject into words.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    SEAT = "seat"
    PROCTOR = "proctor"
    EXAM_SERVER = "exam_server"
    BACKUP_SERVER = "backup_server"
    ROUTER = "router"
    SWITCH = "switch"
    SWITCH_PORT = "switch_port"
    CAMERA = "camera"
    UPS = "ups"
    # the room's video recorder (NVR)
    RECORDER = "recorder"
    UPLINK = "uplink"
    FILTER_TARGET = "filter_target"
    COORDINATOR = "coordinator"
    ROOM = "room"
    SITE = "site"
    # a result stored by a version that did not record subjects: its old label as name
    UNKNOWN = "unknown"


# the kinds a technician walks up to: one machine, one place to fix it
MACHINES = frozenset({Kind.SEAT, Kind.PROCTOR, Kind.EXAM_SERVER, Kind.BACKUP_SERVER,
                      Kind.ROUTER, Kind.SWITCH, Kind.SWITCH_PORT, Kind.CAMERA, Kind.UPS,
                      Kind.RECORDER})


@dataclass(frozen=True)
class Subject:
    kind: Kind
    # as the site file spells it: the seat's label (A07), the camera's name (cam-2), the
    # UPS's name, the room id for a room, the site code for the site
    name: str
    room: str | None = None
    address: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "name": self.name, "room": self.room,
                "address": self.address}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Subject:
        return cls(Kind(str(data["kind"])), str(data["name"]),
                   None if data.get("room") is None else str(data["room"]),
                   None if data.get("address") is None else str(data["address"]))

    @classmethod
    def read(cls, data: Any, old_label: str) -> Subject:
        """The subject a stored result carries, or, for a result recorded before results
        had subjects, one that keeps its old label as it was written."""
        if isinstance(data, dict) and "kind" in data and "name" in data:
            return cls.from_dict(data)
        return cls(Kind.UNKNOWN, old_label)

    @property
    def is_machine(self) -> bool:
        return self.kind in MACHINES


def seat(name: str, room: str, address: str) -> Subject:
    return Subject(Kind.SEAT, name, room, address)


def room(room_id: str) -> Subject:
    return Subject(Kind.ROOM, room_id, room_id)


# (en, zh) of each kind; {name} and {room} are filled in, the address follows in brackets
_KIND_WORDS: dict[Kind, tuple[str, str]] = {
    Kind.SEAT: ("seat {name}", "考位 {name}"),
    Kind.PROCTOR: ("proctor", "监考机"),
    Kind.EXAM_SERVER: ("exam server", "考试服务器"),
    Kind.BACKUP_SERVER: ("backup exam server", "备用考试服务器"),
    Kind.ROUTER: ("router", "路由器"),
    Kind.SWITCH: ("switch", "交换机"),
    Kind.SWITCH_PORT: ("switch port {name}", "交换机端口 {name}"),
    Kind.CAMERA: ("camera {name}", "摄像头 {name}"),
    Kind.UPS: ("UPS {name}", "不间断电源 {name}"),
    Kind.RECORDER: ("recorder of room {room}", "考场 {room} 录像机"),
    Kind.UPLINK: ("uplink of room {room}", "考场 {room} 出口"),
    Kind.FILTER_TARGET: ("blocked site {name}", "应拦截网站 {name}"),
    Kind.COORDINATOR: ("the coordinator", "检测机"),
    Kind.ROOM: ("room {name}", "考场 {name}"),
    Kind.SITE: ("site {name}", "站点 {name}"),
    Kind.UNKNOWN: ("{name}", "{name}"),
}

# what side of its subject a check looks at
ASPECTS: dict[str, tuple[str, str]] = {
    "download": ("download from the exam server", "下行：考试服务器 → 考位"),
    "upload": ("upload to the exam server", "上行：考位 → 考试服务器"),
    "pair_download": ("download from a partner seat", "下行：同组考位 → 考位"),
    "pair_upload": ("upload to a partner seat", "上行：考位 → 同组考位"),
    "pairs": ("every seat against another seat, both directions at once",
              "各考位两两对测，双向同时"),
    "load": ("whole room loading the exam server", "整体负载 → 考试服务器"),
    "same_subnet": ("in the room's subnet", "与考场同一子网"),
    "broadcast_domain": ("broadcast domain", "广播域"),
    "arp_sweep": ("ARP sweep", "ARP 扫描"),
    "unlisted": ("machines not in the site file", "未写入站点文件的机器"),
    "dhcp": ("DHCP servers", "DHCP 服务器"),
    "conflicts": ("address conflicts", "IP 冲突"),
    "onvif": ("ONVIF cameras found on the LAN", "局域网上发现的 ONVIF 摄像头"),
    "no_agents": ("seats tried from the coordinator (no seat agents)",
                  "各考位（无考位代理，从检测机尝试）"),
    "internet": ("reaches the internet", "访问外网"),
    "own_access": ("own access, for the per-address comparison", "自身的访问（用于按地址对比）"),
    "web_management": ("web management", "网页管理"),
    "remote_management": ("remote management", "远程管理"),
    "snmp": ("SNMP", "SNMP"),
    "ports": ("switch ports", "交换机端口"),
    "seat_ports": ("seats' switch ports", "各考位的交换机端口"),
    "spare": ("spare exam server", "备用考试服务器"),
    "storage": ("recording storage", "录像存储"),
    "recording": ("recording on the recorder", "录像机上的录像"),
    # the router's filtering features (FILTER-FEATURES)
    "ip": ("IP filtering", "IP 过滤"),
    "dns": ("DNS filtering", "DNS 过滤"),
    "url_wildcard": ("URL filtering with wildcards", "URL 通配符过滤"),
    "keyword": ("keyword filtering", "关键字过滤"),
    "block_notice": ("block notice", "过滤通告"),
    "per_address": ("per-address access control", "基于地址的访问控制"),
    "per_time": ("time-window policy", "基于时间段的策略"),
    "ipv6": ("IPv6 filtering", "IPv6 过滤"),
}

FEATURES = ("ip", "dns", "url_wildcard", "keyword", "block_notice", "per_address",
            "per_time", "ipv6")


def name_of(subject: Subject, lang: str) -> str:
    """The subject in a few words, without its address: "seat A07", "考位 A07"."""
    en, zh = _KIND_WORDS[subject.kind]
    words = zh if lang == "zh" else en
    if subject.kind is Kind.UPS and "ups" in subject.name.lower() and lang != "zh":
        words = "{name}"  # "Lab UPS", not "UPS Lab UPS"
    text = words.format(name=subject.name, room=subject.room or "")
    # a room-bound device outside its room's words names the room once
    if subject.kind is Kind.CAMERA and subject.room:
        text = f"考场 {subject.room} {text}" if lang == "zh" else f"room {subject.room} {text}"
    return text


def label(subject: Subject, aspect: str | None, lang: str) -> str:
    """What people read for a result's subject: "seat A07 (198.18.10.107) · download from
    the exam server"."""
    text = name_of(subject, lang)
    if subject.address:
        text += f" ({subject.address})"
    if aspect:
        en, zh = ASPECTS.get(aspect, (aspect, aspect))
        text += f" · {zh if lang == 'zh' else en}"
    return text


def aspect_words(aspect: str, lang: str) -> str:
    en, zh = ASPECTS.get(aspect, (aspect, aspect))
    return zh if lang == "zh" else en


# several devices of a kind in one room, said once before each is named by its own name
_MANY: dict[Kind, tuple[str, str]] = {
    Kind.CAMERA: ("room {room}: {n} cameras", "考场 {room}：{n} 个摄像头"),
}


def devices_label(kind: Kind, room: str | None, n: int, lang: str) -> str:
    """"room lab: 4 cameras", the heading of a line naming each by `member_label`."""
    en, zh = _MANY.get(kind, ("room {room}: {n} × " + kind.value, "考场 {room}：{n} 个 "
                              + kind.value))
    return (zh if lang == "zh" else en).format(room=room or "", n=n)


def member_label(subject: Subject) -> str:
    """A device under a `devices_label` heading: its own name and address, "cam-2
    (198.18.10.202)" (the same in both languages: the site file's name)."""
    return subject.name + (f" ({subject.address})" if subject.address else "")
