"""Secrets and the one redactor: the ground floor every layer may import.

A Secret's text form never shows its value; `scrub` is the last line of defence that
keeps a value out of anything that leaves the process, whatever a probe wrote.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

# A secret shorter than this is masked only where it stands as a word of its own: a
# UPS's community "room" or "public" must not turn "room lab" into "*** lab" inside
# other words, which would both garble the message and show the secret to anyone who
# compares the two. A longer value is masked wherever it appears: a random 8+ character
# value inside an ordinary word is a leak (a URL, a header), not a coincidence.
SHORT_SECRET = 8
# letters and digits join a word; punctuation, spaces and other scripts do not (a
# secret written next to Chinese text is still a word of its own)
_WORD = "0-9A-Za-z"


class Secret:
    """A resolved secret value. Its text form never shows the value."""

    __slots__ = ("_value", "ref")

    def __init__(self, value: str, ref: str):
        self._value = value
        self.ref = ref

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.ref})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self.ref)


def scrub(text: str, secrets: list[Secret]) -> str:
    """No secret value leaves the process, whatever a probe wrote."""
    return scrub_values(text, [s.reveal() for s in secrets])


def scrub_values(text: str, values: Iterable[str]) -> str:
    """scrub() for code that holds the plain values (a protocol engine's credentials)."""
    # longest first: a secret that contains another must not be left half-masked
    for value in sorted(values, key=len, reverse=True):
        if not value or value not in text:
            continue
        if len(value) >= SHORT_SECRET:
            text = text.replace(value, "***")
        else:
            text = re.sub(f"(?<![{_WORD}]){re.escape(value)}(?![{_WORD}])", "***", text)
    return text


def scrub_data(data: Any, secrets: list[Secret]) -> Any:
    """scrub() through plain data, before it is serialised: a secret with a quote or a
    backslash would no longer match once JSON has escaped it."""
    if isinstance(data, str):
        return scrub(data, secrets)
    if isinstance(data, dict):
        return {scrub_data(k, secrets): scrub_data(v, secrets) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [scrub_data(v, secrets) for v in data]
    return data


def mask_url(url: str) -> str:
    """`rtsp://user:***@host/...`: the user stays (it helps find a typo), the password never."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable url>"
    if "@" not in parts.netloc:
        return url
    userinfo, host = parts.netloc.rsplit("@", 1)
    user = userinfo.split(":", 1)[0]
    return urlunsplit((parts.scheme, f"{user}:***@{host}", parts.path, parts.query,
                       parts.fragment))
