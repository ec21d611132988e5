"""The agents' token must be a token: `validate` and `check` refuse a placeholder or a
value under 128 bits, naming the file and field and the command that makes a good one.

The agents' token is the HMAC key of every agent request; the example's placeholder,
`x` or `password` would let anyone who read the README drive every seat's agent. Before,
all of them validated. Real files, the real command line.
"""

from __future__ import annotations

import secrets
import textwrap
from pathlib import Path

import pytest

from readiness.commands.main import main

SITE = textwrap.dedent("""\
    site: {name: Token school, code: T-4}
    profile: cbec
    secrets_file: site.secrets.yaml
    agent:
      port: 8765
      token: secret:agent_token
    rooms:
      - id: r1
        subnet: 198.51.100.0/24
        router: {address: 198.51.100.1}
        exam_servers: {primary: {address: 198.51.100.10}}
        proctor: {address: 198.51.100.2}
        seats: {A01: 198.51.100.101}
    """)
EXAMPLE_PLACEHOLDER = "CHANGE-ME-long-random-agent-token"
MAKE_ONE = 'python3 -c "import secrets; print(secrets.token_urlsafe(32))"'


def _site(tmp_path: Path, token: str) -> Path:
    (tmp_path / "site.yaml").write_text(SITE)
    store = tmp_path / "site.secrets.yaml"
    store.write_text(f"agent_token: '{token}'\n")
    store.chmod(0o600)
    return tmp_path / "site.yaml"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main([*argv, "--lang", "en"])
    out = capsys.readouterr()
    return code, out.out + out.err


WEAK = [
    EXAMPLE_PLACEHOLDER,             # the shipped example, as copied
    "x",                             # the one-letter token
    "changeme", "change_me_please_0123456789abcdefXYZ", "password", "Passw0rd!",
    "MySecretAgentValue2026abcdefghijk",  # long, but a person's sentence with "secret"
    "0123456789abcdef",              # 16 hex digits: 64 bits
    "c2b6d1f0e9a84b7c9d0e1f2a3b4c5d",   # 30 hex digits: 120 bits, just under
    "kq7ZpX2mWv9LtR4nB8cJ5",        # 21 base64 characters: 126 bits
    "abcabcabcabcabcabcabcabcabcabcabcabcabc",  # a pattern written out
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "20261205202612052026120520261205",  # digits only: a date, again and again
]


@pytest.mark.parametrize("token", WEAK)
def test_validate_refuses_a_weak_agent_token(tmp_path: Path, token: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, "validate", str(_site(tmp_path, token)))
    assert code == 2, out
    flat = " ".join(out.split())  # rich wraps long lines
    # the site file and line, the field, the secrets file holding the value, the fix
    assert "site.yaml:6 agent.token" in flat
    joined = "".join(out.split())  # a long path may be wrapped anywhere
    assert f"agent_tokeninthesecretsfile{tmp_path / 'site.secrets.yaml'}" in joined
    assert MAKE_ONE in flat
    if len(token) >= 8:  # ("x" is a letter of many words)
        assert token not in out  # the value itself is never printed


def test_check_refuses_it_too_before_measuring(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    site = _site(tmp_path, EXAMPLE_PLACEHOLDER)
    code, out = _run(capsys, "check", str(site), "--no-store")
    assert code == 2 and "agent.token" in out and "placeholder" in out


@pytest.mark.parametrize("token", [
    secrets.token_urlsafe(32),       # what the message tells people to run
    secrets.token_urlsafe(16),       # 22 characters, 128 bits: the floor
    secrets.token_hex(16),           # 32 hex digits, 128 bits
    secrets.token_hex(32),
    "haCrqHuRfuqKR1fnrb9SMSzn244FnvPLOAXdLtZnKRg",  # the fixed 256-bit test value
])
def test_validate_accepts_a_random_token(tmp_path: Path, token: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, "validate", str(_site(tmp_path, token)))
    assert code == 0, out
    assert token not in out


def test_a_token_from_the_environment_is_judged_the_same(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    site = _site(tmp_path, secrets.token_urlsafe(32))
    site.write_text(SITE.replace("secret:agent_token", "${READINESS_AGENT_TOKEN}"))
    monkeypatch.setenv("READINESS_AGENT_TOKEN", "short-one")
    code, out = _run(capsys, "validate", str(site))
    flat = " ".join(out.split())
    assert code == 2 and "environment variable READINESS_AGENT_TOKEN" in flat
    assert "set ${READINESS_AGENT_TOKEN} to it" in flat and "short-one" not in out


def test_the_lab_makes_a_good_token_per_lab() -> None:
    """The simulated room writes its own token into its secrets: a fresh one each lab."""
    from readiness.config.tokens import token_weakness
    from readiness.lab.state import new_secrets

    made = {new_secrets()["agent_token"] for _ in range(20)}
    assert len(made) == 20 and all(token_weakness(t) is None for t in made)
