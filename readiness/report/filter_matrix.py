"""The filter audit as one matrix: blocked samples x bypass techniques, over every seat.

The url_filter probe runs the same audit from each seat: forty seats give forty copies
of the same leaks. An inspector needs each leak once, with the seats that showed it,
and one cell per (site, technique) saying how it was blocked or that it leaked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..results import CheckResult, RunRecord, Text
from ..subject import Kind
from .digest import seat_ranges

# The filter audit's techniques, in the order an inspector reads them; an attempt of
# another technique (e.g. "plain", the site by its own name) gets a column of its own.
TECHNIQUES: tuple[tuple[tuple[str, ...], Text], ...] = (
    (("dns",), Text("DNS", "DNS 解析")),
    (("direct_ip",), Text("direct IP", "直连 IP")),
    (("resolver",), Text("other resolver", "外部 DNS")),
    (("doh",), Text("DoH", "DoH")),
    (("subdomain",), Text("subdomain", "子域名")),
    (("keyword", "path_variant"), Text("keyword", "关键词")),
    (("ipv6",), Text("IPv6", "IPv6")),
)
EXTRA_TECHNIQUES = {"plain": Text("by name (HTTP)", "按域名访问")}
# the probe's feature verdict standing in for a technique it did not try
FEATURE_OF = {"keyword": "keyword", "ipv6": "ipv6"}
FEATURE_WORDS = {
    "not_tested": Text("not tested", "未测试"),
    "not_verified": Text("not verified", "未验证"),
    "not_applicable": Text("no IPv6 route", "无 IPv6 路由"),
    "not_shown": Text("not shown", "未体现"),
}
RANDOM_LABEL = re.compile(r"rdy-[0-9a-f]{6,}")


def how_text(code: str) -> Text:
    from probes.url_filter import HOW  # the probe's own words for each way of blocking

    en, zh = HOW.get(code, (code.replace("_", " "), code.replace("_", " ")))
    return Text(en, zh)


@dataclass
class Cell:
    leaked_seats: set[str] = field(default_factory=set)
    blocked_by: dict[str, None] = field(default_factory=dict)  # ordered set
    open_seats: set[str] = field(default_factory=set)  # answered, judged no leak
    note: Text | None = None  # a technique not tried: the probe's reason

    @property
    def leaked(self) -> bool:
        return bool(self.leaked_seats)


@dataclass
class LeakLine:
    request: str
    result: str
    technique: str
    seats: set[str]
    title: str = ""  # the leaked page's title: the network's words, shown as text only


@dataclass
class FilterMatrix:
    samples: list[str]
    columns: list[tuple[tuple[str, ...], Text]]
    cells: dict[tuple[str, int], Cell]
    leak_lines: list[LeakLine]
    seats: set[str]
    exam_failures: list[LeakLine]

    def cell(self, sample: str, column: int) -> Cell:
        return self.cells.get((sample, column)) or Cell()


def _host(url: str) -> str:
    return re.sub(r"^[a-z]+://", "", str(url)).split("/")[0]


def _request_host(request: str) -> str | None:
    """`GET http://video.example/` or `DNS A video.example @1.2.3.4`: the name tried."""
    match = re.search(r"Host: (\S+)", request) or re.search(r"://([^/:\s]+)", request) \
        or re.search(r"^DNS \w+ (\S+)", request)
    host = match.group(1) if match else None
    if host is None or re.fullmatch(r"[\d.]+|\[?[0-9a-fA-F:]+\]?", host):
        return None
    return host


def _audits(run: RunRecord) -> list[tuple[str, CheckResult]]:
    out = []
    for r in run.results:
        attempts = r.measured.get("attempts")
        if isinstance(attempts, list) and r.measured.get("audit", "url_filter") == "url_filter":
            # an audit run from a seat is about that seat; else where it ran from
            seat = r.subject.name if r.subject.kind is Kind.SEAT else r.vantage
            out.append((seat, r))
    return out


def _sample_of(request: str, samples: list[str]) -> str | None:
    # the longest name first: video.example must not match inside other.video.example's
    for name in sorted(samples, key=len, reverse=True):
        if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", request) or \
                re.search(rf"\.{re.escape(name)}(?![\w-])", request):
            return name
    return None


def filter_matrix(run: RunRecord) -> FilterMatrix | None:
    audits = _audits(run)
    if not audits:
        return None
    samples: list[str] = []
    for _, r in audits:
        for entry in r.measured.get("blocked") or []:
            if isinstance(entry, dict) and entry.get("url"):
                host = _host(entry["url"])
                if host not in samples:
                    samples.append(host)
    if not samples:  # an audit that did not list its blocked sites: the names it tried
        for _, r in audits:
            for att in r.measured["attempts"]:
                if isinstance(att, dict) and att.get("technique") in ("plain", "dns"):
                    host = _request_host(str(att.get("request", "")))
                    if host and host not in samples:
                        samples.append(host)
    columns = list(TECHNIQUES)
    seen_techniques = {str(a.get("technique")) for _, r in audits
                       for a in r.measured["attempts"] if isinstance(a, dict)}
    known = {t for techs, _ in TECHNIQUES for t in techs}
    for tech in sorted(seen_techniques - known):
        columns.append(((tech,), EXTRA_TECHNIQUES.get(tech, Text(tech, tech))))
    index = {t: i for i, (techs, _) in enumerate(columns) for t in techs}

    cells: dict[tuple[str, int], Cell] = {}
    lines: dict[tuple[str, str], LeakLine] = {}
    exam: dict[tuple[str, str], LeakLine] = {}
    seats: set[str] = set()
    for seat, r in audits:
        seats.add(seat)
        for att in r.measured["attempts"]:
            if not isinstance(att, dict):
                continue
            request, tech = str(att.get("request", "")), str(att.get("technique", ""))
            sample = _sample_of(request, samples)
            if sample is None or tech not in index:
                continue
            cell = cells.setdefault((sample, index[tech]), Cell())
            if att.get("leak") is True:
                cell.leaked_seats.add(seat)
                result = str(att.get("result", ""))
                key = (RANDOM_LABEL.sub("rdy-…", request), result)
                line = lines.setdefault(key, LeakLine(request, result, tech, set(),
                                                      str(att.get("title") or "")[:200]))
                line.seats.add(seat)
            elif att.get("blocked_by"):
                cell.blocked_by[str(att["blocked_by"])] = None
            else:
                cell.open_seats.add(seat)
        for entry in r.measured.get("exam") or []:
            if isinstance(entry, dict) and entry.get("ok") is False:
                detail = str(entry.get("detail") or entry.get("why") or "")
                key = (str(entry.get("url")), detail)
                exam.setdefault(key, LeakLine(str(entry.get("url")), detail, "exam", set()))
                exam[key].seats.add(seat)
        _feature_notes(r.measured.get("features"), samples, columns, cells)
    ordered = sorted(lines.values(), key=lambda x: (-len(x.seats), x.request))
    return FilterMatrix(samples, columns, cells, ordered, seats, list(exam.values()))


def _feature_notes(features: Any, samples: list[str], columns: list[tuple[tuple[str, ...],
                   Text]], cells: dict[tuple[str, int], Cell]) -> None:
    if not isinstance(features, dict):
        return
    for i, (techs, _) in enumerate(columns):
        feature = next((FEATURE_OF[t] for t in techs if t in FEATURE_OF), None)
        word = FEATURE_WORDS.get(str(features.get(feature))) if feature else None
        if word is None:
            continue
        for sample in samples:
            cell = cells.setdefault((sample, i), Cell())
            if not cell.leaked and not cell.blocked_by and cell.note is None:
                cell.note = word


def seats_text(line_seats: set[str], all_seats: set[str]) -> Text:
    if line_seats == all_seats and len(all_seats) > 1:
        return Text(f"all {len(all_seats)} seats audited", f"全部 {len(all_seats)} 个受测考位")
    listed = seat_ranges(sorted(line_seats))
    return Text(f"{len(line_seats)} seat(s): {listed}", f"{len(line_seats)} 个考位：{listed}")
