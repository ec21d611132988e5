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
the seats may not) for the blocked names' real addresses (the route's `prepare` step);
the seat then tries them directly. What to try comes from the room's `filter_audit`
block (see AuditConfig). Verdicts are readiness/judges/filtering.py's.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..checks import (
    CONFIGURATION,
    COORDINATOR,
    AgentRoute,
    Check,
    nic_link,
    uplink_link,
)
from ..config.profile import FilterFeaturesThresholds, WanFloorThresholds, WanPolicyThresholds
from ..config.site import Room, WanEndpoint
from ..judges.filtering import FEATURE_NAMES
from ..results import NOT_PROOF, Status
from ..subject import Kind, Subject
from . import subjects
from .context import PlanContext, thresholds_of
from .knobs import knobs

if TYPE_CHECKING:
    from ..config.profile import Requirement

AUDIT_DEADLINE_S = 30.0
REACH_DEADLINE_S = 15.0
ROUTER_DEADLINE_S = 10.0
# the profile's words for what candidates may reach (WanPolicyThresholds)
EXAM_SITES_ONLY, NO_INTERNET = "exam_sites_only", "none"
WAN_DEADLINE_S = 60.0
WAN_FALLBACK_S = 15.0  # extra time for trying the next endpoint after one that errs
SERVER_LABEL = "exam server"  # as planning.agents names the exam server's agent


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




def _agent_port(ctx: PlanContext) -> int:
    return ctx.site.model.agent.port


# -- WAN-FLOOR --------------------------------------------------------------------------


def wan_params(endpoint: WanEndpoint, floor_mbps: float, allowance_pct: float,
               ) -> dict[str, Any]:
    params: dict[str, Any] = {"kind": endpoint.kind, "floor_mbps": floor_mbps,
                              "overhead_allowance_pct": allowance_pct,
                              **knobs("wan_bandwidth"),
                              "port": endpoint.port}
    if endpoint.kind == "iperf3":
        params.update(host=endpoint.host or urlsplit(endpoint.url or "").hostname)
    else:
        params["url"] = endpoint.url
    return params


def plan_wan_floor(ctx: PlanContext, req: Requirement, room: Room) -> list[Check]:
    th = thresholds_of(req, WanFloorThresholds)
    endpoints = [wan_params(e, th.floor_mbps, th.overhead_allowance_pct)
                 for e in room.wan_endpoints]
    if not endpoints:
        return []
    check = Check(
        check_id=f"WAN-FLOOR/{room.id}",
        requirement="WAN-FLOOR",
        subject=Subject(Kind.UPLINK, "uplink", room.id),
        vantage=COORDINATOR,
        # the endpoints in order: the next one only when one errs
        probe="wan_floor",
        params={"endpoints": endpoints},
        threshold={"floor_mbps": th.floor_mbps,
                   "overhead_allowance_pct": th.overhead_allowance_pct},
        deadline_s=WAN_DEADLINE_S + WAN_FALLBACK_S * (len(endpoints) - 1),
        exclusive=True,
        # the uplink and the measuring host's card: it runs beside the room load and other
        # LAN tests that load neither (not beside the seat pairs: they may test a seat
        # without an agent from here)
        links=frozenset({uplink_link(room.id), nic_link(COORDINATOR)}),
        judge="filtering.wan_floor",
        judge_params={"thresholds": th, "where": SERVER_LABEL},
    )
    if th.vantage == "exam_server" and ctx.site.secret("agent.token") is not None:
        # the agent is asked for one endpoint (its allow-list checks a probe's targets,
        # not a list of endpoints); without an agent, the same one from here, and a pass
        # only warns. (A site without agents at all measures from here, as planned.)
        server = room.exam_servers.primary
        check.vantage = f"agent {SERVER_LABEL}"
        check.probe = "wan_bandwidth"
        check.params = endpoints[0]
        check.agent = AgentRoute(SERVER_LABEL, server.address, _agent_port(ctx),
                                 when_absent="coordinator", fallback_params=endpoints[0])
        # measured from the server, or from here when its agent does not answer
        check.links = check.links | {nic_link(server.address)}
    return [check]


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
        # a fresh name each run: no resolver can have it cached, so its answer is live
        "subdomain_label": f"rdy-{ctx.run_token}",
        "exam_windows": [[s.isoformat(), e.isoformat()]
                         for s, e in ctx.site.session_windows()],
        "vantage_is_seat": True,
        **knobs("url_filter"),
        # with no internet at all even a ping out is a leak
        "icmp": mode == NO_INTERNET,
    }


def _control(cfg: AuditConfig) -> dict[str, Any]:
    """What the coordinator asks to learn the blocked names' real addresses."""
    return {"control_resolver_addresses": list(cfg.control_resolvers),
            "known_addresses": {k.lower().rstrip("."): list(v)
                                for k, v in cfg.blocked_addresses.items()}}


def _audit_checks(ctx: PlanContext, req_id: str, room: Room, mode: str, cfg: AuditConfig,
                  seats: list[Any], suffix: str) -> list[Check]:
    threshold = {"candidates_internet": mode}
    # from the coordinator: it learns the control answers itself, and a seat's view is
    # not proven (the probe turns pass and fail into warn)
    here = {**audit_params(ctx, room, mode, cfg, COORDINATOR), "vantage_is_seat": False,
            **_control(cfg)}
    # never beside the uplink's bandwidth test: on a full uplink a connection to a blocked
    # site goes unanswered as if the router dropped it (a seat's whole audit read 44
    # attempts as stopped while the WAN floor test ran), and an exam site as if it were
    # down. Audits run beside each other (a quiet claim).
    quiet = frozenset({uplink_link(room.id)})
    if ctx.site.secret("agent.token") is None or not seats:
        return [Check(
            check_id=f"{req_id}/{room.id}/{suffix}coordinator",
            requirement=req_id,
            subject=subjects.room_subject(room), aspect="no_agents",
            vantage=COORDINATOR,
            probe="url_filter",
            params=here,
            threshold=threshold,
            deadline_s=AUDIT_DEADLINE_S,
            quiet_links=quiet,
            judge="filtering.audit",
            judge_params={"router": subjects.router(room)},
        )]
    # a seat without an agent is not audited from another address (the proctor's own
    # policy may rightly let it out): its row says what to start, and counts as unproven
    seat_params = {**here, "vantage_is_seat": True}
    for key in _control(cfg):
        seat_params.pop(key)
    return [Check(
        check_id=f"{req_id}/{room.id}/{suffix}{seat.label}",
        requirement=req_id,
        subject=subjects.seat(room, seat.label, seat.address),
        vantage=f"agent {seat.label}",
        probe="url_filter",
        params=dict(seat_params),
        threshold=threshold,
        deadline_s=AUDIT_DEADLINE_S,
        quiet_links=quiet,
        agent=AgentRoute(seat.label, seat.address, _agent_port(ctx),
                         when_absent="warn",
                         prepare="url_filter_control", prepare_params=_control(cfg)),
        judge="filtering.seat_audit",
        judge_params={"label": seat.label, "router": subjects.router(room)},
    ) for seat in seats]


def _server_reach_check(ctx: PlanContext, room: Room) -> Check | None:
    subnet = ipaddress.ip_network(room.subnet)

    def outside(url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme == "tcp":
            return False
        try:
            return ipaddress.ip_address(parts.hostname or "") not in subnet
        except ValueError:
            return True  # a name: on the internet

    urls = [u for u in [*room.exam_urls, *_endpoint_targets(room)] if outside(u)]
    if not urls:
        return None
    server = room.exam_servers.primary
    params = {"urls": urls, "require": "any", **knobs("internet_reach")}
    return Check(
        check_id=f"WAN-POLICY/{room.id}/exam-server",
        requirement="WAN-POLICY",
        subject=subjects.exam_server(room), aspect="internet",
        vantage=f"agent {SERVER_LABEL}",
        probe="internet_reach",
        params=params,
        threshold={"exam_server_internet": "required"},
        deadline_s=REACH_DEADLINE_S,
        agent=AgentRoute(SERVER_LABEL, server.address, _agent_port(ctx),
                         when_absent="coordinator", fallback_params=params),
        judge="filtering.server_reach",
        judge_params={"where": SERVER_LABEL},
    )


def plan_wan_policy(ctx: PlanContext, req: Requirement, room: Room) -> list[Check]:
    th = thresholds_of(req, WanPolicyThresholds)
    cfg = audit_config(room)
    if not room.exam_urls and not room.blocked_samples and not room.wan_endpoints:
        return []
    checks = _audit_checks(ctx, "WAN-POLICY", room, th.candidates_internet, cfg,
                           ctx.site.seats[room.id], "")
    if th.exam_server_internet == "required":
        reach = _server_reach_check(ctx, room)
        if reach:
            checks.append(reach)
    return checks


# -- FILTER-FEATURES --------------------------------------------------------------------


def _router_check(room: Room, feature: str, url: str) -> Check:
    return Check(
        check_id=f"FILTER-FEATURES/{room.id}/{feature}",
        requirement="FILTER-FEATURES",
        subject=subjects.router(room), aspect=feature,
        vantage=COORDINATOR,
        probe="router_web",
        params={"url": url, **knobs("router_web")},
        threshold={"feature": feature},
        deadline_s=ROUTER_DEADLINE_S,
        judge="filtering.router_web",
    )


def _constant(room: Room, feature: str, what: tuple[str, str], why: tuple[str, str],
              action: tuple[str, str], measured: dict[str, Any] | None = None) -> Check:
    """A feature the site file gives nothing to measure: a warn that says what to add
    (its message: what, then why or what to do; its finding: what, what to do)."""
    return Check(
        check_id=f"FILTER-FEATURES/{room.id}/{feature}",
        requirement="FILTER-FEATURES",
        subject=subjects.router(room), aspect=feature,
        vantage=CONFIGURATION,
        threshold={"feature": feature},
        deadline_s=1.0,
        judge="filtering.constant",
        judge_params={"status": Status.WARN.value, "en": f"{what[0]}: {why[0]}",
                      "zh": f"{what[1]}：{why[1]}", "measured": measured or {},
                      "code": f"filter.{feature}_unchecked", "what": list(what),
                      "action": list(action)},
    )


def plan_filter_features(ctx: PlanContext, req: Requirement, room: Room) -> list[Check]:
    features = list(thresholds_of(req, FilterFeaturesThresholds).features)
    if not features:
        return []
    cfg = audit_config(room)
    checks: list[Check] = []
    audit_features = [f for f in features if f in FEATURE_NAMES]
    if audit_features and (room.exam_urls or room.blocked_samples):
        seats = ctx.site.seats[room.id][:max(1, cfg.sample_seats)]
        checks += _audit_checks(ctx, "FILTER-FEATURES", room, EXAM_SITES_ONLY,
                                cfg, seats, "audit/")
    reach_id = f"FILTER-FEATURES/{room.id}/per_address/coordinator"
    if "per_address" in features:
        urls = [u for u in [*_endpoint_targets(room), *room.blocked_samples]
                if not u.startswith("tcp:")]
        if urls:
            checks.append(Check(
                check_id=reach_id,
                requirement="FILTER-FEATURES",
                subject=Subject(Kind.COORDINATOR, "coordinator", room.id),
                aspect="own_access",
                vantage=COORDINATOR,
                probe="internet_reach",
                params={"urls": urls, "require": "any", **knobs("internet_reach")},
                threshold={"feature": "per_address"},
                deadline_s=REACH_DEADLINE_S,
                judge="filtering.evidence_only",
            ))
    for feature in audit_features:
        checks.append(Check(
            check_id=f"FILTER-FEATURES/{room.id}/{feature}",
            requirement="FILTER-FEATURES",
            subject=subjects.router(room), aspect=feature,
            vantage="derived",
            threshold={"feature": feature},
            deadline_s=1.0,
            judge="filtering.feature",
            judge_params={"room_id": room.id, "feature": feature, "reach_id": reach_id},
        ))
    if "web_management" in features:
        if room.router.web_url:
            checks.append(_router_check(room, "web_management", room.router.web_url))
        else:
            checks.append(_constant(
                room, "web_management", ("web management not checked", "未检查 Web 管理"),
                ("the site file gives no router.web_url", "站点配置中没有 router.web_url"),
                ("give the router's web management address as router.web_url",
                 "请在 router.web_url 中填写路由器的 Web 管理地址"), {NOT_PROOF: True}))
    if "remote_management" in features:
        if cfg.remote_management_url:
            checks.append(_router_check(room, "remote_management", cfg.remote_management_url))
        else:
            give = ("give the router's remote management address as "
                    "filter_audit.remote_management_url",
                    "请在 filter_audit.remote_management_url 中填写路由器的远程管理地址")
            checks.append(_constant(
                room, "remote_management", ("remote management not demonstrated", "未演示远程管理"),
                give, give))
    return checks


# the requirements this module plans checks for (readiness/planning/__init__.py finds it)
PLANS = {"WAN-FLOOR": [plan_wan_floor], "WAN-POLICY": [plan_wan_policy],
         "FILTER-FEATURES": [plan_filter_features]}
