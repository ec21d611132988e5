"""Removing a lab completely, also after a crash left half of it behind.

Processes are found three ways (inside a `<prefix>-*` namespace, in the recorded pid
list, or carrying the lab's state dir / namespace label on their command line) because a
crash can leave any one of those without the others.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import time

from . import netns, services
from .state import LabRecord, lock_path, locked, state_dir
from .topology import check_prefix

log = logging.getLogger(__name__)


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


_DAEMONS = {"dnsmasq", "snmpd", "iperf3"}


def _stray_pids(prefix: str) -> set[int]:
    """The lab's own daemons, recognised by their command line: one of our daemons with a
    file in the lab's state dir, or our Python servers' `--label <prefix>-...`. (Not any
    process that mentions the state dir: a user's `tail -f` of a lab log is not ours.)"""
    folder = f"{state_dir(prefix)}/"
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        args = _cmdline(int(entry))
        if not args:
            continue
        ours = os.path.basename(args[0]) in _DAEMONS and any(folder in a for a in args)
        labelled = any(
            a == "--label" and b.startswith(f"{prefix}-")
            for a, b in zip(args, args[1:], strict=False)
        )
        # a daemon caught between `ip netns exec` and its own exec still shows as `ip`
        entering = (
            len(args) > 3
            and os.path.basename(args[0]) == "ip"
            and args[1:3] == ["netns", "exec"]
            and args[3].startswith(f"{prefix}-")
        )
        if ours or labelled or entering:
            found.add(int(entry))
    return found


def _kill(pids: set[int], grace_s: float = 2.0) -> None:
    pids -= {0, 1, os.getpid(), os.getppid()}
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 1.0)):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            pids = {p for p in pids if services.alive(p)}
            if not pids:
                return
            time.sleep(0.05)
    if pids:
        log.warning("processes %s survived SIGKILL", sorted(pids))


def down(prefix: str = "rdy") -> list[str]:
    """Remove every trace of the lab `prefix`. Safe to call when nothing exists."""
    check_prefix(prefix)
    with locked(prefix):
        removed = remove(prefix)
        lock_path(prefix).unlink(missing_ok=True)
    return removed


def remove(prefix: str) -> list[str]:
    """`down` for a caller that already holds the lab's lock."""
    removed: list[str] = []
    names = netns.list_netns(prefix)
    in_ns = netns.pids_in(names)
    pids = set(in_ns) | _stray_pids(prefix) | services.spawned_pids(prefix)
    record = LabRecord.load(state_dir(prefix))
    if record:
        pids |= {
            s.pid
            for s in record.services
            if services.alive(s.pid) and netns.pid_in_netns(s.pid, s.namespace)
        }
    for pid in sorted(pids):
        args = _cmdline(pid)
        removed.append(f"process {pid} ({os.path.basename(args[0]) if args else '?'})")
    _kill(pids)
    services.reap(prefix)
    if names:
        netns.delete_all(names)
        removed += [f"namespace {n}" for n in names]
    removed += netns.remove_etc_dirs(prefix)
    folder = state_dir(prefix)
    if folder.exists():
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(str(folder))
    if removed:
        log.info(
            "lab %s removed: %d namespaces, %d processes",
            prefix,
            sum(r.startswith("namespace") for r in removed),
            sum(r.startswith("process") for r in removed),
        )
    return removed
