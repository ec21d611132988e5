"""A room's subnet wider than a room's LAN could be is refused, naming the field.

The agents' allow-list and the ARP sweep take the room's subnet as given: with
`subnet: 0.0.0.0/0` every IPv4 address became a target the agents would probe. Before,
it validated.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from readiness.commands.main import main

SITE = textwrap.dedent("""\
    site: {{name: Wide school, code: W-7}}
    profile: cbec
    rooms:
      - id: r1
        subnet: {subnet}
        router: {{address: 198.51.100.1}}
        exam_servers: {{primary: {{address: 198.51.100.10}}}}
        proctor: {{address: 198.51.100.2}}
        seats: {{A01: 198.51.100.101}}
    """)


def _validate(tmp_path: Path, subnet: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    site = tmp_path / "site.yaml"
    site.write_text(SITE.format(subnet=subnet))
    code = main(["validate", str(site), "--lang", "en"])
    out = capsys.readouterr()
    return code, " ".join((out.out + out.err).split())


@pytest.mark.parametrize("subnet, addresses", [("0.0.0.0/0", "4,294,967,296"),
                                               ("0.0.0.0/1", "2,147,483,648"),
                                               ("198.0.0.0/8", "16,777,216"),
                                               ("198.50.0.0/15", "131,072")])
def test_a_subnet_wider_than_a_16_is_refused(tmp_path: Path, subnet: str, addresses: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _validate(tmp_path, subnet, capsys)
    assert code == 2
    assert f"site.yaml:5 rooms[0].subnet: {subnet} has {addresses} addresses" in out
    assert "at most /16" in out and "192.168.10.0/24" in out


@pytest.mark.parametrize("subnet", ["198.51.0.0/16", "198.51.100.0/24"])
def test_a_16_or_narrower_is_a_room(tmp_path: Path, subnet: str,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _validate(tmp_path, subnet, capsys)
    assert code == 0, out
