"""SEAT-SPEC item by item: every part of the certificate's PC a seat's agent can read,
each judged with the seed's words for it.

An item is `pass`, `fail` (a required part is missing or out of range), `warn` (a
recommended part is missing) or `not_verified` (the agent could not read it: the reason
is said; it counts as a warning, never as a pass). The inventory is the agent's
(readiness/agent/inventory.py); the hardware figures are report_verdict's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..config.profile import SeatSpecThresholds, SoftwareMatch
from ..results import Finding, Status, Text

NOT_VERIFIED = "not_verified"
WINDOWS_RELEASES = ("Vista", "7", "8", "8.1", "10", "11")
# Office's entries in the Uninstall keys that are parts of a product, not the product
_OFFICE_PART = re.compile(r"Components|Proofing|MUI|Shared|Language|Click-to-Run|Tools|"
                          r"Validation|Visio|Project|Viewer|Runtime|Update", re.IGNORECASE)
_OFFICE = re.compile(r"^Microsoft (Office|365)\b", re.IGNORECASE)
_OFFICE_YEAR = re.compile(r"\b(2007|2010|2013|2016|2019|2021|2024)\b")
# Office's internal major version -> its year (16 is 2016, 2019, 2021 and 365 alike)
_OFFICE_MAJOR = {12: 2007, 14: 2010, 15: 2013, 16: 2016}
OFFICE_APPS = {"Word": "winword.exe", "Excel": "excel.exe", "PowerPoint": "powerpnt.exe"}
SOGOU = {"sogou_pinyin": (("搜狗拼音", "sogou pinyin", "sogoupinyin"), "搜狗拼音", "Sogou Pinyin"),
         "sogou_wubi": (("搜狗五笔", "sogou wubi", "sogouwubi"), "搜狗五笔", "Sogou Wubi")}


@dataclass
class Item:
    item: str
    verdict: str  # pass, warn, fail, not_verified
    found: Text
    rule: Text
    why: Text | None = None

    @property
    def status(self) -> Status:
        return {"pass": Status.PASS, "warn": Status.WARN, "fail": Status.FAIL}.get(
            self.verdict, Status.WARN)


def version_tuple(text: str | None) -> tuple[int, ...] | None:
    """(120, 0, 6099) from "120.0.6099.130", "1:120.0-1" (a Debian epoch), "6.24.0"."""
    if not text:
        return None
    text = text.split(":", 1)[-1]
    match = re.match(r"^(\d+)(?:\.(\d+))?(?:\.(\d+))?", text.strip())
    if not match:
        return None
    return tuple(int(g) for g in match.groups() if g is not None)


def _programs(inv: dict[str, Any]) -> list[dict[str, Any]] | None:
    programs = inv.get("programs")
    return programs if isinstance(programs, list) else None


def _find(programs: list[dict[str, Any]], *parts: str,
          exact: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    found = []
    for p in programs:
        name = str(p.get("name") or "")
        low = name.lower()
        if low in exact or any(part.lower() in low for part in parts):
            found.append(p)
    return found


def _unread(inv: dict[str, Any], key: str) -> Text:
    why = (inv.get("unread") or {}).get(key) or (inv.get("unread") or {}).get("all")
    if not inv:
        return Text("the agent sent no inventory (an older readiness on that PC)",
                    "代理未发送软件清单（该电脑上的 readiness 版本较旧）")
    if isinstance(why, dict) and why.get("en"):
        return Text(str(why["en"]), str(why.get("zh") or why["en"]))
    return Text(f"{key} was not read", f"未能读取 {key}")


def _not_verified(item: str, rule: Text, why: Text) -> Item:
    return Item(item, NOT_VERIFIED, Text("not verified", "未验证"), rule, why)


def _browser(inv: dict[str, Any], item: str, minimum: int, names: tuple[str, ...],
             exact: tuple[str, ...], label: str, required: bool) -> Item:
    rule = Text(f"{label} {minimum} or later", f"{label} {minimum} 或以上")
    programs = _programs(inv)
    if programs is None:
        return _not_verified(item, rule, _unread(inv, "programs"))
    found = _find(programs, *names, exact=exact)
    versions = [(v, p) for p in found if (v := version_tuple(p.get("version")))]
    if not versions:
        verdict = "fail" if required else "warn"
        return Item(item, verdict, Text(f"{label} is not installed", f"未安装 {label}"), rule)
    best, program = max(versions, key=lambda x: x[0])
    shown = Text(f"{program['name']} {program.get('version')}",
                 f"{program['name']} {program.get('version')}")
    if best[0] < minimum:
        return Item(item, "fail", shown, rule)
    return Item(item, "pass", shown, rule)


def _office(inv: dict[str, Any], th: SeatSpecThresholds) -> Item:
    lo, hi = th.min_office, th.max_office
    span = f"{lo}–{hi}" if hi else f"{lo} or later"
    apps = th.office_apps
    rule = Text(f"Microsoft Office {span}" + (f" ({', '.join(apps)})" if apps else ""),
                f"Microsoft Office {span.replace('or later', '或以上')}"
                + (f"（{'、'.join(apps)}）" if apps else ""))
    programs = _programs(inv)
    if programs is None:
        return _not_verified("office", rule, _unread(inv, "programs"))
    products = [p for p in programs if _OFFICE.match(str(p.get("name") or ""))
                and not _OFFICE_PART.search(str(p.get("name") or ""))]
    if not products:
        return Item("office", "fail", Text("Microsoft Office is not installed",
                                           "未安装 Microsoft Office"), rule)
    years: list[tuple[int, bool, dict[str, Any]]] = []  # (year, exact, program)
    for p in products:
        named = _OFFICE_YEAR.search(str(p["name"]))
        if named:
            years.append((int(named.group(1)), True, p))
        elif (v := version_tuple(p.get("version"))) and v[0] in _OFFICE_MAJOR:
            years.append((_OFFICE_MAJOR[v[0]], v[0] < 16, p))
    if not years:
        return _not_verified("office", rule, Text(
            f"{products[0]['name']}: its year cannot be told from its name or version",
            f"{products[0]['name']}：无法从名称或版本判断其年份"))
    year, exact, program = max(years, key=lambda y: y[0])
    shown = Text(f"{program['name']} {program.get('version') or ''}".strip(),
                 f"{program['name']} {program.get('version') or ''}".strip())
    missing = [a for a in apps if OFFICE_APPS[a] not in (inv.get("app_paths") or [])]
    if lo is not None and year < lo:
        return Item("office", "fail", shown, rule)
    if hi is not None and year > hi:
        return Item("office", "fail", shown, rule)
    if hi is not None and not exact and year == 2016:
        return _not_verified("office", rule, Text(
            f"{shown.en}: version 16 is Office 2016, 2019, 2021 or 365 alike, and its name "
            "does not say which", f"{shown.zh}：版本 16 可能是 Office 2016、2019、2021 或 365，"
                                  "名称未说明是哪一个"))
    if missing:
        return Item("office", "fail", Text(f"{shown.en} without {', '.join(missing)}",
                                           f"{shown.zh}，缺少 {'、'.join(missing)}"), rule)
    return Item("office", "pass", shown, rule)


def _matches(inv: dict[str, Any], sw: SoftwareMatch) -> tuple[list[str], list[str]]:
    """(installed names, running names) of one product on the seat."""
    installed = [str(p["name"]) for p in _find(_programs(inv) or [], *sw.programs)]
    procs = {str(p).lower() for p in inv.get("processes") or []}
    running = [p for p in sw.processes if p.lower() in procs]
    running += [s["name"] for s in inv.get("services") or []
                if s.get("running") and str(s.get("name", "")).lower()
                in {x.lower() for x in sw.services}]
    return installed, running


def _messaging(inv: dict[str, Any], th: SeatSpecThresholds) -> Item:
    names = ", ".join(m.name for m in th.messaging)
    rule = Text(f"no messaging software installed ({names}...)",
                f"禁止安装任何通讯软件（{names}……）")
    if _programs(inv) is None and inv.get("processes") is None:
        return _not_verified("messaging", rule, _unread(inv, "programs"))
    hits = []
    for sw in th.messaging:
        installed, running = _matches(inv, sw)
        if installed or running:
            hits.append(f"{sw.name} ({'running' if running else 'installed'})")
    if hits:
        return Item("messaging", "fail", Text(", ".join(hits), "、".join(hits)), rule)
    return Item("messaging", "pass", Text("none found", "未发现"), rule)


def _restore(inv: dict[str, Any], th: SeatSpecThresholds) -> Item:
    rule = Text("restore/protection off during the exam", "考试时停止软硬件还原/保护卡")
    if _programs(inv) is None:
        return _not_verified("restore", rule, _unread(inv, "programs"))
    active, present = [], []
    for sw in th.restore_software:
        installed, running = _matches(inv, sw)
        if running:
            active.append(sw.name)
        elif installed:
            present.append(sw.name)
    if active:
        return Item("restore", "fail", Text(f"{', '.join(active)} running",
                                            f"{'、'.join(active)} 正在运行"), rule)
    if present:
        return _not_verified("restore", rule, Text(
            f"{', '.join(present)} installed; whether it protects the disk now cannot be "
            "read: turn it off for the exam",
            f"已安装 {'、'.join(present)}，无法读取其是否正在保护硬盘：考试时请关闭"))
    return Item("restore", "pass", Text(
        "no known restore software (a hardware card without software cannot be seen)",
        "未发现已知还原软件（无驱动软件的硬件还原卡无法检测）"), rule)


def _os(inv: dict[str, Any], th: SeatSpecThresholds) -> Item:
    parts = [f"Windows {th.min_windows}" + (f" to {th.max_windows}" if th.max_windows
                                            else " or later")]
    parts_zh = [f"Windows {th.min_windows}" + (f" 至 {th.max_windows}" if th.max_windows
                                               else " 或以上")]
    if th.os_language:
        parts.append("Chinese"), parts_zh.append("中文版")
    if th.os_bitness:
        parts.append(f"{th.os_bitness}-bit"), parts_zh.append(f"{th.os_bitness} 位")
    rule = Text(", ".join(parts), "，".join(parts_zh))
    info = inv.get("os")
    if not isinstance(info, dict):
        return _not_verified("os", rule, _unread(inv, "os"))
    shown = " ".join(str(x) for x in (info.get("name"), info.get("display_version"),
                                      f"{info.get('bitness')}-bit" if info.get("bitness")
                                      else None, info.get("language")) if x)
    found = Text(shown or "unknown", shown or "未知")
    problems = []
    release = info.get("version")
    if info.get("family") != "windows":
        problems.append("not Windows")
    elif release in WINDOWS_RELEASES and th.min_windows:
        at = WINDOWS_RELEASES.index(release)
        if at < WINDOWS_RELEASES.index(th.min_windows) or (
                th.max_windows and at > WINDOWS_RELEASES.index(th.max_windows)):
            problems.append(f"Windows {release}")
    elif release not in WINDOWS_RELEASES:
        return _not_verified("os", rule, Text(f"{shown}: the Windows release cannot be told",
                                              f"{shown}：无法判断 Windows 版本"))
    if th.os_bitness and info.get("family") == "windows" and info.get("bitness") != th.os_bitness:
        problems.append(f"{info.get('bitness') or '?'}-bit")
    if th.os_language and info.get("family") == "windows" and not str(
            info.get("language") or "").startswith(th.os_language):
        problems.append(f"language {info.get('language') or 'unknown'}")
    return Item("os", "fail" if problems else "pass", found, rule)


def _installed(inv: dict[str, Any], item: str, rule: Text, parts: tuple[str, ...],
               label: str, minimum: tuple[int, ...] | None = None) -> Item:
    programs = _programs(inv)
    if programs is None:
        return _not_verified(item, rule, _unread(inv, "programs"))
    found = _find(programs, *parts)
    if not found:
        return Item(item, "fail", Text(f"{label} is not installed", f"未安装 {label}"), rule)
    program = found[0]
    shown = Text(f"{program['name']} {program.get('version') or ''}".strip(),
                 f"{program['name']} {program.get('version') or ''}".strip())
    if minimum is not None:
        version = version_tuple(program.get("version"))
        if version is None:
            return _not_verified(item, rule, Text(f"{shown.en}: no version to compare",
                                                  f"{shown.zh}：无可比较的版本"))
        if version < minimum:
            return Item(item, "fail", shown, rule)
    return Item(item, "pass", shown, rule)


def _inputs(inv: dict[str, Any], th: SeatSpecThresholds) -> Item:
    labels = [SOGOU[i] for i in th.input_methods]
    rule = Text("input methods " + ", ".join(x[2] for x in labels),
                "输入法：" + "、".join(x[1] for x in labels))
    programs = _programs(inv)
    if programs is None:
        return _not_verified("input", rule, _unread(inv, "programs"))
    have = [x for x in labels if _find(programs, *x[0])]
    missing = [x for x in labels if x not in have]
    found = Text(", ".join(x[2] for x in have) or "none", "、".join(x[1] for x in have) or "无")
    if missing:
        return Item("input", "fail", Text(
            f"{found.en}; missing {', '.join(x[2] for x in missing)}",
            f"{found.zh}；缺少 {'、'.join(x[1] for x in missing)}"), rule)
    return Item("input", "pass", found, rule)


def _display(inv: dict[str, Any], th: SeatSpecThresholds) -> Item:
    w, h = th.min_screen_width or 0, th.min_screen_height or 0
    rule = Text(f"display at least {w}×{h}", f"显示分辨率不低于 {w}×{h}")
    displays = inv.get("displays")
    if not displays:
        return _not_verified("display", rule, _unread(inv, "displays"))
    first = displays[0]
    found = Text(f"{first['width']}×{first['height']}", f"{first['width']}×{first['height']}")
    ok = first["width"] >= w and first["height"] >= h
    return Item("display", "pass" if ok else "fail", found, rule)


def _usb(inv: dict[str, Any]) -> Item:
    rule = Text("USB storage closed during the exam", "考试时关闭 USB 接口（存储）")
    usb = inv.get("usb_storage")
    if not isinstance(usb, dict):
        return _not_verified("usb", rule, _unread(inv, "usb_storage"))
    found = Text(str(usb.get("how")), str(usb.get("how")))
    return Item("usb", "pass" if usb.get("disabled") else "fail", found, rule)


def _ssd(inv: dict[str, Any]) -> Item:
    rule = Text("an SSD (recommended)", "固态硬盘（推荐）")
    disks = inv.get("disks")
    if not disks:
        return _not_verified("ssd", rule, _unread(inv, "disks"))
    kinds = [d.get("ssd") for d in disks]
    shown = ", ".join(f"{d.get('name')} {d.get('size_gb')} GB "
                      f"{'SSD' if d.get('ssd') else 'HDD' if d.get('ssd') is False else '?'}"
                      for d in disks)
    if any(k is True for k in kinds):
        return Item("ssd", "pass", Text(shown, shown), rule)
    if all(k is None for k in kinds):
        return _not_verified("ssd", rule, Text(f"{shown}: the disk type is not reported",
                                               f"{shown}：未报告硬盘类型"))
    return Item("ssd", "warn", Text(shown, shown), rule)


def _nic(measured: dict[str, Any], th: SeatSpecThresholds) -> Item:
    rec = th.recommended.min_nic_mbps
    minimum = th.min_nic_mbps or 0
    rule = Text(f"NIC {minimum} Mbit/s" + (f" (recommended {rec})" if rec else ""),
                f"网卡 {minimum} Mbit/s" + (f"（推荐 {rec}）" if rec else ""))
    speed = measured.get("nic_speed_mbps")
    if speed is None:
        return _not_verified("nic", rule, Text("the OS does not report the NIC's speed",
                                               "系统未报告网卡速率"))
    found = Text(f"{speed} Mbit/s", f"{speed} Mbit/s")
    if speed < minimum:
        return Item("nic", "fail", found, rule)
    if rec and speed < rec:
        return Item("nic", "warn", found, rule)
    return Item("nic", "pass", found, rule)


def _classroom(inv: dict[str, Any], th: SeatSpecThresholds) -> Item:
    names = ", ".join(c.name for c in th.classroom_software)
    rule = Text(f"electronic-classroom software installed ({names})",
                f"安装电子教室软件（{names}）")
    if _programs(inv) is None:
        return _not_verified("classroom", rule, _unread(inv, "programs"))
    for sw in th.classroom_software:
        installed, running = _matches(inv, sw)
        if installed or running:
            state, state_zh = ("running", "运行中") if running else ("installed", "已安装")
            return Item("classroom", "pass", Text(f"{sw.name} ({state})",
                                                  f"{sw.name}（{state_zh}）"), rule)
    return Item("classroom", "fail", Text("none of them is installed", "均未安装"), rule)


def proctor_items(inv: dict[str, Any], th: SeatSpecThresholds) -> list[Item]:
    """The proctor PC: the electronic classroom, and the same OS, browsers and input."""
    items = [_classroom(inv, th)] if th.classroom_software else []
    return items + software_items(inv, th, proctor=True)


def software_items(inv: dict[str, Any], th: SeatSpecThresholds,
                   proctor: bool = False) -> list[Item]:
    items: list[Item] = []
    if th.os_family:
        items.append(_os(inv, th))
    items.append(_browser(inv, "chrome", th.min_chrome, ("google chrome",),
                          ("google-chrome-stable", "google-chrome"), "Google Chrome", True))
    if th.min_firefox is not None:
        # the backup browser: missing warns, an old one fails
        items.append(_browser(inv, "firefox", th.min_firefox, ("mozilla firefox",),
                              ("firefox", "firefox-esr"), "Firefox", False))
    if th.input_methods:
        items.append(_inputs(inv, th))
    if proctor:
        return items
    if th.min_office is not None:
        items.append(_office(inv, th))
    if th.min_winrar is not None:
        whole, frac = str(th.min_winrar).split(".")
        items.append(_installed(inv, "winrar", Text(f"WinRAR {th.min_winrar:g} or later",
                                                    f"WinRAR {th.min_winrar:g} 或以上"),
                                ("winrar",), "WinRAR", (int(whole), int(frac))))
    if th.fscapture:
        items.append(_installed(inv, "fscapture", Text("FSCapture installed", "已安装 FSCapture"),
                                ("faststone capture", "fscapture"), "FSCapture"))
    if th.no_messaging_software:
        items.append(_messaging(inv, th))
    if th.usb_disabled:
        items.append(_usb(inv))
    if th.restore_card_off:
        items.append(_restore(inv, th))
    return items


def hardware_items(inv: dict[str, Any], measured: dict[str, Any],
                   th: SeatSpecThresholds) -> list[Item]:
    items: list[Item] = []
    if th.recommended.ssd:
        items.append(_ssd(inv))
    if th.min_nic_mbps is not None:
        items.append(_nic(measured, th))
    if th.min_screen_width is not None or th.min_screen_height is not None:
        items.append(_display(inv, th))
    return items


def as_dict(item: Item, th: SeatSpecThresholds, seed: str | None) -> dict[str, Any]:
    cite = th.item_citations.get(item.item)
    return {"item": item.item, "verdict": item.verdict, "found": item.found.to_dict(),
            "rule": item.rule.to_dict(), "why": item.why.to_dict() if item.why else None,
            "citation": {"seed": seed, "article": cite.article, "original": cite.original}
            if cite else None}


# what each item is called in a fix (en, zh)
ITEM_WORDS = {
    "os": ("Windows", "操作系统"), "chrome": ("Chrome", "Chrome 浏览器"),
    "firefox": ("Firefox", "Firefox 浏览器"), "input": ("input methods", "输入法"),
    "office": ("Office", "Office"), "winrar": ("WinRAR", "WinRAR"),
    "fscapture": ("FSCapture", "FSCapture"), "usb": ("the USB storage lock", "USB 存储封锁"),
    "restore": ("the restore software", "还原软件"), "messaging": ("messaging software",
                                                               "即时通讯软件"),
    "ssd": ("an SSD", "固态硬盘"), "display": ("the display", "显示器"),
    "nic": ("the network card", "网卡"), "cpu": ("the CPU", "CPU"), "ram": ("RAM", "内存"),
    "disk": ("the disk", "硬盘"), "classroom": ("the electronic-classroom software",
                                               "电子教室软件"),
}


def grouped_findings(items: list[Item]) -> list[tuple[Status, Finding]]:
    """The items off the rule as the fix list needs them: the required ones to set up,
    the recommended ones, and the ones to check by hand, each one line naming them all."""
    out: list[tuple[Status, Finding]] = []
    groups = (
        ("fail", Status.FAIL, "seat.out_of_spec", "set up", "请按证书要求配置",
         "not what the certificate requires", "不符合证书要求"),
        ("warn", Status.WARN, "seat.below_recommended", "recommended when next upgraded",
         "下次升级时建议配置", "below what the certificate recommends", "低于证书推荐配置"),
        (NOT_VERIFIED, Status.WARN, "seat.items_not_verified", "check by hand",
         "请人工确认", "not verified", "未验证"))
    for verdict, status, code, do_en, do_zh, is_en, is_zh in groups:
        chosen = [i for i in items if i.verdict == verdict]
        if not chosen:
            continue
        what = Text("; ".join(f"{i.item}: {i.rule.en}" for i in chosen) + f" ({is_en})",
                    "；".join(f"{i.item}：{i.rule.zh}" for i in chosen) + f"（{is_zh}）")
        # the action names the items in words; each one's rule is in `what` (report, JSON)
        action = Text(f"{do_en}: " + ", ".join(ITEM_WORDS.get(i.item, (i.item, i.item))[0]
                                               for i in chosen),
                      f"{do_zh}：" + "、".join(ITEM_WORDS.get(i.item, (i.item, i.item))[1]
                                              for i in chosen))
        out.append((status, Finding(code, what, action)))
    return out
