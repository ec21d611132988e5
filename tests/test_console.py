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

from readiness.commands.console import _TOKENS, summary_lines
from readiness.fixlist import fix_list
from readiness.results import RunRecord, Status, worst
from readiness.serve.importing import run_from_json
from readiness.subject import Kind
from readiness.words import STATUS_WORDS

REPO = Path(__file__).resolve().parent.parent
DRILL = Path(__file__).parent / "fixtures" / "drill_result.json"


def drill_run() -> RunRecord:
    return run_from_json(json.loads(DRILL.read_text()))


def _words(text: str) -> set[str]:
    """The unbreakable pieces of a finding: words, addresses, URLs (not CJK characters)."""
    # a cut may drop the punctuation after a word ("Host:" -> "Host"), never a letter
    return {t.rstrip(",;:.…") for t in _TOKENS.findall(text)
            if not t.isspace() and len(t.rstrip(",;:.…")) > 1}


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("width", [80, 120])
def test_drill_summary_fits_and_breaks_no_word(lang: str, width: int) -> None:
    run = drill_run()
    lines = summary_lines(run, lang, width)
    fixes = fix_list(run)
    rules = len({r.requirement for r in run.results})
    # a header, one line per rule, at most two lines per fix: a screen, not a page
    assert len(lines) <= 2 + 1 + rules + 2 + 2 * len(fixes) and len(fixes) <= 25, \
        "\n".join(lines)
    assert all(cell_len(line) <= width for line in lines), \
        [line for line in lines if cell_len(line) > width]
    # every piece on screen is a whole word of what the run said: none was cut in two
    said = set()
    for r in run.results:
        said |= _words(r.message.get(lang)) | _words(r.label(lang))
        said |= _words(r.requirement) | _words(r.title.get(lang))
    for fix in fixes:
        said |= _words(fix.where.get(lang)) | _words(fix.what.get(lang))
    said |= set(STATUS_WORDS[lang].values()) | {str(n) for n in range(1, 100)}
    shown = lines[lines.index(next(x for x in lines if re.match(r" 1\. ", x))):]
    broken = [t for line in shown for t in _words(line)
              if t not in said]
    assert not broken, broken


def test_each_problem_is_one_item_worst_first() -> None:
    run = drill_run()
    fixes = fix_list(run)
    en = [f"{f.where.en}: {f.what.en}" for f in fixes]
    statuses = [f.status for f in fixes]
    assert statuses == sorted(statuses, key=lambda s: ["fail", "error", "warn", "skip"].index(s))
    # the same finding on 36 seats is one line naming the seats left out, and what to do
    spec = [line for line in en if line.startswith("SEAT-SPEC")]
    assert len(spec) == 1 and "36 of 40 seats (all but A09, A13, A21, A32)" in spec[0]
    assert "disk 274.9 GB, below the minimum 500 GB; fit at least 500 GB of disk" in spec[0]
    # a seat without an agent is one line, led by its worst finding under that rule
    a09 = [f for f in fixes if "A09 (" in f.where.en]
    assert len(a09) == 1 and a09[0].status is Status.WARN
    assert a09[0].requirements == ("WAN-POLICY", "LAN-SPEED", "SEAT-SPEC")
    assert a09[0].what.en.startswith("no agent answers; start `readiness agent`")
    # seats that do not answer at all: one line, the cause first, naming what it explains
    off = next(f for f in fixes if f.where.en.startswith("LAN-SUBNET · 3 seats (A13, A21, A32)"))
    assert off.what.en.startswith("nothing answers (10 pings, 3 TCP connects to port 8765, ARP)")
    assert off.requirements == ("LAN-SUBNET", "LAN-SPEED", "LAN-FIXED-IP", "WAN-POLICY",
                                "SEAT-SPEC")
    # ... and where the seat on a mistyped subnet really is, with the address to set
    a21 = [f for f in fixes if f.where.en.endswith("seat A21 (198.18.10.121)")]
    assert [f.requirements[0] for f in a21] == ["LAN-SUBNET", "LAN-FIXED-IP"]
    assert all(f.what.en.endswith("; set its address to 198.18.10.121") for f in a21)
    # the room's own count is a line of its own, which says what to do
    seats = next(f for f in fixes if f.where.en == "LAN-SEATS · room lab")
    assert seats.what.en == ("only 37 of 40 seats answer; the rule needs 40; fix or replace "
                             "the seats marked fail under LAN-SUBNET")
    # a seat that drops ping but answers is a warn of its own, not a failed seat
    a05 = [f for f in fixes if "A05 (" in f.where.en]
    assert [(f.status, f.requirements[0]) for f in a05] == [(Status.WARN, "LAN-SUBNET")]
    # the conflict at A31's address, seen by its own check and by the room's: one line
    a31 = next(f for f in fixes if f.where.en == "LAN-FIXED-IP · seat A31 (198.18.10.131)")
    assert set(a31.check_ids) == {"LAN-FIXED-IP/lab/198.18.10.131/arp",
                                  "LAN-FIXED-IP/lab/l2-conflicts"}
    rogue = next(f for f in fixes if f.where.en == "LAN-FIXED-IP · room lab · DHCP servers")
    assert "unplug the rogue DHCP server at 198.18.10.250" in rogue.what.en
    # a line's verdict is its leading finding's: no FAIL line says a warn's words
    for f in fixes:
        ids = set(f.check_ids)
        statuses = {r.status for r in run.results if r.check_id in ids}
        assert f.status in statuses and f.status is worst(list(statuses)), f.where.en
    # a seat's download and upload through its 100M link: one line about the seat
    speed = [f for f in fixes if f.requirements[0] == "LAN-SPEED"]
    assert [(f.status, f.where.en) for f in speed] == [
        (Status.WARN, "LAN-SPEED · seat A07 (198.18.10.107)")]
    assert set(speed[0].check_ids) == {"LAN-SPEED/lab/A07/download", "LAN-SPEED/lab/A07/upload"}
    # every problem of the run is on exactly one line (nothing failing is dropped)
    listed = [c for f in fixes for c in f.check_ids]
    failing = {r.check_id for r in run.results if r.status in (Status.FAIL, Status.ERROR)}
    assert failing <= set(listed) and len(listed) == len(set(listed))
    # no rule with a problem is left unnamed on the screen's lines
    text = "\n".join(summary_lines(run, "en", 80))
    fix_part = text[text.index("Fix list"):]
    for r in run.results:
        if r.status in (Status.FAIL, Status.ERROR, Status.WARN):
            assert r.requirement in fix_part, r.requirement


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
