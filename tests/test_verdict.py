"""A site is ready only when every required rule was proven, in every room: a warning
that says "could not check" is no proof, and nothing proven is never ready."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from readiness.config.errors import ConfigError
from readiness.config.load import load_site
from readiness.config.profile import load_profile
from readiness.planning import PlanContext, build_plan
from readiness.results import (
    NOT_PROOF,
    CheckResult,
    Status,
    Text,
    Verdict,
    overall_verdict,
)
from readiness.subject import Kind, Subject


def result(req: str, status: Status, **measured: object) -> CheckResult:
    return CheckResult(requirement=req, title=Text(req, req),
                       subject=Subject(Kind.SITE, "t"), vantage="v",
                       status=status, message=Text("m", "m"), measured=dict(measured),
                       threshold={}, citation=None, started_at=datetime.now(UTC),
                       duration_s=0.0)


def test_a_not_verified_warning_is_no_proof() -> None:
    assert overall_verdict([result("LAN-FIXED-IP", Status.WARN)], {"LAN-FIXED-IP"}) \
        == Verdict.READY
    assert overall_verdict([result("LAN-FIXED-IP", Status.WARN, **{NOT_PROOF: True})],
                           {"LAN-FIXED-IP"}) == Verdict.UNVERIFIED


def test_nothing_proven_is_never_ready() -> None:
    assert overall_verdict([result("SEAT-SPEC", Status.SKIP)], set()) == Verdict.UNVERIFIED


TWO_ROOMS = textwrap.dedent("""\
    site: {name: Two rooms, code: T-2}
    profile: cbec
    rooms:
      - id: r1
        subnet: 198.18.10.0/24
        router: {address: 198.18.10.1}
        exam_servers: {primary: {address: 198.18.10.10}}
        proctor: {address: 198.18.10.2}
        seats: {A01: 198.18.10.101}
        cameras: [{name: c1, url: "rtsp://198.18.10.201/s"}]
      - id: r2
        subnet: 198.18.20.0/24
        router: {address: 198.18.20.1}
        exam_servers: {primary: {address: 198.18.20.10}}
        proctor: {address: 198.18.20.2}
        seats: {B01: 198.18.20.101}
    """)


def test_a_room_without_cameras_is_not_proven_by_another_rooms_cameras(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(TWO_ROOMS)
    site = load_site(path, {"eda", "cbec"})
    plan = build_plan(PlanContext(site, load_profile("cbec")), only={"CAM-RES"})
    assert "CAM-RES" in plan.unproven
    assert any("room r2" in text.en for req, _, text, _ in plan.placeholders if req == "CAM-RES")
    passing = [result("CAM-RES", Status.PASS)]
    assert overall_verdict(passing, plan.required, plan.unproven) == Verdict.UNVERIFIED


@pytest.mark.parametrize("line, message", [
    ("web_url: http://admin:pw@198.18.10.1/", "has a user or password in it"),
    ("snmp: {version: '3', user: u, auth_key: 'secret:short', priv_key: 'secret:longenough'}",
     "shorter than 8 characters"),
])
def test_config_mistakes_found_by_review(tmp_path: Path, line: str, message: str) -> None:
    site = TWO_ROOMS.replace(
        "site: {name: Two rooms, code: T-2}",
        "site: {name: Two rooms, code: T-2}\nsecrets_file: secrets.yaml").replace(
        "    router: {address: 198.18.10.1}", f"    router:\n      address: 198.18.10.1\n"
                                            f"      {line}")
    (tmp_path / "site.yaml").write_text(site)
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text("short: abc\nlongenough: 0123456789\n")
    secrets.chmod(0o600)
    with pytest.raises(ConfigError) as info:
        load_site(tmp_path / "site.yaml", {"eda", "cbec"})
    text = "\n".join(str(i) for i in info.value.issues)
    assert message in text and "abc" not in text and "pw@" not in text


def test_secret_values_stay_the_text_written(tmp_path: Path) -> None:
    site = TWO_ROOMS.replace(
        "site: {name: Two rooms, code: T-2}",
        "site: {name: Two rooms, code: T-2}\nsecrets_file: secrets.yaml\n"
        ).replace('url: "rtsp://198.18.10.201/s"}',
                  'url: "rtsp://198.18.10.201/s", password: "secret:pin"}')
    (tmp_path / "site.yaml").write_text(site)
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text("pin: 0123\n")
    secrets.chmod(0o600)
    loaded = load_site(tmp_path / "site.yaml", {"eda", "cbec"})
    assert loaded.secret("rooms[0].cameras[0].password").reveal() == "0123"
