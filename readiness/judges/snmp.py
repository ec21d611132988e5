"""Judges of what the SNMP probes (probes/snmp_device.py) read: the router's identity and
reboots (FILTER-FEATURES), switch ports and each seat's port (LAN-SPEED), the UPS's
runtime (UPS-RUNTIME).

An outcome the probe could not measure (error: no SNMP answer, wrong credentials, no
MAC table...) passes through unchanged. Every judge takes `name` (how staff know the
device) in its params; the others are listed on each judge.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .. import vocabulary as o
from ..results import Finding, ProbeOutcome, Status, Text
from ..subject import Subject
from . import Issue, findings_of, worst_first

GIGABIT = "gigabit"
FAST_ETHERNET = "fast_ethernet"
# Messages list this many seat/port findings, then "and N more" (the findings list all).
MAX_LISTED = 6

_UNMEASURED = (Status.ERROR, Status.SKIP)


def _issue(status: Status, text: Text, code: str, what: Text, action: Text,
           subject: Subject | None = None) -> Issue:
    return Issue(status, text, (Finding(code, what, action, subject),))


def _combine(issues: list[Issue], measured: dict[str, Any]) -> ProbeOutcome:
    """Worst status first, then the findings in that order, trimmed to MAX_LISTED."""
    ordered = worst_first(issues)
    shown = ordered[:MAX_LISTED]
    en = "; ".join(i.text.en for i in shown)
    zh = "；".join(i.text.zh for i in shown)
    if len(ordered) > len(shown):
        more = len(ordered) - len(shown)
        en += f"; and {more} more"
        zh += f"；另有 {more} 项"
    return ProbeOutcome(ordered[0].status, Text(en, zh), measured,
                        findings=findings_of(ordered))


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours:02d}:{minutes:02d}"
    return f"{hours:02d}:{minutes:02d}:{secs:02d}"


# ---------------------------------------------------------------- speed classes


def classify_speed(mbps: int | None, required_class: str, gigabit_mbps: int = 1000,
                   fast_mbps: int = 100) -> Status:
    """LAN-SPEED for one negotiated speed: gigabit passes; 100M-class warns where only
    100M is the minimum (fast_ethernet) and fails where gigabit is required."""
    if not mbps:
        return Status.WARN  # the speed could not be read: only partly verified
    if mbps >= gigabit_mbps:
        return Status.PASS
    if required_class == FAST_ETHERNET and mbps >= fast_mbps:
        return Status.WARN
    return Status.FAIL


def _speed_advice(where: Text, port: Text, mbps: int, status: Status, gigabit_mbps: int,
                  subject: Subject | None = None) -> Issue:
    """A port below the speed class: `where` as the message names it, `port` as the
    finding does (without the seat, which is the finding's subject)."""
    if status == Status.FAIL:
        need_en, need_zh = f"at least {gigabit_mbps} Mbit/s is required", \
            f"要求至少 {gigabit_mbps} Mbit/s"
    else:
        need_en, need_zh = (f"the minimum is met, {gigabit_mbps} Mbit/s is recommended",
                            f"满足最低要求，推荐 {gigabit_mbps} Mbit/s")
    action = Text("check the cable (gigabit needs all 8 wires, Cat5e or better), the PC's "
                  "network card and the switch port's speed setting",
                  "请检查网线（千兆需要 8 芯全通，超五类或更好）、电脑网卡以及交换机端口的速率设置")
    return _issue(status, Text(f"{where.en} runs at {mbps} Mbit/s ({need_en}): {action.en}",
                               f"{where.zh} 速率为 {mbps} Mbit/s（{need_zh}）：{action.zh}"),
                  "snmp.port_slow" if status == Status.FAIL else "snmp.port_below_gigabit",
                  Text(f"{port.en} runs at {mbps} Mbit/s ({need_en})",
                       f"{port.zh} 速率为 {mbps} Mbit/s（{need_zh}）"), action, subject)


# ---------------------------------------------------------------- device identity


def device(outcome: ProbeOutcome, params: dict[str, Any]) -> ProbeOutcome:
    """The router answers SNMP; a reboot since the last check (the probe compared the
    uptime with the previous run's) warns."""
    if outcome.status in _UNMEASURED:
        return outcome
    m = outcome.measured
    name = params["name"]
    sys_name = m.get("sys_name")
    label = name if sys_name in (None, "", name) else f"{name} ({sys_name})"
    uptime_s = m.get("uptime_s")
    if uptime_s is None:
        what = Text("answers SNMP but gives no sysUpTime: a reboot cannot be detected",
                    "回应 SNMP 但不提供 sysUpTime，无法判断是否重启")
        action = Text("check the device's SNMP view includes the system group "
                      "(1.3.6.1.2.1.1)", "请确认设备的 SNMP 视图包含 system 组（1.3.6.1.2.1.1）")
        return ProbeOutcome(Status.ERROR, Text(
            f"{label} {what.en}; {action.en}", f"{label} {what.zh}；{action.zh}"), m,
            findings=[Finding("snmp.no_uptime", what, action)])
    if m.get("rebooted"):
        previous_uptime = m["previous_uptime_s"]
        elapsed = (datetime.fromisoformat(m["checked_at"])
                   - datetime.fromisoformat(m["previous_checked_at"])).total_seconds()
        what = Text(f"rebooted since the last check (or its SNMP agent restarted): up "
                    f"{_duration(uptime_s)} now, but the check {_duration(elapsed)} ago saw "
                    f"{_duration(previous_uptime)} of uptime",
                    f"自上次检查以来重启过（或其 SNMP 代理重启）：当前已运行 "
                    f"{_duration(uptime_s)}，而 {_duration(elapsed)} 前的检查时已运行 "
                    f"{_duration(previous_uptime)}")
        action = Text("find out why (power cut, crash, someone restarting it) and confirm its "
                      "settings, such as the filtering rules, survived the restart",
                      "请查明原因（停电、死机或有人重启），并确认其设置（如过滤规则）在重启后仍然有效")
        return ProbeOutcome(Status.WARN, Text(
            f"{label} {what.en}. Find out why (power cut, crash, someone restarting it) and "
            "confirm its settings, such as the filtering rules, survived the restart",
            f"{label} {what.zh}。{action.zh}"), m,
            findings=[Finding("snmp.rebooted", what, action)])
    return ProbeOutcome(Status.PASS, Text(
        f"{label} answers SNMP, up {_duration(uptime_s)}",
        f"{label} 回应 SNMP，已运行 {_duration(uptime_s)}"), m)


# ---------------------------------------------------------------- interfaces


def interfaces(outcome: ProbeOutcome, params: dict[str, Any]) -> ProbeOutcome:
    """Each port read is up, at the speed class the rule needs, without new errors.

    params: name, required_class (gigabit / fast_ethernet; None: speeds are reported,
    not judged), gigabit_mbps, fast_mbps.
    """
    if outcome.status in _UNMEASURED:
        return outcome
    m = outcome.measured
    name = params["name"]
    required = params["required_class"]
    gigabit, fast = params["gigabit_mbps"], params["fast_mbps"]
    issues: list[Issue] = []
    known = ", ".join(m.get("known_ports", []))
    for missing in m.get("unknown_ports", []):
        what = Text(f"has no port named {missing!r} (it has: {known})",
                    f"没有名为 {missing!r} 的端口（现有：{known}）")
        action = Text("correct the port name in the site file", "请修正站点配置中的端口名")
        issues.append(_issue(Status.ERROR, Text(f"{name} {what.en}: {action.en}",
                                                f"{name} {what.zh}：{action.zh}"),
                             "snmp.unknown_port", what, action))
    ports: list[dict[str, Any]] = list(m["ports"].values())
    for p in ports:
        where = Text(f"port {p['name']} of {name}", f"{name} 的端口 {p['name']}")
        port = Text(f"port {p['name']}", f"端口 {p['name']}")
        if p["oper_status"] != "up":
            action = Text("plug the cable in firmly, check the device at the other end is on, "
                          "or use another port", "请插紧网线、确认对端设备已开机，或换一个端口")
            state = Text(f"is {p['oper_status']}", f"状态为 {p['oper_status']}")
            issues.append(_issue(Status.FAIL, Text(f"{where.en} {state.en}: {action.en}",
                                                   f"{where.zh} {state.zh}：{action.zh}"),
                                 "snmp.port_down", Text(f"{port.en} {state.en}",
                                                        f"{port.zh} {state.zh}"), action))
            continue
        if required and not p["speed_mbps"]:
            action = Text("check it on the device's web page", "请在设备管理页面上查看")
            issues.append(_issue(Status.WARN, Text(
                f"{where.en} does not report its speed: {action.en}",
                f"{where.zh} 未报告速率：{action.zh}"), "snmp.port_speed_unknown",
                Text(f"{port.en} does not report its speed", f"{port.zh} 未报告速率"), action))
        elif required:
            status = classify_speed(p["speed_mbps"], required, gigabit, fast)
            if status != Status.PASS:
                issues.append(_speed_advice(where, port, p["speed_mbps"], status, gigabit))
        new_errors = (p["in_errors_delta"] or 0) + (p["out_errors_delta"] or 0)
        if new_errors:
            counted = Text(f"counted {new_errors} new errors in {m['interval_s']:g} s",
                           f"在 {m['interval_s']:g} 秒内新增 {new_errors} 个错误")
            action = Text("replace the patch cable, check the connectors and that both ends "
                          "auto-negotiate (a duplex mismatch causes errors)",
                          "请更换跳线、检查水晶头，并确认两端均为自动协商（双工不匹配会导致错误）")
            issues.append(_issue(Status.WARN, Text(f"{where.en} {counted.en}: {action.en}",
                                                   f"{where.zh} {counted.zh}：{action.zh}"),
                                 "snmp.port_errors", Text(f"{port.en} {counted.en}",
                                                          f"{port.zh} {counted.zh}"), action))
    if not ports and not issues:
        what = Text("lists no Ethernet port that is up: nothing to check",
                    "没有处于 up 状态的以太网端口，无可检查项")
        action = Text("name the ports in the site file", "请在站点配置中指定端口")
        return ProbeOutcome(Status.WARN, Text(f"{name} {what.en}; {action.en}",
                                              f"{name} {what.zh}；{action.zh}"), m,
                            findings=[Finding("snmp.no_ports", what, action)])
    if issues:
        return _combine(issues, m)
    speeds = sorted({p["speed_mbps"] for p in ports if p["speed_mbps"]})
    speed_en = f" at {'/'.join(map(str, speeds))} Mbit/s" if speeds else ""
    ports_en = "1 port" if len(ports) == 1 else f"{len(ports)} ports"
    verb = "is" if len(ports) == 1 else "are"
    return ProbeOutcome(Status.PASS, Text(
        f"{ports_en} of {name} {verb} up{speed_en}, no new errors",
        f"{name} 的 {len(ports)} 个端口均为 up{speed_en.replace(' at ', '，速率 ')}，"
        "无新增错误"), m)


# ---------------------------------------------------------------- seat -> switch port


def judge_seat(label: str, seat: dict[str, Any] | None, mac: str, switch: str,
               required: str, gigabit: int, fast: int,
               subject: Subject | None = None) -> list[Issue]:
    """LAN-SPEED findings for one seat's switch port (empty: it passes). `seat` is what
    the probe measured for it (port, speed_mbps, oper_status, duplex, macs_on_port);
    `subject` the seat's, whom the findings are about."""
    if seat is None:
        why = Text("the PC is off or has been silent for minutes (ping it, then check "
                   "again), it is cabled to another switch, or its MAC in the site file is "
                   "wrong",
                   "电脑未开机或数分钟内无流量（先 ping 它再检查），接在其他交换机上，或站点配置"
                   "中的 MAC 有误")
        return [_issue(Status.WARN, Text(
            f"seat {label} ({mac}) is not in {switch}'s MAC address table, so its port speed "
            f"is unverified: {why.en}",
            f"考生机 {label}（{mac}）不在 {switch} 的 MAC 地址表中，其端口速率未能验证：{why.zh}"),
            "snmp.seat_not_in_mac_table",
            Text(f"its MAC {mac} is not in {switch}'s MAC address table, so its port speed is "
                 "unverified", f"其 MAC {mac} 不在 {switch} 的 MAC 地址表中，端口速率未能验证"),
            Text("switch the PC on and ping it, then check again; check it is cabled to this "
                 "switch and its MAC in the site file",
                 "请开机并先 ping 它再检查；确认其接在该交换机上，且站点配置中的 MAC 正确"),
            subject)]
    where = Text(f"seat {label}'s switch port {seat['port']}",
                 f"考生机 {label} 所在的交换机端口 {seat['port']}")
    port = Text(f"its switch port {seat['port']}", f"其交换机端口 {seat['port']}")
    if seat["oper_status"] != "up":
        state = Text(f"is {seat['oper_status']}", f"状态为 {seat['oper_status']}")
        action = Text("plug the seat's cable in firmly and switch the PC on",
                      "请插紧该考生机的网线并开机")
        return [_issue(Status.FAIL, Text(f"{where.en} {state.en}: {action.en}",
                                         f"{where.zh} {state.zh}：{action.zh}"),
                       "snmp.seat_port_down",
                       Text(f"{port.en} {state.en}", f"{port.zh} {state.zh}"), action, subject)]
    issues: list[Issue] = []
    if seat["duplex"] == "half":
        action = Text("set both the switch port and the PC's network card to "
                      "auto-negotiation", "请把交换机端口和电脑网卡都设为自动协商")
        issues.append(_issue(Status.FAIL, Text(f"{where.en} runs half duplex: {action.en}",
                                               f"{where.zh} 为半双工：{action.zh}"),
                             "snmp.seat_port_half_duplex",
                             Text(f"{port.en} runs half duplex", f"{port.zh} 为半双工"),
                             action, subject))
    if not seat["speed_mbps"]:
        action = Text("check it on the switch's web page", "请在交换机管理页面上查看")
        issues.append(_issue(Status.WARN, Text(
            f"{where.en} does not report its speed: {action.en}",
            f"{where.zh} 未报告速率：{action.zh}"), "snmp.port_speed_unknown",
            Text(f"{port.en} does not report its speed", f"{port.zh} 未报告速率"), action,
            subject))
    else:
        status = classify_speed(seat["speed_mbps"], required, gigabit, fast)
        if status != Status.PASS:
            issues.append(_speed_advice(where, port, seat["speed_mbps"], status, gigabit,
                                        subject))
    if seat["macs_on_port"] > 1:
        what = Text(f"carries {seat['macs_on_port']} MAC addresses: the seat is behind "
                    "another switch or hub, whose speed SNMP cannot see",
                    f"上有 {seat['macs_on_port']} 个 MAC 地址：该考生机接在另一台交换机或"
                    "集线器之后，其速率无法通过 SNMP 查看")
        action = Text("cable the seat directly to the room switch, or make sure the small "
                      "switch is gigabit",
                      "请把考生机直接接到机房交换机，或确认该小交换机为千兆")
        issues.append(_issue(Status.WARN, Text(f"{where.en} {what.en}; {action.en}",
                                               f"{where.zh} {what.zh}；{action.zh}"),
                             "snmp.seat_behind_hub",
                             Text(f"{port.en} {what.en}", f"{port.zh}{what.zh}"), action,
                             subject))
    return issues


def port_speed(outcome: ProbeOutcome, params: dict[str, Any]) -> ProbeOutcome:
    """LAN-SPEED from the switch: each seat's port is up, full duplex, at the class.

    params: name, macs ({seat label: MAC} as the site file gives them), required_class,
    gigabit_mbps, fast_mbps, subjects ({seat label: Subject}, whom each finding is about).
    """
    if outcome.status in _UNMEASURED:
        return outcome
    name, required = params["name"], params["required_class"]
    m = {**outcome.measured, "required_class": required}
    seats: dict[str, dict[str, Any] | None] = m["seats"]
    macs: dict[str, str] = params["macs"]
    subjects: dict[str, Subject] = params.get("subjects") or {}
    if all(seat is None for seat in seats.values()):
        what = Text(f"none of the {len(seats)} seats' MAC addresses is in its MAC address "
                    "table", f"{len(seats)} 台考生机的 MAC 地址都不在其 MAC 地址表中")
        action = Text("switch the seats on and let them send traffic (ping them), and check "
                      "the MACs in the site file and that this is the seats' switch",
                      "请开启考生机并让其产生流量（ping 它们），并核对站点配置中的 MAC 以及"
                      "这是否是考生机所接的交换机")
        return ProbeOutcome(Status.ERROR, Text(
            f"none of the {len(seats)} seats' MAC addresses is in {name}'s MAC address "
            f"table: {action.en}",
            f"{len(seats)} 台考生机的 MAC 地址都不在 {name} 的 MAC 地址表中：{action.zh}"), m,
            findings=[Finding("snmp.no_seat_in_mac_table", what, action)])
    issues: list[Issue] = []
    for label, seat in seats.items():
        issues += judge_seat(label, seat, macs[label], name, required,
                             params["gigabit_mbps"], params["fast_mbps"], subjects.get(label))
    if issues:
        return _combine(issues, m)
    speeds = sorted({s["speed_mbps"] for s in seats.values() if s and s["speed_mbps"]})
    return ProbeOutcome(Status.PASS, Text(
        f"all {len(seats)} seats are on switch ports that are up at "
        f"{'/'.join(map(str, speeds))} Mbit/s",
        f"全部 {len(seats)} 台考生机所在的交换机端口均为 up，速率 "
        f"{'/'.join(map(str, speeds))} Mbit/s"), m)


# ---------------------------------------------------------------- UPS


def _code(names: dict[int, str], value: Any) -> Any:
    """The UPS-MIB number behind a name the probe recorded (unknown numbers stay numbers)."""
    return next((code for code, text in names.items() if text == value), value)


def ups(outcome: ProbeOutcome, params: dict[str, Any]) -> ProbeOutcome:
    """UPS-RUNTIME from RFC 1628 UPS-MIB.

    params: name, thresholds (UpsRuntimeThresholds: min_minutes), on_battery ("warn" or
    "fail": what running on battery right now is).
    fail: estimated runtime below min_minutes, battery low or depleted, output off or on
    bypass (a power cut would drop the load); warn: on battery (mains is off), or the
    battery status / output source cannot be read; error: no runtime estimate.
    """
    if outcome.status in _UNMEASURED:
        return outcome
    min_minutes = params["thresholds"].min_minutes
    on_battery = Status(params["on_battery"])
    m = {**outcome.measured, "min_minutes": min_minutes}
    minutes = m["minutes_remaining"]
    source = _code(o.UPS_OUTPUT_SOURCE_NAMES, m["output_source"])
    battery = _code(o.UPS_BATTERY_STATUS_NAMES, m["battery_status"])
    on_battery_s = m["seconds_on_battery"]
    # "UPS 机房 UPS" reads badly: only prefix names that do not say UPS already.
    name = params["name"] if "ups" in params["name"].lower() else f"UPS {params['name']}"
    if minutes is None:
        what = Text("answers SNMP but does not report its estimated runtime (UPS-MIB "
                    "upsEstimatedMinutesRemaining)",
                    "回应 SNMP，但不提供估计剩余续航（UPS-MIB upsEstimatedMinutesRemaining）")
        action = Text("enable the standard UPS-MIB (RFC 1628) on its network card, or read the "
                      "runtime on the UPS display and record it by hand",
                      "请在其网络管理卡上启用标准 UPS-MIB（RFC 1628），或在 UPS 面板上读取续航时间"
                      "并人工记录")
        return ProbeOutcome(Status.ERROR, Text(f"{name} {what.en}: {action.en}",
                                               f"{name} {what.zh}：{action.zh}"), m,
                            findings=[Finding("ups.no_runtime", what, action)])
    issues: list[Issue] = []

    def add(status: Status, code: str, what: Text, action: Text, sep: Text) -> None:
        issues.append(_issue(status, Text(f"{name} {what.en}{sep.en}{action.en}",
                                          f"{name} {what.zh}{sep.zh}{action.zh}"),
                             code, what, action))

    colon = Text(": ", "：")
    if minutes < min_minutes:
        add(Status.FAIL, "ups.short_runtime",
            Text(f"holds the present load for about {minutes} min, {min_minutes:g} min are "
                 "required", f"在当前负载下约可供电 {minutes} 分钟，要求 {min_minutes:g} 分钟"),
            Text("add battery capacity or a bigger UPS, or move equipment the exam does not "
                 "need off it", "请增加电池容量或更换更大的 UPS，或把考试不需要的设备移出该 UPS"),
            colon)
    if battery in (o.UPS_BATTERY_LOW, o.UPS_BATTERY_DEPLETED):
        add(Status.FAIL, "ups.battery_low",
            Text(f"reports its battery as {o.UPS_BATTERY_STATUS_NAMES[battery]}",
                 f"报告电池{o.UPS_BATTERY_STATUS_ZH[battery]}"),
            Text("charge it fully before the exam, and replace the battery if it does not "
                 "recover", "请在考试前充满电，若无法恢复请更换电池"), colon)
    if source == o.UPS_OUTPUT_NONE:
        add(Status.FAIL, "ups.output_off",
            Text("reports its output is off: nothing behind it is protected",
                 "报告输出已关闭：其后的设备没有保护"),
            Text("switch the UPS output on", "请打开 UPS 输出"), Text("; ", "；"))
    elif source == o.UPS_OUTPUT_BYPASS:
        add(Status.FAIL, "ups.on_bypass",
            Text("is on bypass: mains feeds the load directly and a power cut would drop it",
                 "处于旁路状态：市电直接供给负载，一旦停电负载将断电"),
            Text("clear the UPS fault or overload and return it to normal mode",
                 "请排除 UPS 故障或过载，使其恢复正常模式"), Text("; ", "；"))
    elif source == o.UPS_OUTPUT_BATTERY:
        add(on_battery, "ups.on_battery",
            Text(f"is running on battery now (for {on_battery_s or 0} s): mains power to the "
                 "room is off",
                 f"正在使用电池供电（已 {on_battery_s or 0} 秒）：机房市电已中断"),
            Text("restore it before the exam", "请在考试前恢复供电"), Text("; ", "；"))
    # "unknown"/"other" says no more than a missing value: both leave the rule unproven.
    unread = []
    if battery in (None, o.UPS_BATTERY_UNKNOWN):
        unread.append(("battery status", "电池状态"))
    if source in (None, o.UPS_OUTPUT_OTHER):
        unread.append(("output source", "输出来源"))
    if unread and not issues:
        unread_en = " and ".join(en for en, _ in unread)
        unread_zh = "和".join(zh for _, zh in unread)
        what = Text(f"{unread_en} cannot be read, so the runtime is only partly verified",
                    f"{unread_zh}无法读取，续航只得到部分验证")
        action = Text("check them on the UPS display", "请在 UPS 面板上查看")
        issues.append(_issue(Status.WARN, Text(
            f"{name}'s {unread_en} cannot be read, so the runtime is only partly verified: "
            f"{action.en}",
            f"无法读取 {name} 的{unread_zh}，续航只得到部分验证：{action.zh}"),
            "ups.status_unread", what, action))
    if issues:
        return _combine(issues, m)
    note_en = note_zh = ""
    if source in (o.UPS_OUTPUT_BOOSTER, o.UPS_OUTPUT_REDUCER):
        note_en = (f" (mains voltage out of range, the UPS is "
                   f"{'boosting' if source == o.UPS_OUTPUT_BOOSTER else 'trimming'} it)")
        note_zh = f"（市电电压异常，UPS 正在{o.UPS_OUTPUT_SOURCE_ZH[source]}）"
    return ProbeOutcome(Status.PASS, Text(
        f"{name} holds the present load for about {minutes} min (at least "
        f"{min_minutes:g} min required), on mains{note_en}, battery normal",
        f"{name} 在当前负载下约可供电 {minutes} 分钟（要求至少 {min_minutes:g} 分钟），"
        f"市电供电{note_zh}，电池正常"), m)


OUTCOME_JUDGES = {
    "snmp.device": device,
    "snmp.interfaces": interfaces,
    "snmp.port_speed": port_speed,
    "snmp.ups": ups,
}
RESULTS_JUDGES: dict[str, Any] = {}
