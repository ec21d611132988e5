"""Shared test settings.

Under CI (CI=true) a lab test may not skip: a skipped lab test would hide that the
simulated exam room was never built, so it is turned into a failure.
"""

from __future__ import annotations

import os

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("CI") == "true" and item.get_closest_marker("lab"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"lab test skipped under CI=true: {reason}"


def _leftover_namespaces() -> list[str]:
    import subprocess

    try:
        out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                             timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.split()[0] for line in out.splitlines()
            if line.startswith("rdyt")]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # The lab promises to leave nothing behind; the suite as a whole proves it.
    if os.geteuid() != 0:
        return
    left = _leftover_namespaces()
    if left:
        session.config.stash.setdefault(_LEFT, left)  # type: ignore[arg-type]
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_LEFT = pytest.StashKey[list[str]]()


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # type: ignore[no-untyped-def]
    left = config.stash.get(_LEFT, None)
    if left:
        terminalreporter.write_line(
            f"FAILED: the tests left network namespaces behind: {', '.join(left[:10])}",
            red=True)
