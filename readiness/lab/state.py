"""The lab's state directory: generated configs, pid files, logs, secrets, and a record of
what was built (so `status`, an idempotent `up` and `down` after a crash know the lab)."""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import string
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import LabError

RUN_DIR = Path("/run/readiness-lab")
RECORD = "lab.json"
SECRETS = "secrets.yaml"
SECRET_KEYS = (
    "snmp_community",
    "snmp_v3_user",
    "snmp_v3_auth_key",
    "snmp_v3_priv_key",
    "agent_token",
    "camera_password",
    "recorder_password",
)


def state_dir(prefix: str) -> Path:
    return RUN_DIR / prefix


def lock_path(prefix: str) -> Path:
    # Beside the state dir, not in it: `down` removes that dir while holding the lock.
    return RUN_DIR / f".{prefix}.lock"


@contextmanager
def locked(prefix: str, timeout_s: float = 120.0) -> Iterator[None]:
    """One `up` or `down` of a given lab at a time (the drill and a user's `lab up` may race)."""
    RUN_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)
    path = lock_path(prefix)
    deadline = time.monotonic() + timeout_s
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if time.monotonic() > deadline:
                raise LabError(
                    f"another `readiness lab` command is still working on lab {prefix!r} "
                    f"(lock {path})"
                ) from None
            time.sleep(0.1)
            continue
        # `down` unlinks the lock file when it is done; a lock on an unlinked file locks
        # nothing, so make sure we hold the file that is at the path now.
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        yield
    finally:
        os.close(fd)


def make_state_dir(prefix: str) -> Path:
    folder = state_dir(prefix)
    RUN_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)
    # 0700: the generated snmpd configs hold the SNMP keys in clear.
    folder.mkdir(mode=0o700, exist_ok=True)
    for sub in ("logs", "run", "conf"):
        (folder / sub).mkdir(mode=0o700, exist_ok=True)
    return folder


def _alnum(length: int) -> str:
    # Letters and digits only: the values land in snmpd.conf lines, where a leading "-"
    # would read as an option and quotes or spaces would need escaping.
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def new_secrets() -> dict[str, str]:
    return {
        "snmp_community": _alnum(20),
        "snmp_v3_user": "readiness",
        "snmp_v3_auth_key": _alnum(24),
        "snmp_v3_priv_key": _alnum(24),
        "agent_token": secrets.token_urlsafe(32),
        "camera_password": _alnum(16),
        "recorder_password": _alnum(16),
    }


def write_private(path: Path, text: str) -> None:
    """Create (or replace) a file readable by its owner only, without a window where it is
    readable by others."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        os.fchmod(out.fileno(), 0o600)
        out.write(text)


def write_secrets(folder: Path, values: dict[str, str]) -> Path:
    path = folder / SECRETS
    header = "# readiness lab secrets, generated at `lab up`; referenced as secret:NAME\n"
    write_private(path, header + yaml.safe_dump(values, default_flow_style=False, sort_keys=False))
    return path


def read_secrets(folder: Path) -> dict[str, str]:
    try:
        data = yaml.safe_load((folder / SECRETS).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise LabError(f"cannot read the lab secrets {folder / SECRETS}: {exc}") from None
    missing = [k for k in SECRET_KEYS if k not in data]
    if missing:
        raise LabError(f"{folder / SECRETS} lacks {', '.join(missing)}; run `readiness lab down`")
    return {k: str(data[k]) for k in SECRET_KEYS}


@dataclass
class ServiceRecord:
    name: str  # "rtr-dnsmasq"
    namespace: str
    pid: int
    log: str
    listens: list[str] = field(default_factory=list)  # "tcp 198.18.10.1:80"


@dataclass
class LabRecord:
    prefix: str
    spec: dict[str, Any]
    namespaces: list[str]
    services: list[ServiceRecord]

    def save(self, folder: Path) -> None:
        (folder / RECORD).write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, folder: Path) -> LabRecord | None:
        try:
            data = json.loads((folder / RECORD).read_text())
            data["services"] = [ServiceRecord(**s) for s in data["services"]]
            return cls(**data)
        except (OSError, ValueError, TypeError, KeyError):
            return None
