"""Seat-agent probes: ask the agent on a seat PC for what only that PC can see.

The site token must not travel in params (params end up in results and reports), so
these probes are closures built with it:

    reg["seat_self_report"] = make_self_report_probe(site.secret("agent.token"))
    reg["seat_run"] = make_agent_run_probe(site.secret("agent.token"))

seat_self_report params:
  address          the seat's configured address (also how its NIC is recognised)
  port             the agent's port (8765, site agent.port)
  label            the seat's label for messages, e.g. "A07" (default: the address)
  when_absent      "skip" (default) or "warn" when no agent answers
  fail_below_mbps  the seat's NIC negotiated below this fails (optional)
  warn_below_mbps  ... below this warns (optional)
  warn_half_duplex a half-duplex link warns (false)
  require_static   a DHCP address fails, an unknown one warns (false)

seat_run params: address, port, label, when_absent, as above, and
  probe            the agent-side probe to run (e.g. "url_filter")
  params           that probe's params (targets must be in the agent's site file)
  remote_deadline_s  the agent-side deadline (default: ours less a second)
"""

from __future__ import annotations

from typing import Any

from readiness.agent.auth import BAD_SIGNATURE, EXPIRED, FUTURE, REPLAYED
from readiness.agent.client import AgentReply, call_agent
from readiness.agent.self_report import STATIC, UNKNOWN, find_nic, os_name
from readiness.agent.server import DEFAULT_PORT, RUN, SELF_REPORT, outcome_from_dict
from readiness.config.secrets import Secret
from readiness.results import ProbeOutcome, Status, Text, worst

from . import ProbeFn

# what is left of the deadline for connecting, signing and reading the reply
_MARGIN_S = 0.2


def _where(params: dict[str, Any]) -> tuple[str, str, int, str]:
    address = params.get("address")
    if not isinstance(address, str) or not address:
        raise ValueError("'address' must be the seat's address")
    port = int(params.get("port") or DEFAULT_PORT)
    label = str(params.get("label") or address)
    return address, label, port, f"{label} ({address}:{port})"


def reply_problem(reply: AgentReply, where: str, when_absent: str = "skip",
                  ) -> ProbeOutcome | None:
    """The outcome for an agent that did not answer usefully, or None if it did."""
    measured: dict[str, Any] = {"agent": reply.status, "reason": reply.reason}
    if reply.status == "ok":
        return None
    if reply.status == "absent":
        status = Status.WARN if when_absent == "warn" else Status.SKIP
        return ProbeOutcome(status, Text(
            f"no agent answers on {where}: start `readiness agent` on that PC",
            f"{where} 上没有代理应答：请在该电脑上启动 `readiness agent`"), measured)
    if reply.status == "refused" and reply.error_code == BAD_SIGNATURE:
        return ProbeOutcome(Status.ERROR, Text(
            f"the agent on {where} refused our token: the site token differs (agent.token "
            "must name the same secret on this PC and on that one)",
            f"{where} 上的代理拒绝了我们的令牌：站点令牌不一致（本机与该电脑的 agent.token "
            "必须是同一个密钥）"), measured)
    if reply.status == "refused" and reply.error_code in (EXPIRED, FUTURE):
        return ProbeOutcome(Status.ERROR, Text(
            f"the agent on {where} refused the request time: the two clocks differ too much "
            "(set the time on both PCs)",
            f"{where} 上的代理拒绝了请求时间：两台电脑的时钟相差太大（请校准时间）"), measured)
    if reply.status == "refused" and reply.error_code == REPLAYED:
        return ProbeOutcome(Status.ERROR, Text(
            f"the agent on {where} has seen this request before and refused it as a replay",
            f"{where} 上的代理认为该请求是重放请求并拒绝"), measured)
    if reply.error_code == "target_not_allowed":
        return ProbeOutcome(Status.ERROR, Text(
            f"the agent on {where} refused: {reply.reason} (its site file differs from "
            "this one?)",
            f"{where} 上的代理拒绝执行：目标不在其站点配置中（其站点文件与本机不同？）"),
            measured)
    return ProbeOutcome(Status.ERROR, Text(
        f"the agent on {where} could not answer: {reply.reason}",
        f"{where} 上的代理无法应答：{reply.reason}"), measured)


def _speed_text(nic: dict[str, Any]) -> tuple[str, str]:
    speed, duplex = nic.get("speed_mbps"), nic.get("duplex", UNKNOWN)
    speed_en = f"{speed} Mbit/s" if speed else "speed unknown"
    speed_zh = f"{speed} Mbit/s" if speed else "速率未知"
    duplex_en = f"{duplex} duplex" if duplex != UNKNOWN else "duplex unknown"
    duplex_zh = {"full": "全双工", "half": "半双工"}.get(duplex, "双工未知")
    return f"{speed_en}, {duplex_en}", f"{speed_zh}，{duplex_zh}"


def judge_self_report(report: dict[str, Any], address: str, label: str,
                      params: dict[str, Any]) -> ProbeOutcome:
    """Measurements and verdict from an agent's self-report (pure: tested on injected
    reports, since the lab's veth NICs always say 10000 Mb/s full duplex)."""
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
        return ProbeOutcome(Status.WARN, Text(
            f"the agent on {label} answers, but none of its NICs has {address} (it has: "
            f"{have}); is the address translated, or is this another PC?",
            f"{label} 上的代理有应答，但其网卡上没有地址 {address}（现有：{have}）；"
            "地址是否被转换，或这是另一台电脑？"), measured)

    statuses = [Status.PASS]
    problems: list[tuple[str, str]] = []
    speed = measured["nic_speed_mbps"]
    fail_below = params.get("fail_below_mbps")
    warn_below = params.get("warn_below_mbps")
    if fail_below is not None or warn_below is not None:
        if speed is None:
            statuses.append(Status.WARN)
            problems.append((f"the OS of {label} does not report the speed of {nic['name']}",
                             f"{label} 的系统未报告网卡 {nic['name']} 的速率"))
        elif fail_below is not None and speed < float(fail_below):
            statuses.append(Status.FAIL)
            problems.append((f"{nic['name']} negotiated {speed} Mbit/s, below the minimum "
                             f"{fail_below} Mbit/s",
                             f"网卡 {nic['name']} 协商速率 {speed} Mbit/s，低于最低要求 "
                             f"{fail_below} Mbit/s"))
        elif warn_below is not None and speed < float(warn_below):
            statuses.append(Status.WARN)
            problems.append((f"{nic['name']} negotiated {speed} Mbit/s, below the recommended "
                             f"{warn_below} Mbit/s",
                             f"网卡 {nic['name']} 协商速率 {speed} Mbit/s，低于推荐的 "
                             f"{warn_below} Mbit/s"))
    if params.get("warn_half_duplex") and measured["duplex"] == "half":
        statuses.append(Status.WARN)
        problems.append((f"{nic['name']} runs half duplex (a negotiation fault: check the "
                         "cable and the switch port)",
                         f"网卡 {nic['name']} 为半双工（协商故障：请检查网线和交换机端口）"))
    if params.get("require_static") and measured["addressing"] != STATIC:
        if measured["addressing"] == UNKNOWN:
            statuses.append(Status.WARN)
            problems.append((f"the OS of {label} does not tell whether {address} is fixed",
                             f"{label} 的系统未说明 {address} 是否为固定地址"))
        else:
            statuses.append(Status.FAIL)
            problems.append((f"{label} takes {address} from DHCP; it must be a fixed address",
                             f"{label} 的地址 {address} 由 DHCP 分配；应为固定地址"))
    status = worst(statuses)
    if problems:
        return ProbeOutcome(status, Text("; ".join(p[0] for p in problems),
                                         "；".join(p[1] for p in problems)), measured)
    speed_en, speed_zh = _speed_text(nic)
    addressing_zh = {"static": "固定地址", "dhcp": "DHCP 地址"}.get(measured["addressing"],
                                                                    "地址方式未知")
    return ProbeOutcome(status, Text(
        f"{label}: {measured['os']}, {nic['name']} {speed_en}, {measured['addressing']} address",
        f"{label}：{measured['os']}，{nic['name']} {speed_zh}，{addressing_zh}"), measured)


def make_self_report_probe(token: Secret) -> ProbeFn:
    async def seat_self_report(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
        address, label, port, where = _where(params)
        reply = await call_agent(address, port, SELF_REPORT, {}, token,
                                 timeout_s=max(0.5, deadline_s - _MARGIN_S))
        problem = reply_problem(reply, where, str(params.get("when_absent", "skip")))
        if problem:
            return problem
        report = (reply.body or {}).get("report")
        if not isinstance(report, dict):
            return ProbeOutcome(Status.ERROR, Text(
                f"the agent on {where} sent no self-report", f"{where} 上的代理未返回本机信息"))
        outcome = judge_self_report(report, address, label, params)
        if reply.clock_skew_s is not None:
            outcome.measured["clock_skew_s"] = reply.clock_skew_s
        return outcome

    return seat_self_report


def outcome_of_run(reply: AgentReply, where: str, label: str) -> ProbeOutcome:
    """The probe outcome an agent's /v1/run reply carries (after reply_problem said the
    agent answered)."""
    try:
        outcome = outcome_from_dict((reply.body or {})["outcome"])
    except (KeyError, TypeError, ValueError):
        return ProbeOutcome(Status.ERROR, Text(
            f"the agent on {where} sent a reply without an outcome",
            f"{where} 上的代理返回的结果不完整"))
    outcome.measured.setdefault("agent", label)
    return outcome


def make_agent_run_probe(token: Secret) -> ProbeFn:
    async def seat_run(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
        address, label, port, where = _where(params)
        name = params.get("probe")
        if not isinstance(name, str):
            raise ValueError("'probe' must name the agent-side probe to run")
        remote_deadline = float(params.get("remote_deadline_s") or max(0.5, deadline_s - 1.0))
        body = {"probe": name, "params": params.get("params") or {},
                "deadline_s": remote_deadline}
        reply = await call_agent(address, port, RUN, body, token,
                                 timeout_s=max(0.5, deadline_s - _MARGIN_S))
        problem = reply_problem(reply, where, str(params.get("when_absent", "skip")))
        if problem:
            return problem
        outcome = outcome_of_run(reply, where, label)
        if reply.clock_skew_s is not None:
            outcome.measured["clock_skew_s"] = reply.clock_skew_s
        return outcome

    return seat_run
