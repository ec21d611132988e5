"""The province's own list of the sites it expects and their exam sessions, made from the
site files it receives, as Prometheus recording rules (deploy/expected-sites.rules.yml).

Why rules and not the sites' own series: a site that never reported, or stopped, has no
series to alert on; and a site must not be able to silence the province's alerts by
editing its exam dates. The list is data the province owns, loaded beside the alerting
rules, so `promtool test rules` and the real Prometheus read the same thing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ..config.errors import ConfigError, ConfigIssue
from ..config.load import load_site_model

EXPECTED_SITE = "readiness:expected_site"
EXAM_START = "readiness:expected_exam_start_timestamp_seconds"
EXAM_END = "readiness:expected_exam_end_timestamp_seconds"


@dataclass(frozen=True)
class Session:
    name: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class ExpectedSite:
    province: str
    city: str
    code: str
    sessions: tuple[Session, ...] = ()

    @property
    def labels(self) -> dict[str, str]:
        return {"province": self.province, "city": self.city, "site": self.code}


def read_site(path: Path) -> ExpectedSite:
    """One site file's place and sessions; ConfigError names the file and the field."""
    model = load_site_model(path)
    province, city = model.site.province, model.site.city
    missing = [f"site.{name}" for name, value in (("province", province), ("city", city))
               if value is None]
    if missing or province is None or city is None:
        raise ConfigError([ConfigIssue(str(path), None, field, (
            "is missing: the province groups and routes alerts by it; add it under "
            "`site:` (e.g. province: GX, city: Nanning) and send the file again"))
            for field in missing])
    tz = ZoneInfo(model.timezone)
    sessions = []
    for index, s in enumerate(model.exam_sessions):
        start = s.start if s.start.tzinfo else s.start.replace(tzinfo=tz)
        sessions.append(Session(s.name or f"session-{index + 1}", start,
                                start + timedelta(minutes=s.duration_min)))
    return ExpectedSite(province, city, model.site.code, tuple(sessions))


def read_sites(paths: Iterable[Path]) -> list[ExpectedSite]:
    """Every file read, every mistake collected; two files with one site code is a
    mistake too (the second would hide the first's alerts)."""
    sites: list[ExpectedSite] = []
    issues: list[ConfigIssue] = []
    seen: dict[str, Path] = {}
    for path in paths:
        try:
            site = read_site(path)
        except ConfigError as err:
            issues += err.issues
            continue
        if site.code in seen:
            issues.append(ConfigIssue(str(path), None, "site.code", (
                f"{site.code!r} is also the code of {seen[site.code]}: each site file "
                "needs its own code; keep the newer file only")))
            continue
        seen[site.code] = path
        sites.append(site)
    if issues:
        raise ConfigError(issues)
    return sorted(sites, key=lambda s: (s.province, s.city, s.code))


def _constant(record: str, value: float, labels: dict[str, str]) -> dict[str, Any]:
    # a copy each: the YAML must not turn shared dicts into anchors a person cannot read
    return {"record": record, "expr": f"vector({value:.0f})", "labels": dict(labels)}


def expected_rules(sites: Iterable[ExpectedSite], *, interval: str = "60s") -> dict[str, Any]:
    rules: list[dict[str, Any]] = []
    for site in sites:
        rules.append(_constant(EXPECTED_SITE, 1, site.labels))
        for session in site.sessions:
            labels = {**site.labels, "session": session.name}
            rules.append(_constant(EXAM_START, session.start.timestamp(), labels))
            rules.append(_constant(EXAM_END, session.end.timestamp(), labels))
    return {"groups": [{"name": "readiness-expected-sites", "interval": interval,
                        "rules": rules}]}
