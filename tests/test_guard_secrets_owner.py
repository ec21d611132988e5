"""A secrets file must belong to the user who runs readiness.

Mode 600 keeps other users from reading the file, but its owner can still rewrite it:
a secrets file owned by another account lets that account choose the agents' token or
the alert webhook. Root reads only a secrets file root owns. Before, a 600 file owned
by anyone was accepted. Real files, really chowned (the test runs as root).
"""

from __future__ import annotations

import os
import pwd
import textwrap
from pathlib import Path

import pytest

from readiness.commands.main import main

SITE = textwrap.dedent("""\
    site: {name: Owner school, code: O-7}
    profile: cbec
    secrets_file: secrets.yaml
    agent: {token: "secret:agent_token"}
    rooms:
      - id: r1
        subnet: 198.51.100.0/24
        router: {address: 198.51.100.1}
        exam_servers: {primary: {address: 198.51.100.10}}
        proctor: {address: 198.51.100.2}
        seats: {A01: 198.51.100.101}
    """)
TOKEN = "us4b23fwKb5tL_C2OpSg114Fm4QrLQjD8tiuUCnEnG4"  # a fixed 256-bit test value


def _site(tmp_path: Path) -> Path:
    (tmp_path / "site.yaml").write_text(SITE)
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text(f"agent_token: {TOKEN}\n")
    secrets.chmod(0o600)
    return tmp_path / "site.yaml"


def _validate(site: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["validate", str(site), "--lang", "en"])
    out = capsys.readouterr()
    return code, " ".join((out.out + out.err).split())


@pytest.fixture
def other_user() -> pwd.struct_passwd:
    if os.geteuid() != 0:
        pytest.skip("chowns a file to another user: run as root")
    return pwd.getpwnam("nobody")


def test_a_secrets_file_owned_by_another_user_is_refused(
        tmp_path: Path, other_user: pwd.struct_passwd,
        capsys: pytest.CaptureFixture[str]) -> None:
    site = _site(tmp_path)
    secrets = tmp_path / "secrets.yaml"
    os.chown(secrets, other_user.pw_uid, other_user.pw_gid)
    assert oct(secrets.stat().st_mode & 0o777) == "0o600"  # the mode alone is fine
    code, out = _validate(site, capsys)
    assert code == 2
    assert (f"site.yaml:3 secrets_file: secrets file {secrets} belongs to nobody, not to "
            "root who runs readiness") in out
    assert f"Run: chown root {secrets}" in out
    assert TOKEN not in out


def test_root_reads_a_file_root_owns(tmp_path: Path, other_user: pwd.struct_passwd,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    site = _site(tmp_path)
    secrets = tmp_path / "secrets.yaml"
    os.chown(secrets, other_user.pw_uid, other_user.pw_gid)
    os.chown(secrets, 0, 0)  # the fix the message gives
    code, out = _validate(site, capsys)
    assert code == 0, out
