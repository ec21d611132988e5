"""Who holds a connection to the service, and who gives way when there are too many.

An idle connection needs no credential, so idle connections must never lock out the
request that matters (/healthz for the watchdog, a signed "run now" from the staff's
browser). The rules, applied the moment a connection is accepted:
  * one client address holds at most `per_client` connections; beyond that its new ones
    are closed at once (a browser opens six at most, Prometheus one);
  * when the service holds `cap` connections, a client already holding its fair share
    (cap / clients) gets no more, and anyone else's new connection makes the oldest idle
    connection of the client holding the most give way.
So one seat PC opening thousands of connections only ever churns its own, and costs the
service an accept and a close each; the staff's browser and Prometheus get in. The
browser that loses an idle keep-alive connection opens another, and an event stream
that is dropped reconnects by itself.

Everything here runs on the service's one event loop thread: no locks.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

# descriptors the rest of the process needs besides the service's connections: a check
# run's sockets (pings, TCP connects, SNMP, iperf3), the store, the evidence log
RESERVED_FILES = 384
# what the service raises its own soft limit to when the hard limit allows it (a unit
# without LimitNOFILE starts at 1024)
WANTED_FILES = 8192


def raise_file_limit(wanted: int = WANTED_FILES) -> int | None:
    """Raise the soft open-files limit towards `wanted`; the limit now (None: the
    platform has none of this kind, e.g. Windows)."""
    try:
        import resource
    except ImportError:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(hard, wanted)
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# Windows has no open-files limit of this kind, but its select(), which the service's
# event loop uses there, watches at most 512 sockets
WINDOWS_CAP = 256


def connection_cap(wanted: int, file_limit: int | None) -> int:
    """At most `wanted`, and never so many that the checks run out of descriptors."""
    if file_limit is None:
        return min(wanted, WINDOWS_CAP)
    if file_limit < 0:  # RLIM_INFINITY
        return wanted
    reserve = min(RESERVED_FILES, file_limit // 2)
    return max(8, min(wanted, file_limit - reserve))


@dataclass(eq=False)
class Connection:
    client: str
    writer: asyncio.StreamWriter | None = None  # None until asyncio has adopted the socket
    # an event stream: wakes its writer so it notices it was dropped
    wake: Callable[[], None] | None = None
    dropped: bool = False
    stream: bool = field(default=False, repr=False)

    def drop(self) -> None:
        self.dropped = True
        if self.writer is not None:
            self.writer.transport.abort()  # its reader sees the end: the handler ends quietly
        if self.wake is not None:
            self.wake()


class _Pools:
    """Connections of one kind, per client, oldest first."""

    def __init__(self) -> None:
        self.by_client: dict[str, OrderedDict[Connection, None]] = {}
        self.total = 0

    def add(self, conn: Connection) -> None:
        self.by_client.setdefault(conn.client, OrderedDict())[conn] = None
        self.total += 1

    def remove(self, conn: Connection) -> bool:
        pool = self.by_client.get(conn.client)
        if pool is None or conn not in pool:
            return False
        del pool[conn]
        if not pool:
            del self.by_client[conn.client]
        self.total -= 1
        return True

    def count(self, client: str) -> int:
        return len(self.by_client.get(client, ()))

    def oldest(self, client: str) -> Connection | None:
        pool = self.by_client.get(client)
        return next(iter(pool)) if pool else None

    def all(self) -> list[Connection]:
        return [c for pool in self.by_client.values() for c in pool]


class Connections:
    def __init__(self, cap: int, stream_cap: int, per_client: int):
        self.cap = cap
        self.stream_cap = min(stream_cap, cap)
        self.per_client = per_client
        self._idle = _Pools()  # waiting for a request, or reading one
        self._streams = _Pools()  # following /events
        self._answering: set[Connection] = set()
        self._held: Counter[str] = Counter()
        self.refused_total = 0
        self.dropped_total = 0

    def __len__(self) -> int:
        return self._idle.total + self._streams.total + len(self._answering)

    def _drop(self, conn: Connection) -> None:
        self.forget(conn)
        conn.drop()
        self.dropped_total += 1

    def _greediest_idle(self) -> Connection | None:
        """The oldest idle connection of the client holding the most connections (and at
        least one idle one, adopted by asyncio already)."""
        for client, _held in self._held.most_common():
            oldest = self._idle.oldest(client)
            if oldest is not None and oldest.writer is not None:
                return oldest
        return None

    def admit(self, conn: Connection) -> bool:
        """A connection just accepted: room for it (someone else's oldest idle one may
        give way), or False: close it at once."""
        held = self._held[conn.client]
        if held >= self.per_client:
            self.refused_total += 1
            return False
        if len(self) >= self.cap:
            share = max(1, self.cap // max(1, len(self._held)))
            victim = self._greediest_idle() if held < share else None
            if victim is None:
                self.refused_total += 1
                return False
            self._drop(victim)
        self._idle.add(conn)
        self._held[conn.client] += 1
        return True

    def answering(self, conn: Connection) -> None:
        if self._idle.remove(conn):
            self._answering.add(conn)

    def waiting(self, conn: Connection) -> None:
        """Answered; waiting for its next request (its client's newest idle one now)."""
        if conn in self._answering:
            self._answering.discard(conn)
            self._idle.add(conn)

    def streaming(self, conn: Connection) -> None:
        """From now on it follows /events. Too many streams: the oldest of the client
        following the most gives way (its browser reconnects by itself)."""
        if not (self._idle.remove(conn) or conn in self._answering):
            return
        self._answering.discard(conn)
        per_client = max(1, self.stream_cap // 8)
        if self._streams.count(conn.client) >= per_client:
            victim = self._streams.oldest(conn.client)
        elif self._streams.total >= self.stream_cap:
            busiest = max(self._streams.by_client, key=self._streams.count)
            victim = self._streams.oldest(busiest)
        else:
            victim = None
        if victim is not None:
            self._drop(victim)
        conn.stream = True
        self._streams.add(conn)

    def forget(self, conn: Connection) -> None:
        found = (self._idle.remove(conn) or self._streams.remove(conn)
                 or conn in self._answering)
        self._answering.discard(conn)
        if found:
            self._held[conn.client] -= 1
            if self._held[conn.client] <= 0:
                del self._held[conn.client]

    def drop_all(self) -> None:
        for conn in [*self._idle.all(), *self._streams.all(), *self._answering]:
            self._drop(conn)
