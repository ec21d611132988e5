"""Blocking work (a socket loop, an OpenCV decode) awaited from the event loop.

Each call gets a daemon thread of its own rather than the loop's executor, which a
busy run could make a probe queue behind; the thread is told to stop (the Event it
is handed) when the awaiting task is cancelled or the budget runs out, and a thread
that cannot stop is left behind rather than holding the run past its deadline.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def in_thread(fn: Callable[[threading.Event], T], name: str,
                    budget_s: float | None = None) -> T:
    """`fn(stop)` in a thread; its result or its exception. With `budget_s`, raises
    TimeoutError once that has passed (and sets `stop`)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    stop = threading.Event()

    def settle(value: Any, exc: BaseException | None) -> None:
        if future.done():
            return
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(value)

    def work() -> None:
        try:
            value, exc = fn(stop), None
        except BaseException as err:  # handed to the awaiting task, not lost
            value, exc = None, err
        try:
            loop.call_soon_threadsafe(settle, value, exc)
        except RuntimeError:  # the loop has closed: nobody waits any more
            pass

    threading.Thread(target=work, name=name, daemon=True).start()
    try:
        if budget_s is None:
            return await future
        return await asyncio.wait_for(asyncio.shield(future), budget_s)
    finally:
        stop.set()  # a no-op after success; otherwise the thread winds down
