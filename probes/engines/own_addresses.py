"""The addresses this computer holds on any interface (protocol code, no verdicts): the
coordinator uses them to know when a host it checks is itself."""

from __future__ import annotations

import psutil


def own_addresses() -> set[str]:
    return {a.address for addrs in psutil.net_if_addrs().values() for a in addrs}
