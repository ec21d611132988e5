"""A lab switch port that goes down and up again and again (the flapping_link fault).

Runs in the switch's namespace as a lab service (we keep its pid like any daemon's):
the seat behind the port loses its carrier for --down seconds, then has it for --up
seconds, until SIGTERM, which leaves the port up. Standard library only; `ip` does the
work, as for the rest of the lab's wiring.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import threading


def _set(port: str, state: str) -> None:
    subprocess.run(["ip", "link", "set", "dev", port, state], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", required=True, help="the switch-side veth of the seat")
    parser.add_argument("--down", type=float, required=True, help="seconds without carrier")
    parser.add_argument("--up", type=float, required=True, help="seconds with carrier")
    parser.add_argument("--label", default="", help="the lab namespace (to find us in ps)")
    args = parser.parse_args(argv)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        # up first: the room comes up with the seat cabled, then the port starts failing
        while not stop.wait(args.up):
            _set(args.port, "down")
            if stop.wait(args.down):
                break
            _set(args.port, "up")
    finally:
        try:
            _set(args.port, "up")
        except (OSError, subprocess.SubprocessError):
            pass  # the lab is being removed: the port went with its namespace
    return 0


if __name__ == "__main__":
    sys.exit(main())
