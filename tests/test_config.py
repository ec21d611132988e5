"""Site file validation: every class of mistake gives a precise, located message."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from readiness.config.errors import ConfigError
from readiness.config.load import load_site

REPO = Path(__file__).resolve().parent.parent
PROFILES = {"eda", "cbec"}
# a fixed 256-bit test value: validate refuses placeholders and short agent tokens
AGENT_TOKEN = "rz2k2Bsy8bQShPnWPs2rLaXEEqVXKcpmzJcX8QbIh3A"

GOOD = textwrap.dedent("""\
    site:
      name: Test school
      code: T-1
    profile: cbec
    secrets_file: secrets.yaml
    rooms:
      - id: r1
        subnet: 192.168.10.0/24
        router:
          address: 192.168.10.1
          snmp: {version: "2c", community: "secret:community"}
        exam_servers:
          primary: {address: 192.168.10.10, ports: [80]}
        proctor: {address: 192.168.10.2}
        seats:
          A01-A40: 192.168.10.101-140
        cameras:
          - {name: front, url: "rtsp://192.168.10.201/s", username: admin,
             password: "${CAM_PASSWORD}"}
    """)


def write_site(tmp_path: Path, text: str, secrets: str | None = "community: s3cr3t-comm\n",
               mode: int = 0o600) -> Path:
    site = tmp_path / "site.yaml"
    site.write_text(text, encoding="utf-8")
    if secrets is not None:
        sec = tmp_path / "secrets.yaml"
        sec.write_text(secrets, encoding="utf-8")
        sec.chmod(mode)
    return site


def issues_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_site(path, PROFILES)
    return [str(i) for i in info.value.issues]


@pytest.fixture(autouse=True)
def camera_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAM_PASSWORD", "cam-pass-123")


def test_good_site_expands_seat_ranges_and_resolves_secrets(tmp_path: Path) -> None:
    site = load_site(write_site(tmp_path, GOOD), PROFILES)
    seats = site.seats["r1"]
    assert len(seats) == 40
    assert (seats[0].label, seats[0].address) == ("A01", "192.168.10.101")
    assert (seats[-1].label, seats[-1].address) == ("A40", "192.168.10.140")
    community = site.secret("rooms[0].router.snmp.community")
    assert community is not None and community.reveal() == "s3cr3t-comm"
    assert "s3cr3t" not in repr(community) and "s3cr3t" not in str(community)
    assert site.secret("rooms[0].cameras[0].password").reveal() == "cam-pass-123"


def test_ten_mistakes_are_all_reported_with_line_and_field(tmp_path: Path) -> None:
    bad = textwrap.dedent("""\
        site:
          name: Test school
          code: T-1
        profile: cbce
        timezone: Asia/Shangai
        secrets_file: secrets.yaml
        rooms:
          - id: r1
            subnet: 192.168.10.0/24
            router:
              address: 192.168.10.1
              snmp: {version: "2c", community: "plain-text-community"}
            exam_servers:
              primary: {address: 192.168.10.10, ports: [80]}
            proctor: {address: 192.168.10.2}
            seats:
              A01-A39: 192.168.10.101-140
              A40: 192.168.11.140
              A41: 192.168.10.10
            cameras:
              - {name: front, url: "rtsp://admin:hunter22@192.168.10.201/s"}
            exam_url: [https://exam.example.com/]
          - id: r2
            subnet: 192.168.20.1/24
            router: {address: 192.168.20.1}
            exam_servers:
              primary: {address: 192.168.20.300}
            proctor: {address: 192.168.20.2}
            seats: {B01: 192.168.20.101}
        """)
    got = issues_of(write_site(tmp_path, bad))
    expected = [
        ("site.yaml:4 profile", "unknown profile 'cbce'"),
        ("site.yaml:5 timezone", "not a time zone name"),
        ("site.yaml:12 rooms[0].router.snmp.community", "written inline"),
        ("site.yaml:17 rooms[0].seats.A01-A39", "has 39 seats but address range"),
        ("site.yaml:18 rooms[0].seats.A40", "192.168.11.140 is outside the room subnet "
                                            "192.168.10.0/24"),
        ("site.yaml:19 rooms[0].seats.A41", "192.168.10.10 is already used by the primary "
                                            "exam server"),
        ("site.yaml:21 rooms[0].cameras[0].url", "has a password in it"),
        ("site.yaml:22 rooms[0].exam_url", "unknown key"),
        ("site.yaml:24 rooms[1].subnet", "host bits must be zero"),
        ("site.yaml:27 rooms[1].exam_servers.primary.address", "is not an IPv4 address"),
    ]
    for where, what in expected:
        assert any(line.startswith(where) and what in line for line in got), (where, what, got)
    assert len(got) == len(expected), got
    # the inline secret and the URL password are never repeated back
    joined = "\n".join(got)
    assert "plain-text-community" not in joined and "hunter22" not in joined


@pytest.mark.parametrize("addresses", [
    "192.168.300.101-103",  # an octet past 255 before the range
    "192.168.010.101-103",  # a leading zero (ipaddress refuses it, inet_aton reads octal)
    "١٩٢.168.10.101-103",  # digits, but not ASCII ones
])
def test_a_seat_range_on_no_address_is_named_not_a_crash(tmp_path: Path,
                                                         addresses: str) -> None:
    # found by tests/test_property_seats.py: these crashed the loader (AddressValueError)
    site = GOOD.replace("A01-A40: 192.168.10.101-140", f"A01-A03: {addresses}")
    assert site != GOOD
    got = issues_of(write_site(tmp_path, site))
    assert len(got) == 1 and got[0].startswith("site.yaml:") and \
        f"rooms[0].seats.A01-A03: address range '{addresses}'" in got[0], got
    assert "such as 192.168.10.101-140" in got[0]


def test_check_command_on_bad_config_exits_2_without_traceback(tmp_path: Path) -> None:
    site = write_site(tmp_path, GOOD.replace("profile: cbec", "profile: cbec\nprofil: eda"))
    proc = subprocess.run([sys.executable, "-m", "readiness", "check", str(site), "--lang", "en"],
                          capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "site.yaml:5 profil: unknown key" in proc.stderr


def test_secrets_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    got = issues_of(write_site(tmp_path, GOOD, mode=0o644))
    assert any("can be read by other users" in line and "chmod 600" in line for line in got)
    assert not any("s3cr3t" in line for line in got)


def test_missing_env_secret_names_the_variable(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAM_PASSWORD")
    got = issues_of(write_site(tmp_path, GOOD))
    assert got == ["site.yaml:19 rooms[0].cameras[0].password: "
                   "environment variable CAM_PASSWORD is not set"]


def test_missing_secrets_key_and_missing_file(tmp_path: Path) -> None:
    got = issues_of(write_site(tmp_path, GOOD, secrets="other: x\n"))
    assert any("no key 'community' in secrets file" in line for line in got)
    (tmp_path / "secrets.yaml").unlink()
    got = issues_of(tmp_path / "site.yaml")
    assert any("secrets.yaml does not exist" in line for line in got)


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    got = issues_of(write_site(tmp_path, GOOD.replace("code: T-1", "code: [T-1")))
    assert len(got) == 1 and got[0].startswith("site.yaml:") and "not valid YAML" in got[0]


def test_missing_required_fields(tmp_path: Path) -> None:
    got = issues_of(write_site(tmp_path, "site: {name: x, code: y}\nprofile: eda\n"))
    assert got == ["site.yaml:1 rooms: required field is missing"]


def test_example_site_is_valid(tmp_path: Path) -> None:
    shutil.copy(REPO / "config" / "site.example.yaml", tmp_path / "site.yaml")
    names = ["router_snmp_community", "switch_auth_key", "switch_priv_key",
             "ups_snmp_community", "camera_password", "agent_token", "run_now_token",
             "recorder_password"]
    secrets = tmp_path / "site.secrets.yaml"
    tokens = {"agent_token": AGENT_TOKEN, "run_now_token": AGENT_TOKEN[::-1]}
    secrets.write_text("".join(f"{n}: {tokens.get(n, f'value-of-{n}')}\n" for n in names))
    secrets.chmod(0o600)
    site = load_site(tmp_path / "site.yaml", PROFILES)
    assert len(site.seats["room301"]) == 41
    assert site.secret("rooms[0].switch.snmp.priv_key").reveal() == "value-of-switch_priv_key"


def test_lab_site_is_valid(tmp_path: Path) -> None:
    data = yaml.safe_load((REPO / "config" / "lab" / "site.yaml").read_text())
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text(f"snmp_community: c\nagent_token: {AGENT_TOKEN}\ncamera_password: p\n"
                       "recorder_password: r\n")
    os.chmod(secrets, 0o600)
    data["secrets_file"] = str(secrets)
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    site = load_site(path, PROFILES)
    assert [s.address for s in site.seats["lab"]][:2] == ["198.18.10.101", "198.18.10.102"]
    # the lab must only ever use test ranges
    import ipaddress
    test_nets = [ipaddress.ip_network(n) for n in
                 ("198.18.0.0/15", "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")]
    for seat in site.seats["lab"]:
        assert any(ipaddress.ip_address(seat.address) in n for n in test_nets)
