"""A short secret is masked only where it stands as a word of its own.

A UPS card's community is often short and fixed (`public`), and a school may pick a word
such as `lab` or `room`. Masking every occurrence of the letters turned "classroom"
into "class***" and "laboratory" into "***oratory": the messages were garbled, and
comparing them with the real words gave the secret away. A longer secret is masked
wherever it appears (inside a URL, a header). `validate` warns about a short secret and
keeps it allowed. Real site and secrets files for the warning.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from readiness.commands.main import main
from readiness.redact import Secret, scrub, scrub_data

ROOM = Secret("room", "secret:ups_community")
LAB = Secret("lab", "secret:router_community")


def test_a_short_secret_inside_other_words_is_left_alone() -> None:
    text = "classroom 301: the mushroom laboratory, collaboration, label"
    assert scrub(text, [ROOM, LAB]) == text


def test_a_short_secret_standing_as_a_word_is_masked() -> None:
    assert scrub("room lab: community room refused", [ROOM, LAB]) == \
        "*** ***: community *** refused"
    # punctuation, quotes, URLs and Chinese text around it do not join it to a word
    assert scrub("community='room' at snmp://room@198.51.100.4/", [ROOM]) == \
        "community='***' at snmp://***@198.51.100.4/"
    assert scrub("团体名room错误", [ROOM]) == "团体名***错误"
    assert scrub_data({"room": ["room-1", "the room"]}, [ROOM]) == \
        {"***": ["***-1", "the ***"]}


def test_a_long_secret_is_masked_everywhere() -> None:
    long = Secret("Cam-Pa55word", "secret:camera_password")
    assert scrub("rtsp://admin:Cam-Pa55word@cam/ xCam-Pa55wordx", [long]) == \
        "rtsp://admin:***@cam/ x***x"


def test_snmp_engine_errors_use_the_same_rule() -> None:
    from probes.engines.snmp_client import SnmpCredentials, SnmpSession

    creds = SnmpCredentials.v2c(Secret("room", "secret:c"))
    client = SnmpSession("198.51.100.4", 161, creds)
    assert client._scrub("no answer from the classroom UPS, community room") == \
        "no answer from the classroom UPS, community ***"


SITE = textwrap.dedent("""\
    site: {name: Short school, code: S-7}
    profile: cbec
    secrets_file: secrets.yaml
    rooms:
      - id: r1
        subnet: 198.51.100.0/24
        router: {address: 198.51.100.1}
        ups:
          address: 198.51.100.4
          snmp: {version: "2c", community: "secret:ups_community"}
        exam_servers: {primary: {address: 198.51.100.10}}
        proctor: {address: 198.51.100.2}
        seats: {A01: 198.51.100.101}
    """)


def _validate(tmp_path: Path, community: str,
              capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    (tmp_path / "site.yaml").write_text(SITE)
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text(f"ups_community: {community}\n")
    secrets.chmod(0o600)
    code = main(["validate", str(tmp_path / "site.yaml"), "--lang", "en"])
    out = capsys.readouterr()
    return code, " ".join((out.out + out.err).split())


def test_validate_warns_about_a_short_community_and_allows_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _validate(tmp_path, "public", capsys)
    assert code == 0 and out.startswith("OK ")
    assert ("warning: site.yaml:10 rooms[0].ups.snmp.community: the SNMP community in "
            f"ups_community in the secrets file {tmp_path / 'secrets.yaml'} is shorter than "
            "8 characters") in out
    assert "a UPS card whose community is fixed may keep it" in out
    assert "public" not in out


def test_validate_says_nothing_of_a_long_community(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _validate(tmp_path, "k7Qm2xVw9pLr", capsys)
    assert code == 0 and "warning" not in out
