"""What a check looked at, said in either language.

Planners write a result's `target` as an English label ("seat A13 (198.18.10.113)").
`describe()` turns it into a structured Target (kind, name, address, bilingual label) so
the console, the fix list and the report can say `考位 A13` in Chinese. A planner that
sets CheckResult.target_info directly needs no entry here; every label the planners
write today has one (tests/test_console.py checks this on the drill room's results).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .judges.filtering import FEATURE_NAMES
from .results import CheckResult, Target, Text

_FEATURES_ZH = {en: zh for en, zh in FEATURE_NAMES.values()}
_ROUTER_FEATURES = {"web management": "网页管理", "remote management": "远程管理"}

Build = Callable[[re.Match[str]], Target]


def _t(kind: str, name: str, address: str | None, en: str, zh: str) -> Target:
    return Target(kind, name, address, Text(en, zh))


def _seat(m: re.Match[str]) -> Target:
    return _t("seat", m["seat"], m["addr"], m[0], f"考位 {m['seat']} ({m['addr']})")


def _path(m: re.Match[str]) -> Target:
    # a throughput path belongs to its seat: the seat is where someone goes to fix it
    zh = (f"下行：考试服务器 ({m['srv']}) → 考位 {m['seat']} ({m['addr']})"
          if m["dir"] == "download" else
          f"上行：考位 {m['seat']} ({m['addr']}) → 考试服务器 ({m['srv']})")
    return _t("seat", m["seat"], m["addr"], m[0], zh)


def _pair(m: re.Match[str]) -> Target:
    zh = (f"下行：同组考位 → 考位 {m['seat']} ({m['addr']})" if m["dir"] == "download" else
          f"上行：考位 {m['seat']} ({m['addr']}) → 同组考位")
    return _t("seat", m["seat"], m["addr"], m[0], zh)


def _feature(m: re.Match[str]) -> Target:
    zh = _FEATURES_ZH.get(m["feature"], m["feature"])
    return _t("room", m["room"], None, m[0], f"考场 {m['room']} {zh}")


def _router_feature(m: re.Match[str]) -> Target:
    zh = _ROUTER_FEATURES.get(m["feature"], m["feature"])
    where = f" ({m['url']})" if m["url"] else ""
    return _t("host", "router", None, m[0], f"路由器{zh}{where}")


_HOSTS_ZH = {"exam server primary": "主考试服务器", "exam server backup": "备用考试服务器",
             "exam server": "考试服务器", "proctor": "监考机", "router": "路由器",
             "router SNMP": "路由器 SNMP", "switch ports": "交换机端口",
             "seats' switch ports": "各考位的交换机端口"}

# (pattern of the English label, how to build the Target); the first that matches wins
PHRASES: list[tuple[re.Pattern[str], Build]] = [
    (re.compile(r"^seat (?P<seat>\S+) \((?P<addr>[^)]+)\)$"), _seat),
    (re.compile(r"^(?P<dir>download): exam server \((?P<srv>[^)]+)\) → "
                r"seat (?P<seat>\S+) \((?P<addr>[^)]+)\)$"), _path),
    (re.compile(r"^(?P<dir>upload): seat (?P<seat>\S+) \((?P<addr>[^)]+)\) → "
                r"exam server \((?P<srv>[^)]+)\)$"), _path),
    # a seat pair (LAN-SPEED between two seats): the seat named is the one tested
    (re.compile(r"^(?P<dir>download): a partner seat → "
                r"seat (?P<seat>\S+) \((?P<addr>[^)]+)\)$"), _pair),
    (re.compile(r"^(?P<dir>upload): seat (?P<seat>\S+) \((?P<addr>[^)]+)\) → "
                r"a partner seat$"), _pair),
    (re.compile(r"^room (?P<room>\S+): every seat against another seat, both directions "
                r"at once$"),
     lambda m: _t("room", m["room"], None, m[0], f"考场 {m['room']}：各考位两两对测，双向同时")),
    (re.compile(r"^room (?P<room>\S+) load → exam server \((?P<srv>[^)]+)\)$"),
     lambda m: _t("room", m["room"], None, m[0],
                  f"考场 {m['room']} 整体负载 → 考试服务器 ({m['srv']})")),
    (re.compile(rf"^(?P<host>{'|'.join(map(re.escape, _HOSTS_ZH))}) \((?P<addr>[^)]+)\)"
                r"(?: in (?P<net>\S+))?$"),
     lambda m: _t("host", m["host"], m["addr"], m[0],
                  f"{_HOSTS_ZH[m['host']]} ({m['addr']})"
                  + (f"，位于 {m['net']}" if m["net"] else ""))),
    (re.compile(r"^exam server \((?P<addr>[^)]+)\) reaches the internet$"),
     lambda m: _t("host", "exam server", m["addr"], m[0],
                  f"考试服务器 ({m['addr']}) 访问外网")),
    (re.compile(r"^broadcast domain of (?P<net>\S+)$"),
     lambda m: _t("network", m["net"], None, m[0], f"{m['net']} 的广播域")),
    (re.compile(r"^ARP sweep of (?P<net>\S+)$"),
     lambda m: _t("network", m["net"], None, m[0], f"{m['net']} 的 ARP 扫描")),
    (re.compile(r"^machines on (?P<net>\S+) not in the site file$"),
     lambda m: _t("network", m["net"], None, m[0], f"{m['net']} 上未写入站点文件的机器")),
    (re.compile(r"^DHCP servers on (?P<net>\S+)$"),
     lambda m: _t("network", m["net"], None, m[0], f"{m['net']} 上的 DHCP 服务器")),
    (re.compile(r"^address conflicts on (?P<net>\S+)$"),
     lambda m: _t("network", m["net"], None, m[0], f"{m['net']} 上的 IP 冲突")),
    (re.compile(r"^ONVIF cameras on (?P<net>\S+) \(room (?P<room>\S+)\)$"),
     lambda m: _t("room", m["room"], None, m[0],
                  f"考场 {m['room']} 的 ONVIF 摄像头 ({m['net']})")),
    (re.compile(r"^camera (?P<cam>\S+) \(room (?P<room>\S+)\)$"),
     lambda m: _t("camera", m["cam"], None, m[0], f"考场 {m['room']} 摄像头 {m['cam']}")),
    (re.compile(r"^room (?P<room>\S+) uplink \((?P<names>.+)\)$"),
     lambda m: _t("room", m["room"], None, m[0],
                  f"考场 {m['room']} 出口带宽 ({m['names']})")),
    (re.compile(r"^room (?P<room>\S+) seats \(tried from the coordinator: no seat agents\)$"),
     lambda m: _t("room", m["room"], None, m[0],
                  f"考场 {m['room']} 各考位（无考位代理，从检测机尝试）")),
    (re.compile(r"^room (?P<room>\S+)$"),
     lambda m: _t("room", m["room"], None, m[0], f"考场 {m['room']}")),
    (re.compile(rf"^(?P<feature>{'|'.join(map(re.escape, _FEATURES_ZH))}) "
                r"\(room (?P<room>\S+)\)$"), _feature),
    (re.compile(r"^router (?P<feature>web management|remote management)(?: \((?P<url>.+)\))?$"),
     _router_feature),
    (re.compile(r"^the coordinator's own access \(for the per-address comparison\)$"),
     lambda m: _t("host", "coordinator", None, m[0], "检测机自身的访问（用于按地址对比）")),
    (re.compile(r"^UPS (?P<name>.+) \((?P<addr>[^)]+)\)$"),
     lambda m: _t("host", f"UPS {m['name']}", m["addr"], m[0], f"UPS {m['name']} ({m['addr']})")),
    (re.compile(r"^site$"), lambda m: _t("site", "site", None, m[0], "站点")),
]

def parse(label: str) -> Target | None:
    """The Target an English label names, or None when no phrase knows it."""
    for pattern, build in PHRASES:
        m = pattern.match(label)
        if m:
            return build(m)
    return None


def describe(result: CheckResult) -> Target:
    if result.target_info is not None:
        return result.target_info
    # an unknown label stays as written in both languages rather than be guessed at
    return parse(result.target) or Target("other", result.target, None,
                                          Text(result.target, result.target))


def seat_label(name: str, address: str | None) -> Text:
    at = f" ({address})" if address else ""
    return Text(f"seat {name}{at}", f"考位 {name}{at}")


def host_key(target: Target) -> str | None:
    """The machine a technician walks to, when the target is one machine."""
    if target.kind == "seat":
        return f"seat {target.name}"
    if target.kind == "host" and target.address:
        return f"host {target.address}"
    return None
