"""The deploy/ files, generated from the metric names of metrics.py so a rename cannot
leave an alert or a dashboard panel querying nothing: the site Prometheus (agent mode),
the provincial Prometheus with its alerting rules, and the Grafana dashboard.
`python3 deploy/generate.py` writes them; tests/test_serve_deploy.py compares."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from .alert_rules import Timing, alert_rules, m
from .alertmanager_config import alertmanager_config
from .expected_sites import ExpectedSite, Session, expected_rules

SITE_LABELS = ("province", "city", "site")
BY_SITE = "province, city, site"


def site_agent_config(*, serve_target: str = "127.0.0.1:9477",
                      province_url: str = "https://prometheus.province.example:9090/api/v1/write",
                      province: str = "PROVINCE", city: str = "CITY", site: str = "SITE-CODE",
                      scrape_interval: str = "60s",
                      password_file: str | None = "/etc/readiness/remote-write.password",
                      ca_file: str | None = "/etc/readiness/province-ca.crt",
                      ) -> dict[str, Any]:
    """The site's Prometheus in agent mode. The series keep the site code serve exports
    only when it is this agent's own: a site file whose code disagrees with the agent's
    `site` label sends nothing but `up`, and the province raises SiteNeverReported/Down
    rather than showing one site's figures under another's name. `instance` is the
    site code: every site scrapes 127.0.0.1:9477, which named no one."""
    write: dict[str, Any] = {"url": province_url}
    if password_file:
        write["basic_auth"] = {"username": site, "password_file": password_file}
    if ca_file:
        write["tls_config"] = {"ca_file": ca_file}
    return {
        "global": {"scrape_interval": scrape_interval,
                   "external_labels": {"province": province, "city": city, "site": site}},
        "scrape_configs": [{
            "job_name": "readiness", "metrics_path": "/metrics",
            "static_configs": [{"targets": [serve_target]}],
            "relabel_configs": [{"target_label": "instance", "replacement": site}],
            "metric_relabel_configs": [{"source_labels": ["site"], "regex": _literal(site),
                                        "action": "keep"}]}],
        "remote_write": [write],
    }


def _literal(text: str) -> str:
    """A relabel regex matching exactly `text` (RE2, anchored by Prometheus)."""
    return re.sub(r"([\\.^$|?*+()\[\]{}])", r"\\\1", text)


def province_config(*, rules_files: tuple[str, ...] = ("expected-sites.rules.yml",
                                                        "readiness.rules.yml"),
                    alertmanager: str | None = "127.0.0.1:9093",
                    evaluation_interval: str = "60s") -> dict[str, Any]:
    config: dict[str, Any] = {"global": {"evaluation_interval": evaluation_interval},
                              "rule_files": list(rules_files)}
    if alertmanager:
        config["alerting"] = {"alertmanagers": [{"static_configs": [
            {"targets": [alertmanager]}]}]}
    return config


def province_web_config(users: dict[str, str] | None = None, *,
                        cert_file: str = "/etc/prometheus/province.crt",
                        key_file: str = "/etc/prometheus/province.key") -> dict[str, Any]:
    """`--web.config.file` of the provincial Prometheus: TLS, and one user per site (its
    code) with the bcrypt hash of its password, so a write needs a site's password.
    Grafana and the province's staff log in the same way (one user of their own)."""
    users = users or {"SITE-CODE": "$2y$10$REPLACE.WITH.htpasswd.-nbBC.10.OUTPUT"}
    return {"tls_server_config": {"cert_file": cert_file, "key_file": key_file},
            "basic_auth_users": users}


def _panel(pid: int, title: str, kind: str, exprs: list[tuple[str, str]], x: int, y: int,
           w: int = 12, h: int = 8, unit: str | None = None) -> dict[str, Any]:
    panel: dict[str, Any] = {
        "id": pid, "title": title, "type": kind,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "targets": [{"refId": chr(65 + i), "expr": expr, "legendFormat": legend,
                     "instant": kind in ("table", "stat", "state-timeline", "bargauge")}
                    for i, (expr, legend) in enumerate(exprs)]}
    if unit:
        panel["fieldConfig"] = {"defaults": {"unit": unit}, "overrides": []}
    return panel


def dashboard() -> dict[str, Any]:
    sel = 'province=~"$province", site=~"$site"'
    panels = [
        _panel(1, "考点 × 结论 · Sites × verdict", "table",
               [(f'{m("readiness_run_verdict")}{{{sel}}} == 1', "{{site}} {{verdict}}")], 0, 0),
        _panel(2, "下次考试 · Next exams", "table",
               [(f'{m("readiness_exam_start_timestamp_seconds")}{{{sel}}} * 1000',
                 "{{site}}")], 12, 0, unit="dateTimeAsIso"),
        _panel(3, "要求 · Requirements", "table",
               [(f'{m("readiness_requirement_status")}{{{sel}}} == 1',
                 "{{site}} {{requirement}} {{status}}")], 0, 8),
        _panel(4, "考场 · Rooms: seats answering / required", "bargauge",
               [(f'{m("readiness_seats_answering")}{{{sel}}}', "{{site}} {{room}} answering"),
                (f'{m("readiness_seats_required")}{{{sel}}}', "{{site}} {{room}} required")],
               12, 8),
        _panel(5, "考位 · Failing seats", "table",
               [(f'{m("readiness_seat_success")}{{{sel}}} == 0', "{{site}} {{room}} {{name}}")],
               0, 16),
        _panel(6, "考位吞吐 · Seat throughput", "bargauge",
               [(f'{m("readiness_lan_throughput_bytes_per_second")}{{{sel}}}',
                 "{{site}} {{name}} {{direction}} ({{peer}})")], 12, 16, unit="Bps"),
        _panel(7, "外网 · Uplink trend and floor", "timeseries",
               [(f'{m("readiness_uplink_bytes_per_second")}{{{sel}}}',
                 "{{site}} {{room}} {{direction}}"),
                (f'{m("readiness_uplink_floor_bytes_per_second")}{{{sel}}}',
                 "{{site}} {{room}} floor")], 0, 24, unit="Bps"),
        _panel(8, "摄像头 · Cameras: frame height", "bargauge",
               [(f'{m("readiness_camera_frame_height_pixels")}{{{sel}}}',
                 "{{site}} {{name}}")], 12, 24),
        _panel(9, "UPS 续航 · UPS runtime", "stat",
               [(f'{m("readiness_ups_runtime_remaining_seconds")}{{{sel}}}',
                 "{{site}} {{name}}")], 0, 32, unit="s"),
        _panel(10, "上次检查 · Last run", "table",
               [(f'{m("readiness_last_run_timestamp_seconds")}{{{sel}}} * 1000', "{{site}}")],
               12, 32, unit="dateTimeAsIso"),
    ]
    variables = [
        {"name": "datasource", "type": "datasource", "query": "prometheus"},
        {"name": "province", "type": "query", "datasource": {"type": "prometheus",
                                                             "uid": "${datasource}"},
         "query": f"label_values({m('readiness_build_info')}, province)",
         "includeAll": True, "multi": True, "current": {"text": "All", "value": "$__all"}},
        {"name": "site", "type": "query", "datasource": {"type": "prometheus",
                                                         "uid": "${datasource}"},
         "query": f'label_values({m("readiness_build_info")}{{province=~"$province"}}, site)',
         "includeAll": True, "multi": True, "current": {"text": "All", "value": "$__all"}},
    ]
    return {"uid": "readiness-province", "title": "readiness: 考点就绪 · exam site readiness",
            "schemaVersion": 39, "version": 1, "refresh": "1m", "time": {"from": "now-7d",
                                                                          "to": "now"},
            "templating": {"list": variables}, "panels": panels, "tags": ["readiness"]}


def panel_queries(board: dict[str, Any], **variables: str) -> list[tuple[str, str]]:
    """(panel title, PromQL) with the dashboard variables filled in, to run for real."""
    out = []
    for panel in board["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            for name, value in variables.items():
                expr = expr.replace(f"${name}", value)
            out.append((panel["title"], expr))
    return out


def _yaml(data: dict[str, Any], header: str) -> str:
    return header + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)


HEADER = "# GENERATED by deploy/generate.py from readiness/serve/deploy_files.py: edit there.\n"


AGENT_HEAD = """\
# The site's Prometheus in agent mode, on the proctor PC beside readiness serve:
#   Prometheus 2 (Debian 12's 2.42):  prometheus --enable-feature=agent \\
#   Prometheus 3:                     prometheus --agent \\
#     --config.file=site-agent.yml --storage.agent.path=/var/lib/prometheus/agent \\
#     --web.listen-address=127.0.0.1:9090
# Fill in province, city, site (the site file's site.code, also the write user and the
# instance), the province's URL, its CA certificate and this site's write password
# (one line, mode 600): docs/runbook.md "Remote write: TLS and passwords".
"""

PROVINCE_HEAD = """\
# The provincial Prometheus that receives every site's remote_write, over TLS with one
# password per site (province-web.yml), and alerts through Alertmanager:
#   prometheus --config.file=province.yml --web.config.file=province-web.yml \\
#     --web.enable-remote-write-receiver --storage.tsdb.path=/var/lib/prometheus/province
#   (the same flags on Prometheus 3)
# expected-sites.rules.yml is the province's list of sites and exam sessions, made from
# the site files it receives:  python3 deploy/generate.py expected-sites SITE.yaml...
"""

WEB_HEAD = """\
# --web.config.file of the provincial Prometheus: TLS, and a user per site (its code)
# with the bcrypt hash of its password:  htpasswd -nbBC 10 SITE-CODE 'PASSWORD'
# (the part after the colon). Certificates: docs/runbook.md "Remote write".
"""


# the sites of deploy/readiness.rules.test.yml: promtool's clock starts at 0 (1970), so
# their exams are hours after it; (code, hours to the exam)
RULES_TEST_SITES = (("GX-DEAD", 48), ("GX-NEVER", 240), ("GX-UNSIGNED", 72),
                    ("GX-STALE", 72), ("GX-FAILING", 12), ("GX-HEALTHY", 72))


def rules_test_sites() -> list[ExpectedSite]:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return [ExpectedSite("GX", "Nanning", code, (Session(
        "exam", epoch + timedelta(hours=h), epoch + timedelta(hours=h + 2)),))
        for code, h in RULES_TEST_SITES]


AM_HEAD = """\
# The province's Alertmanager (Debian: prometheus-alertmanager, 0.25):
#   prometheus-alertmanager --config.file=alertmanager.yml --storage.path=/var/lib/alertmanager
# Routes by province/city/site (edit the receivers in readiness/serve/alertmanager_config.py
# or here); robots through the relay, e-mail direct: docs/runbook.md "Alert delivery".
"""


def files(timing: Timing | None = None) -> dict[str, str]:
    return {
        "site-agent.yml": _yaml(site_agent_config(), HEADER + AGENT_HEAD),
        "province.yml": _yaml(province_config(), HEADER + PROVINCE_HEAD),
        "province-web.yml": _yaml(province_web_config(), HEADER + WEB_HEAD),
        "readiness.rules.yml": _yaml(alert_rules(timing), HEADER),
        "expected-sites.test.rules.yml": _yaml(expected_rules(rules_test_sites()), HEADER + (
            "# The expected sites of readiness.rules.test.yml (promtool test rules).\n")),
        "alertmanager.yml": _yaml(alertmanager_config(), HEADER + AM_HEAD),
        "grafana-dashboard.json": json.dumps(dashboard(), ensure_ascii=False, indent=2) + "\n",
    }


def write(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, text in files().items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        out.append(path)
    return out
