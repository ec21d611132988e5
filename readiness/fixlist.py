"""The fix list: one line per problem, worst first, that a technician acts on.

A pure function of the RunRecord, so the console, the report and a live page show the
same list. Two foldings keep it short without hiding anything (every finding stays in
the JSON):
- by host: a seat that does not answer or has no agent is one line, whatever rules it
  breaks as a consequence (the other rules are named on that line);
- by finding: the same finding on several seats is one line naming the seats
  ("36 of 40 seats: disk 274.9 GB is below the minimum 500 GB").
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass

from .results import SEVERITY, CheckResult, RunRecord, Status, Text, worst
from .subject import FEATURES, Kind


@dataclass(frozen=True)
class _Target:
    kind: str   # seat, host, room, network, other: how this list folds a finding
    name: str
    address: str | None
    label: Text


_NETWORK_ASPECTS = {"arp_sweep", "unlisted", "dhcp", "conflicts", "broadcast_domain"}
_HOSTS = {Kind.PROCTOR, Kind.EXAM_SERVER, Kind.BACKUP_SERVER, Kind.ROUTER, Kind.SWITCH,
          Kind.UPS}


def describe(r: CheckResult) -> _Target:
    s = r.subject
    label = Text(r.label("en"), r.label("zh"))
    if s.kind is Kind.SEAT:
        return _Target("seat", s.name, s.address, label)
    if s.kind is Kind.ROOM:
        kind = "network" if r.aspect in _NETWORK_ASPECTS else "room"
        return _Target(kind, s.name, None, label)
    if r.aspect in FEATURES:
        return _Target("room", s.room or s.name, None, label)
    if s.kind in _HOSTS:
        return _Target("host", s.name, s.address, label)
    return _Target("other", s.name, s.address, label)


def host_key(target: _Target) -> str | None:
    """The machine a technician walks to, when the target is one machine."""
    if target.kind == "seat":
        return f"seat {target.name}"
    if target.kind == "host" and target.address:
        return f"host {target.address}"
    return None


def seat_label(name: str, address: str | None) -> Text:
    at = f" ({address})" if address else ""
    return Text(f"seat {name}{at}", f"考位 {name}{at}")


@dataclass(frozen=True)
class Fix:
    status: Status
    where: Text
    what: Text
    requirements: tuple[str, ...]
    check_ids: tuple[str, ...]


def _is_problem(r: CheckResult, required: set[str]) -> bool:
    if r.status in (Status.FAIL, Status.ERROR, Status.WARN):
        return True
    # a skip is a problem when the rule is required or the seat's agent is missing
    return r.status is Status.SKIP and (r.requirement in required or _no_agent(r))


def _no_agent(r: CheckResult) -> bool:
    return r.measured.get("agent") == "absent"


def _unreachable(r: CheckResult) -> bool:
    # a failed reachability check: a host that drops ping but answers TCP is a warn and
    # explains nothing else about the host
    return (r.status is Status.FAIL and r.measured.get("received") == 0
            and bool(r.measured.get("sent")))


def _not_measured(r: CheckResult) -> bool:
    """A finding that only says the check could not be made from this host."""
    return r.status is Status.SKIP or _no_agent(r)


def _root_cause(problems: list[CheckResult]) -> CheckResult | None:
    """The finding that explains a host's other findings: it does not answer at all, or
    its agent is missing (then every self-report and seat-side test is missing too)."""
    return (next((r for r in problems if _unreachable(r)), None)
            or next((r for r in problems if _no_agent(r)), None))


def _sorted(results: list[CheckResult], first: CheckResult | None = None) -> list[CheckResult]:
    """Worst first; among equals `first` (the root cause), then the run's order."""
    return sorted(results, key=lambda r: (-SEVERITY[r.status], r is not first))


# words that say the folded finding's host in general, in place of its name and address
_SUBJECT = Text("the seat", "该考位")


def _generic(text: str, name: str, address: str | None, lang: str) -> str:
    """The finding with this host's name and address taken out, so the same finding on
    other hosts reads the same and can be folded into one line."""
    out = text
    if address:
        out = re.sub(rf"\s*[（(][^()（）]*{re.escape(address)}[^()（）]*[)）]", "", out)
        out = re.sub(rf"seat {re.escape(name)}'s address {re.escape(address)}", "{H}", out)
        out = re.sub(rf"考位 ?{re.escape(name)} ?的地址 ?{re.escape(address)}", "{H}", out)
        out = re.sub(rf"(?<![\w.]){re.escape(address)}(?![\w.])", "{H}", out)
    out = re.sub(rf"^(?:seat |考位 ?)?{re.escape(name)}\s*[:：]\s*", "", out)
    out = re.sub(rf"(?:seat |考位 ?)(?<![\w]){re.escape(name)}(?!\w)", "{H}", out)
    out = re.sub(rf"(?<![\w]){re.escape(name)}(?!\w)", "{H}", out)
    if lang == "zh":
        return re.sub(r"\s*\{H\}\s*", _SUBJECT.zh, out)
    return out.replace("{H}", _SUBJECT.en)


def _generic_text(r: CheckResult) -> Text:
    t = describe(r)
    return Text(_generic(r.message.en, t.name, t.address, "en"),
                _generic(r.message.zh, t.name, t.address, "zh"))


def _natural(name: str) -> tuple[object, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


def seat_ranges(names: list[str]) -> str:
    """A01, A02, A03, A05 -> A01-A03, A05 (labels as prefix + number)."""
    out: list[list[str]] = []
    for name in sorted(names, key=_natural):
        m = re.fullmatch(r"(.*?)(\d+)", name)
        last = out[-1][-1] if out else None
        lm = re.fullmatch(r"(.*?)(\d+)", last) if last else None
        if m and lm and m[1] == lm[1] and int(m[2]) == int(lm[2]) + 1:
            out[-1] = [out[-1][0], name]
        else:
            out.append([name])
    return ", ".join("–".join(run) if len(run) == 2 else run[0] for run in out)


def _seats_text(names: list[str], all_seats: list[str]) -> Text:
    n, total = len(names), len(all_seats)
    missing = [s for s in all_seats if s not in names]
    if total and n > total / 2 and missing:
        listed = seat_ranges(missing)
        return Text(f"{n} of {total} seats (all but {listed})",
                    f"{total} 个考位中的 {n} 个（{listed} 除外）")
    if total and not missing:
        return Text(f"all {total} seats", f"全部 {total} 个考位")
    listed = seat_ranges(names)
    return Text(f"{n} seats ({listed})", f"{n} 个考位（{listed}）")


def _also(reqs: list[str], leads: list[str]) -> Text:
    others = [r for r in dict.fromkeys(reqs) if r not in leads]
    if not others:
        return Text("", "")
    # its own last sentence, so a line cut short for the screen still names the rules
    return Text(f"; the same cause under {', '.join(others)}",
                f"；{'、'.join(others)} 的问题也由此而来")


def _join(a: Text, b: Text) -> Text:
    return Text(a.en + b.en, a.zh + b.zh)


@dataclass
class _Item:
    status: Status
    fold_key: tuple[object, ...] | None   # equal keys: the same finding on two seats
    seat: str | None
    where: Text
    what: Text                            # said about this one host
    what_folded: Text                     # said about several seats at once
    requirements: list[str]
    check_ids: list[str]
    order: int
    address: str | None = None
    explains: bool = False                # a root cause: the line names the rules it explains


def _where(requirement: str, label: Text) -> Text:
    return Text(f"{requirement} · {label.en}", f"{requirement} · {label.zh}")


def _host_items(problems: list[CheckResult], order: dict[str, int]) -> tuple[
        list[_Item], list[CheckResult]]:
    """One item per host whose findings share a root cause; the rest is returned."""
    by_host: OrderedDict[str, list[CheckResult]] = OrderedDict()
    rest: list[CheckResult] = []
    for r in problems:
        key = host_key(describe(r))
        if key:
            by_host.setdefault(key, []).append(r)
        else:
            rest.append(r)
    items = []
    for found in by_host.values():
        cause = _root_cause(found)
        if cause is None:
            rest.extend(found)
            continue
        # a host that does not answer explains all its findings; a missing agent only
        # those that could not be measured (a ping measured from here stands on its own)
        group = found if _unreachable(cause) else [r for r in found if _not_measured(r)]
        rest.extend(r for r in found if r not in group)
        ranked = _sorted(group, cause)
        lead = ranked[0]   # the line says its worst finding, under that finding's rule
        t = describe(lead)
        reqs = list(dict.fromkeys(r.requirement for r in ranked))
        generic = _generic_text(lead)
        items.append(_Item(
            lead.status,
            ("cause", lead.status, lead.requirement, generic) if t.kind == "seat" else None,
            t.name if t.kind == "seat" else None, _where(lead.requirement, t.label),
            _own_words(lead, t.name), generic, reqs, [r.check_id for r in group],
            order.get(lead.requirement, 99), explains=True))
    return items, rest


def _own_words(r: CheckResult, name: str) -> Text:
    """The finding without a leading "seat A09: ": the line already says where."""
    def strip(text: str) -> str:
        return re.sub(rf"^(?:seat |考位 ?){re.escape(name)}\s*[:：]\s*", "", text)
    return Text(strip(r.message.en), strip(r.message.zh))


def _derived(items: list[_Item], rest: list[CheckResult]) -> list[CheckResult]:
    """A room-wide count built on another rule's findings ("37 of 40 seats answer: fix
    the seats marked fail under LAN-SUBNET") joins the line of those seats: one cause."""
    left = []
    for r in rest:
        owners = [i for i in items if i.explains and i.status is r.status
                  and describe(r).kind == "room" and r.requirement not in i.requirements
                  and re.search(rf"(?<![\w-]){re.escape(i.requirements[0])}(?![\w-])",
                                r.message.en)]
        for n, owner in enumerate(owners):
            owner.requirements.append(r.requirement)
            if n == 0:
                owner.check_ids.append(r.check_id)
        if not owners:
            left.append(r)
    return left


def _finding_items(rest: list[CheckResult], order: dict[str, int]) -> list[_Item]:
    """One item per finding; a host's findings of one rule and verdict are one item
    (a seat's download and upload through the same 100 Mbit/s port)."""
    merged: OrderedDict[tuple[object, ...], list[CheckResult]] = OrderedDict()
    for r in _sorted(rest):
        t = describe(r)
        merged.setdefault((host_key(t) or r.check_id, r.requirement, r.status), []).append(r)
    items = []
    for found in merged.values():
        first = found[0]
        t = describe(first)
        generic = _generic_text(first)
        # a seat's two paths (download and upload) are said as the seat
        label = (seat_label(t.name, t.address)
                 if t.kind == "seat" and len({r.aspect for r in found}) > 1 else t.label)
        items.append(_Item(
            first.status,
            # the same words under two rules (a seat's leak under WAN-POLICY and
            # FILTER-FEATURES) are one problem too
            ("finding", first.status, generic) if t.kind == "seat" else None,
            t.name if t.kind == "seat" else None, _where(first.requirement, label),
            _own_words(first, t.name), generic, [first.requirement],
            [r.check_id for r in found],
            order.get(first.requirement, 99), t.address))
    return items


def _head(text: str) -> str:
    """A finding's headline: what is wrong, before the colon that starts the details."""
    return re.split(r":\s|：", text, maxsplit=1)[0].rstrip("。.")


def _room_items(rest: list[CheckResult], order: dict[str, int]) -> tuple[
        list[_Item], list[CheckResult]]:
    """Several room-wide findings of one rule and verdict (DNS filtering, IP filtering,
    time-window policy, ...) are one line of their headlines; the details are in the
    seats' own lines, the JSON and the report."""
    by_room: OrderedDict[tuple[str, str, Status], list[CheckResult]] = OrderedDict()
    for r in rest:
        t = describe(r)
        if t.kind == "room":
            by_room.setdefault((t.name, r.requirement, r.status), []).append(r)
    items, used = [], set()
    for (room, req, status), found in by_room.items():
        if len(found) < 2:
            continue
        used.update(id(r) for r in found)
        what = Text("; ".join(_head(r.message.en) for r in found),
                    "；".join(_head(r.message.zh) for r in found))
        items.append(_Item(status, None, None,
                           _where(req, Text(f"room {room}", f"考场 {room}")), what, what,
                           [req], [r.check_id for r in found], order.get(req, 99)))
    return items, [r for r in rest if id(r) not in used]


def _absorb(items: list[_Item], rest: list[CheckResult]) -> list[CheckResult]:
    """A network-wide finding about one host's address (an address conflict) joins that
    host's line of the same rule and verdict instead of being a second line."""
    left = []
    for r in rest:
        t = describe(r)
        owners = [i for i in items if t.kind == "network" and i.seat and i.address
                  and i.requirements == [r.requirement] and i.status is r.status
                  and re.search(rf"(?<![\d.]){re.escape(i.address)}(?![\d.])", r.message.en)]
        if len(owners) == 1:
            owners[0].check_ids.append(r.check_id)
        else:
            left.append(r)
    return left


def _fold(items: list[_Item], all_seats: list[str]) -> list[Fix]:
    """The same finding on several seats becomes one line naming the seats."""
    groups: OrderedDict[object, list[_Item]] = OrderedDict()
    for item in items:
        groups.setdefault(item.fold_key or id(item), []).append(item)
    ranked: list[tuple[int, Fix]] = []
    for group in groups.values():
        first = group[0]
        reqs = tuple(dict.fromkeys(r for i in group for r in i.requirements))
        ids = tuple(c for i in group for c in i.check_ids)
        # the rules the line's words are a finding of; a root cause also names the rules
        # it explains
        leads = list(dict.fromkeys(i.requirements[0] for i in group))
        also = _also(list(reqs), leads) if first.explains else Text("", "")
        if len(group) == 1:
            fix = Fix(first.status, first.where, _join(first.what, also), reqs, ids)
        else:
            seats = _seats_text(list(dict.fromkeys(i.seat or "" for i in group)), all_seats)
            fix = Fix(worst([i.status for i in group]), _where(", ".join(leads), seats),
                      _join(first.what_folded, also), reqs, ids)
        ranked.append((first.order, fix))
    # worst first; within a verdict in the profile's order of rules, bigger groups first
    ranked.sort(key=lambda of: (-SEVERITY[of[1].status], of[0], -len(of[1].check_ids)))
    return [fix for _, fix in ranked]


def fix_list(run: RunRecord) -> list[Fix]:
    """Every problem of the run as one line each, worst first."""
    order: dict[str, int] = {}
    for r in run.results:
        order.setdefault(r.requirement, len(order))
    problems = [r for r in run.results if _is_problem(r, run.required)]
    all_seats = sorted({t.name for t in map(describe, run.results) if t.kind == "seat"},
                       key=_natural)
    host_items, rest = _host_items(problems, order)
    rest = _derived(host_items, rest)
    room_items, rest = _room_items(rest, order)
    hosts = [r for r in rest if describe(r).kind != "network"]
    finding_items = _finding_items(hosts, order)
    networks = _absorb(finding_items, [r for r in rest if describe(r).kind == "network"])
    return _fold(host_items + room_items + finding_items + _finding_items(networks, order),
                 all_seats)
