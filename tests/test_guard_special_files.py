"""A FIFO, a device or a folder given as the site file, the secrets file or a profile is
refused at once, naming it, instead of hanging `validate`.

A FIFO blocks open() until somebody writes to it: `readiness validate pipe.yaml` hung for
ever. Each case runs the real command in a child process with a deadline, so a hang is
a failure, not a stuck test run. Real FIFOs (os.mkfifo), real devices (/dev/null,
/dev/zero).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SITE = textwrap.dedent("""\
    site: {name: Pipe school, code: P-7}
    profile: cbec
    secrets_file: secrets.yaml
    rooms:
      - id: r1
        subnet: 198.51.100.0/24
        router:
          address: 198.51.100.1
          snmp: {version: "2c", community: "secret:community"}
        exam_servers: {primary: {address: 198.51.100.10}}
        proctor: {address: 198.51.100.2}
        seats: {A01: 198.51.100.101}
    """)
DEADLINE_S = 20


def _readiness(*argv: str) -> tuple[int, str]:
    try:
        proc = subprocess.run([sys.executable, "-m", "readiness", *argv, "--lang", "en"],
                              capture_output=True, text=True, timeout=DEADLINE_S, cwd=REPO,
                              env={**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "300"})
    except subprocess.TimeoutExpired:
        pytest.fail(f"readiness {' '.join(argv)} still ran after {DEADLINE_S} s: it hangs")
    return proc.returncode, " ".join((proc.stdout + proc.stderr).split())


def test_a_fifo_as_the_site_file(tmp_path: Path) -> None:
    pipe = tmp_path / "site.yaml"
    os.mkfifo(pipe)
    code, out = _readiness("validate", str(pipe))
    assert code == 2
    assert "site.yaml: is a named pipe (FIFO), not a regular file" in out
    assert "give the path of the YAML file itself" in out


@pytest.mark.parametrize("device, kind", [("/dev/null", "a character device"),
                                          ("/dev/zero", "a character device")])
def test_a_device_as_the_site_file(device: str, kind: str) -> None:
    code, out = _readiness("validate", device)
    assert code == 2 and f"is {kind}, not a regular file" in out


def test_a_folder_as_the_site_file(tmp_path: Path) -> None:
    code, out = _readiness("validate", str(tmp_path))
    assert code == 2 and "is a folder, not a regular file" in out


def test_a_fifo_as_the_secrets_file(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text(SITE)
    os.mkfifo(tmp_path / "secrets.yaml", 0o600)
    code, out = _readiness("validate", str(tmp_path / "site.yaml"))
    assert code == 2
    assert (f"site.yaml:3 secrets_file: secrets file {tmp_path / 'secrets.yaml'} is not a "
            "regular file (a named pipe (FIFO))") in out


def test_a_device_as_the_secrets_file(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text(SITE.replace("secrets.yaml", "/dev/zero"))
    code, out = _readiness("validate", str(tmp_path / "site.yaml"))
    assert code == 2 and "secrets file /dev/zero is not a regular file" in out


def test_a_fifo_as_a_profile(tmp_path: Path) -> None:
    """`profiles show FILE` and every other reader of a profile use the same loader."""
    from readiness.config.errors import ConfigError
    from readiness.config.profile import load_profile

    pipe = tmp_path / "mine.yaml"
    os.mkfifo(pipe)
    code = subprocess.run(
        [sys.executable, "-c", "import sys; from readiness.config.profile import load_profile\n"
         "from readiness.config.errors import ConfigError\n"
         f"try:\n    load_profile({str(pipe)!r})\nexcept ConfigError as e:\n"
         "    print(e); sys.exit(2)"],
        capture_output=True, text=True, timeout=DEADLINE_S, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    assert code.returncode == 2 and "is a named pipe (FIFO), not a regular file" in code.stdout
    with pytest.raises(ConfigError, match="character device"):
        load_profile("/dev/null")
