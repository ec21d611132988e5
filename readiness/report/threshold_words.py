"""A rule's thresholds as an inspector reads them, in both languages: "at least 40 seats
answer", not `min_seats = 40`. Keys nobody has put into words yet are shown as they are
(`key = value`), so nothing is hidden."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..results import Text


def _n(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _yes(en_yes: str, zh_yes: str, en_no: str, zh_no: str) -> Callable[[Any], Text]:
    return lambda v: Text(en_yes, zh_yes) if v else Text(en_no, zh_no)


def _fmt(en: str, zh: str) -> Callable[[Any], Text]:
    return lambda v: Text(en.format(v=_n(v)), zh.format(v=_n(v)))


_CLASSES = {"fast_ethernet": ("100M", "百兆"), "gigabit": ("gigabit", "千兆")}
_COVERS = {"candidate_pcs": ("all candidate PCs", "全部考生机")}
_INTERNET = {"exam_sites_only": ("the exam sites only", "仅考试网站")}


def _pick(table: dict[str, tuple[str, str]], en: str, zh: str) -> Callable[[Any], Text]:
    def say(v: Any) -> Text:
        got = table.get(str(v), (str(v), str(v)))
        return Text(en.format(v=got[0]), zh.format(v=got[1]))
    return say


WORDS: dict[str, Callable[[Any], Text]] = {
    "audio_required": _yes("each camera records sound", "每个摄像头须录音",
                           "sound not required", "不要求录音"),
    "min_cameras": _fmt("at least {v} working cameras per room", "每考场至少 {v} 个可用摄像头"),
    "min_width": _fmt("picture at least {v} pixels wide", "画面宽至少 {v} 像素"),
    "min_height": _fmt("picture at least {v} pixels high", "画面高至少 {v} 像素"),
    "min_megapixels": _fmt("at least {v} megapixels", "至少 {v} 百万像素"),
    "record_whole_exam": _yes("the whole exam is recorded and kept", "考试全过程须录像并保存",
                              "recording not required", "不要求录像"),
    "feature": lambda v: Text(f"the router's feature: {v}", f"路由器功能：{v}"),
    "address": _fmt("fixed address {v}", "固定地址 {v}"),
    "mac": _fmt("MAC address {v}", "MAC 地址 {v}"),
    "named_by_rule": _yes("the rule names this machine", "规则点名此设备",
                          "the rule does not name this machine", "规则未点名此设备"),
    "dhcp_server": _fmt("DHCP server allowed: {v}", "允许的 DHCP 服务器：{v}"),
    "macs_per_address": _fmt("at most {v} machine(s) per address", "每个地址至多 {v} 台机器"),
    "addressing": lambda v: Text("fixed (static) address" if v == "static" else f"addressing: {v}",
                                 "固定（静态）地址" if v == "static" else f"地址方式：{v}"),
    "min_seats": _fmt("at least {v} seats answer", "至少 {v} 个考位可达"),
    "recommended_seats": _fmt("{v} seats recommended", "建议 {v} 个考位"),
    "fail_below_mbps": _fmt("fails below {v} Mbit/s", "低于 {v} Mbit/s 不通过"),
    "warn_below_mbps": _fmt("warns below {v} Mbit/s", "低于 {v} Mbit/s 警告"),
    "gigabit_class_min_mbps": _fmt("gigabit class from {v} Mbit/s", "千兆级：{v} Mbit/s 起"),
    "fast_ethernet_class_min_mbps": _fmt("100M class from {v} Mbit/s", "百兆级：{v} Mbit/s 起"),
    "required_class": _pick(_CLASSES, "at least a {v} LAN", "至少{v}局域网"),
    "duration_s": _fmt("each test runs {v} s", "每次测试 {v} 秒"),
    "omit_s": lambda v: Text("no warm-up left out" if not v else f"the first {_n(v)} s not counted",
                             "不剔除预热时间" if not v else f"前 {_n(v)} 秒不计入"),
    "load_min_share_pct": _fmt("under whole-room load each seat gets at least {v} % of an "
                               "even share", "整体负载下每个考位至少得到均分带宽的 {v}%"),
    "load_duration_s": _fmt("whole-room load for {v} s", "整体负载测试 {v} 秒"),
    "warn_loss_pct": _fmt("warns above {v} % ping loss", "丢包超过 {v}% 警告"),
    "fail_loss_pct": _fmt("fails above {v} % ping loss", "丢包超过 {v}% 不通过"),
    "warn_rtt_ms": _fmt("warns above {v} ms round trip", "往返时延超过 {v} ms 警告"),
    "same_subnet": _yes("in the room's subnet", "须在考场子网内",
                        "the subnet is not checked here", "此处不检查子网"),
    "arp_answers": _fmt("answer ARP: {v}", "须应答 ARP：{v}"),
    "min_cpu": _fmt("CPU at least {v}", "CPU 不低于 {v}"),
    "min_ram_gb": _fmt("at least {v} GB of RAM", "内存至少 {v} GB"),
    "min_disk_gb": _fmt("at least {v} GB of disk", "硬盘至少 {v} GB"),
    "backup_recommended": _yes("a spare exam server is recommended", "建议配备备用考试服务器",
                               "no spare exam server needed", "无需备用考试服务器"),
    "min_minutes": _fmt("at least {v} minutes on battery", "电池供电至少 {v} 分钟"),
    "covers": _pick(_COVERS, "the UPS covers {v}", "不间断电源须覆盖{v}"),
    "floor_mbps": _fmt("at least {v} Mbit/s each way", "上下行均至少 {v} Mbit/s"),
    "overhead_allowance_pct": _fmt("{v} % allowed for protocol overhead",
                                   "允许 {v}% 协议开销"),
    "candidates_internet": _pick(_INTERNET, "seats reach {v}", "考生机只能访问{v}"),
}


def threshold_words(values: dict[str, Any], fmt: Callable[[str, Any], str]) -> list[Text]:
    """Each threshold in words; `fmt` formats a value of a key without words."""
    out = []
    for key, value in values.items():
        if value is None or value == [] or value == {}:
            continue
        say = WORDS.get(key)
        out.append(say(value) if say else Text(f"{key} = {fmt(key, value)}",
                                               f"{key} = {fmt(key, value)}"))
    return out
