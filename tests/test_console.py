"""The console a technician reads, on the drill room's real results (a result.json the
drill wrote: tests/fixtures/drill_result.json), and a newcomer's first config."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.cells import cell_len

from readiness.commands.console import summary_lines
from readiness.fixlist import fix_list, fix_words
from readiness.results import RunRecord, Status, worst
from readiness.serve.importing import run_from_json
from readiness.subject import Kind
from readiness.words import STATUS_WORDS

REPO = Path(__file__).resolve().parent.parent
DRILL = Path(__file__).parent / "fixtures" / "drill_result.json"


def drill_run() -> RunRecord:
    return run_from_json(json.loads(DRILL.read_text()))


def _site(tmp: Path):
    import sys as _sys

    _sys.path.insert(0, str(Path(__file__).parent))
    from serve_site import make_site

    from readiness.config.load import load_site

    return load_site(make_site(tmp, "LAB-0001"), {"cbec", "eda"})


def _drill_console(lang: str, tmp: Path) -> tuple[list[str], Path, str]:
    """What `readiness drill` prints at 80 columns, made by the functions it calls: its
    own lines, the check's summary and saved lines, its closing lines."""
    from rich.console import Console

    from readiness.commands import main
    from readiness.commands.console import Heading, render_summary
    from readiness.commands.main import drill_checking, drill_closing, drill_opening, saved_lines
    from readiness.run_context import run_context

    run = drill_run()
    console = Console(width=80, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    folder = tmp / "runs" / "drill-20261207-092427+0800"
    head = "9f2c" * 16
    drill_opening(console, lang)
    drill_checking(console, lang)
    render_summary(console, run, lang, [], heading=Heading(run_context(run, _site(tmp),
                                                                       "proctor")),
                   after=main.DRILL_OWN_LINES + main.SAVED_LINES_BRIEF)
    saved_lines(console, lang, 1, head, tmp / "keys", [])
    drill_closing(console, lang, folder, 1)
    return console.export_text(styles=False).splitlines(), folder, head


CLOSING = set("、，。；：！？）」』】》％")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_drill_console_fits_60_lines_and_cuts_nothing(lang: str, tmp_path: Path) -> None:
    lines, folder, head = _drill_console(lang, tmp_path)
    assert len(lines) <= 60, "\n".join(lines)
    # no line is cut ("…") nor wider than the screen, but for a path standing alone
    assert not any("…" in line for line in lines), [x for x in lines if "…" in x]
    assert all(cell_len(x) <= 80 or len(x.split()) == 1 for x in lines), \
        [x for x in lines if cell_len(x) > 80]
    # the folder and the chain head: whole, each on a line of its own
    assert str(folder) in [x.strip() for x in lines]
    assert head in [x.strip() for x in lines]
    # Chinese: no line starts with closing punctuation
    assert not [x for x in lines if x.strip() and x.strip()[0] in CLOSING]
    # every fix item says where and what to do, whole, in its numbered lines
    fixes = fix_list(drill_run())
    starts = [i for i, x in enumerate(lines) if re.match(r"\s?\d+\. ", x)]
    assert len(starts) == len(fixes)
    ends = starts[1:] + [next(i for i in range(starts[-1] + 1, len(lines))
                              if not lines[i].startswith("    "))]
    for fix, a, b in zip(fixes, starts, ends, strict=True):
        said = "".join("".join(lines[a:b]).split())
        words = fix_words(fix, lang)
        for part in (words.where, words.do):
            assert "".join(part.split()) in said, (part, lines[a:b])
        assert said.startswith("".join(f"{fixes.index(fix) + 1}.".split()))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_twelve_fails_fill_the_screen_and_the_passing_rules_leave_it(
        lang: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The drill room with its recorder and HTTPS faults (twelve fail items, none folded):
    the rules that pass or were skipped leave the screen before a fail would."""
    busy = Path(__file__).parent / "fixtures" / "drill_result_12_fails.json"
    monkeypatch.setattr(sys.modules[__name__], "drill_run",
                        lambda: run_from_json(json.loads(busy.read_text())))
    run = drill_run()
    lines, _, _ = _drill_console(lang, tmp_path)
    assert len(lines) <= 60, "\n".join(lines)
    fails = [f for f in fix_list(run) if f.status is Status.FAIL]
    assert len(fails) == 12
    said = "".join("".join(lines).split())
    for fix in fails:
        words = fix_words(fix, lang)
        assert "".join(words.do.split()) in said, words.do
    words = STATUS_WORDS[lang]
    starts = {x.split()[0] for x in lines if x and not x[0].isspace()}
    assert words[Status.FAIL] in starts and words[Status.WARN] in starts
    # English names take more lines: there the passing rules are counted on the verdict
    # line instead; the Chinese screen has room for them
    assert (words[Status.PASS] in starts) is (lang == "zh")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_fix_list_longer_than_the_screen_keeps_every_fail_and_counts_the_rest(
        lang: str) -> None:
    run = drill_run()
    fixes = fix_list(run)
    whole = summary_lines(run, lang, 80)
    # the same run on a screen that leaves 12 lines fewer (a room with more faults)
    after = 60 - len(whole) + 12
    short = summary_lines(run, lang, 80, after=after)
    assert len(short) <= 60 - after, "\n".join(short)
    shown = _items(short)
    # every fail still says where and what to do; what is left out is named by number
    assert 0 < len(shown) < len(fixes)
    assert all(f.status is not Status.FAIL for f in fixes[len(shown):])
    assert short[-1].startswith(f"{len(shown) + 1}-{len(fixes)}. "), short[-3:]
    assert str(len(fixes) - len(shown)) in short[-1]
    assert all(cell_len(x) <= 80 for x in short)


def _items(lines: list[str]) -> list[str]:
    return [x for x in lines if re.match(r"\s?\d+\. ", x)]


def test_each_problem_is_one_item_worst_first() -> None:
    run = drill_run()
    fixes = fix_list(run)
    en = [f"{f.where.en}: {f.what.en}" for f in fixes]
    statuses = [f.status for f in fixes]
    assert statuses == sorted(statuses, key=lambda s: ["fail", "error", "warn", "skip"].index(s))
    # the same finding on 36 seats is one line naming the seats left out, and what to do
    spec = [f for f in fixes if f.requirements[0] == "SEAT-SPEC"]
    assert len(spec) == 1 and spec[0].where.en == "36 of 40 seats (all but A09, A13, A21, A32)"
    words = fix_words(spec[0], "en")
    assert "disk 274.9 GB, below the minimum 500 GB" in words.figure
    assert words.do.startswith("fit at least 500 GB of disk")
    # a seat without an agent is one line, led by its worst finding under that rule
    a09 = [f for f in fixes if f.where.en.startswith("seat A09 (")]
    assert len(a09) == 1 and a09[0].status is Status.WARN
    assert a09[0].requirements == ("WAN-POLICY", "LAN-SPEED", "SEAT-SPEC")
    assert fix_words(a09[0], "en").do == "start `readiness agent` on that PC"
    # seats that do not answer at all: one line, the cause first, naming what it explains
    off = next(f for f in fixes if f.where.en == "3 seats (A13, A21, A32)")
    assert fix_words(off, "en").figure == \
        "nothing answers (10 pings, 3 TCP connects to port 8765, ARP)"
    assert off.requirements == ("LAN-SUBNET", "LAN-SPEED", "LAN-FIXED-IP", "WAN-POLICY",
                                "SEAT-SPEC")
    # ... and where the seat on a mistyped subnet really is, with the address to set: one
    # line for the two rules that saw it
    a21 = [f for f in fixes if f.where.en == "seat A21 (198.18.10.121)"]
    assert [f.requirements for f in a21] == [("LAN-SUBNET", "LAN-FIXED-IP")]
    assert a21[0].status is Status.FAIL
    assert fix_words(a21[0], "en").do == "set its address to 198.18.10.121"
    # the room's own count is a line of its own, which says what to do
    seats = next(f for f in fixes if f.requirements == ("LAN-SEATS",))
    assert seats.where.en == "room lab"
    assert fix_words(seats, "en").do == "fix or replace the seats marked fail under LAN-SUBNET"
    # a seat that drops ping but answers is a warn of its own, not a failed seat
    a05 = [f for f in fixes if f.where.en.startswith("seat A05 (")]
    assert [(f.status, f.requirements[0]) for f in a05] == [(Status.WARN, "LAN-SUBNET")]
    # the conflict at A31's address, seen by its own check and by the room's: one line
    a31 = next(f for f in fixes if f.where.en == "seat A31 (198.18.10.131)")
    assert set(a31.check_ids) == {"LAN-FIXED-IP/lab/198.18.10.131/arp",
                                  "LAN-FIXED-IP/lab/l2-conflicts"}
    rogue = next(f for f in fixes if f.where.en == "room lab · DHCP servers")
    assert "unplug the rogue DHCP server at 198.18.10.250" in fix_words(rogue, "en").do
    # the router's leak, seen from 36 seats under two rules: one line, one thing to do
    leak = [f for f in fixes if "filter" in fix_words(f, "en").do
            and f.where.en.startswith("36 of 40 seats")]
    assert len(leak) == 1 and leak[0].requirements == ("WAN-POLICY", "FILTER-FEATURES")
    # the router's own failures: one line naming each thing to do there
    router = [f for f in fixes if f.where.en == "router (198.18.10.1)"]
    assert len(router) == 1 and len(router[0].points) == 3
    # a room's failing cameras: one walk round the room, each camera with its fix
    cams = next(f for f in fixes if f.where.en == "room lab: 4 cameras")
    assert "cam-5 (198.18.10.205): restart the camera" in fix_words(cams, "en").do
    # a line's verdict is its leading finding's: no FAIL line says a warn's words
    for f in fixes:
        ids = set(f.check_ids)
        statuses = {r.status for r in run.results if r.check_id in ids}
        assert f.status in statuses and f.status is worst(list(statuses)), f.where.en
    # a seat's download and upload through its 100M link: one line about the seat
    speed = [f for f in fixes if f.requirements[0] == "LAN-SPEED"]
    assert [(f.status, f.where.en) for f in speed] == [
        (Status.WARN, "seat A07 (198.18.10.107)")]
    assert set(speed[0].check_ids) == {"LAN-SPEED/lab/A07/download", "LAN-SPEED/lab/A07/upload"}
    # every problem of the run is on exactly one line (nothing failing is dropped)
    listed = [c for f in fixes for c in f.check_ids]
    failing = {r.check_id for r in run.results if r.status in (Status.FAIL, Status.ERROR)}
    assert failing <= set(listed) and len(listed) == len(set(listed))
    # no rule with a problem is left unnamed on the screen's lines (by its name in the
    # reader's language, wrapped or not), nor in a line's words
    named = {q for f in fixes for q in f.requirements}
    for lang in ("en", "zh"):
        text = "".join("".join(summary_lines(run, lang, 80)).split())
        for r in run.results:
            if r.status in (Status.FAIL, Status.ERROR, Status.WARN):
                assert "".join(r.title.get(lang).split()) in text, (lang, r.requirement)
                assert r.requirement in named, r.requirement
    # ... by name, in each language
    titles = {r.requirement: r.title for r in run.results}
    for f in fixes:
        for lang in ("en", "zh"):
            assert titles[f.requirements[0]].get(lang) in f.rules.get(lang)
    assert len(en) == len(fixes) <= 17


def test_every_problem_of_the_drill_has_findings_that_do_not_name_their_seat() -> None:
    for r in drill_run().results:
        assert bool(r.findings) == (r.status is not Status.PASS), r.check_id
        for f in r.findings:
            assert f.what.en and f.what.zh and f.code, r.check_id
            if r.subject.kind is Kind.SEAT and f.subject is None:
                # the same finding on 36 seats reads the same: the seat is the line's
                for words in (f.what.en, f.what.zh):
                    assert r.subject.name not in words and str(r.subject.address) not in words


def test_zh_output_is_wholly_chinese_labels() -> None:
    run = drill_run()
    lines = summary_lines(run, "zh", 120)
    text = "\n".join(lines)
    for english in ("room lab", "camera cam", "DHCP servers on", " of 40 seats", "a partner"):
        assert english not in text, english
    # where a line points is said in Chinese
    for fix in fix_list(run):
        assert "seat " not in fix.where.zh, fix.where.zh
    assert "考位 A31" in text and "考场 lab" in text


def test_every_drill_result_says_whom_it_is_about_in_both_languages() -> None:
    for r in drill_run().results:
        assert r.subject.kind is not Kind.UNKNOWN and r.subject.name, r.check_id
        assert r.subject.room or r.subject.kind is Kind.SITE, r.check_id
        assert r.label("zh") != r.label("en"), r.label("en")


def test_verbose_adds_passing_checks() -> None:
    run = drill_run()
    short, full = summary_lines(run, "en", 80), summary_lines(run, "en", 80, show_passing=True)
    assert len(full) > len(short) and "Passing checks:" in full
    assert not any("throughput_mbps" in line for line in full)


def test_readme_steps_validate_the_shipped_example(tmp_path: Path) -> None:
    """The README's own commands, as a newcomer types them in a fresh folder: no config/
    in sight (tests/test_packaging.py runs them again with an installed wheel)."""
    readme = (REPO / "README.md").read_text()
    block = re.search(r"<!-- first-config -->\s*```sh\n(.*?)```", readme, re.S)
    assert block, "README.md lost its first-config block"
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "readiness").write_text(f"#!/bin/sh\nexec {sys.executable} -m readiness \"$@\"\n")
    (bindir / "readiness").chmod(0o755)
    env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}", "PYTHONPATH": str(REPO)}
    proc = subprocess.run(["bash", "-euc", block.group(1)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "OK my-site.yaml" in proc.stdout
    assert (tmp_path / "my-site.yaml").read_bytes() == \
        (REPO / "config" / "site.example.yaml").read_bytes()
    secrets = tmp_path / "site.secrets.yaml"
    written = secrets.read_text()
    assert "CHANGE-ME" in written  # the devices' passwords, for the user to fill in
    # the tokens readiness asks for are fresh (validate refuses the placeholders)
    tokens = [line.split(": ", 1)[1] for line in written.splitlines()
              if line.startswith(("agent_token:", "run_now_token:"))]
    assert len(tokens) == 2 and len(set(tokens)) == 2
    assert all(len(t) >= 43 and "CHANGE-ME" not in t for t in tokens)
    assert secrets.stat().st_mode & 0o777 == 0o600
