"""The one exception the lab raises, so callers catch a single type."""

from __future__ import annotations

from readiness.config.errors import ConfigIssue


class LabError(Exception):
    """The lab could not be built, inspected or removed; the message says what to do."""


class LabSpecError(LabError):
    """The lab spec file is wrong; `issues` pins each mistake to a file, line and field."""

    def __init__(self, issues: list[ConfigIssue]):
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))
