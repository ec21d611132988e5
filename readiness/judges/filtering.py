"""Judges of WAN-FLOOR, WAN-POLICY and FILTER-FEATURES: the uplink against its floor,
a seat's filter audit, the exam server's reach, and one verdict per filter feature
from every audit of the run.

A measurement made from a stand-in vantage (the coordinator, because the seat or the
exam server has no agent) cannot pass for the real one: a pass becomes a warn marked
"not proof", and the message says where it was measured instead (a failure on the same
uplink or filter still fails).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..checks import COORDINATOR
from ..config.profile import WanFloorThresholds
from ..results import NOT_PROOF, CheckResult, ProbeOutcome, Status, Text

# the url_filter probe's words for a feature's evidence (probes/url_filter.py)
FEATURE_PASS, FEATURE_FAIL, FEATURE_NOT_TESTED = "pass", "fail", "not_tested"

FEATURE_TECHNIQUES = {
    "ip": ("direct_ip", "plain", "ipv6", "icmp"),
    "dns": ("resolver", "doh"),
    "url_wildcard": ("subdomain",),
    "keyword": ("keyword", "path_variant"),
    "block_notice": (),
}

FEATURE_NAMES = {
    "ip": ("IP filtering", "IP 过滤"),
    "dns": ("DNS filtering", "DNS 过滤"),
    "url_wildcard": ("URL filtering with wildcards", "URL 通配符过滤"),
    "keyword": ("keyword filtering", "关键字过滤"),
    "block_notice": ("block notice", "过滤通告"),
    "per_address": ("per-address access control", "基于地址的访问控制"),
    "per_time": ("time-window policy", "基于时间段的策略"),
}

NOT_SEEN = {
    "ip": ("no blocked target's address was known to try directly (configure "
           "filter_audit.control_resolvers)",
           "不知道任何被拦截目标的地址，无法直接尝试（请配置 filter_audit.control_resolvers）"),
    "dns": ("the blocked names resolve normally at the seat, so the router blocks by address "
            "only, or no other resolver was configured to try",
            "被拦截域名在考生机上可正常解析（路由器只按地址拦截），或未配置其他 DNS 进行尝试"),
    "url_wildcard": ("no random subdomain could be tried", "未能尝试随机子域名"),
    "keyword": ("no keyword or blocked URL path configured to demonstrate it "
                "(filter_audit.keywords)",
                "未配置用于演示的关键字或被拦截的 URL 路径（filter_audit.keywords）"),
    "block_notice": ("no block page or block redirect was seen (blocked by DNS or by "
                     "dropping, which shows the candidate no notice)",
                     "未见拦截页面或拦截重定向（以 DNS 或丢弃方式拦截，考生看不到通告）"),
}


# -- measured from a stand-in vantage ----------------------------------------------------


def _prefixed(outcome: ProbeOutcome, en: str, zh: str, **extra: Any) -> ProbeOutcome:
    return ProbeOutcome(outcome.status, Text(en + outcome.message.en, zh + outcome.message.zh),
                        {**outcome.measured, **extra}, list(outcome.evidence),
                        ran_from=outcome.ran_from)


def cap_warn(outcome: ProbeOutcome, en: str, zh: str) -> ProbeOutcome:
    """A result from a stand-in vantage cannot pass for the real one."""
    if outcome.status == Status.PASS:
        outcome = replace(outcome, status=Status.WARN,
                          measured={**outcome.measured, NOT_PROOF: True})
    return _prefixed(outcome, en, zh)


def _why_absent(outcome: ProbeOutcome, where: str) -> Text:
    reason = outcome.measured.get("agent_reason")
    extra = f" ({reason})" if reason else ""
    return Text(f"no agent answers on {where}{extra}", f"{where} 上没有代理应答{extra}")


# -- WAN-FLOOR ------------------------------------------------------------------------------


def wan_floor_verdict(download: float | None, upload: float | None, floor_mbps: float,
                      allowance_pct: float) -> tuple[Status, Text]:
    """Both directions at or above the floor: pass; download at or above it but upload
    below or not measured: warn; download within the overhead allowance below the
    floor: warn; below that: fail."""
    low = floor_mbps * (100 - allowance_pct) / 100
    dl_en = f"download {download:.1f} Mbit/s" if download is not None else "no download"
    ul_en = f"upload {upload:.1f} Mbit/s" if upload is not None else "upload not measured"
    dl_zh = f"下行 {download:.1f} Mbit/s" if download is not None else "无下行"
    ul_zh = f"上行 {upload:.1f} Mbit/s" if upload is not None else "未测上行"
    figures_en, figures_zh = f"{dl_en}, {ul_en}", f"{dl_zh}，{ul_zh}"
    if download is None or download < low:
        extra = (f" (the overhead allowance reaches down to {low:g})"
                 if allowance_pct else "")
        extra_zh = f"（含协议开销容差，下限 {low:g}）" if allowance_pct else ""
        return Status.FAIL, Text(
            f"{figures_en}: below the floor of {floor_mbps:g} Mbit/s{extra}; ask the "
            "provider for a faster line, or check that nothing else uses it during the test",
            f"{figures_zh}：低于 {floor_mbps:g} Mbit/s 的要求{extra_zh}；"
            "请向运营商升级带宽，或确认测试时没有其他流量占用")
    if download < floor_mbps:
        return Status.WARN, Text(
            f"{figures_en}: download just under the floor of {floor_mbps:g} Mbit/s, within "
            f"the {allowance_pct:g} % protocol overhead a line of exactly that speed shows",
            f"{figures_zh}：下行略低于 {floor_mbps:g} Mbit/s，在 {allowance_pct:g}% 的协议开销"
            "范围内（恰好该速率的线路的正常实测值）")
    if upload is None or upload < floor_mbps:
        return Status.WARN, Text(
            f"{figures_en}: download meets the floor of {floor_mbps:g} Mbit/s, upload "
            + ("was not measured" if upload is None else "is below it"),
            f"{figures_zh}：下行达到 {floor_mbps:g} Mbit/s，上行"
            + ("未测量" if upload is None else "低于该值"))
    return Status.PASS, Text(
        f"{figures_en}: both meet the floor of {floor_mbps:g} Mbit/s",
        f"{figures_zh}：均达到 {floor_mbps:g} Mbit/s 的要求")


def wan_floor(outcome: ProbeOutcome, params: dict[str, Any]) -> ProbeOutcome:
    """params: thresholds (WanFloorThresholds), where (who should have measured it, for
    the message when a stand-in measured it instead)."""
    th: WanFloorThresholds = params["thresholds"]
    m = outcome.measured
    judged = outcome
    # the probe's own fail (endpoint unreachable) and error stand as they are
    if outcome.status == Status.PASS and "runs" in m:
        status, text = wan_floor_verdict(m.get("download_mbps"), m.get("upload_mbps"),
                                         th.floor_mbps, th.overhead_allowance_pct)
        runs, latency, streams = len(m["runs"]), m.get("latency_ms"), m.get("streams")
        suffix_en = f" (median of {runs} run(s) of {streams} streams"
        suffix_en += f", latency {latency:.1f} ms)" if latency is not None else ")"
        suffix_zh = f"（{runs} 轮、每轮 {streams} 路并发的中位数"
        suffix_zh += f"，时延 {latency:.1f} ms）" if latency is not None else "）"
        judged = ProbeOutcome(status, Text(text.en + suffix_en, text.zh + suffix_zh),
                              {**m, "floor_mbps": th.floor_mbps,
                               "overhead_allowance_pct": th.overhead_allowance_pct},
                              list(outcome.evidence), ran_from=outcome.ran_from)
    if not m.get("stand_in"):
        return judged
    why = _why_absent(outcome, str(params.get("where", "the exam server")))
    return cap_warn(judged,
                    f"{why.en}; measured from the coordinator instead (the same uplink, "
                    "not the server's own path): ",
                    f"{why.zh}；改为从协调机测量（同一出口，但非服务器自身路径）：")


# -- WAN-POLICY ---------------------------------------------------------------------------


def seat_audit(outcome: ProbeOutcome, params: dict[str, Any]) -> ProbeOutcome:
    """A seat's filter audit: as its agent judged it, or the room's audit made from the
    coordinator when the seat has no agent (the probe itself turns a pass or fail seen
    from the coordinator into a warn). params: label (the seat)."""
    if not outcome.measured.get("stand_in"):
        return outcome
    label = params.get("label", "?")
    why = _why_absent(outcome, f"seat {label}")
    return _prefixed(outcome, f"seat {label}: {why.en}; ", f"考位 {label}：{why.zh}；")


def server_reach(outcome: ProbeOutcome, params: dict[str, Any]) -> ProbeOutcome:
    """The exam server reaches the internet; tried from the coordinator instead when
    the server has no agent (then a pass only warns)."""
    if not outcome.measured.get("stand_in"):
        return outcome
    why = _why_absent(outcome, str(params.get("where", "the exam server")))
    return cap_warn(outcome, f"{why.en}; tried from the coordinator: ",
                    f"{why.zh}；改为从协调机尝试：")


def evidence_only(outcome: ProbeOutcome, params: dict[str, Any]) -> ProbeOutcome:
    """The coordinator's own reach is evidence for per-address control, never a fault
    of the coordinator: reaching nothing is a skip, not a fail."""
    if outcome.status == Status.FAIL:
        return replace(outcome, status=Status.SKIP)
    return outcome


# -- FILTER-FEATURES ----------------------------------------------------------------------


def _audits(results: list[CheckResult], room_id: str) -> list[CheckResult]:
    prefixes = (f"WAN-POLICY/{room_id}/", f"FILTER-FEATURES/{room_id}/")
    return [r for r in results if r.check_id.startswith(prefixes)
            and isinstance(r.measured, dict) and r.measured.get("audit") == "url_filter"]


def _leak_lines(audits: list[CheckResult], techniques: tuple[str, ...]) -> list[str]:
    lines = []
    for r in audits:
        # a stand-in audit made from the coordinator is shared by many seats' results
        where = r.vantage if r.measured.get("vantage_is_seat") else COORDINATOR
        for att in r.measured.get("attempts", []):
            if att.get("leak") and att.get("technique") in techniques:
                lines.append(f"{where}: {att['request']} -> {att['result']}")
    return list(dict.fromkeys(lines))


def feature(results: list[CheckResult], params: dict[str, Any]) -> ProbeOutcome:
    """One filter feature, judged from every audit of the room in this run.
    params: room_id, feature, reach_id (the coordinator's own reach check)."""
    room_id, name = params["room_id"], params["feature"]
    name_en, name_zh = FEATURE_NAMES[name]
    audits = _audits(results, room_id)
    seat = [r for r in audits if r.measured.get("vantage_is_seat")
            and r.measured.get("agent") != "absent"]
    used = seat or audits
    if not used:
        return ProbeOutcome(Status.ERROR, Text(
            f"{name_en}: no filter audit finished to judge it from",
            f"{name_zh}：没有完成的过滤检测可供判定"))
    measured: dict[str, Any] = {
        "audits": [r.check_id for r in used],
        "in_exam_window": any(r.measured.get("in_exam_window") for r in used)}
    if name == "per_time":
        outcome = _per_time(used, name_en, name_zh, measured)
    elif name == "per_address":
        outcome = _per_address(used, results, params["reach_id"], name_en, name_zh,
                               measured)
    else:
        outcome = _technique(used, name, name_en, name_zh, measured)
    if seat:
        return outcome
    # seen from the coordinator only: nothing is proven either way
    return ProbeOutcome(
        Status.WARN if outcome.status in (Status.PASS, Status.FAIL) else outcome.status,
        Text(outcome.message.en + " (seen from the coordinator only: no seat agent)",
             outcome.message.zh + "（仅从协调机观察：无座位代理）"),
        outcome.measured)


def _technique(used: list[CheckResult], name: str, name_en: str, name_zh: str,
               measured: dict[str, Any]) -> ProbeOutcome:
    values = [r.measured.get("features", {}).get(name, FEATURE_NOT_TESTED) for r in used]
    measured["seen"] = dict(zip([r.vantage for r in used], values, strict=True))
    if FEATURE_FAIL in values:
        lines = _leak_lines(used, FEATURE_TECHNIQUES[name])
        shown = "; ".join(lines[:3]) + (f" (+{len(lines) - 3} more)" if len(lines) > 3 else "")
        measured["leaks"] = lines
        return ProbeOutcome(Status.FAIL, Text(
            f"{name_en} does not hold: {shown}", f"{name_zh}未生效：{shown}"), measured)
    if values and all(v == FEATURE_PASS for v in values):
        return ProbeOutcome(Status.PASS, Text(
            f"{name_en} works: every attempt of {len(values)} audit(s) was stopped",
            f"{name_zh}有效：{len(values)} 次检测中的尝试均被拦截"), measured)
    en, zh = NOT_SEEN.get(name, ("not demonstrated", "未能演示"))
    return ProbeOutcome(Status.WARN, Text(
        f"{name_en} not demonstrated: {en}", f"{name_zh}未能演示：{zh}"), measured)


def _per_time(used: list[CheckResult], name_en: str, name_zh: str,
              measured: dict[str, Any]) -> ProbeOutcome:
    leaking = [r for r in used if r.measured.get("leaks")]
    if leaking:
        inside = any(r.measured.get("in_exam_window") for r in leaking)
        first = leaking[0].measured["leaks"][0]
        return ProbeOutcome(Status.FAIL, Text(
            f"{name_en}: the policy lets requests through now "
            f"({'inside' if inside else 'outside'} an exam window): {first}",
            f"{name_zh}：当前（{'考试时段内' if inside else '考试时段外'}）"
            f"策略放行了请求：{first}"), measured)
    if measured["in_exam_window"]:
        return ProbeOutcome(Status.PASS, Text(
            f"{name_en}: the policy is active inside the exam window",
            f"{name_zh}：考试时段内策略生效"), measured)
    return ProbeOutcome(Status.WARN, Text(
        f"{name_en}: the policy is active now, outside the exam windows; run the check "
        "again during an exam session to prove the time-window policy",
        f"{name_zh}：当前（考试时段外）策略已生效；请在考试时段内再次检测以证明时段策略"),
        measured)


def _per_address(used: list[CheckResult], results: list[CheckResult], reach_id: str,
                 name_en: str, name_zh: str, measured: dict[str, Any]) -> ProbeOutcome:
    reach = next((r for r in results if r.check_id == reach_id), None)
    if any(r.measured.get("leaks") for r in used):
        return ProbeOutcome(Status.FAIL, Text(
            f"{name_en}: seats are not held to their policy (see the leaks above)",
            f"{name_zh}：考生机未受策略限制（见上方泄漏）"), measured)
    reached = list(reach.measured.get("reached", [])) if reach else []
    blocked = {b["url"] for r in used for b in r.measured.get("blocked", [])}
    both = [u for u in reached if u in blocked]
    measured.update(coordinator_reached=reached, seats_blocked_from=both)
    if both:
        return ProbeOutcome(Status.PASS, Text(
            f"{name_en}: the coordinator reaches {', '.join(both)}, which seats cannot",
            f"{name_zh}：协调机可访问 {', '.join(both)}，考生机不能"), measured)
    return ProbeOutcome(Status.WARN, Text(
        f"{name_en} not demonstrated: no site was reached from the coordinator and blocked "
        "for the seats at the same time",
        f"{name_zh}未能演示：没有一个网站同时满足协调机可访问而考生机被拦截"), measured)


def constant(results: list[CheckResult], params: dict[str, Any]) -> ProbeOutcome:
    """A fixed outcome the plan already knows (nothing configured to measure).
    params: status, en, zh, measured."""
    return ProbeOutcome(Status(params["status"]), Text(params["en"], params["zh"]),
                        dict(params.get("measured") or {}))


OUTCOME_JUDGES = {
    "filtering.wan_floor": wan_floor,
    "filtering.seat_audit": seat_audit,
    "filtering.server_reach": server_reach,
    "filtering.evidence_only": evidence_only,
}

RESULTS_JUDGES = {
    "filtering.feature": feature,
    "filtering.constant": constant,
}
