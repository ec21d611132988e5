"""argparse types for numbers a user types on the command line.

A bad value is a usage error (exit code 2, the option named by argparse), never a
traceback or an "internal error" from deep inside a server that tries to bind it.
"""

from __future__ import annotations

import argparse


def port_number(text: str) -> int:
    """A TCP/UDP port, 1-65535."""
    try:
        value = int(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a port number: write a whole number from 1 to 65535 "
            f"/ 不是端口号：请写 1 到 65535 之间的整数") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(
            f"{value} is not a port number: ports run from 1 to 65535 "
            f"/ {value} 不是有效端口：端口范围为 1 到 65535") from None
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value
