"""The figures people read, in a few words, in one table per rule.

`result_figure(r)`: what one check measured ("858 Mbit/s", "disk 275 GB · RAM 23.5 GiB ·
2 cores", "1920×1080 · 15 fps"): the report's appendix, its camera tiles and the live
page show it. `deciding_figure(req, results)`: the figure that decides a requirement's
verdict ("slowest seat A07 86 Mbit/s"): the console's requirement lines.

Each rule reads only the measurements its own checks make: a LAN-SPEED line shows a
throughput or a NIC speed, never the disk size its agent also reported. Nothing here
reads a label, a check id or a message; whom a figure is about is `r.subject`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .results import CheckResult, Status, Text
from .subject import Kind
from .words import STATUS_WORDS


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else None


def _fmt(value: float) -> str:
    return f"{value:.0f}" if value >= 100 or value == int(value) else f"{value:.1f}"


def _both(en: str, zh: str | None = None) -> Text:
    return Text(en, en if zh is None else zh)


def _list(value: Any) -> list[Any] | None:
    # long lists are cut from recorded fixtures ("(stripped ...)"): not a count
    return value if isinstance(value, list) else None


# --- one result: each rule's own figure ------------------------------------------------


def _lan_speed(r: CheckResult) -> Text | None:
    m = r.measured
    mbps = _num(m.get("throughput_mbps"))
    if mbps is not None:
        return _both(f"{_fmt(mbps)} Mbit/s")
    total = _num(m.get("aggregate_mbps"))
    if total is not None:
        seats = m.get("seats")
        if isinstance(seats, int):
            return Text(f"{_fmt(total)} Mbit/s from {seats} seats at once",
                        f"{seats} 个考位同时 {_fmt(total)} Mbit/s")
        return _both(f"{_fmt(total)} Mbit/s")
    nic = _num(m.get("nic_speed_mbps"))
    if nic is not None:
        duplex = m.get("duplex")
        words = {"full": ("full duplex", "全双工"), "half": ("half duplex", "半双工")}
        en, zh = words.get(str(duplex), ("", ""))
        return Text(f"NIC {_fmt(nic)} Mbit/s" + (f", {en}" if en else ""),
                    f"网卡 {_fmt(nic)} Mbit/s" + (f"，{zh}" if zh else ""))
    pairs, rounds = m.get("pairs"), m.get("rounds")
    if isinstance(pairs, int):
        more = (f", {rounds} rounds", f"，{rounds} 轮") if isinstance(rounds, int) else ("", "")
        return Text(f"{pairs} seat pairs{more[0]}", f"{pairs} 组考位对测{more[1]}")
    seats = m.get("seats")
    if isinstance(seats, dict):  # the switch's view of each seat's port
        speeds = [_num(s.get("speed_mbps")) for s in seats.values() if isinstance(s, dict)]
        found = [s for s in speeds if s]
        if found:
            return Text(f"{len(found)} seat ports, slowest {_fmt(min(found))} Mbit/s",
                        f"{len(found)} 个考位端口，最慢 {_fmt(min(found))} Mbit/s")
    ports = m.get("ports")
    if isinstance(ports, dict) and ports:
        return Text(f"{len(ports)} switch ports read", f"读取 {len(ports)} 个交换机端口")
    return None


def _lan_subnet(r: CheckResult) -> Text | None:
    m = r.measured
    sent, got = m.get("sent"), m.get("received")
    if isinstance(sent, int) and isinstance(got, int):
        rtt = _num(m.get("rtt_avg_ms"))
        tcp = m.get("tcp") if isinstance(m.get("tcp"), dict) else {}
        en, zh = f"{got}/{sent} pings", f"{got}/{sent} 个 ping"
        if got == 0 and isinstance(tcp.get("answered"), int):
            en += f", {tcp['answered']}/{tcp.get('sent')} TCP connects"
            zh += f"，{tcp['answered']}/{tcp.get('sent')} 次 TCP 连接"
            rtt = _num(tcp.get("rtt_avg_ms")) if tcp["answered"] else None
        if rtt is not None:
            en, zh = en + f", {rtt:.2g} ms", zh + f"，{rtt:.2g} ms"
        return Text(en, zh)
    if isinstance(m.get("same_subnet"), bool):
        subnet = m.get("subnet", "")
        return (Text(f"in {subnet}", f"在 {subnet} 内") if m["same_subnet"]
                else Text(f"outside {subnet}", f"不在 {subnet} 内"))
    hosts = m.get("hosts_answering")
    if isinstance(hosts, int):
        return Text(f"{hosts} hosts answer ARP", f"{hosts} 台主机应答 ARP")
    adjacent, configured = m.get("adjacent"), m.get("configured")
    if isinstance(adjacent, int) and isinstance(configured, int):
        return Text(f"{adjacent} of {configured} on the same LAN",
                    f"{configured} 台中 {adjacent} 台在同一局域网")
    unknown = _list(m.get("unknown"))
    if unknown is not None:
        return Text(f"{len(unknown)} machines not in the site file",
                    f"{len(unknown)} 台机器不在站点文件中")
    return None


def _fixed_ip(r: CheckResult) -> Text | None:
    m = r.measured
    if isinstance(m.get("found_at"), str):
        return Text(f"answers at {m['found_at']}", f"在 {m['found_at']} 应答")
    macs = _list(m.get("macs"))
    if macs is not None:
        if not macs:
            return Text("no ARP answer", "无 ARP 应答")
        return Text(f"{len(macs)} MAC answers" if len(macs) == 1 else f"{len(macs)} MACs answer",
                    f"{len(macs)} 个 MAC 应答")
    addressing = m.get("addressing")
    if addressing in ("static", "dhcp"):
        return Text("static address", "固定地址") if addressing == "static" \
            else Text("DHCP address", "DHCP 地址")
    servers = _list(m.get("servers"))
    if servers is not None:
        return Text(f"{len(servers)} DHCP servers answer", f"{len(servers)} 个 DHCP 服务器应答")
    conflicts = m.get("conflicts")
    if isinstance(conflicts, dict):
        return Text(f"{len(conflicts)} address conflicts", f"{len(conflicts)} 处 IP 冲突")
    return None


def _count(key: str, total: str, en: str, zh: str) -> Callable[[CheckResult], Text | None]:
    def figure(r: CheckResult) -> Text | None:
        got, of = r.measured.get(key), r.measured.get(total)
        if not isinstance(got, int) or not isinstance(of, int):
            return None
        return Text(f"{got} of {of} {en}", f"{got}/{of} 个{zh}")
    return figure


def _wan_floor(r: CheckResult) -> Text | None:
    down, up = _num(r.measured.get("download_mbps")), _num(r.measured.get("upload_mbps"))
    if down is None or up is None:
        mbps = _num(r.measured.get("throughput_mbps"))
        return None if mbps is None else _both(f"{_fmt(mbps)} Mbit/s")
    return Text(f"down {_fmt(down)} / up {_fmt(up)} Mbit/s",
                f"下行 {_fmt(down)} / 上行 {_fmt(up)} Mbit/s")


def _filtering(r: CheckResult) -> Text | None:
    m = r.measured
    attempts = m.get("attempts")
    if isinstance(attempts, list):
        leaked = sum(1 for a in attempts if isinstance(a, dict) and a.get("leak") is True)
        return Text(f"{leaked} of {len(attempts)} attempts got through",
                    f"{len(attempts)} 次尝试中 {leaked} 次未被拦截")
    leaks = _list(m.get("leaks"))
    count = m.get("attempt_count")
    if isinstance(count, int):
        if leaks is not None:
            return Text(f"{len(leaks)} leaks in {count} attempts",
                        f"{count} 次尝试中 {len(leaks)} 处泄漏")
        return Text(f"{count} attempts", f"{count} 次尝试")
    reached, failed = _list(m.get("reached")), _list(m.get("failed"))
    if reached is not None and failed is not None:
        return Text(f"{len(reached)} loaded, {len(failed)} did not",
                    f"{len(reached)} 个可访问，{len(failed)} 个不可访问")
    status = m.get("status")
    if isinstance(status, int) and isinstance(m.get("url"), str):
        return _both(f"HTTP {status}")
    uptime = _num(m.get("uptime_s"))
    if uptime is not None:
        return Text(f"answers SNMP, up {_fmt(uptime)} s", f"应答 SNMP，已运行 {_fmt(uptime)} 秒")
    http = m.get("http_status")
    if isinstance(http, int):
        return _both(f"HTTP {http}")
    return None


def _cam_count(r: CheckResult) -> Text | None:
    found = _count("working_cameras", "configured_cameras", "cameras live", "摄像头画面正常")(r)
    if found is not None:
        return found
    unconfigured = _list(r.measured.get("unconfigured"))
    if unconfigured is not None:
        return Text(f"{len(unconfigured)} cameras not in the site file",
                    f"{len(unconfigured)} 个摄像头不在站点文件中")
    return None


def _cam_res(r: CheckResult) -> Text | None:
    width, height = r.measured.get("width"), r.measured.get("height")
    if not isinstance(width, int) or not isinstance(height, int):
        return None
    fps = _num(r.measured.get("fps"))
    rate = f" · {fps:.3g} fps" if fps is not None else ""
    return _both(f"{width}×{height}{rate}")


def _cam_audio(r: CheckResult) -> Text | None:
    audio = r.measured.get("audio")
    if not isinstance(audio, bool):
        return None
    codecs = ", ".join(str(c) for c in _list(r.measured.get("codecs")) or [])
    tail = f" ({codecs})" if codecs else ""
    return (Text(f"audio track{tail}", f"有音轨{tail}") if audio
            else Text(f"no audio track{tail}", f"无音轨{tail}"))


def _ups(r: CheckResult) -> Text | None:
    minutes = _num(r.measured.get("minutes_remaining"))
    if minutes is None:
        return None
    return Text(f"{_fmt(minutes)} min on battery", f"电池可供电 {_fmt(minutes)} 分钟")


def _seat_spec(r: CheckResult) -> Text | None:
    m = r.measured
    parts: list[tuple[str, str]] = []
    disk, ram, cores = _num(m.get("disk_gb")), _num(m.get("ram_gib")), m.get("cpu_cores")
    if disk is not None:
        parts.append((f"disk {_fmt(disk)} GB", f"硬盘 {_fmt(disk)} GB"))
    if ram is not None:
        parts.append((f"RAM {_fmt(ram)} GiB", f"内存 {_fmt(ram)} GiB"))
    if isinstance(cores, int):
        parts.append((f"{cores} cores", f"{cores} 核"))
    if not parts:
        return None
    return Text(" · ".join(p[0] for p in parts), " · ".join(p[1] for p in parts))


RESULT_FIGURES: dict[str, Callable[[CheckResult], Text | None]] = {
    "LAN-SPEED": _lan_speed,
    "LAN-SUBNET": _lan_subnet,
    "LAN-FIXED-IP": _fixed_ip,
    "LAN-SEATS": _count("working_seats", "configured_seats", "seats answer", "考位可达"),
    "WAN-FLOOR": _wan_floor,
    "WAN-POLICY": _filtering,
    "FILTER-FEATURES": _filtering,
    "CAM-COUNT": _cam_count,
    "CAM-RES": _cam_res,
    "CAM-AUDIO": _cam_audio,
    "UPS-RUNTIME": _ups,
    "SEAT-SPEC": _seat_spec,
}


def result_figure(result: CheckResult) -> Text | None:
    """What this check measured, by its own rule's table entry; None: it measured no
    figure (a skip, an absent agent, a rule without numbers): its message says why."""
    figure = RESULT_FIGURES.get(result.requirement)
    return figure(result) if figure else None


# --- a requirement: the figure its verdict comes from ---------------------------------


def _first(results: list[CheckResult], *keys: str) -> CheckResult | None:
    return next((r for r in results if all(_num(r.measured.get(k)) is not None
                                            for k in keys)), None)


def _slowest_seat(results: list[CheckResult]) -> Text | None:
    paths = [r for r in results if _num(r.measured.get("throughput_mbps")) is not None
             and r.subject.kind is Kind.SEAT]
    if not paths:
        return None
    slow = min(paths, key=lambda r: r.measured["throughput_mbps"])
    seat, mbps = slow.subject.name, _fmt(slow.measured["throughput_mbps"])
    need = slow.threshold.get("gigabit_class_min_mbps")
    needs = (f" (gigabit needs {need})", f"（千兆需 {need}）") if need else ("", "")
    return Text(f"slowest seat {seat} {mbps} Mbit/s{needs[0]}",
                f"最慢考位 {seat} {mbps} Mbit/s{needs[1]}")


def _needs(key: str, total: str, need: str, en: str, zh: str) -> Callable[
        [list[CheckResult]], Text | None]:
    def figure(results: list[CheckResult]) -> Text | None:
        r = _first(results, key, total)
        if r is None:
            return None
        got, of, min_ = r.measured[key], r.measured[total], r.threshold.get(need)
        return Text(f"{got} of {of} {en} (needs {min_})", f"{got}/{of} 个{zh}（要求 {min_}）")
    return figure


def _wan(results: list[CheckResult]) -> Text | None:
    r = _first(results, "download_mbps", "upload_mbps")
    if r is None:
        return None
    down, up = _fmt(r.measured["download_mbps"]), _fmt(r.measured["upload_mbps"])
    floor = _fmt(_num(r.threshold.get("floor_mbps")) or 0)
    return Text(f"down {down} / up {up} Mbit/s (needs {floor})",
                f"下行 {down} / 上行 {up} Mbit/s（要求 {floor}）")


def _ups_runtime(results: list[CheckResult]) -> Text | None:
    r = _first(results, "minutes_remaining")
    if r is None:
        return None
    need = r.threshold.get("min_minutes")
    got = r.measured["minutes_remaining"]
    return Text(f"{got} min on battery (needs {need})", f"电池可供电 {got} 分钟（要求 {need}）")


FIGURES: dict[str, Callable[[list[CheckResult]], Text | None]] = {
    "LAN-SPEED": _slowest_seat,
    "LAN-SEATS": _needs("working_seats", "configured_seats", "min_seats", "seats answer",
                        "考位可达"),
    "CAM-COUNT": _needs("working_cameras", "configured_cameras", "min_cameras",
                        "cameras live", "摄像头画面正常"),
    "WAN-FLOOR": _wan,
    "UPS-RUNTIME": _ups_runtime,
}


def _tally(results: list[CheckResult], lang: str) -> str:
    words = STATUS_WORDS[lang]
    parts = [f"{sum(r.status is s for r in results)} {words[s].lower()}"
             for s in (Status.FAIL, Status.ERROR, Status.WARN, Status.PASS, Status.SKIP)
             if any(r.status is s for r in results)]
    return " · ".join(parts)


def deciding_figure(requirement: str, results: list[CheckResult]) -> Text:
    """The requirement's figure, or a tally of its checks when it has no single figure
    (a lone check says its own figure, or what its judge found, or its message)."""
    figure = FIGURES.get(requirement)
    found = figure(results) if figure else None
    if found is not None:
        return found
    if len(results) == 1:
        only = results[0]
        own = result_figure(only)
        if own is not None:
            return own
        if only.status is Status.SKIP:
            return only.findings[0].what if only.findings else only.message
    return Text(_tally(results, "en"), _tally(results, "zh"))
