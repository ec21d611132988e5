"""deploy/alertmanager.yml: where the province's alerts go.

The routing tree follows the expected-sites labels: everything reaches the province's
duty desk; a city's alerts also reach its education bureau, a site's its school (both
`continue`, so nobody upstream is left out). Alerts are grouped per site and problem
class, so a failing site is one message, not one per rule. A site that is down inhibits
its other alerts: its figures are stale, the outage is the news.

School robots (DingTalk, WeCom, Feishu) do not read Alertmanager's JSON: each receiver's
webhook goes to a relay that speaks the robot's format (docs/runbook.md "Alert delivery");
e-mail is Alertmanager's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RELAY = "http://127.0.0.1:9097/alertmanager"


@dataclass(frozen=True)
class Receiver:
    """One place alerts go: a relay webhook (robots), e-mail, or both."""

    name: str
    matchers: tuple[str, ...] = ()  # empty: the root (the province's duty desk)
    webhook_url: str | None = None
    email_to: str | None = None
    routes: tuple[Receiver, ...] = field(default=())


EXAMPLE = Receiver(
    "province-duty", webhook_url=f"{RELAY}/province-duty",
    email_to="readiness-duty@province.example",
    routes=(Receiver("city-Nanning", ('city="Nanning"',),
                     webhook_url=f"{RELAY}/city-Nanning",
                     routes=(Receiver("site-GX-2026-017", ('site="GX-2026-017"',),
                                      webhook_url=f"{RELAY}/site-GX-2026-017"),)),))


@dataclass(frozen=True)
class Pacing:
    group_wait: str = "30s"
    group_interval: str = "5m"
    repeat_interval: str = "4h"  # a dead site is said again every 4 h until it is back


def _route(r: Receiver) -> dict[str, Any]:
    route: dict[str, Any] = {"receiver": r.name}
    if r.matchers:
        route["matchers"] = list(r.matchers)
        route["continue"] = True
    if r.routes:
        # an alert that matches a child route goes to the child only: the first child,
        # matching everything and continuing, keeps this receiver told as well
        route["routes"] = [{"receiver": r.name, "continue": True},
                           *(_route(child) for child in r.routes)]
    return route


def _receivers(r: Receiver) -> list[dict[str, Any]]:
    out: dict[str, Any] = {"name": r.name}
    if r.webhook_url:
        out["webhook_configs"] = [{"url": r.webhook_url, "send_resolved": True}]
    if r.email_to:
        out["email_configs"] = [{"to": r.email_to, "send_resolved": True}]
    return [out] + [x for child in r.routes for x in _receivers(child)]


def alertmanager_config(root: Receiver = EXAMPLE, pacing: Pacing | None = None, *,
                        smtp: bool = True) -> dict[str, Any]:
    pacing = pacing or Pacing()
    config: dict[str, Any] = {}
    if smtp:
        config["global"] = {
            "smtp_smarthost": "smtp.province.example:587",
            "smtp_from": "readiness-alerts@province.example",
            "smtp_auth_username": "readiness-alerts@province.example",
            "smtp_auth_password_file": "/etc/alertmanager/smtp.password",
            "smtp_require_tls": True}
    route = _route(root)
    route.update({"group_by": ["province", "city", "site", "alertname"],
                  "group_wait": pacing.group_wait, "group_interval": pacing.group_interval,
                  "repeat_interval": pacing.repeat_interval})
    config["route"] = route
    config["receivers"] = _receivers(root)
    config["inhibit_rules"] = [{
        "source_matchers": ['alertname=~"ReadinessSiteDown|ReadinessSiteNeverReported"'],
        "target_matchers": ['alertname=~"ReadinessNoRecentRun|ReadinessRunNotSigned|'
                            'ReadinessNotReadyBeforeExam"'],
        "equal": ["site"]}]
    return config
