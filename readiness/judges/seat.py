"""What a host's agent reports about itself, judged: the NIC's negotiated speed and
duplex (LAN-SPEED), a fixed address (LAN-FIXED-IP), the PC's inventory (SEAT-SPEC).

The outcome judged is the `self_report` probe's (the agent's, or this machine's own when
the host is the coordinator): its `measured` is the report of
readiness/agent/self_report.build_report. Pure, so it is tested on injected reports:
the lab's veth NICs always say 10000 Mb/s full duplex.

judge_params (both judges): address (the host's configured address, also how its NIC
is recognised), label, port (the agent's, for messages).
  seat.self_report  fail_below_mbps, warn_below_mbps (optional), warn_half_duplex,
                    warn_link_changes (the NIC's carrier changes lately: an unstable
                    link), require_static (false)
  seat.spec         thresholds (SeatSpecThresholds), role ("seat", or "proctor": the
                    electronic classroom and the software items), seed (the profile's
                    seed file, for each item's citation); every item is judged by
                    readiness/judges/seat_items.py and listed in measured["items"]
"""

from __future__ import annotations

import re
from typing import Any

from ..config.profile import SeatSpecThresholds
from ..results import Finding, ProbeOutcome, Status, Text, worst
from ..vocabulary import DHCP, STATIC, UNKNOWN
from . import Issue, findings_of, seat_items
from .seat_items import Item


def find_nic(report: dict[str, Any], address: str) -> dict[str, Any] | None:
    """The NIC that carries `address` (the seat's configured address)."""
    for nic in report.get("nics", []):
        if any(a.get("address") == address for a in nic.get("ipv4", [])):
            return nic
    return None


def os_name(report: dict[str, Any]) -> str:
    os_info = report.get("os", {})
    return os_info.get("name") or " ".join(
        x for x in (os_info.get("system"), os_info.get("release")) if x) or UNKNOWN


def _speed_text(nic: dict[str, Any]) -> tuple[str, str]:
    speed, duplex = nic.get("speed_mbps"), nic.get("duplex", UNKNOWN)
    speed_en = f"{speed} Mbit/s" if speed else "speed unknown"
    speed_zh = f"{speed} Mbit/s" if speed else "速率未知"
    duplex_en = f"{duplex} duplex" if duplex != UNKNOWN else "duplex unknown"
    duplex_zh = {"full": "全双工", "half": "半双工"}.get(duplex, "双工未知")
    return f"{speed_en}, {duplex_en}", f"{speed_zh}，{duplex_zh}"


def _duration(seconds: int) -> tuple[str, str]:
    hours, minutes = divmod(int(seconds) // 60, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} d {hours} h", f"{days} 天 {hours} 小时"
    if hours:
        return f"{hours} h {minutes} min", f"{hours} 小时 {minutes} 分钟"
    return f"{minutes} min", f"{minutes} 分钟"


# carrier changes in the agent's window (readiness/agent/link_watch.py) that make a link
# unstable: one down and one up. A PC's link does not drop while it is in use.
LINK_CHANGES_WARN = 2


def _link_changes(nic_name: str, count: int, over_s: float) -> Issue:
    downs = (count + 1) // 2
    minutes = max(1, round(over_s / 60))
    what = Text(f"unstable link: {nic_name} lost its link {downs} time(s) in the last "
                f"{minutes} min ({count} carrier changes counted by the PC itself)",
                f"链路不稳定：网卡 {nic_name} 在最近 {minutes} 分钟内断开 {downs} 次（本机计得 "
                f"{count} 次载波变化）")
    action = Text("reseat or replace the cable, then check the switch port (its link light "
                  "going off and on) and the PC's network card",
                  "请重新插紧或更换网线，再检查交换机端口（指示灯时灭时亮）和电脑网卡")
    return Issue(Status.WARN, Text(f"{what.en}: {action.en}", f"{what.zh}：{action.zh}"),
                 (Finding("seat.link_changes", what, action),))


def _dhcp_lease(label: str, address: str, left_s: int | None) -> Issue:
    """A seat that holds its planned address as a DHCP lease, where the site plans fixed
    addresses: it works today, but the address can change at the next boot."""
    left_en, left_zh = _duration(left_s) if left_s is not None else ("", "")
    lease = Text(f"a DHCP lease ({left_en} left)" if left_s is not None else "a DHCP lease",
                 f"DHCP 租约（剩余 {left_zh}）" if left_s is not None else "DHCP 租约")
    what = Text(f"holds its planned address {address} as {lease.en}: it can change at the "
                "next boot and break the seat plan",
                f"以{lease.zh}持有规划地址 {address}：下次开机可能改变，打乱座位安排")
    action = Text(f"set {address} as a fixed address on the PC (or reserve it for this PC "
                  "in the DHCP server and plan the room with it)",
                  f"请在电脑上把 {address} 设为固定地址（或在 DHCP 服务器中为该电脑保留此地址，"
                  "并在站点文件中写明）")
    return Issue(Status.WARN, Text(f"{label} {what.en}; {action.en}",
                                   f"{label} {what.zh}；{action.zh}"),
                 (Finding("seat.dhcp_lease", what, action),))


def report_verdict(report: dict[str, Any], address: str, label: str,
                   params: dict[str, Any]) -> ProbeOutcome:
    """Measurements and verdict from an agent's self-report."""
    nic = find_nic(report, address)
    cpu = report.get("cpu", {})
    measured: dict[str, Any] = {
        "hostname": report.get("hostname"),
        "os": os_name(report),
        "cpu": cpu.get("model"),
        "cpu_cores": cpu.get("logical_cores"),
        "ram_gib": report.get("ram_gib"),
        "disk_gb": report.get("disk_total_gb"),
        "nic": nic.get("name") if nic else None,
        "mac": nic.get("mac") if nic else None,
        "nic_speed_mbps": nic.get("speed_mbps") if nic else None,
        "duplex": nic.get("duplex", UNKNOWN) if nic else UNKNOWN,
        "addressing": next((a.get("addressing", UNKNOWN) for a in nic.get("ipv4", [])
                            if a.get("address") == address), UNKNOWN) if nic else UNKNOWN,
        "default_gateway": report.get("default_gateway"),
        "dns_servers": report.get("dns_servers", []),
        "agent_version": report.get("agent_version"),
    }
    if nic is None:
        others = [a.get("address") for n in report.get("nics", []) for a in n.get("ipv4", [])
                  if a.get("address") and not str(a.get("address")).startswith("127.")]
        have = ", ".join(others) or "none"
        question = Text("is the address translated, or is this another PC?",
                        "地址是否被转换，或这是另一台电脑？")
        return ProbeOutcome(Status.WARN, Text(
            f"the agent on {label} answers, but none of its NICs has {address} (it has: "
            f"{have}); {question.en}",
            f"{label} 上的代理有应答，但其网卡上没有地址 {address}（现有：{have}）；"
            f"{question.zh}"), measured, findings=[Finding(
                "seat.address_not_on_nic",
                Text(f"the agent answers, but none of its NICs has its address (it has: {have})",
                     f"代理有应答，但其网卡上没有其地址（现有：{have}）"),
                Text("check whether the address is translated on the way, or whether "
                     "another PC answers there",
                     "请确认地址是否在途中被转换，或是否是另一台电脑在此地址应答"))])

    issues: list[Issue] = []
    speed = measured["nic_speed_mbps"]
    fail_below = params.get("fail_below_mbps")
    warn_below = params.get("warn_below_mbps")
    nic_name = nic["name"]
    check_link = Text("check the cable, the switch port and the NIC's speed setting",
                      "请检查网线、交换机端口和网卡的速率设置")
    if fail_below is not None or warn_below is not None:
        if speed is None:
            what = Text(f"the OS does not report the speed of {nic_name}",
                        f"系统未报告网卡 {nic_name} 的速率")
            issues.append(Issue(Status.WARN, Text(
                f"the OS of {label} does not report the speed of {nic_name}",
                f"{label} 的{what.zh}"), (Finding(
                    "seat.nic_speed_unknown", what,
                    Text("read the NIC's speed in the PC's network settings",
                         "请在电脑的网络设置中查看网卡速率")),)))
        elif fail_below is not None and speed < float(fail_below):
            what = Text(f"{nic_name} negotiated {speed} Mbit/s, below the minimum "
                        f"{fail_below} Mbit/s",
                        f"网卡 {nic_name} 协商速率 {speed} Mbit/s，低于最低要求 "
                        f"{fail_below} Mbit/s")
            issues.append(Issue(Status.FAIL, what,
                                (Finding("seat.nic_slow", what, check_link),)))
        elif warn_below is not None and speed < float(warn_below):
            what = Text(f"{nic_name} negotiated {speed} Mbit/s, below the recommended "
                        f"{warn_below} Mbit/s",
                        f"网卡 {nic_name} 协商速率 {speed} Mbit/s，低于推荐的 "
                        f"{warn_below} Mbit/s")
            issues.append(Issue(Status.WARN, what,
                                (Finding("seat.nic_below_recommended", what, check_link),)))
    if params.get("warn_half_duplex") and measured["duplex"] == "half":
        what = Text(f"{nic_name} runs half duplex (a negotiation fault",
                    f"网卡 {nic_name} 为半双工（协商故障")
        action = Text("check the cable and the switch port", "请检查网线和交换机端口")
        issues.append(Issue(Status.WARN, Text(f"{what.en}: {action.en})",
                                              f"{what.zh}：{action.zh}）"),
                            (Finding("seat.half_duplex",
                                     Text(f"{what.en})", f"{what.zh}）"), action),)))
    changes = nic.get("link_changes") or {}
    if changes:
        measured["link_changes"] = changes.get("count")
        measured["link_changes_over_s"] = changes.get("over_s")
    if params.get("warn_link_changes") and (changes.get("count") or 0) >= LINK_CHANGES_WARN:
        issues.append(_link_changes(nic_name, int(changes["count"]),
                                    float(changes.get("over_s") or 0)))
    if params.get("require_static") and measured["addressing"] != STATIC:
        if measured["addressing"] == UNKNOWN:
            what = Text("the OS does not tell whether its address is fixed",
                        "系统未说明其地址是否为固定地址")
            issues.append(Issue(Status.WARN, Text(
                f"the OS of {label} does not tell whether {address} is fixed",
                f"{label} 的系统未说明 {address} 是否为固定地址"), (Finding(
                    "seat.addressing_unknown", what,
                    Text("check in the PC's network settings that the address is fixed",
                         "请在电脑的网络设置中确认该地址为固定地址")),)))
        else:
            what = Text("takes its address from DHCP", "地址由 DHCP 分配")
            action = Text(f"make {address} a fixed address", f"请把 {address} 设为固定地址")
            issues.append(Issue(Status.FAIL, Text(
                f"{label} takes {address} from DHCP; it must be a fixed address",
                f"{label} 的地址 {address} 由 DHCP 分配；应为固定地址"),
                (Finding("seat.address_from_dhcp", what, action),)))
    lease_left_s = next((a.get("lease_left_s") for a in nic.get("ipv4", [])
                         if a.get("address") == address), None)
    if lease_left_s is not None:
        measured["lease_left_s"] = lease_left_s
    if params.get("warn_dhcp_lease") and measured["addressing"] == DHCP:
        issues.append(_dhcp_lease(label, address, lease_left_s))
    if issues:
        status = worst([i.status for i in issues])
        return ProbeOutcome(status, Text("; ".join(i.text.en for i in issues),
                                         "；".join(i.text.zh for i in issues)), measured,
                            findings=findings_of(issues))
    status = Status.PASS
    speed_en, speed_zh = _speed_text(nic)
    addressing_zh = {"static": "固定地址", "dhcp": "DHCP 地址"}.get(measured["addressing"],
                                                                    "地址方式未知")
    return ProbeOutcome(status, Text(
        f"{label}: {measured['os']}, {nic['name']} {speed_en}, {measured['addressing']} address",
        f"{label}：{measured['os']}，{nic['name']} {speed_zh}，{addressing_zh}"), measured)


def judge_self_report(outcome: ProbeOutcome, params: dict[str, Any]) -> ProbeOutcome:
    """The self_report probe's outcome -> verdict. An agent that did not answer (skip,
    warn, error from agent/remote.py) is passed on as it is."""
    if outcome.status != Status.PASS:
        return outcome
    address, label = str(params["address"]), str(params["label"])
    report = outcome.measured
    if not isinstance(report.get("nics"), list):
        where = f"{label} ({address}:{params.get('port', '')})"
        return ProbeOutcome(Status.ERROR, Text(
            f"the agent on {where} sent no self-report", f"{where} 上的代理未返回本机信息"),
            findings=[Finding("agent.no_self_report",
                              Text("its agent sent no self-report", "其代理未返回本机信息"),
                              Text("update readiness on that PC",
                                   "请更新该电脑上的 readiness"))])
    judged = report_verdict(report, address, label, params)
    if report.get("clock_skew_s") is not None:
        judged.measured["clock_skew_s"] = report["clock_skew_s"]
    judged.evidence = list(outcome.evidence)
    return judged


CPU_TIER = re.compile(r"\b(?:core(?:\(tm\))?\s*)?i([3579])[- ]", re.IGNORECASE)


def _cpu_tier(model: str | None) -> int | None:
    """3, 5, 7 or 9 for Intel Core i3/i5/i7/i9; None when the model says no tier."""
    match = CPU_TIER.search(f"{model or ''} ")
    return int(match.group(1)) if match else None


def spec_verdict(outcome: ProbeOutcome, th: SeatSpecThresholds, label: str,
                 role: str = "seat", seed: str | None = None) -> ProbeOutcome:
    """The seat's inventory (as report_verdict measured it) against the certificate's
    minimum and recommended PC."""
    m = outcome.measured
    if outcome.status in (Status.ERROR, Status.SKIP) or "ram_gib" not in m:
        return outcome
    rec = th.recommended
    issues: list[Issue] = []
    # a part below the certificate's PC: fit a bigger one, or seat the candidate elsewhere
    replace_zh = "或安排考生使用其他电脑"

    def compare(value: float | None, minimum: float | None, recommended: float | None,
                part: tuple[str, str, str], unit: str) -> None:
        what_en, what_zh, code = part
        if value is None or minimum is None:
            return
        if value < float(minimum):
            issues.append(Issue(Status.FAIL, Text(
                f"{what_en} {value:g} {unit} is below the minimum {minimum} {unit}",
                f"{what_zh} {value:g} {unit}，低于最低要求 {minimum} {unit}"), (Finding(
                    f"seat.{code}_small",
                    Text(f"{what_en} {value:g} {unit}, below the minimum {minimum} {unit}",
                         f"{what_zh} {value:g} {unit}，低于最低要求 {minimum} {unit}"),
                    Text(f"fit at least {minimum} {unit} of {what_en}, or seat the candidate "
                         "at another PC",
                         f"请将{what_zh}升级到至少 {minimum} {unit}，{replace_zh}")),)))
        elif recommended is not None and value < float(recommended):
            issues.append(Issue(Status.WARN, Text(
                f"{what_en} {value:g} {unit} is below the recommended {recommended} {unit}",
                f"{what_zh} {value:g} {unit}，低于推荐的 {recommended} {unit}"), (Finding(
                    f"seat.{code}_below_recommended",
                    Text(f"{what_en} {value:g} {unit}, below the recommended "
                         f"{recommended} {unit}",
                         f"{what_zh} {value:g} {unit}，低于推荐的 {recommended} {unit}"),
                    Text(f"fit {recommended} {unit} of {what_en} when the PC is next "
                         "upgraded", f"下次升级时请将{what_zh}升级到 {recommended} {unit}")),)))

    compare(m.get("ram_gib"), th.min_ram_gb, rec.min_ram_gb, ("RAM", "内存", "ram"), "GB")
    compare(m.get("disk_gb"), th.min_disk_gb, rec.min_disk_gb, ("disk", "硬盘", "disk"), "GB")
    need = th.min_cpu.lower().lstrip("i")
    tier = _cpu_tier(m.get("cpu"))
    if need.isdigit():
        cpu = f"CPU {m.get('cpu')!s}"
        if tier is None:
            what = Text(f"{cpu} cannot be compared with i{need}", f"{cpu} 无法与 i{need} 比较")
            by_hand = Text(f"check by hand that its CPU is an i{need} or better",
                           f"请人工确认其 CPU 为 i{need} 或更高")
            issues.append(Issue(Status.WARN, Text(f"{what.en}: {by_hand.en}",
                                                  f"{what.zh}：{by_hand.zh}"),
                                (Finding("seat.cpu_unknown", what, by_hand),)))
        elif tier < int(need):
            what = Text(f"{cpu} is below i{need}", f"{cpu} 低于 i{need}")
            issues.append(Issue(Status.FAIL, what, (Finding(
                "seat.cpu_slow", what,
                Text(f"seat the candidate at a PC with an i{need} or better",
                     f"请安排考生使用 i{need} 或更高 CPU 的电脑")),)))
    inv = outcome.measured.get("inventory") or {}
    items = [Item(code, verdict, Text(shown := f"{value:g}" if isinstance(value, int | float)
                                      else str(value), shown), rule,
                  Text(f"{shown} names no Intel Core class to compare",
                       f"{shown} 未标明英特尔酷睿级别，无法比较")
                  if verdict == seat_items.NOT_VERIFIED else None)
             for code, verdict, value, rule in _hardware_verdicts(m, th, issues)]
    role_items = (seat_items.proctor_items(inv, th) if role == "proctor"
                  else seat_items.hardware_items(inv, m, th) + seat_items.software_items(inv, th))
    items += role_items
    if not inv and role_items:
        # an agent from before the inventory: one line, not one per item
        listed = ", ".join(i.item for i in role_items)
        what = Text(f"{listed} not verified: the agent sent no inventory",
                    f"{listed} 未验证：代理未发送软件清单")
        action = Text("update readiness on that PC", "请更新该电脑上的 readiness")
        issues.append(Issue(Status.WARN, Text(f"{what.en} ({action.en})",
                                              f"{what.zh}（{action.zh}）"),
                            (Finding("seat.inventory_missing", what, action),)))
        role_items = []
    off = [i for i in role_items if i.verdict != "pass"]
    for item in off:
        text = (Text(f"{item.item} not verified ({item.why.en if item.why else ''})",
                     f"{item.item} 未验证（{item.why.zh if item.why else ''}）")
                if item.verdict == seat_items.NOT_VERIFIED else
                Text(f"{item.item} {item.found.en}, rule: {item.rule.en}",
                     f"{item.item} {item.found.zh}，要求：{item.rule.zh}"))
        issues.append(Issue(item.status, text, ()))
    # one finding per kind of work, not per item: a technician installs what the list
    # names in one visit, and ten "set it up with" lines would bury the room's other fixes
    issues += [Issue(status, Text("", ""), (finding,))
               for status, finding in seat_items.grouped_findings(off)]
    m = dict(m)
    m.pop("inventory", None)
    m["items"] = [seat_items.as_dict(i, th, seed) for i in items]
    status = worst([Status.PASS, *(i.status for i in issues)])
    said = [i for i in issues if i.text.en]
    if said:
        message = Text(f"{label}: " + "; ".join(i.text.en for i in said),
                       f"{label}：" + "；".join(i.text.zh for i in said))
    else:
        message = Text(f"{label}: all {len(items)} items meet the rule",
                       f"{label}：全部 {len(items)} 项符合要求")
    return ProbeOutcome(status, message, m, outcome.evidence, findings=findings_of(issues))


def _hardware_verdicts(m: dict[str, Any], th: SeatSpecThresholds,
                       issues: list[Issue]) -> list[tuple[str, str, Any, Text]]:
    """The CPU, RAM and disk items, from the issues compare() found."""
    codes = {f.code for i in issues for f in i.findings}
    rec = th.recommended

    def verdict(part: str) -> str:
        if f"seat.{part}_small" in codes or (part == "cpu" and "seat.cpu_slow" in codes):
            return "fail"
        if part == "cpu" and "seat.cpu_unknown" in codes:
            return seat_items.NOT_VERIFIED
        return "warn" if f"seat.{part}_below_recommended" in codes else "pass"

    rows = [("cpu", verdict("cpu"), m.get("cpu") or "unknown",
             Text(f"Intel Core {th.min_cpu} or better", f"英特尔酷睿 {th.min_cpu} 或以上")),
            ("ram", verdict("ram"), m.get("ram_gib"),
             Text(f"RAM {th.min_ram_gb} GB" + (f" (recommended {rec.min_ram_gb})"
                                               if rec.min_ram_gb else ""),
                  f"内存 {th.min_ram_gb} GB" + (f"（推荐 {rec.min_ram_gb}）"
                                               if rec.min_ram_gb else ""))),
            ("disk", verdict("disk"), m.get("disk_gb"),
             Text(f"disk {th.min_disk_gb} GB", f"硬盘 {th.min_disk_gb} GB"))]
    return [r for r in rows if r[2] is not None]


def judge_seat_spec(outcome: ProbeOutcome, params: dict[str, Any]) -> ProbeOutcome:
    """SEAT-SPEC: the self-report read as above (no NIC or addressing rule), then the
    inventory against the certificate's PC."""
    reported = judge_self_report(outcome, params)
    if reported.status not in (Status.ERROR, Status.SKIP) and "ram_gib" in reported.measured:
        # the inventory the items are judged on (report_verdict keeps only its figures)
        reported.measured["inventory"] = outcome.measured.get("inventory") or {}
    return spec_verdict(reported, params["thresholds"], str(params["label"]),
                        str(params.get("role") or "seat"), params.get("seed"))


OUTCOME_JUDGES = {
    "seat.self_report": judge_self_report,
    "seat.spec": judge_seat_spec,
}
RESULTS_JUDGES: dict[str, Any] = {}
