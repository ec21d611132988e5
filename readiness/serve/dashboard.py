"""deploy/grafana-dashboard.json: the province's view, generated from the metric names.

The site table is built from the province's expected-sites list (readiness:exam_in_seconds)
merged with each site's own series, so a site that never reported or went silent is a
row too, not a missing one. Tables ask for `format: table` (every series at once, labels
as columns) and read words, not 0/1, through value mappings; thresholds colour what needs
doing (an old last run, an exam close by, a site down).
"""

from __future__ import annotations

from typing import Any

from .alert_rules import EXAM_IN, m

SEL = 'province=~"$province", site=~"$site"'
BY = "province, city, site"
DS = {"type": "prometheus", "uid": "${datasource}"}


def _target(ref: str, expr: str, legend: str = "", table: bool = False,
            instant: bool = True) -> dict[str, Any]:
    target: dict[str, Any] = {"refId": ref, "expr": expr, "legendFormat": legend,
                              "instant": instant, "range": not instant}
    if table:
        target["format"] = "table"
    return target


def _map(*pairs: tuple[str, str, str]) -> list[dict[str, Any]]:
    """Value mappings: (value, text, colour)."""
    return [{"type": "value", "options": {
        value: {"text": text, "color": color, "index": i}
        for i, (value, text, color) in enumerate(pairs)}}]


def _steps(*steps: tuple[float | None, str]) -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"value": v, "color": c} for v, c in steps]}


UP = _map(("0", "停止 down", "red"), ("1", "在线 up", "green"))
SIGNED = _map(("0", "未签名 not signed", "red"), ("1", "已签名 signed", "green"))
VERDICT = _map(("ready", "就绪 ready", "green"), ("not_ready", "未就绪 not ready", "red"),
               ("not_verified", "无法验证 not verified", "orange"),
               ("not_signed", "未签名 not signed", "red"))
EXAM_STEPS = _steps((None, "red"), (1800, "orange"), (86400, "yellow"), (7 * 86400, "green"))
# +Inf in readiness:exam_in_seconds: an expected site without an exam session to come
NONE_PLANNED = [{"type": "range", "options": {"from": 1e12, "to": None, "result": {
    "text": "未安排 none planned", "color": "text", "index": 0}}}]
AGE_STEPS = _steps((None, "green"), (86400, "orange"), (3 * 86400, "red"))


def _override(column: str, **props: Any) -> dict[str, Any]:
    properties = [{"id": key, "value": value} for key, value in props.items()]
    return {"matcher": {"id": "byName", "options": column}, "properties": properties}


def site_table(pid: int, x: int, y: int) -> dict[str, Any]:
    """One row per expected site: verdict, signed, last run age, time to exam, failing
    required rules, `up`."""
    targets = [
        _target("A", f"{EXAM_IN}{{{SEL}}}", table=True),
        _target("B", f"max by ({BY}, verdict) ({m('readiness_run_verdict')}{{{SEL}}} == 1)",
                table=True),
        _target("C", f"max by ({BY}) ({m('readiness_run_signed')}{{{SEL}}})", table=True),
        _target("D", f"time() - max by ({BY}) "
                     f"({m('readiness_last_run_timestamp_seconds')}{{{SEL}}})", table=True),
        _target("E", f'count by ({BY}) ({m("readiness_requirement_status")}{{{SEL}, '
                     'required="true", status=~"fail|error"} == 1)', table=True),
        _target("F", f'max by ({BY}) (up{{job="readiness", {SEL}}})', table=True),
    ]
    names = {"Value #A": "距考试 · time to exam", "Value #C": "签名 · signed",
             "Value #D": "上次检查距今 · last run age",
             "Value #E": "未通过必需要求 · failing rules", "Value #F": "在线 · up",
             "verdict": "结论 · verdict"}
    return {
        "id": pid, "title": "考点 · Sites (expected list, verdict, signed, last run, exam, up)",
        "type": "table", "datasource": DS, "gridPos": {"x": x, "y": y, "w": 24, "h": 10},
        "targets": targets,
        "transformations": [
            {"id": "merge", "options": {}},
            {"id": "organize", "options": {
                "excludeByName": {"Time": True, "Value #B": True},
                "indexByName": {"province": 0, "city": 1, "site": 2, "verdict": 3,
                                "Value #C": 4, "Value #D": 5, "Value #A": 6, "Value #E": 7,
                                "Value #F": 8},
                "renameByName": names}}],
        "fieldConfig": {"defaults": {"custom": {"cellOptions": {"type": "color-text"}},
                                     "noValue": "–"},
                        "overrides": [
                            _override(names["verdict"], mappings=VERDICT),
                            _override(names["Value #C"], mappings=SIGNED),
                            _override(names["Value #D"], unit="s", thresholds=AGE_STEPS,
                                      decimals=0),
                            _override(names["Value #A"], unit="s", thresholds=EXAM_STEPS,
                                      decimals=0,
                                      mappings=NONE_PLANNED),
                            _override(names["Value #E"], thresholds=_steps(
                                (None, "green"), (1, "red"))),
                            _override(names["Value #F"], mappings=UP)]},
        "options": {"showHeader": True, "sortBy": [{"displayName": names["Value #A"]}]},
    }


def _panel(pid: int, title: str, kind: str, targets: list[dict[str, Any]], x: int, y: int,
           w: int = 12, h: int = 8, unit: str | None = None,
           mappings: list[dict[str, Any]] | None = None,
           thresholds: dict[str, Any] | None = None) -> dict[str, Any]:
    defaults: dict[str, Any] = {}
    if unit:
        defaults["unit"] = unit
    if mappings:
        defaults["mappings"] = mappings
    if thresholds:
        defaults["thresholds"] = thresholds
        defaults["color"] = {"mode": "thresholds"}
    return {"id": pid, "title": title, "type": kind, "datasource": DS,
            "gridPos": {"x": x, "y": y, "w": w, "h": h}, "targets": targets,
            "fieldConfig": {"defaults": defaults, "overrides": []}}


def dashboard() -> dict[str, Any]:
    sel = SEL
    panels = [
        site_table(1, 0, 0),
        _panel(2, "倒计时 · Countdown to the next exam", "stat",
               [_target("A", f"min({EXAM_IN}{{{sel}}} > -7200)", "next exam")], 0, 10, w=6,
               h=6, unit="dtdurations", thresholds=EXAM_STEPS),
        _panel(3, "在线 · up per site", "state-timeline",
               [_target("A", f'max by (site) (up{{job="readiness", {sel}}})', "{{site}}",
                        instant=False)], 6, 10, w=18, h=6, mappings=UP,
               thresholds=_steps((None, "red"), (1, "green"))),
        _panel(4, "要求 · Requirements not passing", "table",
               [_target("A", f'{m("readiness_requirement_status")}{{{sel}, '
                             'status=~"fail|error|warn"} == 1', table=True)], 0, 16,
               thresholds=_steps((None, "red"))),
        _panel(5, "考场 · Rooms: seats answering / required", "bargauge",
               [_target("A", f'{m("readiness_seats_answering")}{{{sel}}}',
                        "{{site}} {{room}} answering"),
                _target("B", f'{m("readiness_seats_required")}{{{sel}}}',
                        "{{site}} {{room}} required")], 12, 16),
        _panel(6, "考位 · Failing seats", "table",
               [_target("A", f'{m("readiness_seat_success")}{{{sel}}} == 0', table=True)],
               0, 24, mappings=_map(("0", "不通过 fail", "red"), ("1", "通过 pass", "green"))),
        _panel(7, "考位吞吐 · Seat throughput", "bargauge",
               [_target("A", f'{m("readiness_lan_throughput_bytes_per_second")}{{{sel}}}',
                        "{{site}} {{name}} {{direction}} ({{peer}})")], 12, 24, unit="Bps"),
        _panel(8, "外网 · Uplink trend and floor", "timeseries",
               [_target("A", f'{m("readiness_uplink_bytes_per_second")}{{{sel}}}',
                        "{{site}} {{room}} {{direction}}", instant=False),
                _target("B", f'{m("readiness_uplink_floor_bytes_per_second")}{{{sel}}}',
                        "{{site}} {{room}} floor", instant=False)], 0, 32, unit="Bps"),
        _panel(9, "摄像头 · Cameras: frame height", "bargauge",
               [_target("A", f'{m("readiness_camera_frame_height_pixels")}{{{sel}}}',
                        "{{site}} {{name}}")], 12, 32,
               thresholds=_steps((None, "red"), (720, "green"))),
        _panel(10, "UPS 续航 · UPS runtime", "stat",
               [_target("A", f'{m("readiness_ups_runtime_remaining_seconds")}{{{sel}}}',
                        "{{site}} {{name}}")], 0, 40, unit="s",
               thresholds=_steps((None, "red"), (600, "green"))),
        _panel(11, "先做 · First fix per site", "table",
               [_target("A", f'{m("readiness_first_fix_info")}{{{sel}}}', table=True)],
               12, 40),
    ]

    def variable(name: str, query: str) -> dict[str, Any]:
        # refresh 2: on every time-range change, so a site that just arrived is listed
        return {"name": name, "type": "query", "datasource": DS, "query": query,
                "refresh": 2, "includeAll": True, "multi": True,
                "current": {"text": "All", "value": "$__all"}}

    variables = [
        {"name": "datasource", "type": "datasource", "query": "prometheus"},
        # from the province's list: a site that never reported can be picked too
        variable("province", "label_values(readiness:expected_site, province)"),
        variable("site", 'label_values(readiness:expected_site{province=~"$province"}, site)'),
    ]
    return {"uid": "readiness-province", "title": "readiness: 考点就绪 · exam site readiness",
            "schemaVersion": 39, "version": 2, "refresh": "1m",
            "time": {"from": "now-7d", "to": "now"},
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
