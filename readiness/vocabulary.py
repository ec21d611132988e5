"""Words a probe writes into `measured` and a judge reads back: one spelling for both
sides, on the ground floor so that neither has to import the other."""

from __future__ import annotations

# how a TCP port answered a connect (probes/engines/tcp_connect.py)
PORT_OPEN = "open"
PORT_REFUSED = "refused"
PORT_TIMEOUT = "timeout"
PORT_UNREACHABLE = "unreachable"
PORT_ERROR = "error"

# how a host's address is configured, as its self-report says (readiness/agent)
STATIC = "static"
DHCP = "dhcp"
UNKNOWN = "unknown"

# UPS-MIB (RFC 1628) upsBatteryStatus and upsOutputSource
UPS_BATTERY_UNKNOWN = 1
UPS_BATTERY_NORMAL = 2
UPS_BATTERY_LOW = 3
UPS_BATTERY_DEPLETED = 4
UPS_BATTERY_STATUS_NAMES = {1: "unknown", 2: "batteryNormal", 3: "batteryLow", 4: "batteryDepleted"}
UPS_BATTERY_STATUS_ZH = {1: "未知", 2: "正常", 3: "电量低", 4: "电量耗尽"}

UPS_OUTPUT_OTHER = 1
UPS_OUTPUT_NONE = 2  # the UPS output is off: nothing behind it has power
UPS_OUTPUT_NORMAL = 3  # on mains (through the inverter for online UPSes)
UPS_OUTPUT_BYPASS = 4  # mains straight through: a power cut drops the load
UPS_OUTPUT_BATTERY = 5  # mains is gone, the battery feeds the load now
UPS_OUTPUT_BOOSTER = 6  # mains too low, the UPS boosts it (still on mains)
UPS_OUTPUT_REDUCER = 7  # mains too high, the UPS trims it (still on mains)
UPS_OUTPUT_SOURCE_NAMES = {
    1: "other",
    2: "none",
    3: "normal",
    4: "bypass",
    5: "battery",
    6: "booster",
    7: "reducer",
}
UPS_OUTPUT_SOURCE_ZH = {
    1: "其他",
    2: "无输出",
    3: "市电",
    4: "旁路",
    5: "电池",
    6: "升压（市电偏低）",
    7: "降压（市电偏高）",
}
