"""How often each network link of this PC went down and up lately, as its NIC counts it.

Linux counts every carrier change of an interface (/sys/class/net/IF/carrier_changes:
an unplug and a replug are two). The agent samples the counters while it runs, so its
self-report says how many changes the last minutes saw (a loose plug, a failing switch
port) rather than how many since boot: a cable moved last week is not a fault tonight.
Windows keeps no such counter: its self-report carries none, and nothing is judged.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

# what "lately" is: long enough for a link that flaps every minute or so, short enough
# that one cable moved during set-up is forgotten before the check
WINDOW_S = 600.0
SAMPLE_S = 5.0
# a NIC that comes up at boot may renegotiate once or twice in its first seconds, often
# after the agent started: the watch starts counting after this
SETTLE_S = 30.0
SYS_NET = Path("/sys/class/net")


def read_counters(root: Path = SYS_NET) -> dict[str, int]:
    """Each interface's carrier-change counter; none where the OS keeps none."""
    out = {}
    try:
        interfaces = list(root.iterdir())
    except OSError:
        return {}
    for interface in interfaces:
        try:
            out[interface.name] = int((interface / "carrier_changes").read_text().strip())
        except (OSError, ValueError):
            continue
    return out


class LinkWatch:
    """Samples of the counters over the last WINDOW_S, oldest first."""

    def __init__(self, read: Callable[[], dict[str, int]] = read_counters,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._read, self._clock = read, clock
        self._samples: deque[tuple[float, dict[str, int]]] = deque()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        # a watch sampled by hand (tests, or an agent that never called start) counts at once
        self._settled = True

    def sample(self) -> None:
        now, counts = self._clock(), self._read()
        with self._lock:
            self._samples.append((now, counts))
            # keep one sample from before the window: the baseline of the whole window
            while len(self._samples) > 2 and self._samples[1][0] <= now - WINDOW_S:
                self._samples.popleft()

    def recent(self) -> dict[str, tuple[int, float]]:
        """Per interface: carrier changes since the oldest kept sample, and over how many
        seconds. Empty until the watch has settled and run for one sample period."""
        if not self._settled:
            return {}
        self.sample()
        with self._lock:
            first_at, first = self._samples[0]
            last_at, last = self._samples[-1]
        span = last_at - first_at
        if span < SAMPLE_S:
            return {}
        return {name: (max(0, count - first[name]), span)
                for name, count in last.items() if name in first}

    def start(self, settle_s: float = SETTLE_S) -> None:
        """Sample in the background for as long as the agent runs (a daemon thread),
        from `settle_s` on; until then `recent` has nothing to say."""
        if self._thread is not None or not self._read():
            return  # started already, or this OS keeps no counters
        self._settled = False

        def loop() -> None:
            time.sleep(settle_s)
            self.sample()
            self._settled = True
            while True:
                time.sleep(SAMPLE_S)
                self.sample()

        self._thread = threading.Thread(target=loop, name="link-watch", daemon=True)
        self._thread.start()


WATCH = LinkWatch()
