"""A managed switch's SNMP view for net-snmp's `pass_persist`: FDB and per-port speed.

Debian's snmpd has no BRIDGE-MIB, and `override` cannot change ifHighSpeed, yet the
readiness probes map a seat's MAC to its switch port and read that port's speed. This
script fills the gap while real snmpd stays the peer (its packet handling, v3 security
and access control are the real thing; only these columns come from here).

snmpd.conf (one process per subtree; -p 1 makes it win over snmpd's own IF-MIB columns):

    pass_persist .1.3.6.1.2.1.17 PYTHON THIS_SCRIPT CONFIG.json .1.3.6.1.2.1.17
    pass_persist -p 1 .1.3.6.1.2.1.31.1.1.1.15 PYTHON THIS_SCRIPT CONFIG.json \
        .1.3.6.1.2.1.31.1.1.1.15
    pass_persist -p 1 .1.3.6.1.2.1.2.2.1.5 PYTHON THIS_SCRIPT CONFIG.json .1.3.6.1.2.1.2.2.1.5

CONFIG.json (every key optional):

    {"bridge": "br0",                       # serve this Linux bridge's live FDB and ports
     "fdb": {"02:00:00:00:00:01": "swp1"},  # extra static entries MAC -> port name
     "ports": {"swp1": {"bridge_port": 1, "if_index": 7}},  # ports without a kernel bridge
     "speeds_mbps": {"swp1": 100},          # declared port speeds (veth cannot be slowed)
     "vlan": 1}                             # dot1qFdbId for Q-BRIDGE-MIB rows

Served: dot1dBaseNumPorts, dot1dBasePortIfIndex, dot1dTpFdbAddress/Port/Status,
dot1qTpFdbPort/Status, and ifSpeed/ifHighSpeed for every interface of the namespace
(declared speed, else the kernel's). Run it inside the switch's namespace via
`ip netns exec`, which also mounts that namespace's /sys, where the bridge is read.
The config is re-read when it changes, so a test can change a port's speed live.
Standard library only: snmpd may start it with the system python.
"""

from __future__ import annotations

import json
import socket
import struct
import sys
import time
from pathlib import Path
from typing import TextIO

Oid = tuple[int, ...]
Value = tuple[str, str]  # pass_persist type word, value text

DOT1D_BASE_NUM_PORTS = (1, 3, 6, 1, 2, 1, 17, 1, 2, 0)
DOT1D_BASE_PORT_IFINDEX = (1, 3, 6, 1, 2, 1, 17, 1, 4, 1, 2)
DOT1D_TP_FDB_ADDRESS = (1, 3, 6, 1, 2, 1, 17, 4, 3, 1, 1)
DOT1D_TP_FDB_PORT = (1, 3, 6, 1, 2, 1, 17, 4, 3, 1, 2)
DOT1D_TP_FDB_STATUS = (1, 3, 6, 1, 2, 1, 17, 4, 3, 1, 3)
DOT1Q_TP_FDB_PORT = (1, 3, 6, 1, 2, 1, 17, 7, 1, 2, 2, 1, 2)
DOT1Q_TP_FDB_STATUS = (1, 3, 6, 1, 2, 1, 17, 7, 1, 2, 2, 1, 3)
IF_SPEED = (1, 3, 6, 1, 2, 1, 2, 2, 1, 5)
IF_HIGH_SPEED = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 15)

FDB_LEARNED = 3  # dot1dTpFdbStatus learned(3)
FDB_MGMT = 5  # mgmt(5): a static entry
# struct __fdb_entry in <linux/if_bridge.h>, as /sys/class/net/BR/brforward hands it out
FDB_ENTRY = struct.Struct("=6sBBIBBH")
REFRESH_S = 1.0
GAUGE32_MAX = 4294967295


def _parse_oid(text: str) -> Oid:
    return tuple(int(part) for part in text.strip().strip(".").split(".") if part)


def _mac_bytes(mac: str) -> bytes:
    return bytes(int(part, 16) for part in mac.replace("-", ":").split(":"))


def _sys_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip(), 0)
    except (OSError, ValueError):
        return None


def _kernel_bridge(bridge: str) -> tuple[dict[str, tuple[int, int]], list[tuple[bytes, int, bool]]]:
    """(port name -> (bridge port, ifIndex), [(mac, bridge port, static)]) of a Linux bridge."""
    root = Path("/sys/class/net") / bridge
    ports: dict[str, tuple[int, int]] = {}
    try:
        members = sorted(p.name for p in (root / "brif").iterdir())
    except OSError:
        return ports, []
    for name in members:
        number = _sys_int(root / "brif" / name / "port_no")
        index = _sys_int(Path("/sys/class/net") / name / "ifindex")
        if number is not None and index is not None:
            ports[name] = (number, index)
    entries: list[tuple[bytes, int, bool]] = []
    try:
        raw = (root / "brforward").read_bytes()
    except OSError:
        raw = b""
    for offset in range(0, len(raw) - FDB_ENTRY.size + 1, FDB_ENTRY.size):
        mac, port_lo, is_local, ageing, port_hi, _, _ = FDB_ENTRY.unpack_from(raw, offset)
        if is_local:
            continue  # the switch's own port addresses: not a seat
        # The kernel gives static entries an ageing value of 0; learned ones are counting.
        entries.append((mac, port_hi << 8 | port_lo, ageing == 0))
    return ports, entries


def _kernel_speed(name: str) -> int:
    speed = _sys_int(Path("/sys/class/net") / name / "speed")
    return speed if speed is not None and speed > 0 else 0


class SwitchView:
    """The OID -> value table, rebuilt from the config and the kernel at most once a second."""

    def __init__(self, config: Path, root: Oid):
        self.config = config
        self.root = root
        self._stamp: tuple[float, float] | None = None
        self._table: list[tuple[Oid, Value]] = []

    def table(self) -> list[tuple[Oid, Value]]:
        try:
            mtime = self.config.stat().st_mtime
        except OSError:
            mtime = -1.0
        now = time.monotonic()
        if self._stamp is None or self._stamp[0] != mtime or now - self._stamp[1] > REFRESH_S:
            self._table = self._build()
            self._stamp = (mtime, now)
        return self._table

    def _build(self) -> list[tuple[Oid, Value]]:
        try:
            conf = json.loads(self.config.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            sys.stderr.write(f"snmp_passpersist_switch: cannot read {self.config}: {exc}\n")
            conf = {}
        ports: dict[str, tuple[int, int]] = {}
        fdb: dict[bytes, tuple[int, bool]] = {}
        if conf.get("bridge"):
            ports, entries = _kernel_bridge(str(conf["bridge"]))
            fdb = {mac: (number, static) for mac, number, static in entries}
        for name, spec in (conf.get("ports") or {}).items():
            index = spec.get("if_index")
            if index is None:
                try:
                    index = socket.if_nametoindex(name)
                except OSError:
                    continue
            ports[name] = (int(spec["bridge_port"]), int(index))
        for mac, name in (conf.get("fdb") or {}).items():
            if name in ports:
                fdb[_mac_bytes(mac)] = (ports[name][0], True)
        vlan = int(conf.get("vlan", 1))
        speeds = {str(k): int(v) for k, v in (conf.get("speeds_mbps") or {}).items()}

        rows: dict[Oid, Value] = {DOT1D_BASE_NUM_PORTS: ("integer", str(len(ports)))}
        for number, index in ports.values():
            rows[DOT1D_BASE_PORT_IFINDEX + (number,)] = ("integer", str(index))
        for mac, (number, static) in fdb.items():
            status = str(FDB_MGMT if static else FDB_LEARNED)
            rows[DOT1D_TP_FDB_ADDRESS + tuple(mac)] = ("octet", mac.hex(" "))
            rows[DOT1D_TP_FDB_PORT + tuple(mac)] = ("integer", str(number))
            rows[DOT1D_TP_FDB_STATUS + tuple(mac)] = ("integer", status)
            rows[DOT1Q_TP_FDB_PORT + (vlan, *mac)] = ("integer", str(number))
            rows[DOT1Q_TP_FDB_STATUS + (vlan, *mac)] = ("integer", status)
        interfaces = {name: index for index, name in socket.if_nameindex()}
        interfaces.update({name: index for name, (_, index) in ports.items()})
        for name, index in interfaces.items():
            mbps = speeds.get(name, _kernel_speed(name))
            rows[IF_HIGH_SPEED + (index,)] = ("gauge", str(mbps))
            rows[IF_SPEED + (index,)] = ("gauge", str(min(mbps * 1_000_000, GAUGE32_MAX)))
        n = len(self.root)
        return sorted((oid, value) for oid, value in rows.items() if oid[:n] == self.root)

    def get(self, oid: Oid) -> tuple[Oid, Value] | None:
        for row in self.table():
            if row[0] == oid:
                return row
        return None

    def get_next(self, oid: Oid) -> tuple[Oid, Value] | None:
        for row in self.table():
            if row[0] > oid:  # tuple order is SNMP's lexicographic OID order
                return row
        return None


def serve(view: SwitchView, stdin: TextIO, stdout: TextIO) -> None:
    """The pass_persist conversation: PING/PONG, get, getnext, set (refused)."""
    while True:
        command = stdin.readline()
        if not command:
            return  # snmpd closed the pipe: it is stopping
        command = command.strip()
        if command == "PING":
            stdout.write("PONG\n")
        elif command in ("get", "getnext"):
            oid = _parse_oid(stdin.readline())
            row = view.get(oid) if command == "get" else view.get_next(oid)
            if row is None:
                stdout.write("NONE\n")
            else:
                found, (kind, text) = row
                stdout.write(f".{'.'.join(map(str, found))}\n{kind}\n{text}\n")
        elif command == "set":
            stdin.readline()
            stdin.readline()
            stdout.write("not-writable\n")
        elif command:
            stdout.write("NONE\n")
        stdout.flush()


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        sys.stderr.write(f"usage: {argv[0]} CONFIG.json ROOT_OID\n")
        return 2
    serve(SwitchView(Path(argv[1]), _parse_oid(argv[2])), sys.stdin, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
