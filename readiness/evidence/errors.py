"""Errors of the evidence package, worded for the staff who have to act on them."""

from __future__ import annotations

from ..results import Text


class EvidenceError(Exception):
    """A problem with keys or the log that a person must fix; `text` says how, in both
    languages, so the CLI can print it in the user's language."""

    def __init__(self, text: Text):
        super().__init__(text.en)
        self.text = text


class KeyExistsError(EvidenceError):
    pass


class KeyPermissionError(EvidenceError):
    pass


class LogDamagedError(EvidenceError):
    pass
