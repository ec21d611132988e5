"""Starting the lab's daemons inside their namespaces and waiting until they answer.

`ip netns exec` execs the daemon in place, so the pid we start is the daemon's pid:
every daemon runs in the foreground and we keep its pid, log and listening sockets.
"""

from __future__ import annotations

import logging
import os
import socket
import struct
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import LabError
from .netns import exec_argv
from .shell import resolve
from .state import ServiceRecord

log = logging.getLogger(__name__)

# the simulated devices' CPU weight over the coordinator's, and the seats' under it
# (see start())
DEVICE_NICE = -10
SEAT_NICE = 5
# Children of this process, by lab prefix, so `down` can reap them (no zombies are left
# behind when the lab runs inside a long-lived process such as pytest).
_children: dict[str, list[subprocess.Popen[bytes]]] = {}

_TCP_LISTEN, _UDP_UNCONNECTED = "0A", "07"


@dataclass(frozen=True)
class Listen:
    proto: str  # "tcp" or "udp"
    address: str
    port: int

    def __str__(self) -> str:
        return f"{self.proto} {self.address}:{self.port}"


@dataclass
class ServiceDef:
    name: str  # "rtr-dnsmasq": unique in the lab, names the log and pid files
    namespace: str
    argv: list[str]
    listens: list[Listen] = field(default_factory=list)
    env: dict[str, str] | None = None  # None: inherit ours


@dataclass
class Started:
    definition: ServiceDef
    process: subprocess.Popen[bytes]
    log: Path

    def record(self) -> ServiceRecord:
        d = self.definition
        return ServiceRecord(
            d.name, d.namespace, self.process.pid, str(self.log), [str(x) for x in d.listens]
        )


def start(prefix: str, folder: Path, definition: ServiceDef) -> Started:
    log_path = folder / "logs" / f"{definition.name}.log"
    log.debug("starting %s in %s", definition.name, definition.namespace)
    with open(log_path, "ab") as out:
        try:
            process = subprocess.Popen(
                exec_argv(
                    definition.namespace, [resolve(definition.argv[0]), *definition.argv[1:]]
                ),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=definition.env,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            raise LabError(f"cannot start {definition.name}: {exc}") from None
    # On a site the cameras, recorder, UPS, switch and router are machines of their own,
    # and so is each seat: the load of forty seats never slows the proctor PC or a
    # device. Here they share the CPUs, so the devices get them first and the forty
    # seats' agents last (their threads and children inherit it): a drill finds the
    # room's faults, not a lab device or the coordinator starved into one.
    nice = (SEAT_NICE if "-seat-" in definition.namespace else
            0 if definition.namespace.endswith("-proctor") else DEVICE_NICE)
    if nice:
        try:
            os.setpriority(os.PRIO_PROCESS, process.pid, nice)
        except OSError:
            pass  # not root: the lab still works, only less like separate machines
    _children.setdefault(prefix, []).append(process)
    (folder / "run" / f"{definition.name}.pid").write_text(f"{process.pid}\n")
    return Started(definition, process, log_path)


def wait_ready(started: list[Started], timeout_s: float) -> None:
    """Return once every service is alive and listening; else name the first laggard."""
    deadline = time.monotonic() + timeout_s
    pending = list(started)
    while pending:
        for svc in list(pending):
            code = svc.process.poll()
            if code is not None:
                raise LabError(
                    f"{svc.definition.name} exited with status {code} while starting; "
                    f"see {svc.log}{_tail(svc.log)}"
                )
            if all(listening(svc.process.pid, x) for x in svc.definition.listens):
                pending.remove(svc)
        if not pending:
            return
        if time.monotonic() > deadline:
            svc = pending[0]
            waiting = ", ".join(
                str(x) for x in svc.definition.listens if not listening(svc.process.pid, x)
            )
            raise LabError(
                f"{svc.definition.name} is not answering on {waiting} after {timeout_s:g} s; "
                f"see {svc.log}{_tail(svc.log)}"
            )
        time.sleep(0.05)


def _tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()[-lines:]
    except OSError:
        return ""
    return (":\n  " + "\n  ".join(text)) if text else ""


def listening(pid: int, want: Listen) -> bool:
    """Is there a socket bound to want.address:port in the namespace of `pid`?

    /proc/PID/net/* shows the sockets of that process's network namespace, so we can
    look into a lab namespace without entering it."""
    state = _TCP_LISTEN if want.proto == "tcp" else _UDP_UNCONNECTED
    for table in (want.proto, want.proto + "6"):
        try:
            with open(f"/proc/{pid}/net/{table}") as f:
                next(f)
                for line in f:
                    cols = line.split()
                    address, port = cols[1].rsplit(":", 1)
                    if (
                        cols[3] == state
                        and int(port, 16) == want.port
                        and (_address(address) in (want.address, "0.0.0.0", "::"))
                    ):
                        return True
        except (OSError, StopIteration, IndexError, ValueError):
            continue
    return False


def _address(hexaddr: str) -> str:
    raw = bytes.fromhex(hexaddr)
    if len(raw) == 4:
        return socket.inet_ntoa(struct.pack("<I", int(hexaddr, 16)))
    # IPv6 is stored as four host-order 32-bit words.
    words = struct.unpack("<4I", raw)
    packed = struct.pack(">4I", *words)
    if packed[:12] == b"\0" * 10 + b"\xff\xff":
        return socket.inet_ntoa(packed[12:])
    return socket.inet_ntop(socket.AF_INET6, packed)


def spawned_pids(prefix: str) -> set[int]:
    """Children this process started for the lab that are still running, whatever
    their command line looks like at this instant."""
    return {p.pid for p in _children.get(prefix, []) if p.poll() is None}


def reap(prefix: str) -> None:
    """Collect the exit status of children that `down` has killed."""
    for process in _children.pop(prefix, []):
        try:
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            log.warning("process %d did not exit", process.pid)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False
