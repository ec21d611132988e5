"""The uplink and filter's rules: WAN-FLOOR, WAN-POLICY, FILTER-FEATURES."""

from __future__ import annotations

from ..results import CheckResult, Text
from . import MBPS_TO_BYTES_PER_S, Metric, Rule, Trend
from ._words import as_list, both, first, fmt, num


def _wan_floor(r: CheckResult) -> Text | None:
    down, up = num(r.measured.get("download_mbps")), num(r.measured.get("upload_mbps"))
    if down is None or up is None:
        mbps = num(r.measured.get("throughput_mbps"))
        return None if mbps is None else both(f"{fmt(mbps)} Mbit/s")
    return Text(f"down {fmt(down)} / up {fmt(up)} Mbit/s",
                f"下行 {fmt(down)} / 上行 {fmt(up)} Mbit/s")


def _filtering(r: CheckResult) -> Text | None:
    m = r.measured
    attempts = m.get("attempts")
    if isinstance(attempts, list):
        leaked = sum(1 for a in attempts if isinstance(a, dict) and a.get("leak") is True)
        return Text(f"{leaked} of {len(attempts)} attempts got through",
                    f"{len(attempts)} 次尝试中 {leaked} 次未被拦截")
    leaks = as_list(m.get("leaks"))
    count = m.get("attempt_count")
    if isinstance(count, int):
        if leaks is not None:
            return Text(f"{len(leaks)} leaks in {count} attempts",
                        f"{count} 次尝试中 {len(leaks)} 处泄漏")
        return Text(f"{count} attempts", f"{count} 次尝试")
    reached, failed = as_list(m.get("reached")), as_list(m.get("failed"))
    if reached is not None and failed is not None:
        return Text(f"{len(reached)} loaded, {len(failed)} did not",
                    f"{len(reached)} 个可访问，{len(failed)} 个不可访问")
    status = m.get("status")
    if isinstance(status, int) and isinstance(m.get("url"), str):
        return both(f"HTTP {status}")
    uptime = num(m.get("uptime_s"))
    if uptime is not None:
        return Text(f"answers SNMP, up {fmt(uptime)} s", f"应答 SNMP，已运行 {fmt(uptime)} 秒")
    http = m.get("http_status")
    if isinstance(http, int):
        return both(f"HTTP {http}")
    return None


def _wan(results: list[CheckResult]) -> Text | None:
    r = first(results, "download_mbps", "upload_mbps")
    if r is None:
        return None
    down, up = fmt(r.measured["download_mbps"]), fmt(r.measured["upload_mbps"])
    floor = fmt(num(r.threshold.get("floor_mbps")) or 0)
    return Text(f"down {down} / up {up} Mbit/s (needs {floor})",
                f"下行 {down} / 上行 {up} Mbit/s（要求 {floor}）")


def _uplink(direction: str) -> Metric:
    return Metric("readiness_uplink_bytes_per_second", "the room's internet uplink, median",
                  "WAN-FLOOR", None, f"{direction}_mbps", MBPS_TO_BYTES_PER_S,
                  (("direction", direction),))


RULES = (
    Rule("WAN-FLOOR", _wan_floor, _wan, metrics=(
        _uplink("download"), _uplink("upload"),
        Metric("readiness_uplink_floor_bytes_per_second",
               "the certificate's floor for the uplink", "WAN-FLOOR", None, "floor_mbps",
               MBPS_TO_BYTES_PER_S, from_threshold=True)),
         # min: a floor holds only if the worst measurement meets it
         trends=(Trend("uplink_mbps", "WAN-FLOOR", "throughput_mbps", "min",
                       Text("Uplink", "外网带宽"), "Mbit/s", 0),)),
    Rule("WAN-POLICY", _filtering),
    Rule("FILTER-FEATURES", _filtering),
)
