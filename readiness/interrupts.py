"""SIGTERM handled like Ctrl-C, so every `finally` runs.

Python's default for SIGTERM is to die on the spot: no `finally`, no cleanup, so a `report`
stopped by systemd or `kill` would leave Chromium printing and a `.pdf.partial` behind.
Raising an exception instead unwinds the stack through the same cleanup paths as Ctrl-C.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived. A KeyboardInterrupt so that code which already cleans up after
    Ctrl-C does the same here; `exit_code` is the shell's convention (128 + 15)."""

    exit_code = 128 + signal.SIGTERM


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises Terminated in the main thread; the previous handler
    comes back afterwards. Outside the main thread (where Python cannot set handlers) the
    block runs unchanged."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


__all__ = ["Terminated", "terminate_as_interrupt"]
