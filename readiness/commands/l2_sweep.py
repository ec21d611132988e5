"""`python -m readiness.commands.l2_sweep`: one ARP sweep + DHCP discovery from this
machine, its outcome written as one JSON line (for `ip netns exec` in the lab and for
looking at an exam LAN by hand). Exit code 0 when the sweep ran (pass or warn), else 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from probes import l2_sweep

from ..config.profile import LanSubnetThresholds
from ..planning.knobs import knobs
from ..results import Status

# the same defaults a planned sweep has: the windows are the profile's rule (one default
# each, in LanSubnetThresholds), the rest the probe's knobs
_RULE = LanSubnetThresholds.model_fields


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m readiness.commands.l2_sweep",
                                 description=l2_sweep.__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subnet", required=True)
    ap.add_argument("--interface")
    ap.add_argument("--arp-window", type=float, default=float(_RULE["arp_window_s"].default))
    ap.add_argument("--arp-retries", type=int, default=_RULE["arp_retries"].default)
    ap.add_argument("--pace-pps", type=float, default=knobs("l2_sweep")["pace_pps"])
    ap.add_argument("--no-dhcp", action="store_true")
    ap.add_argument("--dhcp-window", type=float,
                    default=float(_RULE["dhcp_window_s"].default))
    ap.add_argument("--deadline", type=float, default=10.0)
    args = ap.parse_args(argv)
    params: dict[str, Any] = {
        **knobs("l2_sweep"),
        "subnet": args.subnet, "arp_window_s": args.arp_window,
        "arp_retries": args.arp_retries, "pace_pps": args.pace_pps,
        "dhcp": not args.no_dhcp, "dhcp_window_s": args.dhcp_window,
        # a hand-run sweep asks the subnet only, not a mistyped seat's addresses
        "outside": [],
    }
    if args.interface:
        params["interface"] = args.interface
    started = time.monotonic()
    outcome = asyncio.run(l2_sweep.run(params, args.deadline))
    doc = {"status": outcome.status.value, "message": outcome.message.to_dict(),
           "measured": outcome.measured, "wall_s": round(time.monotonic() - started, 3)}
    sys.stdout.write(json.dumps(doc, ensure_ascii=False) + "\n")
    return 0 if outcome.status in (Status.PASS, Status.WARN) else 1


if __name__ == "__main__":
    sys.exit(main())
