"""The numeric OIDs the SNMP probes read, and what their values mean.

Numeric because Debian ships no IETF MIB files and pysnmp bundles neither IF-MIB,
BRIDGE-MIB nor UPS-MIB: a name lookup would fail on exactly the machines we run on.
Columns (no trailing instance) are walked; scalars end in `.0`.
"""

from __future__ import annotations

# ---------------------------------------------------------------- SNMPv2-MIB system group
SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
# TimeTicks (1/100 s) since the *SNMP agent* (re)started, wrapping after 2**32 ticks
# (~497 days). An agent restart without a reboot also resets it.
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"
TIMETICKS_PER_S = 100
TIMETICKS_WRAP = 2**32

# ---------------------------------------------------------------- IF-MIB (RFC 2863)
IF_DESCR = "1.3.6.1.2.1.2.2.1.2"
IF_TYPE = "1.3.6.1.2.1.2.2.1.3"
IF_SPEED = "1.3.6.1.2.1.2.2.1.5"  # Gauge32 bit/s, saturates at 4294967295 (> 4 Gbit/s)
IF_ADMIN_STATUS = "1.3.6.1.2.1.2.2.1.7"
IF_OPER_STATUS = "1.3.6.1.2.1.2.2.1.8"
IF_IN_DISCARDS = "1.3.6.1.2.1.2.2.1.13"
IF_IN_ERRORS = "1.3.6.1.2.1.2.2.1.14"
IF_OUT_ERRORS = "1.3.6.1.2.1.2.2.1.20"
IF_NAME = "1.3.6.1.2.1.31.1.1.1.1"
IF_HIGH_SPEED = "1.3.6.1.2.1.31.1.1.1.15"  # Gauge32 Mbit/s; 0 = unknown
IF_ALIAS = "1.3.6.1.2.1.31.1.1.1.18"
COUNTER32_WRAP = 2**32

IF_OPER_STATUS_NAMES = {
    1: "up",
    2: "down",
    3: "testing",
    4: "unknown",
    5: "dormant",
    6: "notPresent",
    7: "lowerLayerDown",
}
IF_OPER_UP = 1

# ifType (IANAifType-MIB): only the kinds a seat can be cabled to count as switch ports.
IF_TYPE_ETHERNET = 6  # ethernetCsmacd: what Linux, and most switches, report for Ethernet
IF_TYPE_GIGABIT_ETHERNET = 117  # gigabitEthernet (deprecated, still seen)
IF_TYPE_FAST_ETHERNET = 62  # fastEther (deprecated, still seen)
IF_TYPE_SOFTWARE_LOOPBACK = 24
PHYSICAL_PORT_TYPES = frozenset({IF_TYPE_ETHERNET, IF_TYPE_GIGABIT_ETHERNET, IF_TYPE_FAST_ETHERNET})

# ---------------------------------------------------------------- EtherLike-MIB (RFC 3635)
# Not every agent has it (net-snmp on Linux does not): read it where it is, for half duplex.
DOT3_STATS_DUPLEX_STATUS = "1.3.6.1.2.1.10.7.2.1.19"
DUPLEX_NAMES = {1: "unknown", 2: "half", 3: "full"}
DUPLEX_HALF = 2

# ---------------------------------------------------------------- BRIDGE-MIB (RFC 4188)
DOT1D_BASE_NUM_PORTS = "1.3.6.1.2.1.17.1.2.0"
# index: bridge port number -> value: ifIndex. Bridge port numbers are not ifIndexes
# (a Cisco port 1 is often ifIndex 10101), so the FDB's port must go through this.
DOT1D_BASE_PORT_IFINDEX = "1.3.6.1.2.1.17.1.4.1.2"
# index: the 6 octets of the MAC -> value: bridge port number (0 = unknown)
DOT1D_TP_FDB_PORT = "1.3.6.1.2.1.17.4.3.1.2"
DOT1D_TP_FDB_STATUS = "1.3.6.1.2.1.17.4.3.1.3"
FDB_STATUS_NAMES = {1: "other", 2: "invalid", 3: "learned", 4: "self", 5: "mgmt"}

# ---------------------------------------------------------------- Q-BRIDGE-MIB (RFC 4363)
# index: dot1qFdbId (usually the VLAN id) + the 6 octets of the MAC -> bridge port.
# VLAN-aware switches often fill this table and leave the BRIDGE-MIB one empty.
DOT1Q_TP_FDB_PORT = "1.3.6.1.2.1.17.7.1.2.2.1.2"

# ---------------------------------------------------------------- UPS-MIB (RFC 1628)
UPS_IDENT_MANUFACTURER = "1.3.6.1.2.1.33.1.1.1.0"
UPS_IDENT_MODEL = "1.3.6.1.2.1.33.1.1.2.0"
UPS_BATTERY_STATUS = "1.3.6.1.2.1.33.1.2.1.0"
UPS_SECONDS_ON_BATTERY = "1.3.6.1.2.1.33.1.2.2.0"  # 0 when on mains
UPS_ESTIMATED_MINUTES_REMAINING = "1.3.6.1.2.1.33.1.2.3.0"  # at the present load
UPS_ESTIMATED_CHARGE_REMAINING = "1.3.6.1.2.1.33.1.2.4.0"  # percent
UPS_OUTPUT_SOURCE = "1.3.6.1.2.1.33.1.4.1.0"

# UPS-MIB's enumerations (what the values mean) are in readiness/vocabulary.py


def column_index(oid: tuple[int, ...], column: str) -> tuple[int, ...] | None:
    """The instance part of `oid` below `column`, or None when it is not in that column."""
    base = oid_tuple(column)
    if oid[: len(base)] != base:
        return None
    return oid[len(base) :]


def oid_tuple(oid: str) -> tuple[int, ...]:
    return tuple(int(part) for part in oid.strip(".").split("."))


def oid_text(oid: tuple[int, ...]) -> str:
    return ".".join(str(part) for part in oid)
