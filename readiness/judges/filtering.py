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

from ..config.profile import WanFloorThresholds
from ..results import (
    AGENT_ABSENT,
    NO_ACTION,
    NOT_PROOF,
    CheckResult,
    Finding,
    ProbeOutcome,
    Status,
    Text,
)
from ..subject import ASPECTS, FEATURES
from . import found, said
from .filter_evidence import FAIL as FEATURE_FAIL
from .filter_evidence import NOT_APPLICABLE, NOT_VERIFIED, features, ipv6_leak_text
from .filter_evidence import PASS as FEATURE_PASS

FEATURE_NAMES = {name: ASPECTS[name] for name in FEATURES}

NOT_SEEN = {
    "ip": ("no blocked target's address was known to try directly (configure "
           "filter_audit.control_resolvers)",
           "不知道任何被拦截目标的地址，无法直接尝试（请配置 filter_audit.control_resolvers）"),
    "dns": ("the blocked names resolve normally at the seat, so the router blocks by address "
            "only, or no other resolver was configured to try",
            "被拦截域名在考生机上可正常解析（路由器只按地址拦截），或未配置其他 DNS 进行尝试"),
    "url_wildcard": ("no subdomain of a blocked site that the control resolver knows was "
                     "tried (www. and m. of each blocked sample): list a blocked site with "
                     "such a subdomain, and set filter_audit.control_resolvers",
                     "未尝试对照 DNS 可解析的被拦截网站子域名（各样本的 www. 与 m.）："
                     "请列出有此类子域名的被拦截网站，并配置 filter_audit.control_resolvers"),
    "keyword": ("nothing was tried that only a keyword or URL filter could stop: list words "
                "under filter_audit.keywords, carried by an exam URL outside the room that "
                "loads (or a blocked sample URL with a path on a host that loads)",
                "未进行只有关键字或 URL 过滤才能拦截的尝试：请在 filter_audit.keywords 中列出"
                "关键字，并提供一个可打开的外部考试网址作为载体（或在可访问主机上带路径的被拦截样本）"),
    "ipv6": ("no blocked site's IPv6 address was known to try (configure "
             "filter_audit.control_resolvers)",
             "不知道任何被拦截网站的 IPv6 地址（请配置 filter_audit.control_resolvers）"),
    "block_notice": ("no block page or block redirect was seen (blocked by DNS or by "
                     "dropping, which shows the candidate no notice)",
                     "未见拦截页面或拦截重定向（以 DNS 或丢弃方式拦截，考生看不到通告）"),
}


# what to do when a feature could not be shown (NOT_SEEN says why)
NOT_SEEN_ACTION = {
    "ip": ("configure filter_audit.control_resolvers", "请配置 filter_audit.control_resolvers"),
    "dns": ("make the router filter blocked names by DNS as well, or list resolvers under "
            "filter_audit.bypass_resolvers",
            "请让路由器同时按 DNS 过滤被拦截域名，或在 filter_audit.bypass_resolvers 中列出"
            "DNS 服务器"),
    "url_wildcard": ("list a blocked site with a www. or m. subdomain, and set "
                     "filter_audit.control_resolvers",
                     "请列出带 www. 或 m. 子域名的被拦截网站，并配置 "
                     "filter_audit.control_resolvers"),
    "keyword": ("list words under filter_audit.keywords, with an exam URL outside the room "
                "that loads",
                "请在 filter_audit.keywords 中列出关键字，并提供可打开的外部考试网址"),
    "ipv6": ("configure filter_audit.control_resolvers", "请配置 filter_audit.control_resolvers"),
    "block_notice": ("make the router show a block page (or redirect) for blocked sites, so "
                     "candidates see a notice",
                     "请让路由器对被拦截网站显示拦截页面（或重定向），使考生看到通告"),
}


# -- measured from a stand-in vantage ----------------------------------------------------


def _prefixed(outcome: ProbeOutcome, en: str, zh: str, **extra: Any) -> ProbeOutcome:
    return ProbeOutcome(outcome.status, Text(en + outcome.message.en, zh + outcome.message.zh),
                        {**outcome.measured, **extra}, list(outcome.evidence),
                        ran_from=outcome.ran_from, findings=list(outcome.findings))


# said of a result measured from the coordinator because the host's agent did not answer
STAND_IN = Finding("agent.stand_in",
                   Text("no agent answers: measured from the coordinator instead, which is "
                        "not proof of its own path",
                        "没有代理应答：改为从协调机测量，不能证明其自身路径"),
                   Text("start `readiness agent` on that PC and check again",
                        "请在该电脑上启动 `readiness agent` 后重新检查"))


def cap_warn(outcome: ProbeOutcome, en: str, zh: str) -> ProbeOutcome:
    """A result from a stand-in vantage cannot pass for the real one."""
    if outcome.status == Status.PASS:
        outcome = replace(outcome, status=Status.WARN,
                          measured={**outcome.measured, NOT_PROOF: True})
    if outcome.status != Status.PASS:
        # what the stand-in found (if anything), then that it was a stand-in
        outcome = replace(outcome, findings=[*outcome.findings, STAND_IN])
    return _prefixed(outcome, en, zh)


def _why_absent(outcome: ProbeOutcome, where: str) -> Text:
    reason = outcome.measured.get("agent_reason")
    extra = f" ({reason})" if reason else ""
    return Text(f"no agent answers on {where}{extra}", f"{where} 上没有代理应答{extra}")


# -- WAN-FLOOR ------------------------------------------------------------------------------


def wan_floor_verdict(download: float | None, upload: float | None, floor_mbps: float,
                      allowance_pct: float) -> tuple[Status, Text, list[Finding]]:
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
        what = Text(f"{figures_en}: below the floor of {floor_mbps:g} Mbit/s{extra}",
                    f"{figures_zh}：低于 {floor_mbps:g} Mbit/s 的要求{extra_zh}")
        action = Text("ask the provider for a faster line, or check that nothing else uses "
                      "it during the test", "请向运营商升级带宽，或确认测试时没有其他流量占用")
        return Status.FAIL, said(what, action), [Finding("wan.below_floor", what, action)]
    if download < floor_mbps:
        text = Text(
            f"{figures_en}: download just under the floor of {floor_mbps:g} Mbit/s, within "
            f"the {allowance_pct:g} % protocol overhead a line of exactly that speed shows",
            f"{figures_zh}：下行略低于 {floor_mbps:g} Mbit/s，在 {allowance_pct:g}% 的协议开销"
            "范围内（恰好该速率的线路的正常实测值）")
        return Status.WARN, text, [Finding(
            "wan.just_under_floor", text,
            Text("run the check again when the line is quiet; if it stays, ask the provider "
                 "for some headroom",
                 "请在线路空闲时重新检查；如仍如此，请向运营商申请留有余量的带宽"))]
    if upload is None or upload < floor_mbps:
        text = Text(
            f"{figures_en}: download meets the floor of {floor_mbps:g} Mbit/s, upload "
            + ("was not measured" if upload is None else "is below it"),
            f"{figures_zh}：下行达到 {floor_mbps:g} Mbit/s，上行"
            + ("未测量" if upload is None else "低于该值"))
        action = (Text("run the check again to measure the upload", "请重新检查以测量上行")
                  if upload is None else
                  Text("ask the provider for a faster upload", "请向运营商提高上行带宽"))
        return Status.WARN, text, [Finding(
            "wan.upload_not_measured" if upload is None else "wan.upload_below_floor",
            text, action)]
    return Status.PASS, Text(
        f"{figures_en}: both meet the floor of {floor_mbps:g} Mbit/s",
        f"{figures_zh}：均达到 {floor_mbps:g} Mbit/s 的要求"), []


_DIRECTION_ZH = {"download": "下行", "upload": "上行"}


def _wan_how(m: dict[str, Any]) -> tuple[str, str]:
    """How the figures were reached, and any direction that never settled (its figure is
    then less sure: the reader should know before trusting a pass or fail near the
    floor)."""
    latency = m.get("latency_ms")
    lat_en = f", latency {latency:.1f} ms" if latency is not None else ""
    lat_zh = f"，时延 {latency:.1f} ms" if latency is not None else ""
    if "directions" not in m:  # an older agent's figures: median of whole runs
        runs, streams = len(m["runs"]), m.get("streams")
        return (f" (median of {runs} run(s) of {streams} streams{lat_en})",
                f"（{runs} 轮、每轮 {streams} 路并发的中位数{lat_zh}）")
    en, zh = [], []
    for name, d in m["directions"].items():
        if d.get("settled"):
            continue
        spread = d.get("spread_pct")
        spread_en = f", spread {spread:g} %" if spread is not None else ""
        spread_zh = f"，波动 {spread:g}%" if spread is not None else ""
        en.append(f"{name} did not settle within {d['seconds']:g} s (median of "
                  f"{d['used_intervals']} intervals{spread_en}): the line is busy or "
                  "erratic; run again when it is quiet")
        zh.append(f"{_DIRECTION_ZH.get(name, name)}在 {d['seconds']:g} 秒内未稳定（取 "
                  f"{d['used_intervals']} 个区间的中位数{spread_zh}）：线路繁忙或不稳定，"
                  "请在空闲时重测")
    streams = m.get("streams")
    how_en = f" (steady intervals of {streams} streams{lat_en})"
    how_zh = f"（{streams} 路并发、稳定区间的中位数{lat_zh}）"
    if en:
        how_en += "; " + "; ".join(en)
        how_zh += "；" + "；".join(zh)
    return how_en, how_zh


def wan_floor(outcome: ProbeOutcome, params: dict[str, Any]) -> ProbeOutcome:
    """params: thresholds (WanFloorThresholds), where (who should have measured it, for
    the message when a stand-in measured it instead)."""
    th: WanFloorThresholds = params["thresholds"]
    m = outcome.measured
    judged = outcome
    # the probe's own fail (endpoint unreachable) and error stand as they are
    if outcome.status == Status.PASS and ("directions" in m or "runs" in m):
        status, text, findings = wan_floor_verdict(
            m.get("download_mbps"), m.get("upload_mbps"), th.floor_mbps,
            th.overhead_allowance_pct)
        how_en, how_zh = _wan_how(m)
        judged = ProbeOutcome(status, Text(text.en + how_en, text.zh + how_zh),
                              {**m, "floor_mbps": th.floor_mbps,
                               "overhead_allowance_pct": th.overhead_allowance_pct},
                              list(outcome.evidence), ran_from=outcome.ran_from,
                              findings=findings)
    if not m.get("stand_in"):
        return judged
    why = _why_absent(outcome, str(params.get("where", "the exam server")))
    return cap_warn(judged,
                    f"{why.en}; measured from the coordinator instead (the same uplink, "
                    "not the server's own path): ",
                    f"{why.zh}；改为从协调机测量（同一出口，但非服务器自身路径）：")


# -- WAN-POLICY: one audit -------------------------------------------------------------------


def _shorten(lines: list[str], limit: int = 3) -> str:
    shown = "; ".join(lines[:limit])
    return shown + (f" (+{len(lines) - limit} more)" if len(lines) > limit else "")


def _leak_words(leaks: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """Each leak as the exact request, an IPv6 one named as such."""
    en, zh = [], []
    for att in leaks:
        line = f"{att['request']} -> {att['result']}"
        if att.get("scheme") and att.get("address"):
            # what let it through: the scheme, the address family and the address
            line += f" [{str(att['scheme']).upper()}, {att.get('family', '')} {att['address']}]"
        if att.get("technique") == "ipv6":
            v6_en, v6_zh = ipv6_leak_text(att)
            en.append(f"{v6_en} ({line})")
            zh.append(f"{v6_zh}（{line}）")
        else:
            en.append(line)
            zh.append(line)
    return en, zh


DNS_BYPASS = ("resolver", "doh")


def dns_bypass_words(bypass: list[dict[str, Any]]) -> tuple[str, str]:
    """Each resolver or DoH endpoint that answered a blocked name, named as what it is:
    a bypass of DNS filtering, not (yet) a way to the site."""
    en, zh = [], []
    for att in bypass:
        kind_en, kind_zh = (("DoH endpoint", "DoH 服务") if att.get("technique") == "doh"
                            else ("open resolver", "开放的 DNS 服务器"))
        line = f"{att['request']} -> {att['result']}"
        en.append(f"{kind_en}: {line}")
        zh.append(f"{kind_zh}：{line}")
    return _shorten(en), _shorten(zh)


def _audit_verdict(m: dict[str, Any]) -> tuple[Status, Text, list[Finding]]:
    attempts = [a for a in m.get("attempts", []) if isinstance(a, dict)]
    # a site leaks only when its content is reached; a resolver or DoH endpoint that
    # answers for a blocked name bypasses DNS filtering (FILTER-FEATURES dns), and the
    # site leaks only if it then loads from that address (a direct_ip attempt says so)
    leaks = [a for a in attempts if a.get("leak") and a.get("technique") not in DNS_BYPASS]
    bypass = [a for a in attempts if a.get("leak") and a.get("technique") in DNS_BYPASS]
    exam_bad = [e for e in m.get("exam", []) if not e.get("ok")]
    parts: list[tuple[str, Text]] = []
    if leaks:
        en, zh = _leak_words(leaks)
        parts.append(("filter.leaks", Text(
            f"{len(leaks)} request(s) that must be blocked got through: {_shorten(en)}",
            f"{len(leaks)} 个应被拦截的请求可以访问：{_shorten(zh)}")))
    for e in exam_bad:
        parts.append(("filter.exam_site_down", Text(
            f"exam site {e['url']} does not load: {e['detail']}",
            f"考试网站 {e['url']} 无法打开：{e['detail']}")))
    if parts:
        v6_only = leaks and all(a.get("technique") == "ipv6" for a in leaks)
        if v6_only:
            fix = Text("make the router filter IPv6 as well, or turn IPv6 off on the exam LAN",
                       "请让路由器同样过滤 IPv6，或在考场局域网关闭 IPv6")
        elif leaks and all(a.get("scheme") == "https" for a in leaks) and any(
                a.get("scheme") == "http" and a.get("blocked_by") for a in attempts):
            # HTTP to the same sites was stopped: the filter sees HTTP only
            fix = Text("the router filters HTTP only: stop HTTPS to these sites as well (by "
                       "the TLS server name, SNI, or by address)",
                       "路由器只过滤了 HTTP：请同样拦截到这些网站的 HTTPS（按 TLS 的 SNI "
                       "服务器名，或按地址）")
        elif leaks and bypass:
            fix = Text("fix the router's filter (block by address as well as by name, and "
                       "close port 53 and DoH to outside resolvers)",
                       "请修正路由器过滤策略（除域名外也按地址拦截，"
                       "并封锁外部 DNS 的 53 端口和 DoH）")
        elif leaks:
            fix = Text("fix the router's filter (block by address as well as by name)",
                       "请修正路由器过滤策略（除域名外也按地址拦截）")
        else:
            fix = NO_ACTION
        exam_fix = Text("let the exam site through the router's filter and check that it is "
                        "up", "请在路由器过滤策略中放行考试网站，并确认其可用")
        fix_en = f"; {fix.en}" if fix.en else ""
        fix_zh = f"；{fix.zh}" if fix.zh else ""
        return Status.FAIL, Text("; ".join(t.en for _, t in parts) + fix_en,
                                 "；".join(t.zh for _, t in parts) + fix_zh), [
            Finding(code, text, fix if code == "filter.leaks" else exam_fix)
            for code, text in parts]
    blocked = m.get("blocked", [])
    how_en = sorted({h for b in blocked for h in [b.get("how", "")] if h})
    base_en = (f"{len(m.get('exam', []))} exam site(s) load; {len(blocked)} blocked target(s) "
               f"stopped ({'; '.join(how_en) or 'not blocked'}); {len(attempts)} bypass and "
               "block attempts, none got through")
    base_zh = (f"{len(m.get('exam', []))} 个考试网站可打开；{len(blocked)} 个应拦截目标均被拦截；"
               f"{len(attempts)} 次拦截与绕过尝试均未成功")
    # (code, what, the words in brackets after it, what to do)
    missing: list[tuple[str, Text, Text, Text]] = []
    untried = [a for a in attempts if a.get("technique") == "direct_ip"
               and a.get("result") == "not tried"]
    if any("blocked_addresses" in a.get("note", "") for a in untried):
        action = Text("list them under filter_audit.blocked_addresses",
                      "请在 filter_audit.blocked_addresses 中列出")
        missing.append((
            "filter.direct_ip_untried",
            Text("the direct-address bypass was not tried for some target(s): the control "
                 "resolver's answers are not in the seat agent's site file",
                 "部分目标未尝试直接 IP 绕过：对照 DNS 的解析结果不在座位代理的站点配置中"),
            action, action))
    elif untried:
        action = Text("configure filter_audit.control_resolvers",
                      "请配置 filter_audit.control_resolvers")
        missing.append((
            "filter.direct_ip_untried",
            Text(f"the direct-address bypass could not be tried for {len(untried)} target(s)",
                 f"{len(untried)} 个目标无法尝试直接 IP 绕过"), action, action))
    if not m.get("bypass_resolvers"):
        missing.append((
            "filter.no_bypass_resolvers",
            Text("no other DNS resolver configured to try", "未配置用于尝试的其他 DNS 服务器"),
            Text("filter_audit.bypass_resolvers", "filter_audit.bypass_resolvers"),
            Text("list some under filter_audit.bypass_resolvers",
                 "请在 filter_audit.bypass_resolvers 中列出")))
    if bypass:
        en, zh = dns_bypass_words(bypass)
        action = Text("close port 53 and DoH to outside resolvers at the router "
                      "(FILTER-FEATURES dns)",
                      "请在路由器上封锁外部 DNS 的 53 端口和 DoH（见 FILTER-FEATURES 的 DNS 过滤）")
        what = Text(f"no blocked site loads, but DNS filtering is bypassed: {en}",
                    f"被拦截网站均无法打开，但 DNS 过滤可被绕过：{zh}")
        reached = base_en.replace("none got through", "none reached a blocked site")
        reached_zh = base_zh.replace("均未成功", "均未打开被拦截网站")
        return Status.WARN, Text(f"{reached}; {what.en}; {action.en}",
                                 f"{reached_zh}；{what.zh}；{action.zh}"), [
            Finding("filter.dns_bypass", what, action)]
    if missing:
        return Status.WARN, Text(
            base_en + "; partly verified: "
            + "; ".join(f"{what.en} ({note.en})" for _, what, note, _ in missing),
            base_zh + "；部分验证："
            + "；".join(f"{what.zh}（{note.zh}）" for _, what, note, _ in missing)), [
            Finding(code, Text(f"partly verified: {what.en}", f"部分验证：{what.zh}"), action)
            for code, what, _, action in missing]
    return Status.PASS, Text(base_en, base_zh), []


# said of an audit made from the coordinator because no seat agent answered
NOT_FROM_SEAT = Finding(
    "filter.not_from_seat",
    Text("seen from the coordinator, not from a seat's own address (no seat agent)",
         "从协调机而非考生机自身地址检测（无座位代理）"),
    Text("run the seat agent on the candidate PCs to prove what a seat sees",
         "请在考生机上运行座位代理以验证考生机的实际情况"))


def audit(outcome: ProbeOutcome, params: dict[str, Any]) -> ProbeOutcome:
    """A url_filter audit's verdict and its feature results, from the attempts the probe
    recorded. Seen from the coordinator (no seat agent at all), a seat's view is not
    proven: pass and fail become warn."""
    m = outcome.measured
    if outcome.status == Status.ERROR or not isinstance(m.get("attempts"), list):
        return outcome
    evidence = features(m)
    status, text, findings = _audit_verdict(m)
    router = params.get("router")
    if router is not None:
        # a request a seat should not get through is the router's to stop: the finding is
        # about the router, whichever seat saw it (the seat itself needs no fix)
        findings = [replace(f, subject=router) if f.code == "filter.leaks" else f
                    for f in findings]
    measured = {**m, "features": {k: v.result for k, v in evidence.items()},
                "feature_attempts": {k: v.lines() for k, v in evidence.items()}}
    if not m.get("vantage_is_seat", True) and status in (Status.PASS, Status.FAIL):
        return ProbeOutcome(Status.WARN, Text(
            "from the coordinator, not from a seat's own address (no seat agent): "
            + text.en + "; run the seat agent on the candidate PCs to prove what a seat sees",
            "从协调机而非考生机自身地址检测（无座位代理）：" + text.zh
            + "；请在考生机上运行座位代理以验证考生机的实际情况"),
            {**measured, NOT_PROOF: True}, list(outcome.evidence), ran_from=outcome.ran_from,
            findings=[NOT_FROM_SEAT, *findings])
    return ProbeOutcome(status, text, measured, list(outcome.evidence),
                        ran_from=outcome.ran_from, findings=findings)


def seat_audit(outcome: ProbeOutcome, params: dict[str, Any]) -> ProbeOutcome:
    """A seat's filter audit, judged as its agent measured it. A seat whose agent does
    not answer is not judged from another address (the proctor may rightly go out): its
    row says it was not verified from that seat, and what to start. params: label."""
    if outcome.measured.get("agent") == "absent" or outcome.measured.get("stand_in"):
        label = params.get("label", "?")
        reason = outcome.measured.get("agent_reason") or outcome.measured.get("reason")
        extra = f" ({reason})" if reason else ""
        return ProbeOutcome(Status.WARN, Text(
            f"seat {label}: not verified from this seat: no agent answers{extra}; start "
            "`readiness agent` on that PC (nothing measured from another address is "
            "counted for it)",
            f"考位 {label}：未从该考位验证：没有代理应答{extra}；请在该电脑上启动 "
            "`readiness agent`（不以其他地址的测量结果代替）"),
            {"agent": "absent", "reason": reason or "", NOT_PROOF: True},
            ran_from=outcome.ran_from, findings=[AGENT_ABSENT])
    return audit(outcome, params)


def _reach(outcome: ProbeOutcome) -> ProbeOutcome:
    """What internet_reach measured, as a verdict: enough of its URLs loaded (all of them,
    or any one, as the check asked)."""
    if outcome.status is not Status.PASS:
        return outcome
    m = outcome.measured
    reached, failed = list(m.get("reached") or []), list(m.get("failed") or [])
    enough = not failed if m.get("require") == "all" else bool(reached)
    if enough:
        return replace(outcome, message=Text(
            f"reaches the internet: {', '.join(reached)} load",
            f"可以访问外网：{', '.join(reached)} 可打开"))
    why = m.get("failed_why", "")
    return replace(outcome, status=Status.FAIL, message=Text(
        f"cannot reach the internet: {why}; check this computer's gateway, DNS "
        "and the router's policy for its address",
        f"无法访问外网：{why}；请检查本机网关、DNS 以及路由器对本机地址的策略"))


def server_reach(outcome: ProbeOutcome, params: dict[str, Any]) -> ProbeOutcome:
    """The exam server reaches the internet; tried from the coordinator instead when
    the server has no agent (then a pass only warns)."""
    outcome = _reach(outcome)
    if not outcome.measured.get("stand_in"):
        return outcome
    why = _why_absent(outcome, str(params.get("where", "the exam server")))
    return cap_warn(outcome, f"{why.en}; tried from the coordinator: ",
                    f"{why.zh}；改为从协调机尝试：")


def evidence_only(outcome: ProbeOutcome, params: dict[str, Any]) -> ProbeOutcome:
    """The coordinator's own reach is evidence for per-address control, never a fault
    of the coordinator: reaching nothing is a skip, not a fail."""
    outcome = _reach(outcome)
    if outcome.status == Status.FAIL:
        # not a fault to fix: evidence that could not be had (the probe says what it tried)
        return replace(outcome, status=Status.SKIP, findings=[Finding(
            "filter.own_access_none", outcome.message, NO_ACTION)])
    return outcome


# -- FILTER-FEATURES ----------------------------------------------------------------------


def _audits(results: list[CheckResult], room_id: str) -> list[CheckResult]:
    return [r for r in results
            if r.requirement in ("WAN-POLICY", "FILTER-FEATURES") and r.subject.room == room_id
            and isinstance(r.measured, dict) and r.measured.get("audit") == "url_filter"]


def _deciding(used: list[CheckResult], name: str) -> list[str]:
    """The attempts that decided a feature, each with the seat it was made from."""
    lines = []
    for r in used:
        for line in r.measured.get("feature_attempts", {}).get(name, []):
            lines.append(f"{r.vantage}: {line}")
    return list(dict.fromkeys(lines))


def feature(results: list[CheckResult], params: dict[str, Any]) -> ProbeOutcome:
    """One filter feature, judged from the audits made from seats in this run. A seat
    without an agent gave no audit and counts for nothing: no other address stands in.
    params: room_id, feature, reach_id (the coordinator's own reach check)."""
    room_id, name = params["room_id"], params["feature"]
    name_en, name_zh = FEATURE_NAMES[name]
    audits = _audits(results, room_id)
    seat = [r for r in audits if r.measured.get("vantage_is_seat")
            and r.measured.get("agent") != "absent"]
    used = seat or audits
    if not used:
        what = Text(f"{name_en} not verified: no seat's filter audit ran",
                    f"{name_zh}未验证：没有考位完成过滤检测")
        action = Text("start `readiness agent` on the sampled seats",
                      "请在抽样考位上启动 `readiness agent`")
        return ProbeOutcome(Status.WARN, Text(f"{what.en} ({action.en})",
                                              f"{what.zh}（{action.zh}）"),
                            {NOT_PROOF: True, "audits": []},
                            findings=[Finding("filter.no_audit", what, action)])
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
        {**outcome.measured, NOT_PROOF: True}, findings=[NOT_FROM_SEAT, *outcome.findings])


def _technique(used: list[CheckResult], name: str, name_en: str, name_zh: str,
               measured: dict[str, Any]) -> ProbeOutcome:
    values = [r.measured.get("features", {}).get(name, NOT_VERIFIED) for r in used]
    measured["seen"] = dict(zip([r.vantage for r in used], values, strict=True))
    measured["decided_by"] = _deciding(used, name)
    if FEATURE_FAIL in values:
        lines = measured["decided_by"]
        v6 = [a for r in used for a in r.measured.get("attempts", [])
              if a.get("technique") == "ipv6" and a.get("leak")]
        if v6:
            en, zh = ipv6_leak_text(v6[0])
            what = Text(f"{name_en} does not hold over IPv6: {en}", f"{name_zh}对 IPv6 无效：{zh}")
            action = Text("make the router filter IPv6 as well, or turn IPv6 off on the exam "
                          "LAN", "请让路由器同样过滤 IPv6，或在考场局域网关闭 IPv6")
            return found(Status.FAIL, "filter.ipv6_leak", what, action, measured)
        shown = _shorten(lines)
        if name == "dns":
            return _dns_fails(used, name_en, name_zh, shown, measured)
        what = Text(f"{name_en} does not hold: {shown}", f"{name_zh}未生效：{shown}")
        return ProbeOutcome(Status.FAIL, what, measured, findings=[Finding(
            "filter.feature_fails", what,
            Text(f"set up the router's {name_en} so that these requests are stopped",
                 f"请配置路由器的{name_zh}，使这些请求被拦截"))])
    if values and all(v == FEATURE_PASS for v in values):
        return ProbeOutcome(Status.PASS, Text(
            f"{name_en} works, shown by attempts only it could stop: "
            f"{_shorten(measured['decided_by'], 2)}",
            f"{name_zh}有效（仅该功能能拦截的尝试均被拦截）："
            f"{_shorten(measured['decided_by'], 2)}"), measured)
    by_value: dict[str, list[CheckResult]] = {}
    for r, v in zip(used, values, strict=True):
        by_value.setdefault(v, []).append(r)
    shown_by, rest = by_value.get(FEATURE_PASS, []), by_value.get(NOT_VERIFIED, [])
    if shown_by and rest and set(by_value) <= {FEATURE_PASS, NOT_VERIFIED, NOT_APPLICABLE}:
        # proven from some seats, unproven (not absent) at others: name them and why
        why = _shorten([f"{r.vantage}: {line}" for r in rest
                        for line in r.measured.get("feature_attempts", {}).get(name, [])[:1]]
                       or [r.vantage for r in rest])
        tried = len(shown_by) + len(rest)
        what = Text(f"{name_en} shown from {len(shown_by)} of {tried} seats, not verified "
                    f"from the others: {why}",
                    f"{name_zh}已在 {tried} 个考位中的 {len(shown_by)} 个得到证明，其余未验证："
                    f"{why}")
        action = Text("run the check again, and if it stays, look at those seats",
                      "请重新检查，如仍如此，请检查这些考位")
        return found(Status.WARN, "filter.feature_partly_shown", what, action,
                     {**measured, NOT_PROOF: True})
    en, zh = NOT_SEEN.get(name, ("not demonstrated", "未能演示"))
    word_en = "not verified" if NOT_VERIFIED in values else "not demonstrated"
    word_zh = "未验证" if NOT_VERIFIED in values else "未能演示"
    what = Text(f"{name_en} {word_en}: {en}", f"{name_zh}{word_zh}：{zh}")
    return ProbeOutcome(Status.WARN, what, {**measured, NOT_PROOF: True}, findings=[Finding(
        "filter.feature_not_shown", what, Text(*NOT_SEEN_ACTION.get(name, (
            "run the check again", "请重新检查"))))])


def _dns_fails(used: list[CheckResult], name_en: str, name_zh: str, shown: str,
               measured: dict[str, Any]) -> ProbeOutcome:
    """DNS filtering that does not hold, said by how: a resolver or DoH endpoint that
    answers blocked names (a bypass), or the room's own DNS answering one record type of
    a blocked name. A and AAAA are named only where the seat has an IPv6 path: in a room
    without IPv6 a AAAA answer is no way out, and the advice would mislead."""
    attempts = [a for r in used for a in r.measured.get("attempts", [])]
    bypass = [a for a in attempts if a.get("technique") in DNS_BYPASS and a.get("leak")]
    if bypass:
        en, zh = dns_bypass_words(bypass)
        what = Text(f"{name_en} is bypassed: {en}", f"{name_zh}可被绕过：{zh}")
        action = Text("block DNS to outside resolvers (UDP and TCP 53, 853) and the DoH "
                      "endpoints at the router",
                      "请在路由器上封锁外部 DNS（UDP 与 TCP 53、853 端口）及 DoH 服务")
        return found(Status.FAIL, "filter.dns_bypass", what, action, measured)
    half = [a for a in attempts if a.get("technique") == "dns" and a.get("answered")]
    v6_room = any(r.measured.get("ipv6_route") for r in used)
    if half and v6_room:
        what = Text(f"{name_en} does not hold: a blocked name is filtered for one record "
                    f"type and answered for the other (a DNS leak): {shown}",
                    f"{name_zh}未生效：被拦截域名只过滤了一种记录类型，另一种仍返回真实地址"
                    f"（DNS 泄漏）：{shown}")
        action = Text("filter both A and AAAA", "请同时过滤 A 与 AAAA")
        return found(Status.FAIL, "filter.dns_leak", what, action, measured)
    if half:
        what = Text(f"{name_en} does not hold: the room's DNS gives the real address of a "
                    f"blocked name: {shown}",
                    f"{name_zh}未生效：考场 DNS 返回被拦截域名的真实地址：{shown}")
        action = Text("make the router's DNS answer blocked names with no real address",
                      "请让路由器的 DNS 对被拦截域名不返回真实地址")
        return found(Status.FAIL, "filter.dns_leak", what, action, measured)
    what = Text(f"{name_en} does not hold: {shown}", f"{name_zh}未生效：{shown}")
    return ProbeOutcome(Status.FAIL, what, measured, findings=[Finding(
        "filter.feature_fails", what,
        Text(f"set up the router's {name_en} so that these requests are stopped",
             f"请配置路由器的{name_zh}，使这些请求被拦截"))])


def _leak_lines(leaking: list[CheckResult], most: int = 10) -> list[str]:
    """The requests that got through, as the deciding attempts (a few per seat)."""
    return [f"{r.vantage}: {leak}" for r in leaking
            for leak in r.measured.get("leaks", [])[:2]][:most]


def _per_time(used: list[CheckResult], name_en: str, name_zh: str,
              measured: dict[str, Any]) -> ProbeOutcome:
    leaking = [r for r in used if r.measured.get("leaks")]
    measured["decided_by"] = _leak_lines(leaking) or [
        f"audits made {'inside' if measured['in_exam_window'] else 'outside'} an exam window, "
        "nothing that must be blocked got through"]
    if leaking:
        inside = any(r.measured.get("in_exam_window") for r in leaking)
        first = leaking[0].measured["leaks"][0]
        what = Text(f"{name_en}: the policy lets requests through now "
                    f"({'inside' if inside else 'outside'} an exam window): {first}",
                    f"{name_zh}：当前（{'考试时段内' if inside else '考试时段外'}）"
                    f"策略放行了请求：{first}")
        return ProbeOutcome(Status.FAIL, what, measured, findings=[Finding(
            "filter.policy_leaks", what,
            Text("fix the router's time-window policy so that blocked sites are stopped "
                 "in the exam windows", "请修正路由器的时段策略，使考试时段内被拦截网站无法访问"))])
    if measured["in_exam_window"]:
        return ProbeOutcome(Status.PASS, Text(
            f"{name_en}: the policy is active inside the exam window",
            f"{name_zh}：考试时段内策略生效"), measured)
    what = Text(f"{name_en}: the policy is active now, outside the exam windows",
                f"{name_zh}：当前（考试时段外）策略已生效")
    action = Text("run the check again during an exam session to prove the time-window "
                  "policy", "请在考试时段内再次检测以证明时段策略")
    return found(Status.WARN, "filter.per_time_unproven", what, action, measured)


def _per_address(used: list[CheckResult], results: list[CheckResult], reach_id: str,
                 name_en: str, name_zh: str, measured: dict[str, Any]) -> ProbeOutcome:
    reach = next((r for r in results if r.check_id == reach_id), None)
    measured["decided_by"] = _leak_lines([r for r in used if r.measured.get("leaks")])
    if measured["decided_by"]:
        what = Text(f"{name_en}: seats are not held to their policy (see the leaks above)",
                    f"{name_zh}：考生机未受策略限制（见上方泄漏）")
        return ProbeOutcome(Status.FAIL, what, measured, findings=[Finding(
            "filter.per_address_leaks",
            Text(f"{name_en}: seats are not held to their policy (see the leaks under "
                 "WAN-POLICY)", f"{name_zh}：考生机未受策略限制（见 WAN-POLICY 中的泄漏）"),
            Text("give the seats' addresses the router's exam policy",
                 "请在路由器上对考生机地址应用考试策略"))])
    reached = list(reach.measured.get("reached", [])) if reach else []
    blocked = {b["url"] for r in used for b in r.measured.get("blocked", [])}
    both = [u for u in reached if u in blocked]
    measured.update(coordinator_reached=reached, seats_blocked_from=both)
    measured["decided_by"] = [f"coordinator reached {u}; seats were blocked from it"
                              for u in both]
    if both:
        return ProbeOutcome(Status.PASS, Text(
            f"{name_en}: the coordinator reaches {', '.join(both)}, which seats cannot",
            f"{name_zh}：协调机可访问 {', '.join(both)}，考生机不能"), measured)
    what = Text(f"{name_en} not demonstrated: no site was reached from the coordinator and "
                "blocked for the seats at the same time",
                f"{name_zh}未能演示：没有一个网站同时满足协调机可访问而考生机被拦截")
    return ProbeOutcome(Status.WARN, what, measured, findings=[Finding(
        "filter.per_address_not_shown", what,
        Text("list a blocked sample the coordinator may reach (a site allowed for staff)",
             "请列出一个协调机可访问的被拦截样本（对工作人员放行的网站）"))])


def constant(results: list[CheckResult], params: dict[str, Any]) -> ProbeOutcome:
    """A fixed outcome the plan already knows (nothing configured to measure).
    params: status, en, zh, measured, and for a status other than pass the finding: code,
    what (en, zh), action (en, zh)."""
    status = Status(params["status"])
    findings = [] if status is Status.PASS else [Finding(
        str(params.get("code") or "plan.constant"),
        Text(*params["what"]) if params.get("what") else Text(params["en"], params["zh"]),
        Text(*params["action"]) if params.get("action") else NO_ACTION)]
    return ProbeOutcome(status, Text(params["en"], params["zh"]),
                        dict(params.get("measured") or {}), findings=findings)


# -- FILTER-FEATURES: the router's management pages ------------------------------------


def router_web(outcome: ProbeOutcome, params: dict[str, Any]) -> ProbeOutcome:
    """The router's web or remote management page answers with a page: it exists and
    can be used to set the filter. A page that cannot be found, does not answer, is
    empty or is a server error fails, naming what came back."""
    if outcome.status is not Status.PASS:
        return outcome
    m = outcome.measured
    url = m.get("url")
    if not m.get("found"):
        return replace(outcome, status=Status.FAIL, message=Text(
            f"the router's management page {url} cannot be found: {m.get('lookup')}; "
            "use the router's fixed LAN address in router.web_url",
            f"找不到路由器管理页面 {url}：{m.get('lookup')}；"
            "请在 router.web_url 中使用路由器固定的局域网地址"))
    status, size = m.get("status"), int(m.get("bytes") or 0)
    if m.get("outcome") == "response" and isinstance(status, int) and status < 500 and size:
        title = f" ({m['title']})" if m.get("title") else ""
        return replace(outcome, status=Status.PASS, message=Text(
            f"the router's management page answers: {m.get('described')}{title}",
            f"路由器管理页面可访问：{m.get('described')}{title}"))
    if m.get("outcome") == "response":
        why_en = (f"answers HTTP {status} with an empty page" if size == 0
                  else f"answers HTTP {status} (a server error)")
        why_zh = (f"返回 HTTP {status}，页面为空" if size == 0
                  else f"返回 HTTP {status}（服务器错误）")
    else:
        why_en = f"does not answer: {m.get('result_text')}"
        why_zh = f"无应答：{m.get('result_text')}"
    return replace(outcome, status=Status.FAIL, message=Text(
        f"the router's management page {url} {why_en}; check the address and that web "
        "management is enabled on the LAN side",
        f"路由器管理页面 {url} {why_zh}；请检查地址，并确认已在局域网侧启用 Web 管理"))



OUTCOME_JUDGES = {
    "filtering.wan_floor": wan_floor,
    "filtering.audit": audit,
    "filtering.seat_audit": seat_audit,
    "filtering.server_reach": server_reach,
    "filtering.evidence_only": evidence_only,
    "filtering.router_web": router_web,
}

RESULTS_JUDGES = {
    "filtering.feature": feature,
    "filtering.constant": constant,
}

