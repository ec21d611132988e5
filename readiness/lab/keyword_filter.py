"""The lab router's keyword / URL filter: a transparent HTTP filter in the router namespace.

nftables redirects the seats' port-80 traffic to sites they may reach to this process
(readiness/lab/router.py). It reads the request line, and when the URL (decoded, any
case) holds a configured word it answers with the router's block page; otherwise it
connects to the original destination (SO_ORIGINAL_DST) and relays both ways. Only the
request line is looked at, as the keyword filters of behaviour-management routers do.

Run as `python -m readiness.lab.keyword_filter --listen 198.18.10.1:3128 --word games`.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import struct
from urllib.parse import unquote

SO_ORIGINAL_DST = 80  # linux/netfilter_ipv4.h
MAX_HEAD = 16384
BLOCK_PAGE = (
    "<!doctype html><html><head><meta charset=utf-8><title>Access denied</title></head>"
    "<body><h1>Access denied: blocked by the URL filter</h1>"
    "<p>访问被拒绝：该网址已被上网行为管理拦截。</p></body></html>\n"
).encode()


def blocked_word(request_line: bytes, words: list[str]) -> str | None:
    try:
        target = request_line.decode("latin-1").split()[1]
    except IndexError:
        return None
    seen = unquote(unquote(target)).lower()
    return next((w for w in words if w.lower() in seen), None)


def original_destination(sock: socket.socket) -> tuple[str, int]:
    raw = sock.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
    port = struct.unpack("!H", raw[2:4])[0]
    return socket.inet_ntoa(raw[4:8]), port


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def _serve(words: list[str], reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
    try:
        line = await asyncio.wait_for(reader.readline(), 10)
        if blocked_word(line, words):
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            head = (f"HTTP/1.1 403 Forbidden\r\nContent-Type: text/html; charset=utf-8\r\n"
                    f"Content-Length: {len(BLOCK_PAGE)}\r\nConnection: close\r\n\r\n")
            writer.write(head.encode() + BLOCK_PAGE)
            await writer.drain()
            writer.close()
            return
        address, port = original_destination(writer.get_extra_info("socket"))
        up_reader, up_writer = await asyncio.wait_for(
            asyncio.open_connection(address, port), 5)
    except (TimeoutError, ConnectionError, OSError, asyncio.IncompleteReadError,
            asyncio.LimitOverrunError):
        writer.close()
        return
    up_writer.write(line)
    await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))


async def main_async(host: str, port: int, words: list[str]) -> None:
    server = await asyncio.start_server(lambda r, w: _serve(words, r, w), host, port,
                                        limit=MAX_HEAD)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", required=True, help="address:port")
    parser.add_argument("--word", action="append", default=[], help="a word to block")
    args = parser.parse_args()
    host, _, port = args.listen.rpartition(":")
    asyncio.run(main_async(host, int(port), args.word))


if __name__ == "__main__":
    main()
