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
from .subject import (
    Kind,
    Subject,
    aspect_words,
    devices_label,
    label,
    member_label,
    name_of,
)


@dataclass(frozen=True)
class Point:
    """One thing to do on a line, and the figure that shows why."""

    do: Text        # what to do ("" when the judge has no action to give)
    figure: Text    # what is wrong, with its figure
    who: Text | None = None  # on a line about several devices: which one


@dataclass(frozen=True)
class Fix:
    status: Status
    where: Text                      # the place: room, seat or device, address, aspect
    points: tuple[Point, ...]        # what to do, each with its figure
    requirements: tuple[str, ...]    # the line's rule first, then the rules it explains
    rules: Text                      # the same rules by their names
    check_ids: tuple[str, ...]
    subjects: tuple[Subject, ...]    # whom the line is about (a tapped seat finds its lines)

    @property
    def what(self) -> Text:
        """The line's words after its place, as one sentence: for readers of plain text
        (JSON); people read them through fix_words()."""
        words = fix_words(self, "en"), fix_words(self, "zh")
        return Text(*(_after_where(w, lang) for w, lang in zip(words, ("en", "zh"), strict=True)))


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


def _one(subject: Subject, aspects: list[str | None]) -> Text:
    named = [a for a in dict.fromkeys(aspects) if a]
    text = Text(label(subject, None, "en"), label(subject, None, "zh"))
    if not named:
        return text
    return Text(f"{text.en} · {', '.join(aspect_words(a, 'en') for a in named)}",
                f"{text.zh} · {'、'.join(aspect_words(a, 'zh') for a in named)}")


def _figure(f: Finding, about: Subject | None) -> Text:
    """What a finding found, naming its subject when the line is about another."""
    if f.subject is not None and about is not None and f.subject != about:
        return Text(f"{name_of(f.subject, 'en')}: {f.what.en}",
                    f"{name_of(f.subject, 'zh')}：{f.what.zh}")
    return f.what


def _points(units: list[_Unit], about: Subject | None) -> list[Point]:
    """A point per distinct action of the units' leading findings (in their order); a
    figure that differs between the folded subjects is the first one's, saying how many
    others are alike."""
    figures: OrderedDict[tuple[str, Text], list[Text]] = OrderedDict()
    for u in units:
        for f in findings(u.lead):
            seen = figures.setdefault((f.code, f.action), [])
            said = _figure(f, about)
            if said not in seen:
                seen.append(said)
    points = []
    for (_, action), said in figures.items():
        first = said[0]
        if len(said) > 1:
            first = Text(f"{first.en} (and {len(said) - 1} more alike)",
                         f"{first.zh}（另有 {len(said) - 1} 处同类）")
        points.append(Point(action, first))
    return points


def _fix(groups: list[list[_Unit]], seats: dict[str | None, list[str]],
         rank: dict[str, int], titles: dict[str, Text]) -> Fix:
    """One line of one group, or of several groups on one machine (its things to do)."""
    units = [u for g in groups for u in g]
    subjects = list(dict.fromkeys(u.subject for u in units))
    about = subjects[0] if len(subjects) == 1 else None
    if about is None:
        where = _place(subjects, seats)
    elif (any(u.cause for u in units) or about != units[0].lead.subject
          or len({u.lead.aspect for u in units}) > 1):
        # a machine's root cause, a finding the room's check made about it, or several
        # sides of it (its things to do say which): the machine
        where = _one(about, [])
    else:
        where = _one(about, [units[0].lead.aspect])
    reqs = list(dict.fromkeys(u.lead.requirement for u in units))
    explained = [r for u in units for r in u.explained]
    reqs += sorted({r.requirement for r in explained} - set(reqs),
                   key=lambda q: rank.get(q, 99))
    if len(groups) > 1 and about is None:
        # several devices of a room, each with its own things to do
        # one device may have several groups (a camera without audio and unrecorded):
        # the line counts devices, and each device's things to do stay together
        by_device: OrderedDict[Subject, list[list[_Unit]]] = OrderedDict()
        for g in groups:
            by_device.setdefault(g[0].subject, []).append(g)
        points = [Point(p.do, p.figure, Text(member_label(device), member_label(device)))
                  for device, gs in by_device.items() for g in gs for p in _points(g, device)]
        first = groups[0][0].subject
        where = Text(devices_label(first.kind, first.room, len(by_device), "en"),
                     devices_label(first.kind, first.room, len(by_device), "zh"))
    else:
        points = [p for g in groups for p in _points(g, about)]
    names = [titles.get(q, Text(q, q)) for q in reqs]
    return Fix(
        status=worst([u.lead.status for u in units]),
        where=where,
        points=tuple(dict.fromkeys(points)),
        requirements=tuple(reqs),
        rules=_join(names, " · ", "、"),
        check_ids=tuple(c for u in units for c in (u.lead.check_id,
                                                   *(r.check_id for r in u.explained))),
        subjects=tuple(subjects))


def _group_key(u: _Unit) -> tuple[object, ...]:
    # equal keys: the same things to do about the same findings, whatever the rule or the
    # figure (a leak seen from 36 seats under two rules is one thing to fix)
    return u.cause, tuple(dict.fromkeys((f.code, f.action) for f in findings(u.lead)))


def _lone_machine(group: list[_Unit]) -> Subject | None:
    subjects = {u.subject for u in group}
    one = subjects.pop() if len(subjects) == 1 else None
    return one if one is not None and one.is_machine and one.kind is not Kind.SEAT else None


def fix_list(run: RunRecord) -> list[Fix]:
    """Every problem of the run on one line each, worst first, then in the profile's
    order of rules (the run's order), the lines that fold more subjects first."""
    rank: dict[str, int] = {}
    titles: dict[str, Text] = {}
    for r in run.results:
        rank.setdefault(r.requirement, len(rank))
        titles.setdefault(r.requirement, r.title)
    order = {r.check_id: i for i, r in enumerate(run.results)}
    in_room: dict[str | None, set[str]] = {}
    for r in run.results:
        if r.subject.kind is Kind.SEAT:
            in_room.setdefault(r.subject.room, set()).add(r.subject.name)
    seats = {room: sorted(names, key=_natural) for room, names in in_room.items()}
    problems = [r for r in run.results if _is_problem(r, run.required)]
    groups: OrderedDict[tuple[object, ...], list[_Unit]] = OrderedDict()
    units = sorted(_units(problems, order), key=lambda u: (-SEVERITY[u.lead.status], u.order))
    for unit in units:
        groups.setdefault(_group_key(unit), []).append(unit)
    ranked = sorted(groups.values(), key=lambda g: (
        -SEVERITY[_worst(g)], rank.get(g[0].lead.requirement, 99), -len(g), g[0].order))
    # one device's several problems of one severity: one line naming each thing to do
    lines: OrderedDict[object, list[list[_Unit]]] = OrderedDict()
    for i, group in enumerate(ranked):
        machine = _lone_machine(group)
        key: object = (machine, _worst(group)) if machine else i
        if machine is not None and machine.kind is Kind.CAMERA:
            # the cameras of a room: one walk round the room, each with what to do
            key = (machine.kind, machine.room, _worst(group))
        lines.setdefault(key, []).append(group)
    return [_fix(gs, seats, rank, titles) for gs in lines.values()]


def _worst(group: list[_Unit]) -> Status:
    # a root cause leads its machine's findings: none it explains is worse
    return worst([u.lead.status for u in group])


# ---------------------------------------------------------------- how a line reads


@dataclass(frozen=True)
class FixWords:
    """A line of the fix list in one language, in the order people read it: where to go,
    what to do there, the figure that shows why, the rules it is about."""

    where: str
    do: str
    figure: str
    rules: str


def _by_device(parts: list[tuple[Text | None, str]], lang: str) -> str:
    """The parts of a line, each device named once before its own (they come together,
    fixlist groups them by device): "cam-4 (…): uncover the lens; add it to the recorder"."""
    sep = "；" if lang == "zh" else "; "
    out: list[str] = []
    said: Text | None = None
    for who, text in dict.fromkeys(parts):
        if who is not None and who != said:
            text = f"{who.get(lang)}{'：' if lang == 'zh' else ': '}{text}"
        said = who
        out.append(text)
    return sep.join(out)


def fix_words(fix: Fix, lang: str) -> FixWords:
    do = _by_device([(p.who, p.do.get(lang)) for p in fix.points if p.do.get(lang)], lang)
    figure = _by_device([(p.who, p.figure.get(lang)) for p in fix.points], lang)
    return FixWords(fix.where.get(lang), do, figure, fix.rules.get(lang))


def _after_where(w: FixWords, lang: str, rules: bool = True) -> str:
    if lang == "zh":
        return (f"{w.do}。" if w.do else "") + w.figure + (f"（{w.rules}）" if rules else "")
    return (f"{w.do} — " if w.do else "") + w.figure + (f" [{w.rules}]" if rules else "")


def fix_sentence(fix: Fix, lang: str, rules: bool = True) -> str:
    """The whole line as one sentence (the console wraps it): where, what to do, the
    figure, the rules (by name)."""
    w = fix_words(fix, lang)
    return w.where + ("：" if lang == "zh" else ": ") + _after_where(w, lang, rules)
