"""LAN-SUBNET and LAN-SEATS verdicts: one subnet, every host answers, enough seats work.

lan.subnet        probes/subnet.py's arithmetic -> pass/fail by the certificate's rule
                  (params: must_be_same, role_en, role_zh)
lan.reachability  probes/reachability.py's pings and port states -> verdict
                  (params: thresholds = LanSubnetThresholds)
lan.count_seats   a derived check: the seats whose reachability passed or warned, against
                  the rule's minimum (params: room, seats, thresholds = LanSeatsThresholds)
"""

from __future__ import annotations

from typing import Any

from ..config.profile import LanSeatsThresholds, LanSubnetThresholds, ServerSpareThresholds
from ..results import NO_ACTION, CheckResult, Finding, ProbeOutcome, Status, Text
from ..subject import Kind
from ..vocabulary import PORT_OPEN, PORT_REFUSED, PORT_TIMEOUT, PORT_UNREACHABLE
from . import Issue, OutcomeJudge, ResultsJudge, findings_of, found, worst_first

# What the reachability probe measures only so that the judge can word its message;
# the result shows the pings and ports, as it always did.
_PROBE_WORKINGS = ("count", "no_route", "port_timeout_s")


# ---------------------------------------------------------------- subnet


def judge_subnet(outcome: ProbeOutcome, params: dict[str, Any]) -> ProbeOutcome:
    m = outcome.measured
    if "same_subnet" not in m:
        return outcome
    address, subnet = m["address"], m["subnet"]
    role_en, role_zh = params["role_en"], params["role_zh"]
    if m["same_subnet"]:
        return ProbeOutcome(Status.PASS, Text(
            f"{role_en} {address} is in the candidates' subnet {subnet}",
            f"{role_zh} {address} 与考生机同在网段 {subnet}"), m)
    if not params["must_be_same"]:
        return ProbeOutcome(Status.PASS, Text(
            f"{role_en} {address} is outside {subnet}; this certificate allows it",
            f"{role_zh} {address} 不在网段 {subnet} 内；本证书不要求同一网段"), m)
    what = Text(f"outside the candidates' subnet {subnet}", f"不在考生机网段 {subnet} 内")
    action = Text(f"give it an address in {subnet}", f"请改为 {subnet} 内的地址")
    return ProbeOutcome(Status.FAIL, Text(
        f"{role_en} {address} is {what.en}: {action.en}",
        f"{role_zh} {address} {what.zh}：{action.zh}"), m,
        findings=[Finding("lan.outside_subnet", what, action)])


# ---------------------------------------------------------------- one host's reachability


def port_issue(address: str, port: int, state: str, timeout_s: float) -> Issue:
    """A port that did not accept a connection: the message's words and the finding."""
    if state == PORT_REFUSED:
        code = "lan.port_refused"
        what = Text(f"port {port} refused", f"端口 {port} 拒绝连接")
        action = Text("start the service or allow the port in the host's firewall",
                      "请启动该服务，或在主机防火墙中放行该端口")
        text = Text(f"port {port} refused on {address}: {action.en}",
                    f"{address} 的{what.zh}：{action.zh}")
    elif state == PORT_TIMEOUT:
        code = "lan.port_timeout"
        what = Text(f"port {port} did not answer within {timeout_s:.1f} s",
                    f"端口 {port} 在 {timeout_s:.1f} 秒内无应答")
        action = Text("check that the service is running and that no firewall drops the "
                      "connection", "请确认服务已运行，且没有防火墙丢弃连接")
        text = Text(f"{what.en} on {address}: {action.en}",
                    f"{address} 的{what.zh}：{action.zh}")
    elif state == PORT_UNREACHABLE:
        code = "lan.port_unreachable"
        what = Text(f"port {port} could not be reached (host unreachable)",
                    f"无法连接端口 {port}（主机不可达）")
        action = Text("check the cable and that the PC is switched on",
                      "请检查网线并确认电脑已开机")
        text = Text(f"port {port} on {address} could not be reached (host unreachable): "
                    f"{action.en}",
                    f"无法连接 {address} 的端口 {port}（主机不可达）：{action.zh}")
    else:
        code = "lan.port_no_connection"
        what = Text(f"port {port}: this computer could not open a connection",
                    f"无法从本机连接端口 {port}")
        action = Text("check this computer's network settings", "请检查本机的网络设置")
        text = Text(f"port {port} on {address}: this computer could not open a connection; "
                    "check its network settings",
                    f"无法从本机连接 {address} 的端口 {port}：{action.zh}")
    return Issue(Status.FAIL, text, (Finding(code, what, action),))


def _alive_by(m: dict[str, Any]) -> Text | None:
    """What, besides ping, showed the host on the wire (None: nothing did). A TCP answer,
    even a refusal, and an ARP reply each prove a powered, cabled host."""
    ports: dict[str, str] = m["ports"]
    alive = [port for port, state in ports.items() if state in (PORT_OPEN, PORT_REFUSED)]
    tcp = m.get("tcp") or {}
    arp = m.get("arp") or {}
    if tcp.get("answered"):
        return Text(f"its agent's TCP port {tcp['port']} answered "
                    f"{tcp['answered']}/{tcp['sent']} connects",
                    f"其代理的 TCP 端口 {tcp['port']} 回应了 "
                    f"{tcp['answered']}/{tcp['sent']} 次连接")
    if alive:
        return Text(f"port {alive[0]} answered", f"端口 {alive[0]} 有应答")
    if arp.get("macs"):
        return Text(f"it answered ARP as {arp['macs'][0]}", f"其以 {arp['macs'][0]} 回应 ARP")
    return None


def _figures(m: dict[str, Any]) -> tuple[str, int, int, float | None] | None:
    """(what answered, attempts, answers, average ms) from ICMP, or from the TCP fallback
    when ping was silent; None when neither answered."""
    if m.get("received"):
        return "ping", m["count"], m["received"], m["rtt_avg_ms"]
    tcp = m.get("tcp") or {}
    if tcp.get("answered"):
        return "TCP connect", tcp["sent"], tcp["answered"], tcp["rtt_avg_ms"]
    return None


_ALLOW_PING = Text("allow ICMP echo in its firewall for diagnostics",
                   "请在其防火墙中允许 ICMP 回显以便诊断")


def _drops_ping(address: str, alive: Text, rest_en: str = "", rest_zh: str = "") -> Issue:
    what = Text(f"answers on the LAN ({alive.en}) but drops ping",
                f"在局域网内在线（{alive.zh}），但丢弃 ping")
    return Issue(Status.WARN, Text(f"{address} {what.en}: {_ALLOW_PING.en}{rest_en}",
                                   f"{address} {what.zh}：{_ALLOW_PING.zh}{rest_zh}"),
                 (Finding("lan.drops_ping", what, _ALLOW_PING),))


def icmp_issue(m: dict[str, Any], th: LanSubnetThresholds) -> Issue | None:
    """What ping, the TCP fallback and ARP say against the thresholds, or None when they
    are fine. `m` is the reachability probe's measured dict."""
    address, count, received = m["address"], m["count"], m["received"]
    if received == 0:
        alive = _alive_by(m)
        figures = _figures(m)
        if alive and not figures:
            return _drops_ping(address, alive,
                               ". Loss and latency not measured: nothing but ping could "
                               "time it",
                               "。未能测量丢包与延迟：除 ping 外没有可计时的应答")
        if alive:
            issue = _loss_or_latency(m, th)
            if issue and issue.status == Status.FAIL:
                return issue
            drops = _drops_ping(address, alive)
            more = [issue] if issue else []
            return Issue(Status.WARN, Text("; ".join(i.text.en for i in [drops, *more]),
                                           "；".join(i.text.zh for i in [drops, *more])),
                         tuple(f for i in [drops, *more] for f in i.findings))
        if m["no_route"]:
            what = Text(f"no answer to {count} pings: this computer has no route to it",
                        f"对 {count} 个 ping 无回应：本机没有到它的路由")
            action = Text("check this computer's IP address, subnet mask and gateway",
                          "请检查本机的IP 地址、子网掩码和网关")
            return Issue(Status.FAIL, Text(
                f"no answer from {address} to {count} pings: this computer has no route "
                f"to it; {action.en}",
                f"{address} {what.zh}；{action.zh}"),
                (Finding("lan.no_route", what, action, root_cause=True),))
        tcp = m.get("tcp") or {}
        tried_en = f", {tcp['sent']} TCP connects to port {tcp['port']}" if tcp else ""
        tried_zh = f"、{tcp['sent']} 次到端口 {tcp['port']} 的 TCP 连接" if tcp else ""
        if (m.get("arp") or {}).get("asked"):
            tried = Text(f"{count} pings{tried_en}, ARP", f"{count} 个 ping{tried_zh}、ARP")
            why = Text("the PC is switched off, unplugged, or set to another address (if it "
                       "is on the LAN elsewhere, LAN-FIXED-IP names where)",
                       "电脑未开机、未接网线，或地址被改动（如在局域网内其他地址上，"
                       "LAN-FIXED-IP 会指出位置）")
            return Issue(Status.FAIL, Text(
                f"nothing answers at {address} ({tried.en}): {why.en}",
                f"{address} 无任何应答（{tried.zh}）：{why.zh}"),
                (Finding("lan.no_answer",
                         Text(f"nothing answers ({tried.en})", f"无任何应答（{tried.zh}）"),
                         Text("switch the PC on and cable it, or correct its address "
                              "(LAN-FIXED-IP names where it answers, if it does)",
                              "请开机并接好网线，或改正其地址（如在其他地址应答，"
                              "LAN-FIXED-IP 会指出位置）"),
                         root_cause=True),))
        what = Text(f"no answer to {count} pings{tried_en}",
                    f"对 {count} 个 ping{tried_zh} 无回应")
        action = Text("check the cable and that the PC is switched on",
                      "请检查网线并确认电脑已开机")
        return Issue(Status.FAIL, Text(f"no answer from {address} to {count} pings{tried_en}: "
                                       f"{action.en}",
                                       f"{address} {what.zh}：{action.zh}"),
                     (Finding("lan.no_answer", what, action, root_cause=True),))
    return _loss_or_latency(m, th)


def _loss_or_latency(m: dict[str, Any], th: LanSubnetThresholds) -> Issue | None:
    """Loss and latency against the thresholds, from whichever of ICMP or TCP answered."""
    figures = _figures(m)
    if figures is None:
        return None
    address = m["address"]
    what, count, received, avg = figures
    what_zh = "ping" if what == "ping" else "TCP 连接"
    lost = count - received
    # from the counts, not the rounded loss_pct the result shows
    loss = 100.0 * lost / count
    if loss > th.fail_loss_pct or loss > th.warn_loss_pct:
        status = Status.FAIL if loss > th.fail_loss_pct else Status.WARN
        if what == "ping" and _link_went_down(m.get("replies")):
            return _unstable_link(m, status, lost, count)
        found = Text(f"lost {lost} of {count} {what}s ({loss:.0f} %)",
                     f"{count} 个 {what_zh} 丢失 {lost} 个（{loss:.0f}%）")
        action = Text("check the cable, the switch port and the network card",
                      "请检查网线、交换机端口和网卡")
        return Issue(status, Text(f"{address} {found.en}: {action.en}",
                                  f"{address} 的 {found.zh}：{action.zh}"),
                     (Finding("lan.loss", found, action),))
    # echoes to this computer's own address never cross the LAN: no time to judge it by
    if avg is not None and avg > th.warn_rtt_ms and not m.get("own_address"):
        slow = Text(f"{avg:.1f} ms on average, limit {th.warn_rtt_ms:g} ms (timed by {what})",
                    f"{what_zh} 平均 {avg:.1f} ms，上限 {th.warn_rtt_ms:g} ms")
        action = Text("check for an overloaded switch, a faulty cable or a busy PC",
                      "请检查交换机是否过载、网线是否损坏、电脑是否繁忙")
        return Issue(Status.WARN, Text(
            f"{address} answers slowly: {slow.en}: {action.en}",
            f"{address} 响应慢：{slow.zh}：{action.zh}"),
            (Finding("lan.slow", Text(f"answers slowly: {slow.en}", f"响应慢：{slow.zh}"),
                     action),))
    return None


# Replies lost in a row: more than a dropped packet, the link itself was gone for a while.
_DOWN_RUN = 2


def _link_went_down(replies: str | None) -> bool:
    """Did the echoes, spread over the sample window, stop and come back (or start or
    stop) in runs, as a link going down and up makes them, rather than scattered drops?"""
    if not replies or "1" not in replies:
        return False
    return "0" * _DOWN_RUN in replies


def _unstable_link(m: dict[str, Any], status: Status, lost: int, count: int) -> Issue:
    address, window = m["address"], m.get("sample_window_s") or 0
    found = Text(f"unstable link: over {window:g} s, {lost} of {count} pings were lost in "
                 f"runs ({m['replies']}, 1 answered, 0 lost): the link goes down and up",
                 f"链路不稳定：{window:g} 秒内 {count} 个 ping 中有 {lost} 个连续丢失"
                 f"（{m['replies']}，1 为应答、0 为丢失）：链路时断时通")
    action = Text("reseat or replace the cable, then check the switch port (its link light "
                  "going off and on) and the PC's network card",
                  "请重新插紧或更换网线，再检查交换机端口（指示灯时灭时亮）和电脑网卡")
    return Issue(status, Text(f"{address} {found.en}: {action.en}",
                              f"{address} {found.zh}：{action.zh}"),
                 (Finding("lan.unstable_link", found, action),))


def _ms(value: float) -> str:
    # Sub-millisecond LAN times would all print as "0.0 ms".
    return f"{value:.2f}" if value < 1 else f"{value:.1f}"


def judge_reachability(outcome: ProbeOutcome, params: dict[str, Any]) -> ProbeOutcome:
    th: LanSubnetThresholds = params["thresholds"]
    m = outcome.measured
    if "ports" not in m:
        return outcome  # nothing measured (bad parameters, unresolvable name, deadline)
    shown = {k: v for k, v in m.items() if k not in _PROBE_WORKINGS}
    address = m["address"]
    issues: list[Issue] = []
    pinged = outcome.status != Status.ERROR
    if not pinged:
        # no ICMP rights: the probe says why
        issues.append(Issue(Status.ERROR, outcome.message, (Finding(
            "lan.ping_not_measured", outcome.message, NO_ACTION),)))
    else:
        issue = icmp_issue(m, th)
        if issue:
            issues.append(issue)
    for port, state in m["ports"].items():
        if state != PORT_OPEN:
            issues.append(port_issue(address, int(port), state, m["port_timeout_s"]))
    if not issues:
        ports = m["ports"]
        plural = "s" if len(ports) > 1 else ""
        open_en = f"; port{plural} {', '.join(ports)} open" if ports else ""
        open_zh = f"；端口 {', '.join(ports)} 可连接" if ports else ""
        avg = m["rtt_avg_ms"] or 0.0
        timed_en, timed_zh = (("this computer itself", "即本机") if m.get("own_address")
                              else (f"{_ms(avg)} ms on average", f"平均 {_ms(avg)} ms"))
        return ProbeOutcome(Status.PASS, Text(
            f"{address} answers {m['received']}/{m['count']} pings, {timed_en}{open_en}",
            f"{address} 回应了 {m['received']}/{m['count']} 个 ping，{timed_zh}{open_zh}"),
            shown)
    issues = worst_first(issues)
    message = Text("; ".join(i.text.en for i in issues), "；".join(i.text.zh for i in issues))
    return ProbeOutcome(issues[0].status, message, shown, findings=findings_of(issues))


# ---------------------------------------------------------------- LAN-SEATS


def count_seats(results: list[CheckResult], params: dict[str, Any]) -> ProbeOutcome:
    """The seats whose LAN-SUBNET reachability passed or warned, against the minimum."""
    th: LanSeatsThresholds = params["thresholds"]
    names, room = set(params["seats"]), params["room"]
    minimum, recommended = th.min_seats, th.recommended_seats
    # each seat's reachability (the sweep's findings are about the room, not a seat)
    seats = [r for r in results
             if r.requirement == "LAN-SUBNET" and r.subject.kind is Kind.SEAT
             and r.subject.room == room and r.subject.name in names and r.aspect is None]
    working = sum(r.status in (Status.PASS, Status.WARN) for r in seats)
    unverified = sum(r.status == Status.ERROR for r in seats)
    configured = len(names)
    measured = {"working_seats": working, "configured_seats": configured}
    if working >= recommended:
        return ProbeOutcome(Status.PASS, Text(
            f"{working} of {configured} seats answer (need {minimum})",
            f"{configured} 个考位中 {working} 个可达（要求 {minimum} 个）"), measured)
    fix = Text("fix or replace the seats marked fail under LAN-SUBNET",
               "请修复 LAN-SUBNET 中失败的考位")
    if working >= minimum:
        what = Text(f"{working} seats answer: meets the minimum {minimum}, "
                    f"below the recommended {recommended}",
                    f"{working} 个考位可达：达到最低 {minimum} 个，未达建议 {recommended} 个")
        return ProbeOutcome(Status.WARN, what, measured,
                            findings=[Finding("lan.seats_below_recommended", what, fix)])
    if unverified and working + unverified >= minimum:
        what = Text(f"only {working} seats proven working; {unverified} could not be checked",
                    f"仅 {working} 个考位确认可用；{unverified} 个无法检查")
        return ProbeOutcome(Status.ERROR, what, measured, findings=[Finding(
            "lan.seats_unverified", what,
            Text("see why under LAN-SUBNET, then run the check again",
                 "请查看 LAN-SUBNET 中的原因，然后重新检查"))])
    what = Text(f"only {working} of {configured} seats answer; the rule needs {minimum}",
                f"{configured} 个考位中仅 {working} 个可达，规定至少 {minimum} 个")
    return ProbeOutcome(Status.FAIL, Text(f"{what.en}: {fix.en}", f"{what.zh}：{fix.zh}"),
                        measured, findings=[Finding("lan.too_few_seats", what, fix)])


# ---------------------------------------------------------------- SERVER-SPARE


def judge_spare(outcome: ProbeOutcome, params: dict[str, Any]) -> ProbeOutcome:
    """The configured backup exam server answers (ping, ARP, its agent or a port) and its
    configured ports accept a connection."""
    m = outcome.measured
    if "ports" not in m:
        return outcome
    shown = {k: v for k, v in m.items() if k not in _PROBE_WORKINGS}
    address = m["address"]
    closed = [port_issue(address, int(port), state, m["port_timeout_s"])
              for port, state in m["ports"].items() if state != PORT_OPEN]
    how = (Text(f"{m['received']}/{m['count']} pings answered",
                f"回应了 {m['received']}/{m['count']} 个 ping")
           if m.get("received") else _alive_by(m))
    if how is None:
        if outcome.status == Status.ERROR and not (m.get("arp") or {}).get("asked"):
            return outcome  # could not ping, could not ARP: not measured, say why
        tried = Text(f"ping, ARP{', its agent' if m.get('tcp') else ''}",
                     f"ping、ARP{'、代理' if m.get('tcp') else ''}")
        action = Text("switch it on and cable it to the exam LAN, or remove it from the "
                      "site file if the room has none",
                      "请开机并接入考场局域网；如考场没有备用服务器，请从站点文件中删除")
        return ProbeOutcome(Status.FAIL, Text(
            f"the backup exam server {address} in the site file does not answer "
            f"({tried.en}): {action.en}",
            f"站点文件中的备用考试服务器 {address} 无应答（{tried.zh}）：{action.zh}"), shown,
            findings=[Finding("lan.spare_no_answer",
                              Text(f"does not answer ({tried.en})", f"无应答（{tried.zh}）"),
                              action, root_cause=True)])
    if closed:
        return ProbeOutcome(Status.FAIL, Text(
            "the backup exam server answers but: " + "; ".join(i.text.en for i in closed),
            "备用考试服务器在线，但：" + "；".join(i.text.zh for i in closed)), shown,
            findings=findings_of(closed))
    return ProbeOutcome(Status.PASS, Text(
        f"the backup exam server {address} answers ({how.en})",
        f"备用考试服务器 {address} 可访问（{how.zh}）"), shown)


def spare_missing(results: list[CheckResult], params: dict[str, Any]) -> ProbeOutcome:
    """No backup exam server in the site file: a warning where one is recommended."""
    th: ServerSpareThresholds = params["thresholds"]
    measured = {"backup_configured": False}
    if th.backup_recommended:
        what = Text("no backup exam server is configured: the certificate recommends one",
                    "未配置备用考试服务器：本证书建议配备")
        action = Text("add it under exam_servers.backup in the site file once it is in the "
                      "room", "配备后请写入站点文件的 exam_servers.backup")
        return found(Status.WARN, "lan.no_backup_server", what, action, measured)
    return ProbeOutcome(Status.PASS, Text(
        "no backup exam server is configured; this certificate does not ask for one",
        "未配置备用考试服务器；本证书不要求"), measured)


OUTCOME_JUDGES: dict[str, OutcomeJudge] = {
    "lan.subnet": judge_subnet,
    "lan.reachability": judge_reachability,
    "lan.spare": judge_spare,
}
RESULTS_JUDGES: dict[str, ResultsJudge] = {
    "lan.count_seats": count_seats,
    "lan.spare_missing": spare_missing,
}
