"""The deploy/ files, generated from the metric names of metrics.py so a rename cannot
leave an alert or a dashboard panel querying nothing: the site Prometheus (agent mode),
the provincial Prometheus with its alerting rules, and the Grafana dashboard.
`python3 deploy/generate.py` writes them; tests/test_serve_deploy.py compares."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from .metrics import METRIC_NAMES

SITE_LABELS = ("province", "city", "site")
BY_SITE = "province, city, site"


def m(name: str) -> str:
    """A metric name, checked against the exporter's own list."""
    if name not in METRIC_NAMES:
        raise KeyError(f"{name} is not a metric readiness serve exports")
    return name


def site_agent_config(*, serve_target: str = "127.0.0.1:9477",
                      province_url: str = "https://prometheus.province.example/api/v1/write",
                      province: str = "PROVINCE", city: str = "CITY", site: str = "SITE-CODE",
                      scrape_interval: str = "60s") -> dict[str, Any]:
    return {
        "global": {"scrape_interval": scrape_interval,
                   "external_labels": {"province": province, "city": city, "site": site}},
        "scrape_configs": [{"job_name": "readiness", "metrics_path": "/metrics",
                            "static_configs": [{"targets": [serve_target]}]}],
        "remote_write": [{"url": province_url}],
    }


def province_config(*, rules_file: str = "readiness.rules.yml",
                    alertmanager: str | None = "127.0.0.1:9093") -> dict[str, Any]:
    config: dict[str, Any] = {"global": {"evaluation_interval": "60s"},
                              "rule_files": [rules_file]}
    if alertmanager:
        config["alerting"] = {"alertmanagers": [{"static_configs": [
            {"targets": [alertmanager]}]}]}
    return config


def _until_exam() -> str:
    return f"({m('readiness_exam_start_timestamp_seconds')} - time())"


def alert_rules() -> dict[str, Any]:
    exam_soon = f"{_until_exam()} > 0 and {_until_exam()} < 86400"
    exam_3d = f"{_until_exam()} > 0 and {_until_exam()} < 3 * 86400"
    return {"groups": [{"name": "readiness", "rules": [
        {"alert": "ReadinessRequiredRuleFailingBeforeExam",
         "expr": f'max by ({BY_SITE}, requirement) ('
                 f'{m("readiness_requirement_status")}{{required="true",status="fail"}}) == 1 '
                 f"and on ({BY_SITE}) ({exam_soon})",
         "for": "5m", "labels": {"severity": "critical"},
         "annotations": {
             "summary": "{{ $labels.site }}: {{ $labels.requirement }} fails, exam within 24 h",
             "description": "考点 {{ $labels.site }}（{{ $labels.city }}）的必需要求 "
                            "{{ $labels.requirement }} 未通过，距考试不足 24 小时。"
                            " Site {{ $labels.site }} fails the required rule "
                            "{{ $labels.requirement }} less than 24 h before its exam."}},
        {"alert": "ReadinessSiteSilent",
         "expr": f"count by ({BY_SITE}) (last_over_time({m('readiness_build_info')}[1d])) "
                 f"unless count by ({BY_SITE}) "
                 f"(present_over_time({m('readiness_build_info')}[2h]))",
         "labels": {"severity": "warning"},
         "annotations": {
             "summary": "{{ $labels.site }} has not reported for 2 h",
             "description": "考点 {{ $labels.site }} 已 2 小时未上报：请检查考务机上的 "
                            "readiness serve 和 Prometheus 代理。 Site {{ $labels.site }} "
                            "has sent nothing for 2 h: check readiness serve and the "
                            "Prometheus agent on its proctor PC."}},
        {"alert": "ReadinessNeverPassedBeforeExam",
         "expr": f"({exam_3d}) and on ({BY_SITE}) "
                 f"({m('readiness_last_ready_timestamp_seconds')} == 0)",
         "for": "5m", "labels": {"severity": "warning"},
         "annotations": {
             "summary": "{{ $labels.site }}: exam within 3 days, never ready",
             "description": "考点 {{ $labels.site }} 3 天内考试，但从未通过全部检查。 "
                            "Site {{ $labels.site }} has its exam within 3 days and no run "
                            "has ever been ready."}},
    ]}]}


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


def files() -> dict[str, str]:
    return {
        "site-agent.yml": _yaml(site_agent_config(), HEADER + (
            "# The site's Prometheus in agent mode, on the proctor PC beside readiness serve:\n"
            "#   prometheus --enable-feature=agent --config.file=site-agent.yml \\\n"
            "#     --storage.agent.path=/var/lib/prometheus/agent "
            "--web.listen-address=127.0.0.1:9090\n"
            "# Fill in province, city, site (the site file's site.code) and the province's "
            "URL.\n")),
        "province.yml": _yaml(province_config(), HEADER + (
            "# The provincial Prometheus that receives every site's remote_write:\n"
            "#   prometheus --config.file=province.yml --web.enable-remote-write-receiver \\\n"
            "#     --storage.tsdb.path=/var/lib/prometheus/province\n")),
        "readiness.rules.yml": _yaml(alert_rules(), HEADER),
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
