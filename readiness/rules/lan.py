"""The LAN's rules: LAN-SPEED, LAN-SUBNET, LAN-FIXED-IP, LAN-SEATS."""

from __future__ import annotations

from ..results import CheckResult, Text
from ..subject import Kind
from . import MBPS_TO_BYTES_PER_S, Metric, Rule, Trend
from ._words import as_list, both, count, fmt, needs, num


def _lan_speed(r: CheckResult) -> Text | None:
    m = r.measured
    mbps = num(m.get("throughput_mbps"))
    if mbps is not None:
        return both(f"{fmt(mbps)} Mbit/s")
    total = num(m.get("aggregate_mbps"))
    if total is not None:
        seats = m.get("seats")
        if isinstance(seats, int):
            return Text(f"{fmt(total)} Mbit/s from {seats} seats at once",
                        f"{seats} 个考位同时 {fmt(total)} Mbit/s")
        return both(f"{fmt(total)} Mbit/s")
    nic = num(m.get("nic_speed_mbps"))
    if nic is not None:
        duplex = m.get("duplex")
        words = {"full": ("full duplex", "全双工"), "half": ("half duplex", "半双工")}
        en, zh = words.get(str(duplex), ("", ""))
        return Text(f"NIC {fmt(nic)} Mbit/s" + (f", {en}" if en else ""),
                    f"网卡 {fmt(nic)} Mbit/s" + (f"，{zh}" if zh else ""))
    pairs, rounds = m.get("pairs"), m.get("rounds")
    if isinstance(pairs, int):
        more = (f", {rounds} rounds", f"，{rounds} 轮") if isinstance(rounds, int) else ("", "")
        return Text(f"{pairs} seat pairs{more[0]}", f"{pairs} 组考位对测{more[1]}")
    seats = m.get("seats")
    if isinstance(seats, dict):  # the switch's view of each seat's port
        speeds = [num(s.get("speed_mbps")) for s in seats.values() if isinstance(s, dict)]
        found = [s for s in speeds if s]
        if found:
            return Text(f"{len(found)} seat ports, slowest {fmt(min(found))} Mbit/s",
                        f"{len(found)} 个考位端口，最慢 {fmt(min(found))} Mbit/s")
    ports = m.get("ports")
    if isinstance(ports, dict) and ports:
        return Text(f"{len(ports)} switch ports read", f"读取 {len(ports)} 个交换机端口")
    return None


def _lan_subnet(r: CheckResult) -> Text | None:
    m = r.measured
    sent, got = m.get("sent"), m.get("received")
    if isinstance(sent, int) and isinstance(got, int):
        rtt = num(m.get("rtt_avg_ms"))
        tcp = m.get("tcp") if isinstance(m.get("tcp"), dict) else {}
        en, zh = f"{got}/{sent} pings", f"{got}/{sent} 个 ping"
        if got == 0 and isinstance(tcp.get("answered"), int):
            en += f", {tcp['answered']}/{tcp.get('sent')} TCP connects"
            zh += f"，{tcp['answered']}/{tcp.get('sent')} 次 TCP 连接"
            rtt = num(tcp.get("rtt_avg_ms")) if tcp["answered"] else None
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
    unknown = as_list(m.get("unknown"))
    if unknown is not None:
        return Text(f"{len(unknown)} machines not in the site file",
                    f"{len(unknown)} 台机器不在站点文件中")
    return None


def _fixed_ip(r: CheckResult) -> Text | None:
    m = r.measured
    if isinstance(m.get("found_at"), str):
        return Text(f"answers at {m['found_at']}", f"在 {m['found_at']} 应答")
    macs = as_list(m.get("macs"))
    if macs is not None:
        if not macs:
            return Text("no ARP answer", "无 ARP 应答")
        return Text(f"{len(macs)} MAC answers" if len(macs) == 1 else f"{len(macs)} MACs answer",
                    f"{len(macs)} 个 MAC 应答")
    addressing = m.get("addressing")
    if addressing in ("static", "dhcp"):
        return Text("static address", "固定地址") if addressing == "static" \
            else Text("DHCP address", "DHCP 地址")
    servers = as_list(m.get("servers"))
    if servers is not None:
        return Text(f"{len(servers)} DHCP servers answer", f"{len(servers)} 个 DHCP 服务器应答")
    conflicts = m.get("conflicts")
    if isinstance(conflicts, dict):
        return Text(f"{len(conflicts)} address conflicts", f"{len(conflicts)} 处 IP 冲突")
    return None


def _slowest_seat(results: list[CheckResult]) -> Text | None:
    paths = [r for r in results if num(r.measured.get("throughput_mbps")) is not None
             and r.subject.kind is Kind.SEAT]
    if not paths:
        return None
    slow = min(paths, key=lambda r: r.measured["throughput_mbps"])
    seat, mbps = slow.subject.name, fmt(slow.measured["throughput_mbps"])
    need = slow.threshold.get("gigabit_class_min_mbps")
    needs = (f" (gigabit needs {need})", f"（千兆需 {need}）") if need else ("", "")
    return Text(f"slowest seat {seat} {mbps} Mbit/s{needs[0]}",
                f"最慢考位 {seat} {mbps} Mbit/s{needs[1]}")


def _lan(aspect: str, direction: str, peer: str) -> Metric:
    return Metric("readiness_lan_throughput_bytes_per_second",
                  "a seat's throughput to the exam server or a partner seat, the slowest of "
                  "each direction", "LAN-SPEED", aspect, "throughput_mbps", MBPS_TO_BYTES_PER_S,
                  (("direction", direction), ("peer", peer)))


RULES = (
    Rule("LAN-SPEED", _lan_speed, _slowest_seat, metrics=(
        _lan("download", "download", "exam_server"),
        _lan("upload", "upload", "exam_server"),
        _lan("pair_download", "download", "partner_seat"),
        _lan("pair_upload", "upload", "partner_seat"),
        Metric("readiness_room_load_bytes_per_second",
               "all seats at once to the exam server, aggregate", "LAN-SPEED", "load",
               "aggregate_mbps", MBPS_TO_BYTES_PER_S)),
         trends=(Trend("slowest_seat_mbps", "LAN-SPEED", "throughput_mbps", "min",
                       Text("Slowest seat", "最慢考位"), "Mbit/s", 1),)),
    Rule("LAN-SUBNET", _lan_subnet),
    Rule("LAN-FIXED-IP", _fixed_ip),
    Rule("LAN-SEATS", count("working_seats", "configured_seats", "seats answer", "考位可达"),
         needs("working_seats", "configured_seats", "min_seats", "seats answer", "考位可达"),
         metrics=(
             Metric("readiness_seats_answering", "configured seats that work", "LAN-SEATS",
                    None, "working_seats"),
             Metric("readiness_seats_configured", "seats in the site file", "LAN-SEATS", None,
                    "configured_seats"),
             Metric("readiness_seats_required", "the certificate's minimum of working seats",
                    "LAN-SEATS", None, "min_seats", from_threshold=True)),
         # sum over rooms: LAN-SEATS is counted per room
         trends=(Trend("seats_answering", "LAN-SEATS", "working_seats", "sum",
                       Text("Seats answering", "可达考位"), "", 3),)),
)
