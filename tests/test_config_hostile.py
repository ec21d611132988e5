"""Hostile and mistaken configuration input: refused quickly, with file, line and field.

Every file the project reads (site, secrets, profile, lab room) goes through one
guarded loader; these tests feed it what a pasted-together or malicious file holds.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import textwrap
import time
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from readiness.argtypes import port_number
from readiness.commands.main import main
from readiness.config.errors import ConfigError
from readiness.config.load import load_site
from readiness.config.profile import load_profile
from readiness.config.yamlsource import MAX_BYTES, load_yaml

REPO = Path(__file__).resolve().parent.parent
PROFILES = {"eda", "cbec"}

GOOD = textwrap.dedent("""\
    site:
      name: Test school
      code: T-1
    profile: cbec
    secrets_file: secrets.yaml
    exam_sessions:
      - name: morning
        start: 2026-12-05T09:00:00
        duration_min: 120
    schedule:
      daily_from: 7d
      daily_at: "20:00"
    agent:
      port: 8765
      token: secret:agent_token
    rooms:
      - id: r1
        subnet: 198.51.100.0/24
        router:
          address: 198.51.100.1
          snmp: {version: "2c", community: "secret:community"}
        exam_servers:
          primary: {address: 198.51.100.10, ports: [80, 443]}
        proctor: {address: 198.51.100.2}
        seats:
          A01-A40: 198.51.100.101-140
          A41: {address: 198.51.100.141, mac: "00:1a:2b:3c:4d:41"}
    """)
# a fixed 256-bit test value: validate refuses placeholders and short agent tokens
AGENT_TOKEN = "rvbBd1gwVe0i5j4Wd3DQZj4-4rLczvtlaB5AeY-2Oe0"
SECRETS = f"community: s3cr3t-comm\nagent_token: {AGENT_TOKEN}\n"

# nine levels of nine: 9**9 (387 million) strings once expanded, in 342 bytes
ALIAS_BOMB = textwrap.dedent("""\
    a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
    b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
    c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
    d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
    e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
    f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
    g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
    h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
    i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
    """)


def write_site(folder: Path, text: str, secrets: str = SECRETS) -> Path:
    site = folder / "site.yaml"
    site.write_text(text, encoding="utf-8")
    sec = folder / "secrets.yaml"
    sec.write_text(secrets, encoding="utf-8")
    sec.chmod(0o600)
    return site


def issues_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_site(path, PROFILES)
    return [str(i) for i in info.value.issues]


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """1-based line of the nth line containing `needle`."""
    hits = [n for n, line in enumerate(text.splitlines(), 1) if needle in line]
    return hits[nth - 1]


def validate(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["validate", str(path), "--lang", "en"])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_good_site_loads(tmp_path: Path) -> None:
    # the baseline every hostile variant below departs from
    site = load_site(write_site(tmp_path, GOOD), PROFILES)
    assert len(site.seats["r1"]) == 41


# --- aliases --------------------------------------------------------------------


def test_alias_bomb_is_refused_in_under_a_second_and_little_memory(tmp_path: Path) -> None:
    path = write_site(tmp_path, ALIAS_BOMB)
    started = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        load_site(path, PROFILES)
    elapsed = time.perf_counter() - started
    # expanded, the bomb takes minutes and gigabytes; refused, milliseconds. The bound is
    # wide so a busy machine cannot fail it (the speed itself: bench/, not a unit test)
    assert elapsed < 10.0, f"took {elapsed:.2f} s"
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError):
            load_site(path, PROFILES)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000, f"peak {peak / 1e6:.1f} MB"
    [issue] = info.value.issues
    # refused at the first level whose aliases pass the bound, said in words
    assert str(issue).startswith("site.yaml:5: aliases (*name) expand to more than"), str(issue)
    assert "alias bomb" in str(issue)


def test_alias_bomb_through_the_cli_stays_under_100_mb(tmp_path: Path) -> None:
    """The whole command, in its own process: what a user would run."""
    path = write_site(tmp_path, ALIAS_BOMB)
    probe = ("import json, runpy, sys, time\n"
             f"sys.argv = ['readiness', 'validate', {str(path)!r}, '--lang', 'en']\n"
             "t = time.perf_counter()\n"
             "try:\n"
             "    runpy.run_module('readiness', run_name='__main__')\n"
             "except SystemExit as stop:\n"
             "    code = stop.code\n"
             "took = time.perf_counter() - t  # imports included: what the user waits for\n"
             # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking
             # parent (pytest, large by then), while VmHWM belongs to this program
             "rss_kb = int(next(l.split()[1] for l in open('/proc/self/status')\n"
             "                  if l.startswith('VmHWM:')))\n"
             "print(json.dumps({'code': code, 'took': took, 'rss_kb': rss_kb}))\n")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60, cwd=REPO)
    assert "Traceback" not in proc.stderr, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["code"] == 2
    assert result["took"] < 15.0, result  # not expanded (minutes); imports included
    assert result["rss_kb"] < 100 * 1024, result
    assert "site.yaml:5: aliases" in proc.stderr


def test_alias_inside_its_own_anchor_is_refused(tmp_path: Path) -> None:
    got = issues_of(write_site(tmp_path, "site: &s {name: x, code: y, again: *s}\n"))
    assert got == ["site.yaml:1: alias *s is used inside its own anchor &s: "
                   "its value would never end"]


def test_a_few_aliases_still_work(tmp_path: Path) -> None:
    # a shared SNMP block is a reasonable use: the bound must not refuse it
    text = GOOD.replace('snmp: {version: "2c", community: "secret:community"}',
                        'snmp: &snmp {version: "2c", community: "secret:community"}')
    text = text.replace("    seats:\n",
                        "    switch: {address: 198.51.100.3, snmp: *snmp}\n    seats:\n")
    site = load_site(write_site(tmp_path, text), PROFILES)
    switch = site.model.rooms[0].switch
    assert switch is not None and switch.snmp is not None
    assert site.secret("rooms[0].switch.snmp.community").reveal() == "s3cr3t-comm"


# --- duplicate keys -------------------------------------------------------------


def test_second_seats_block_names_both_lines(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    pasted = GOOD + "    seats:\n      B01: 198.51.100.151\n"
    path = write_site(tmp_path, pasted)
    first, second = line_of(pasted, "seats:"), line_of(pasted, "seats:", 2)
    assert issues_of(path) == [
        f"site.yaml:{second} rooms[0].seats: 'seats' is written twice in the same block, "
        f"at line {first} and line {second}; YAML would silently keep only the second. "
        "Merge them into one"]
    code, out = validate(path, capsys)
    assert code == 2 and f"line {first} and line {second}" in out.replace("\n", " ")


def test_second_profile_key_names_both_lines(tmp_path: Path) -> None:
    text = GOOD.replace("secrets_file:", "profile: eda\nsecrets_file:")
    got = issues_of(write_site(tmp_path, text))
    assert len(got) == 1
    assert got[0].startswith("site.yaml:5 profile: 'profile' is written twice")
    assert "at line 4 and line 5" in got[0]


def test_duplicate_in_chinese(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_site(tmp_path, GOOD.replace("secrets_file:", "profile: eda\nsecrets_file:"))
    assert main(["validate", str(path), "--lang", "zh"]) == 2
    err = capsys.readouterr().err.replace("\n", "")
    assert "'profile' 写了两次（第 4 行和第 5 行）" in err


def test_same_key_in_different_blocks_is_fine(tmp_path: Path) -> None:
    # `address` under router and under proctor is not a duplicate
    site = load_site(write_site(tmp_path, GOOD), PROFILES)
    assert site.model.rooms[0].proctor.address == "198.51.100.2"


def test_duplicate_secret_names_both_lines_without_the_values(tmp_path: Path) -> None:
    secrets = (f"community: first-value\nagent_token: {AGENT_TOKEN}\n"
               "community: second-value\n")
    got = issues_of(write_site(tmp_path, GOOD, secrets))
    assert len(got) == 1
    assert got[0].startswith("site.yaml:5 secrets_file: secrets file ")
    assert "secrets.yaml:3 community: 'community' is written twice" in got[0]
    assert "at line 1 and line 3" in got[0]
    assert "first-value" not in got[0] and "second-value" not in got[0]


def test_broken_secrets_file_does_not_quote_it(tmp_path: Path) -> None:
    got = issues_of(write_site(tmp_path, GOOD, "community: x\nagent_token: \"hunter2\n"))
    assert any("secrets.yaml:" in line and "not valid YAML" in line for line in got), got
    assert not any("hunter2" in line for line in got)


def test_duplicate_key_in_a_profile_names_both_lines(tmp_path: Path) -> None:
    text = (REPO / "config" / "profiles" / "cbec.yaml").read_text(encoding="utf-8")
    path = tmp_path / "cbec.yaml"
    path.write_text(text.replace("\nseed:", "\nseed: other\nseed:", 1), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_profile(path)
    [issue] = info.value.issues
    assert "'seed' is written twice" in str(issue) and issue.path == "seed"


def test_duplicate_key_in_the_lab_room_names_both_lines(tmp_path: Path) -> None:
    from readiness import lab

    text = (REPO / "config" / "lab" / "room.yaml").read_text(encoding="utf-8")
    path = tmp_path / "room.yaml"
    path.write_text(text + "seats: 3\n", encoding="utf-8")
    with pytest.raises(lab.LabSpecError) as info:
        lab.load_spec(path)
    first = line_of(text, "seats:")
    assert any(f"at line {first} and line {len(text.splitlines()) + 1}" in str(i)
               for i in info.value.issues), info.value.issues


# --- values ---------------------------------------------------------------------


def test_impossible_date_names_file_line_and_field(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = write_site(tmp_path, GOOD.replace("2026-12-05T09:00:00", "2026-13-45"))
    assert issues_of(path) == [
        "site.yaml:8 exam_sessions[0].start: '2026-13-45' is not a date and time (month value "
        "is outside expected range of 1-12); write it such as 2026-12-05T09:00:00 (local time)"]
    code, out = validate(path, capsys)
    assert code == 2 and "internal error" not in out and "Traceback" not in out


@pytest.mark.parametrize(("needle", "value", "field", "says"), [
    ("start:", "0026-12-05T09:00:00", "exam_sessions[0].start", "year 26 is not an exam date"),
    ("start:", "9:00", "exam_sessions[0].start", "540 is not a date and time"),
    ("start:", "2026-02-30", "exam_sessions[0].start", "day value is outside expected range"),
    ("daily_from:", "99999999999999999999d", "schedule.daily_from", "is longer than 366d"),
    ("daily_at:", '"25:00"', "schedule.daily_at", "'25:00' is not a time of day"),
    ("port:", "70000", "agent.port", "70000 is not a port number: ports run from 1 to 65535"),
    ("port:", "yes", "agent.port", "True is not a port number"),
    ("primary:", "{address: 198.51.100.10, ports: [0]}",
     "rooms[0].exam_servers.primary.ports[0]", "0 is not a port number"),
    ("A01-A40:", f"198.51.100.{'9' * 5000}-140", "rooms[0].seats.A01-A40",
     "needs an address range"),
])
def test_bad_values_name_file_line_and_field(tmp_path: Path, needle: str, value: str,
                                             field: str, says: str) -> None:
    line = line_of(GOOD, needle)
    lines = GOOD.splitlines(keepends=True)
    key = lines[line - 1].split(":")[0]
    lines[line - 1] = f"{key}: {value}\n"
    got = issues_of(write_site(tmp_path, "".join(lines)))
    assert any(i.startswith(f"site.yaml:{line} {field}: ") and says in i for i in got), got


def test_secrets_file_name_with_a_nul_is_a_config_error(tmp_path: Path) -> None:
    got = issues_of(write_site(tmp_path, GOOD.replace("secrets.yaml", '"sec\\0rets.yaml"')))
    assert any(i.startswith("site.yaml:5 secrets_file:") and "not a valid file name" in i
               for i in got), got


# --- the file itself ------------------------------------------------------------


def test_file_over_1_mb_is_refused_with_its_size(tmp_path: Path) -> None:
    path = write_site(tmp_path, GOOD + "#" + "x" * (2 * 1024 * 1024) + "\n")
    size = path.stat().st_size
    started = time.perf_counter()
    got = issues_of(path)
    assert time.perf_counter() - started < 1.0  # refused before parsing
    assert got == [f"site.yaml: is {size:,} bytes ({size / 1e6:.1f} MB); a configuration file "
                   "may be at most 1 MB: is this the right file?"]


def test_file_of_exactly_the_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"a: 1\n#" + b"x" * (MAX_BYTES - 7) + b"\n")
    assert path.stat().st_size == MAX_BYTES
    assert load_yaml(path).data == {"a": 1}


@pytest.mark.parametrize(("content", "line", "says"), [
    (b"site:\n  name: \x00\n", 2, "control character #x0000"),
    ("site:\n  name: 考场\n".encode("gbk"), 2, "not UTF-8 text"),
    (b"[" * 5000 + b"]" * 5000, 1, "nested more than 32 levels deep"),
    (b"site: {name: x}\n---\nsite: {name: y}\n", 2, "a second document"),
    (b"site:\n\tname: x\n", 2, "not valid YAML"),
    (b"site: !!python/object/apply:os.system [id]\n", 1, "not valid YAML"),
    (b"? [a, b]\n: 1\n", 1, "not valid YAML: found unhashable key"),
])
def test_malformed_files_name_the_line(tmp_path: Path, content: bytes, line: int,
                                       says: str) -> None:
    path = tmp_path / "site.yaml"
    path.write_bytes(content)
    got = issues_of(path)
    assert len(got) == 1 and got[0].startswith(f"site.yaml:{line}: ") and says in got[0], got


def test_too_many_values_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text("[" + "1," * 60_000 + "]\n")
    got = issues_of(path)
    assert len(got) == 1 and "has more than 50000 values" in got[0]


# --- the command line -----------------------------------------------------------


@pytest.mark.parametrize("argv", [
    ["agent", "--config", "site.yaml", "--bind", "127.0.0.1", "--port", "70000"],
    ["throughput-server", "--bind", "127.0.0.1", "--port", "70000"],
])
def test_port_70000_is_a_usage_error(argv: list[str]) -> None:
    # before, throughput-server listened on port 70000 - 65536 = 4464 without a word
    proc = subprocess.run([sys.executable, "-m", "readiness", *argv], capture_output=True,
                          text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 2
    assert proc.stderr.startswith("usage: readiness ")
    assert "argument --port: 70000 is not a port number: ports run from 1 to 65535" \
        in proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr


@pytest.mark.parametrize(("text", "says"), [
    ("0", "0 is not a port number"), ("65536", "65536 is not a port number"),
    ("-1", "-1 is not a port number"), ("http", "'http' is not a port number"),
])
def test_port_number_refuses(text: str, says: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=re.escape(says)):
        port_number(text)


def test_port_number_accepts_the_range() -> None:
    assert [port_number(t) for t in ("1", "8765", " 65535 ")] == [1, 8765, 65535]


# --- fuzz: random edits of a good file --------------------------------------------

HOSTILE = ["2026-13-45", "0001-01-01", "9999-12-31T23:59:59", "99999999999999999999d",
           "70000", "-1", ".inf", ".nan", "~", "[]", "{}", "[1, {a: b}]", "yes", "0x1F",
           "12:30", '"25:99"', "9" * 5000, "!!binary AAAA", "!!timestamp soon", "!!int x",
           "&x 1", "*nothing", "'", '"', "<<: {a: 1}", '"\\0"', "!!set {a}", "- a", ": :",
           "A01-A99999999: 198.51.100.1-999", '"%s{0}"', "|\n  text"]
VALUE_LINES = [n for n, line in enumerate(GOOD.splitlines())
               if re.match(r"^\s*[\w-]+:\s*\S", line)]
TEXT = st.characters(blacklist_categories=("Cs",))  # a file holds no lone surrogates


def _mutate(draw: st.DrawFn) -> str:
    lines = GOOD.splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 3))):
        index = draw(st.sampled_from(VALUE_LINES))
        how = draw(st.sampled_from(["value", "duplicate", "cut", "insert"]))
        if how == "value":
            key = lines[index].split(":")[0]
            value = draw(st.one_of(st.sampled_from(HOSTILE), st.text(TEXT, max_size=20)))
            lines[index] = f"{key}: {value}\n".replace("\r", "")
        elif how == "duplicate":
            lines.insert(index, lines[index])
        elif how == "cut":
            at = draw(st.integers(0, len(lines[index])))
            lines[index] = lines[index][:at] + "\n"
        else:
            at = draw(st.integers(0, len(lines[index])))
            lines[index] = lines[index][:at] + draw(st.text(TEXT, max_size=3)) + lines[index][at:]
    return "".join(lines)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(text=st.composite(_mutate)())
def test_mutated_site_files_never_crash_validate(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> None:
    path = write_site(tmp_path, text)
    code, out = validate(path, capsys)
    assert "Traceback" not in out and "internal error" not in out, out
    assert code in (0, 2), out
    if code == 2:
        assert re.search(r"site\.yaml:\d+", out), out
