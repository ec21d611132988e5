"""WAN-FLOOR, WAN-POLICY and FILTER-FEATURES: the room's uplink and its filter.

Vantage points, as the profiles name them:

- WAN-FLOOR `vantage: room` (cbec): from the coordinator, a host in the room that is
  allowed out. `vantage: exam_server` (eda): by the exam server's agent; without one,
  from the coordinator, and a pass only warns (the path is not the server's own).
- WAN-POLICY: from every seat's own address, by its agent (`url_filter` over the
  agent's `/v1/run`). A seat whose agent does not answer gets the room's audit made
  once from the coordinator, capped at warn (a seat's view is not proven that way).
  A site without an agent token is audited once, from the coordinator.
  eda's "the exam server must get out" is a separate check from the server.
- FILTER-FEATURES: a full audit from a sample seat, the router's web management, and
  one result per feature of the profile's list, judged from every audit of the run.

Before a seat audit, the coordinator asks the control resolvers (which it may reach,
the seats may not) for the blocked names' real addresses; the seat then tries them
directly. What to try comes from the room's `filter_audit` block (see AuditConfig).
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from probes import router_web, url_filter, wan_bandwidth
from probes.seat_agent import outcome_of_run, reply_problem
from readiness.agent.client import call_agent
from readiness.agent.server import HEALTH, RUN

from ..checks import Check
from ..config.site import Room, WanEndpoint
from ..results import NOT_PROOF, CheckResult, ProbeOutcome, Status, Text

if TYPE_CHECKING:
    from ..config.profile import Requirement
    from . import PlanContext

COORDINATOR = "coordinator"
ProbeFn = Callable[[dict[str, Any], float], Awaitable[ProbeOutcome]]

AUDIT_DEADLINE_S = 30.0
REACH_DEADLINE_S = 15.0
ROUTER_DEADLINE_S = 10.0
# WAN-FLOOR measurement: 4 streams, 1 s warm-up, 5 s measured, median of 3 runs
WAN_PARAMS: dict[str, Any] = {"streams": 4, "warmup_s": 1, "duration_s": 5, "runs": 3}
WAN_DEADLINE_S = 60.0
WAN_FALLBACK_S = 15.0  # extra time for trying the next endpoint after one that errs
AGENT_HEALTH_TIMEOUT_S = 3.0
SERVER_LABEL = "exam server"  # as planning.agents names the exam server's agent

FEATURE_TECHNIQUES = {
    "ip": ("direct_ip", "plain", "ipv6", "icmp"),
    "dns": ("resolver", "doh"),
    "url_wildcard": ("subdomain",),
    "keyword": ("keyword", "path_variant"),
    "block_notice": (),
}


@dataclass(frozen=True)
class AuditConfig:
    """What the filter audit tries, from the room's `filter_audit` block:

        filter_audit:
          control_resolvers: [198.51.100.53]  # asked from the coordinator for the blocked
                                              # names' real addresses
          bypass_resolvers: [198.51.100.53]   # "another DNS server" a candidate would try
          doh_urls: [https://doh.example/dns-query]
          blocked_addresses: {games.example: [198.51.100.20]}  # known without DNS
          keywords: []              # words the keyword filter must block in URLs
          block_page_patterns: []   # regular expressions of this router's block page
          block_hosts: []           # hosts a block redirect goes to
          sample_seats: 1           # seats the FILTER-FEATURES audit runs from
          remote_management_url: null  # the router's remote (WAN-side) management

    No default names any real resolver: what a site may contact is its own decision.
    """

    control_resolvers: tuple[str, ...] = ()
    bypass_resolvers: tuple[str, ...] = ()
    doh_urls: tuple[str, ...] = ()
    blocked_addresses: dict[str, list[str]] = field(default_factory=dict)
    keywords: tuple[str, ...] = ()
    block_page_patterns: tuple[str, ...] = ()
    block_hosts: tuple[str, ...] = ()
    sample_seats: int = 1
    remote_management_url: str | None = None

    @classmethod
    def of(cls, value: Any) -> AuditConfig:
        if value is None:
            return cls()
        data = value.model_dump() if hasattr(value, "model_dump") else dict(value)
        tuples = ("control_resolvers", "bypass_resolvers", "doh_urls", "keywords",
                  "block_page_patterns", "block_hosts")
        return cls(**{k: (tuple(v or ()) if k in tuples else v) for k, v in data.items()
                      if k in cls.__dataclass_fields__ and v is not None})


def audit_config(room: Room) -> AuditConfig:
    return AuditConfig.of(getattr(room, "filter_audit", None))


# -- routing a check to its vantage --------------------------------------------------------


class _Shared:
    """One coordinator-side audit per room, however many agent-less seats ask for it."""

    def __init__(self) -> None:
        self.tasks: dict[str, asyncio.Future[ProbeOutcome]] = {}

    async def get(self, key: str, make: Callable[[], Awaitable[ProbeOutcome]]
                  ) -> ProbeOutcome:
        task = self.tasks.get(key)
        if task is None:
            task = asyncio.ensure_future(make())
            self.tasks[key] = task
        return await asyncio.shield(task)


def _shared(ctx: PlanContext) -> _Shared:
    store = ctx.agents.get("filter_audits")
    if not isinstance(store, _Shared):
        store = ctx.agents["filter_audits"] = _Shared()
    return store


def _agent_route(ctx: PlanContext, label: str, address: str, probe: str) -> ProbeFn | None:
    """`fn(params, deadline)` running `probe` on the agent at `address`, or None when the
    site has no agent token. An agent that is absent, or too old to have the probe,
    comes back as a SKIP with measured["agent"] "absent" or "no_probe"."""
    token = ctx.site.secret("agent.token")
    if token is None:
        return None
    port = ctx.site.model.agent.port
    where = f"{label} ({address}:{port})"

    async def run(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
        # A quick look first: a PC that is off or firewalled would otherwise hold the
        # whole deadline in connect, leaving no time for the stand-in from here.
        health = await call_agent(address, port, HEALTH, None, token,
                                  timeout_s=min(AGENT_HEALTH_TIMEOUT_S, deadline_s / 4),
                                  method="GET")
        if health.status == "absent":
            return ProbeOutcome(Status.SKIP, Text(
                f"no agent answers on {where}", f"{where} 上没有代理应答"),
                {"agent": "absent", "reason": health.reason})
        body = {"probe": probe, "params": params, "deadline_s": max(1.0, deadline_s - 1.0)}
        reply = await call_agent(address, port, RUN, body, token,
                                 timeout_s=max(0.5, deadline_s - 0.2))
        if reply.error_code == "unknown_probe":
            return ProbeOutcome(Status.SKIP, Text(
                f"the agent on {where} has no {probe} probe (update readiness on that PC)",
                f"{where} 上的代理没有 {probe} 检测（请更新该电脑上的 readiness）"),
                {"agent": "no_probe", "reason": reply.reason})
        problem = reply_problem(reply, where, "skip")
        if problem:
            return problem
        return outcome_of_run(reply, where, label)

    return run


def _absent(outcome: ProbeOutcome) -> bool:
    return outcome.status == Status.SKIP and outcome.measured.get("agent") in (
        "absent", "no_probe")


def _prefixed(outcome: ProbeOutcome, en: str, zh: str, **extra: Any) -> ProbeOutcome:
    return ProbeOutcome(outcome.status, Text(en + outcome.message.en, zh + outcome.message.zh),
                        {**outcome.measured, **extra}, list(outcome.evidence))


def _cap_warn(outcome: ProbeOutcome, en: str, zh: str) -> ProbeOutcome:
    """A result from a stand-in vantage: it cannot pass for the real one (a failure
    measured on the same uplink or filter still fails)."""
    if outcome.status == Status.PASS:
        outcome = replace(outcome, status=Status.WARN,
                          measured={**outcome.measured, NOT_PROOF: True})
    return _prefixed(outcome, en, zh)


# -- WAN-FLOOR --------------------------------------------------------------------------


def wan_params(endpoint: WanEndpoint, floor_mbps: float, allowance_pct: float,
               ) -> dict[str, Any]:
    params: dict[str, Any] = {"kind": endpoint.kind, "floor_mbps": floor_mbps,
                              "overhead_allowance_pct": allowance_pct, **WAN_PARAMS}
    if endpoint.kind == "iperf3":
        params.update(host=endpoint.host or urlsplit(endpoint.url or "").hostname,
                      port=endpoint.port)
    else:
        params["url"] = endpoint.url
    return params


def _wan_fn(endpoints: list[dict[str, Any]], route: ProbeFn | None) -> ProbeFn:
    """Try the endpoints in order; the next one only when one errs (a broken endpoint,
    not a slow line). `route` runs the probe elsewhere (the exam server's agent)."""

    async def fn(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
        end = time.monotonic() + deadline_s
        outcome = ProbeOutcome(Status.ERROR, Text("no endpoint", "无测速端点"))
        tried: list[str] = []
        for i, ep in enumerate(endpoints):
            p = params if i == 0 else ep
            left = end - time.monotonic() - 0.5
            if left < 5:
                break
            budget = left if i == len(endpoints) - 1 else min(left, WAN_DEADLINE_S)
            if route is not None:
                outcome = await route(p, budget)
                if _absent(outcome):
                    why = outcome.message
                    outcome = _cap_warn(
                        await wan_bandwidth.run(p, end - time.monotonic() - 0.5),
                        f"{why.en}; measured from the coordinator instead (the same uplink, "
                        "not the server's own path): ",
                        f"{why.zh}；改为从协调机测量（同一出口，但非服务器自身路径）：")
            else:
                outcome = await wan_bandwidth.run(p, budget)
            tried.append(str(p.get("url") or f"iperf3://{p.get('host')}:{p.get('port')}"))
            if outcome.status != Status.ERROR:
                break
        if len(tried) > 1:
            outcome.measured["endpoints_tried"] = tried
        return outcome

    return fn


def plan_wan_floor(ctx: PlanContext, req: Requirement, room: Room) -> list[Check]:
    th = req.thresholds
    floor = float(th["floor_mbps"])
    allowance = float(th.get("overhead_allowance_pct", 0))
    endpoints = [wan_params(e, floor, allowance) for e in room.wan_endpoints]
    if not endpoints:
        return []
    route = None
    vantage = COORDINATOR
    if th.get("vantage") == "exam_server":
        server = room.exam_servers.primary
        route = _agent_route(ctx, SERVER_LABEL, server.address, "wan_bandwidth")
        vantage = f"agent {SERVER_LABEL}" if route else COORDINATOR
    names = ", ".join(e.name for e in room.wan_endpoints)
    return [Check(
        check_id=f"WAN-FLOOR/{room.id}",
        requirement="WAN-FLOOR",
        target=f"room {room.id} uplink ({names})",
        vantage=vantage,
        probe="wan_bandwidth",
        params=endpoints[0],
        threshold={"floor_mbps": floor, "overhead_allowance_pct": allowance},
        deadline_s=WAN_DEADLINE_S + WAN_FALLBACK_S * (len(endpoints) - 1),
        exclusive=True,
        fn=_wan_fn(endpoints, route),
    )]


# -- WAN-POLICY / the audit -------------------------------------------------------------------


def _endpoint_targets(room: Room) -> list[str]:
    """The speed-test sites are sites a seat must not reach either. An iperf3 endpoint
    is left out: a connection that a stock iperf3 server accepts makes it refuse others
    for a moment, which could break a WAN-FLOOR test running at the same time."""
    return [ep.url for ep in room.wan_endpoints if ep.kind != "iperf3" and ep.url]


def _room_addresses(room: Room) -> list[str]:
    hosts = [room.router.address, room.proctor.address, room.exam_servers.primary.address]
    if room.exam_servers.backup:
        hosts.append(room.exam_servers.backup.address)
    return hosts


def audit_params(ctx: PlanContext, room: Room, mode: str, cfg: AuditConfig,
                 label: str) -> dict[str, Any]:
    """The url_filter params for a room (JSON: they travel to the seat's agent)."""
    subnet = ipaddress.ip_network(room.subnet)
    exam = list(room.exam_urls)
    blocked = [u for u in [*room.blocked_samples, *_endpoint_targets(room)] if u not in exam]
    room_hosts = _room_addresses(room)
    resolvers = [r for r in cfg.bypass_resolvers
                 if r not in room_hosts and ipaddress.ip_address(r) not in subnet]
    return {
        "mode": mode,
        "exam_urls": exam,
        "blocked_urls": list(dict.fromkeys(blocked)),
        "bypass_resolver_addresses": resolvers,
        "doh_urls": list(cfg.doh_urls),
        "keywords": list(cfg.keywords),
        "block_page_patterns": list(cfg.block_page_patterns),
        "block_hosts": list(cfg.block_hosts),
        "sinkhole_addresses": [room.router.address],
        "local_networks": [room.subnet, *(f"{h}/32" for h in room_hosts
                                          if ipaddress.ip_address(h) not in subnet)],
        "subdomain_label": url_filter.new_subdomain_label(),
        "exam_windows": [[s.isoformat(), e.isoformat()]
                         for s, e in ctx.site.session_windows()],
        "vantage_is_seat": True,
    }


def _with_control(cfg: AuditConfig, run: ProbeFn) -> ProbeFn:
    """Learn the blocked names' real addresses here, then run the audit (there)."""

    async def fn(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
        started = time.monotonic()
        answers = await url_filter.learn_control(
            url_filter.control_names(params), cfg.control_resolvers,
            timeout_s=min(2.0, deadline_s / 8), static=cfg.blocked_addresses)
        left = deadline_s - (time.monotonic() - started) - 0.3
        return await run({**params, "control_answers": answers}, left)

    return fn


async def _local_audit(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
    return await url_filter.run({**params, "vantage_is_seat": False}, deadline_s)


def _seat_audit_fn(ctx: PlanContext, room: Room, cfg: AuditConfig, label: str, address: str,
                   ) -> ProbeFn:
    route = _agent_route(ctx, label, address, "url_filter")
    shared = _shared(ctx)

    async def run(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
        outcome: ProbeOutcome | None = None
        if route is not None:
            outcome = await route(params, deadline_s)
            if not _absent(outcome):
                return outcome
        # the whole room's stand-in audit runs once, not once per agent-less seat
        start = time.monotonic()

        async def make() -> ProbeOutcome:
            return await _local_audit(params, deadline_s - (time.monotonic() - start))

        stand_in = await shared.get(f"{room.id}/{params['mode']}", make)
        why = outcome
        en = f"seat {label}: {why.message.en if why else 'no agent token'}; "
        zh = f"考位 {label}：{why.message.zh if why else '未配置代理令牌'}；"
        return _prefixed(stand_in, en, zh,
                         agent=why.measured.get("agent") if why else "absent")

    return _with_control(cfg, run)


def _audit_checks(ctx: PlanContext, req_id: str, room: Room, mode: str, cfg: AuditConfig,
                  seats: list[Any], suffix: str) -> list[Check]:
    threshold = {"candidates_internet": mode}
    if ctx.site.secret("agent.token") is None or not seats:
        params = audit_params(ctx, room, mode, cfg, COORDINATOR)
        params["vantage_is_seat"] = False
        return [Check(
            check_id=f"{req_id}/{room.id}/{suffix}coordinator",
            requirement=req_id,
            target=f"room {room.id} seats (tried from the coordinator: no seat agents)",
            vantage=COORDINATOR,
            probe="url_filter",
            params=params,
            threshold=threshold,
            deadline_s=AUDIT_DEADLINE_S,
            fn=_with_control(cfg, url_filter.run),
        )]
    return [Check(
        check_id=f"{req_id}/{room.id}/{suffix}{seat.label}",
        requirement=req_id,
        target=f"seat {seat.label} ({seat.address})",
        vantage=f"agent {seat.label}",
        probe="url_filter",
        params=audit_params(ctx, room, mode, cfg, seat.label),
        threshold=threshold,
        deadline_s=AUDIT_DEADLINE_S,
        fn=_seat_audit_fn(ctx, room, cfg, seat.label, seat.address),
    ) for seat in seats]


def _server_reach_check(ctx: PlanContext, room: Room) -> Check | None:
    subnet = ipaddress.ip_network(room.subnet)

    def outside(url: str) -> bool:
        t = url_filter.Target.parse(url)
        return t.scheme != "tcp" and (t.is_name or ipaddress.ip_address(t.host) not in subnet)

    urls = [u for u in [*room.exam_urls, *_endpoint_targets(room)] if outside(u)]
    if not urls:
        return None
    server = room.exam_servers.primary
    route = _agent_route(ctx, SERVER_LABEL, server.address, "internet_reach")

    async def fn(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
        end = time.monotonic() + deadline_s - 0.3
        if route is not None:
            outcome = await route(params, deadline_s / 2)
            if not _absent(outcome):
                return outcome
            why = outcome.message
        else:
            why = Text("no agent token", "未配置代理令牌")
        return _cap_warn(await url_filter.run_reach(params, end - time.monotonic()),
                         f"{why.en}; tried from the coordinator: ",
                         f"{why.zh}；改为从协调机尝试：")

    return Check(
        check_id=f"WAN-POLICY/{room.id}/exam-server",
        requirement="WAN-POLICY",
        target=f"exam server ({server.address}) reaches the internet",
        vantage=f"agent {SERVER_LABEL}" if route else COORDINATOR,
        probe="internet_reach",
        params={"urls": urls, "require": "any"},
        threshold={"exam_server_internet": "required"},
        deadline_s=REACH_DEADLINE_S,
        fn=fn,
    )


def plan_wan_policy(ctx: PlanContext, req: Requirement, room: Room) -> list[Check]:
    th = req.thresholds
    mode = str(th.get("candidates_internet", url_filter.EXAM_SITES_ONLY))
    cfg = audit_config(room)
    if not room.exam_urls and not room.blocked_samples and not room.wan_endpoints:
        return []
    checks = _audit_checks(ctx, "WAN-POLICY", room, mode, cfg, ctx.site.seats[room.id], "")
    if th.get("exam_server_internet") == "required":
        reach = _server_reach_check(ctx, room)
        if reach:
            checks.append(reach)
    return checks


# -- FILTER-FEATURES --------------------------------------------------------------------


def _router_check(room: Room, feature: str, url: str) -> Check:
    return Check(
        check_id=f"FILTER-FEATURES/{room.id}/{feature}",
        requirement="FILTER-FEATURES",
        target=f"router {feature.replace('_', ' ')} ({url})",
        vantage=COORDINATOR,
        probe="router_web",
        params={"url": url},
        threshold={"feature": feature},
        deadline_s=ROUTER_DEADLINE_S,
        fn=router_web.run,
    )


def _constant(room: Room, feature: str, outcome: ProbeOutcome, target: str) -> Check:
    return Check(
        check_id=f"FILTER-FEATURES/{room.id}/{feature}",
        requirement="FILTER-FEATURES",
        target=target,
        vantage="configuration",
        probe=None,
        threshold={"feature": feature},
        deadline_s=1.0,
        derive=lambda _results: outcome,
    )


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


def _feature_judge(room_id: str, feature: str, reach_id: str) -> Callable[
        [list[CheckResult]], ProbeOutcome]:
    name_en, name_zh = FEATURE_NAMES[feature]

    def derive(results: list[CheckResult]) -> ProbeOutcome:
        audits = _audits(results, room_id)
        seat = [r for r in audits if r.measured.get("vantage_is_seat")
                and r.measured.get("agent") != "absent"]
        used = seat or audits
        if not used:
            return ProbeOutcome(Status.ERROR, Text(
                f"{name_en}: no filter audit finished to judge it from",
                f"{name_zh}：没有完成的过滤检测可供判定"))
        caveat_en = "" if seat else " (seen from the coordinator only: no seat agent)"
        caveat_zh = "" if seat else "（仅从协调机观察：无座位代理）"
        measured: dict[str, Any] = {
            "audits": [r.check_id for r in used],
            "in_exam_window": any(r.measured.get("in_exam_window") for r in used)}
        if feature == "per_time":
            outcome = _per_time(used, name_en, name_zh, measured)
        elif feature == "per_address":
            outcome = _per_address(used, results, reach_id, name_en, name_zh, measured)
        else:
            outcome = _technique(used, feature, name_en, name_zh, measured)
        if seat:
            return outcome
        return ProbeOutcome(
            Status.WARN if outcome.status in (Status.PASS, Status.FAIL) else outcome.status,
            Text(outcome.message.en + caveat_en, outcome.message.zh + caveat_zh),
            outcome.measured)

    return derive


def _technique(used: list[CheckResult], feature: str, name_en: str, name_zh: str,
               measured: dict[str, Any]) -> ProbeOutcome:
    values = [r.measured.get("features", {}).get(feature, url_filter.NOT_TESTED) for r in used]
    measured["seen"] = dict(zip([r.vantage for r in used], values, strict=True))
    if url_filter.FAIL in values:
        lines = _leak_lines(used, FEATURE_TECHNIQUES[feature])
        shown = "; ".join(lines[:3]) + (f" (+{len(lines) - 3} more)" if len(lines) > 3 else "")
        measured["leaks"] = lines
        return ProbeOutcome(Status.FAIL, Text(
            f"{name_en} does not hold: {shown}", f"{name_zh}未生效：{shown}"), measured)
    if values and all(v == url_filter.PASS for v in values):
        return ProbeOutcome(Status.PASS, Text(
            f"{name_en} works: every attempt of {len(values)} audit(s) was stopped",
            f"{name_zh}有效：{len(values)} 次检测中的尝试均被拦截"), measured)
    en, zh = NOT_SEEN.get(feature, ("not demonstrated", "未能演示"))
    return ProbeOutcome(Status.WARN, Text(
        f"{name_en} not demonstrated: {en}", f"{name_zh}未能演示：{zh}"), measured)


def _per_time(used: list[CheckResult], name_en: str, name_zh: str,
              measured: dict[str, Any]) -> ProbeOutcome:
    leaking = [r for r in used if r.measured.get("leaks")]
    if leaking:
        when = "inside" if any(r.measured.get("in_exam_window") for r in leaking) else "outside"
        return ProbeOutcome(Status.FAIL, Text(
            f"{name_en}: the policy lets requests through now ({when} an exam window): "
            f"{leaking[0].measured['leaks'][0]}",
            f"{name_zh}：当前（{'考试时段内' if when == 'inside' else '考试时段外'}）"
            f"策略放行了请求：{leaking[0].measured['leaks'][0]}"), measured)
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


def plan_filter_features(ctx: PlanContext, req: Requirement, room: Room) -> list[Check]:
    features = list(req.thresholds.get("features", []))
    if not features:
        return []
    cfg = audit_config(room)
    checks: list[Check] = []
    audit_features = [f for f in features if f in FEATURE_NAMES]
    if audit_features and (room.exam_urls or room.blocked_samples):
        seats = ctx.site.seats[room.id][:max(1, cfg.sample_seats)]
        checks += _audit_checks(ctx, "FILTER-FEATURES", room, url_filter.EXAM_SITES_ONLY,
                                cfg, seats, "audit/")
    reach_id = f"FILTER-FEATURES/{room.id}/per_address/coordinator"
    if "per_address" in features:
        urls = [u for u in [*_endpoint_targets(room), *room.blocked_samples]
                if not u.startswith("tcp:")]
        if urls:
            checks.append(Check(
                check_id=reach_id,
                requirement="FILTER-FEATURES",
                target="the coordinator's own access (for the per-address comparison)",
                vantage=COORDINATOR,
                probe="internet_reach",
                params={"urls": urls, "require": "any"},
                threshold={"feature": "per_address"},
                deadline_s=REACH_DEADLINE_S,
                # reaching nothing is no fault of the coordinator: only evidence
                fn=_evidence_only(url_filter.run_reach),
            ))
    for feature in audit_features:
        checks.append(Check(
            check_id=f"FILTER-FEATURES/{room.id}/{feature}",
            requirement="FILTER-FEATURES",
            target=f"{FEATURE_NAMES[feature][0]} (room {room.id})",
            vantage="derived",
            probe=None,
            threshold={"feature": feature},
            deadline_s=1.0,
            derive=_feature_judge(room.id, feature, reach_id),
        ))
    if "web_management" in features:
        if room.router.web_url:
            checks.append(_router_check(room, "web_management", room.router.web_url))
        else:
            checks.append(_constant(room, "web_management", ProbeOutcome(Status.WARN, Text(
                "web management not checked: the site file gives no router.web_url",
                "未检查 Web 管理：站点配置中没有 router.web_url"), {NOT_PROOF: True}),
                "router web management"))
    if "remote_management" in features:
        if cfg.remote_management_url:
            checks.append(_router_check(room, "remote_management", cfg.remote_management_url))
        else:
            checks.append(_constant(room, "remote_management", ProbeOutcome(Status.WARN, Text(
                "remote management not demonstrated: give the router's remote management "
                "address as filter_audit.remote_management_url",
                "未演示远程管理：请在 filter_audit.remote_management_url 中"
                "填写路由器的远程管理地址")),
                "router remote management"))
    return checks


def _evidence_only(run: ProbeFn) -> ProbeFn:
    async def fn(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
        outcome = await run(params, deadline_s)
        if outcome.status == Status.FAIL:
            outcome = replace(outcome, status=Status.SKIP)
        return outcome

    return fn
