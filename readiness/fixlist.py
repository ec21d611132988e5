"""The fix list: one line per problem, worst first, that a technician acts on.

A pure function of the RunRecord, so the console, the report and a live page show the
same list. It reads the findings the judges returned (readiness/results.py Finding: what
is wrong, what to do, whom it is about) and the results' subjects; it never reads a
message or a label. Two foldings keep it short without hiding anything (every finding
stays in the JSON):
- by machine: when a machine has a root cause (it does not answer at all, its agent does
  not answer), its findings that only follow from that cause are one line, led by the
  cause and naming the other rules it explains;
- by finding: the same findings under the same rule on several subjects are one line
  naming them ("36 of 40 seats (all but A09, A13, A21, A32)").
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from itertools import groupby

from .results import NO_ACTION, SEVERITY, CheckResult, Finding, RunRecord, Status, Text, worst
from .subject import Kind, Subject, label, name_of


@dataclass(frozen=True)
class Fix:
    status: Status
    where: Text
    what: Text                       # each finding: what is wrong; what to do
    requirements: tuple[str, ...]    # the line's rule first, then the rules it explains
    check_ids: tuple[str, ...]


def findings(r: CheckResult) -> list[Finding]:
    """What the judges found on `r`; a result stored before results had findings has its
    message as its one finding (said as it was, folded with nothing)."""
    return list(r.findings) or [Finding(f"unstructured:{r.check_id}", r.message, NO_ACTION)]


def _is_problem(r: CheckResult, required: set[str]) -> bool:
    if r.status in (Status.FAIL, Status.ERROR, Status.WARN):
        return True
    # a skip is a problem when the rule is required or a cause on the machine explains it
    # (its agent does not answer)
    return r.status is Status.SKIP and (r.requirement in required
                                        or any(f.root_cause for f in r.findings))


def _subject(r: CheckResult) -> Subject:
    """Whom the line for `r` is about: its findings' subject when they all name the same
    one (a conflict found in the room's sweep is about the seat whose address it is)."""
    named = {f.subject or r.subject for f in findings(r)}
    return named.pop() if len(named) == 1 else r.subject


def _machine(subject: Subject) -> tuple[str, str | None, str] | None:
    return (subject.kind.value, subject.room, subject.name) if subject.is_machine else None


def _pure_cause(r: CheckResult) -> bool:
    """Every finding of `r` is a root cause: nothing was measured that stands on its own."""
    return all(f.root_cause for f in r.findings) and bool(r.findings)


def _key(f: Finding) -> tuple[str, Text, Text, bool]:
    return f.code, f.what, f.action, f.root_cause


@dataclass
class _Unit:
    """One line's worth before folding: a result, and the results of the same machine
    its root cause explains."""

    lead: CheckResult
    subject: Subject
    order: int
    explained: list[CheckResult] = field(default_factory=list)

    @property
    def key(self) -> tuple[object, ...]:
        # equal keys: the same findings under the same rule, on another subject
        return self.lead.requirement, tuple(_key(f) for f in findings(self.lead))

    @property
    def cause(self) -> bool:
        """The line is a machine's root cause (whatever else it explains)."""
        return _pure_cause(self.lead)


def _units(problems: list[CheckResult], order: dict[str, int]) -> list[_Unit]:
    by_machine: OrderedDict[object, list[CheckResult]] = OrderedDict()
    for r in problems:
        machine = _machine(_subject(r))
        # a result about no machine is a unit of its own
        by_machine.setdefault(machine if machine else ("result", id(r)), []).append(r)
    units = []
    for found in by_machine.values():
        causes = [r for r in found if _pure_cause(r)]
        # the machine's worst cause leads; the run's order breaks a tie
        lead = min(causes, key=lambda r: (-SEVERITY[r.status], order[r.check_id]),
                   default=None)
        for r in found:
            if r is lead:
                units.append(_Unit(r, _subject(r), order[r.check_id],
                                   [c for c in causes if c is not lead]))
            elif lead is None or not _pure_cause(r):
                units.append(_Unit(r, _subject(r), order[r.check_id]))
    return units


# ---------------------------------------------------------------- words


def _natural(name: str) -> tuple[tuple[int, object], ...]:
    """A09 before A10: digit runs compare as numbers."""
    return tuple((1, int(run)) if digits else (0, run)
                 for digits, run in ((d, "".join(g)) for d, g in groupby(name, str.isdigit)))


def _split(name: str) -> tuple[str, int] | None:
    """A seat name as prefix + trailing number ("A09" -> ("A", 9)); None without one."""
    head = name.rstrip("0123456789")
    return (head, int(name[len(head):])) if head != name else None


def seat_ranges(names: list[str]) -> str:
    """A01, A02, A03, A05 -> A01–A03, A05 (names as prefix + number)."""
    runs: list[list[str]] = []
    for name in sorted(names, key=_natural):
        this, last = _split(name), _split(runs[-1][-1]) if runs else None
        if this and last and this[0] == last[0] and this[1] == last[1] + 1:
            runs[-1] = [runs[-1][0], name]
        else:
            runs.append([name])
    return ", ".join("–".join(run) for run in runs)


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


def _join(parts: list[Text], en: str = ", ", zh: str = "，") -> Text:
    return Text(en.join(p.en for p in parts), zh.join(p.zh for p in parts))


def _place(subjects: list[Subject], seats: dict[str | None, list[str]]) -> Text:
    """Several subjects in a few words: the seats as ranges of their room's seats, the
    others by name."""
    rooms: OrderedDict[str | None, list[str]] = OrderedDict()
    for s in subjects:
        if s.kind is Kind.SEAT:
            rooms.setdefault(s.room, []).append(s.name)
    parts = []
    for room, names in rooms.items():
        text = _seats_text(names, seats.get(room, []))
        if len(rooms) > 1:
            text = Text(f"room {room}: {text.en}", f"考场 {room}：{text.zh}")
        parts.append(text)
    parts += [Text(name_of(s, "en"), name_of(s, "zh")) for s in subjects
              if s.kind is not Kind.SEAT]
    return _join(parts, "; ", "；")


def _one(subject: Subject, aspect: str | None) -> Text:
    return Text(label(subject, aspect, "en"), label(subject, aspect, "zh"))


def _said(f: Finding, about: Subject | None) -> Text:
    """One finding: what is wrong; what to do (naming its subject when the line is
    about another)."""
    what, action = f.what, f.action
    text = Text(what.en + (f"; {action.en}" if action.en else ""),
                what.zh + (f"；{action.zh}" if action.zh else ""))
    if f.subject is not None and f.subject != about:
        who = Text(name_of(f.subject, "en"), name_of(f.subject, "zh"))
        text = Text(f"{who.en}: {text.en}", f"{who.zh}：{text.zh}")
    return text


def _also(reqs: list[str]) -> Text:
    if not reqs:
        return Text("", "")
    # its own last sentence, so a line cut short for the screen still names the rules
    return Text(f"; the same cause under {', '.join(reqs)}",
                f"；{'、'.join(reqs)} 的问题也由此而来")


def _fix(group: list[_Unit], seats: dict[str | None, list[str]],
         rank: dict[str, int]) -> Fix:
    first = group[0]
    req = first.lead.requirement
    subjects = list(dict.fromkeys(u.subject for u in group))
    if len(subjects) > 1:
        where, about = _place(subjects, seats), None
    else:
        about = subjects[0]
        own = about == first.lead.subject
        aspects = {u.lead.aspect for u in group}
        # a machine's root cause, or one subject's several aspects, names the machine only
        single = own and len(aspects) == 1 and not any(u.cause for u in group)
        where = _one(about, first.lead.aspect if single else None)
    explained = [r for u in group for r in u.explained]
    also = sorted({r.requirement for r in explained} - {req}, key=lambda q: rank.get(q, 99))
    said = _join([_said(f, about) for f in findings(first.lead)], "; ", "；")
    tail = _also(also)
    return Fix(
        status=_worst(group),
        where=Text(f"{req} · {where.en}", f"{req} · {where.zh}"),
        what=Text(said.en + tail.en, said.zh + tail.zh),
        requirements=(req, *also),
        check_ids=tuple(c for u in group for c in (u.lead.check_id,
                                                   *(r.check_id for r in u.explained))))


def _worst(group: list[_Unit]) -> Status:
    # a root cause leads its machine's findings: none it explains is worse
    return worst([u.lead.status for u in group])


def fix_list(run: RunRecord) -> list[Fix]:
    """Every problem of the run as one line each, worst first, then in the profile's
    order of rules (the run's order), the lines that fold more subjects first."""
    rank: dict[str, int] = {}
    for r in run.results:
        rank.setdefault(r.requirement, len(rank))
    order = {r.check_id: i for i, r in enumerate(run.results)}
    in_room: dict[str | None, set[str]] = {}
    for r in run.results:
        if r.subject.kind is Kind.SEAT:
            in_room.setdefault(r.subject.room, set()).add(r.subject.name)
    seats = {room: sorted(names, key=_natural) for room, names in in_room.items()}
    problems = [r for r in run.results if _is_problem(r, run.required)]
    groups: OrderedDict[tuple[object, ...], list[_Unit]] = OrderedDict()
    for unit in sorted(_units(problems, order), key=lambda u: u.order):
        groups.setdefault(unit.key, []).append(unit)
    ranked = sorted(groups.values(), key=lambda g: (
        -SEVERITY[_worst(g)], rank.get(g[0].lead.requirement, 99), -len(g), g[0].order))
    return [_fix(group, seats, rank) for group in ranked]
