"""`readiness throughput-server`: the iperf3-compatible server of probes/engines, as a
command (also `python -m readiness.commands.throughput_server`)."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from typing import Any

from probes.engines.iperf3_proto import DEFAULT_PORT
from probes.engines.iperf3_server import DEFAULT_IDLE_TIMEOUT_S, log, parse_ports, serve

from ..argtypes import port_number


def add_throughput_server_parser(subparsers: Any,
                                 parents: Sequence[argparse.ArgumentParser] = ()) -> None:
    """Adds `throughput-server` to a CLI; the command's func returns an exit code."""
    p = subparsers.add_parser(
        "throughput-server", parents=list(parents),
        help="run an iperf3-compatible server that stock `iperf3 -c` can test against")
    _add_arguments(p)
    p.set_defaults(func=_cmd)


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bind", default="0.0.0.0", metavar="ADDR",
                   help="address to listen on (default %(default)s: all)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--port", type=port_number, default=DEFAULT_PORT,
                       help="TCP port (default %(default)s, as iperf3)")
    where.add_argument("--ports", type=_ports_arg, metavar="LIST",
                       help="serve several ports at once, one test each, e.g. 5301-5340 "
                            "(the room load test: every seat tests its own port) or "
                            "5201,5301-5340")
    p.add_argument("--idle-timeout", type=float, default=DEFAULT_IDLE_TIMEOUT_S,
                   metavar="SECONDS",
                   help="drop a client silent this long (default %(default)s)")


def _ports_arg(text: str) -> list[int]:
    try:
        return parse_ports(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _cmd(args: argparse.Namespace) -> int:
    # The CLI logs warnings only; a server's operator wants each test's line too.
    log.setLevel(logging.INFO)
    ports = getattr(args, "ports", None)
    try:
        serve(args.bind, args.port, args.idle_timeout, ports)
    except OSError as exc:
        # serve() names the port that failed
        log.error("iperf3 server: cannot listen on %s %s", args.bind, exc.strerror or exc)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="readiness throughput-server",
        description="an iperf3-compatible server that stock `iperf3 -c` can test against")
    _add_arguments(parser)
    args = parser.parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    return _cmd(args)


if __name__ == "__main__":
    raise SystemExit(main())
