"""The one byte form a record is hashed and signed in, and the cleaning every value
goes through before it is written anywhere (log or store)."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable
from datetime import datetime
from enum import Enum
from pathlib import PurePath
from typing import Any

from ..redact import Secret, scrub


def canonical(obj: Any) -> bytes:
    # allow_nan=False: NaN/Infinity are not JSON, and a verifier in another language
    # would reject the line or hash it differently.
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def to_plain(value: Any, secrets: Iterable[Secret] = ()) -> Any:
    """JSON-safe copy of `value` with every string (keys too) scrubbed of secrets.

    Probes put whatever they like in `measured`; the log and the store must still get
    valid, secret-free JSON, so odd values are turned into text rather than rejected.
    """
    secrets = list(secrets)
    return _plain(value, secrets)


def _plain(value: Any, secrets: list[Secret]) -> Any:
    if isinstance(value, str):
        return scrub(value, secrets)
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Enum):
        return _plain(value.value, secrets)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, PurePath):
        return scrub(str(value), secrets)
    if isinstance(value, dict):
        return {scrub(str(k), secrets): _plain(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, secrets) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((_plain(v, secrets) for v in value), key=str)
    if isinstance(value, Secret):
        return "***"
    return scrub(str(value), secrets)
