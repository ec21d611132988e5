"""How large a packet gets through to a host: echoes with DF set, of several sizes at
once (protocol code, no verdicts).

A path that drops large packets without an ICMP "fragmentation needed" (a switch port or
a tunnel with a smaller MTU, a firewall dropping fragments or that ICMP) is an MTU black
hole: a TCP handshake and small requests pass, bulk data stalls. Echoes of every size in
IP_SIZES go out together; when some are lost, a second round between the largest that
came back and the smallest that did not narrows the size down to STEP bytes. Two echoes
per size: one lost echo on a busy link is no black hole.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from .icmp import IcmpUnavailable, ping

IP_HEADER = 20
ICMP_HEADER = 8
# IP packet sizes: Ethernet's 1500, PPPoE's 1492, common tunnel MTUs, IPv6's minimum
# link MTU 1280, and down to the smallest that carries the echo's token
IP_SIZES = (1500, 1492, 1472, 1450, 1420, 1400, 1380, 1350, 1300, 1280, 1200, 1100, 1000,
            900, 800, 700, 576, 400, 200, 100)
STEP = 8
ECHOES = 2


@dataclass(frozen=True)
class PathSize:
    largest_ok: int | None  # the largest IP packet that came back (bytes), None: none did
    smallest_lost: int | None  # the smallest that did not, None: all came back

    @property
    def black_hole(self) -> bool:
        """Small packets pass, large ones vanish."""
        return self.largest_ok is not None and self.smallest_lost is not None \
            and self.smallest_lost > self.largest_ok


async def _passes(address: str, sizes: list[int], timeout_s: float) -> dict[int, bool]:
    async def one(size: int) -> bool:
        stats = await ping(address, ECHOES, 0.0, timeout_s,
                           payload_size=size - IP_HEADER - ICMP_HEADER, dont_fragment=True)
        return stats.received > 0

    answers = await asyncio.gather(*(one(s) for s in sizes))
    return dict(zip(sizes, answers, strict=True))


async def probe(address: str, timeout_s: float = 0.5) -> PathSize:
    """The largest packet that gets through to `address` with DF set; at most two rounds
    of `timeout_s`. Raises IcmpUnavailable when this process may not send ICMP."""
    passed = await _passes(address, list(IP_SIZES), timeout_s)
    ok = [s for s, good in passed.items() if good]
    lost = [s for s, good in passed.items() if not good]
    if not ok or not lost:
        return PathSize(max(ok) if ok else None, min(lost) if lost else None)
    low, high = max(ok), min(s for s in lost if s > max(ok)) if any(
        s > max(ok) for s in lost) else min(lost)
    if high - low > STEP:
        between = list(range(low + STEP, high, STEP))[:24]
        finer = await _passes(address, between, timeout_s)
        low = max([low, *(s for s, good in finer.items() if good)])
        high = min([high, *(s for s, good in finer.items() if not good and s > low)])
    return PathSize(low, high)


__all__ = ["IcmpUnavailable", "PathSize", "probe"]
