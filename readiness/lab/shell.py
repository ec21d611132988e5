"""Running the system tools (ip, tc, nft) with a timeout and errors a person can act on."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from .errors import LabError

log = logging.getLogger(__name__)

_BATCH_LINE = re.compile(r"Command failed -:(\d+)")
# sudo and cron may hand us a PATH without the sbin directories where ip, tc, nft live.
_SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def which(tool: str) -> str | None:
    path = os.pathsep.join(filter(None, [os.environ.get("PATH"), _SYSTEM_PATH]))
    return shutil.which(tool, path=path)


def resolve(tool: str) -> str:
    """The absolute path of a system tool, or the bare name (then the error says so)."""
    return which(tool) or tool


def run(
    argv: Sequence[str], *, timeout: float = 15.0, stdin: str | None = None, what: str | None = None
) -> str:
    """Run a command, return its stdout; raise LabError with its stderr if it fails."""
    what = what or " ".join(argv)
    log.debug("run: %s", what)
    try:
        done = subprocess.run(
            [resolve(argv[0]), *argv[1:]],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise LabError(
            f"{argv[0]} is not installed (see `readiness lab up` prerequisites)"
        ) from None
    except subprocess.TimeoutExpired:
        raise LabError(f"{what}: no answer within {timeout:g} s") from None
    if done.returncode != 0:
        raise LabError(f"{what} failed: {_explain(done.stderr, stdin)}")
    return done.stdout


def _explain(stderr: str, stdin: str | None) -> str:
    """For `-batch -` input, quote the line that failed: the tool only gives its number."""
    text = stderr.strip() or "no error message"
    match = _BATCH_LINE.search(text)
    if match and stdin:
        lines = stdin.splitlines()
        number = int(match.group(1))
        if 0 < number <= len(lines):
            text += f" (line {number}: {lines[number - 1]!r})"
    return text


def run_all(
    jobs: Sequence[tuple[Sequence[str], str | None, str]],
    *,
    timeout: float = 15.0,
    workers: int = 16,
) -> None:
    """Run independent commands side by side: (argv, stdin, what). Raises the first failure."""
    if not jobs:
        return
    with ThreadPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
        futures = [pool.submit(run, a, timeout=timeout, stdin=s, what=w) for a, s, w in jobs]
        for future in futures:
            future.result()
