"""The lab router's keyword / URL / Host / SNI filter: transparent, in the router namespace.

nftables redirects the seats' port-80 traffic to sites they may reach to this process
(readiness/lab/router.py). It reads the request head, and when the URL (decoded, any
case) holds a configured word, or the Host header names a blocked site (`--host`), it
answers with the router's block page; otherwise it connects to the original destination
(SO_ORIGINAL_DST) and relays both ways, as behaviour-management routers do.

With `--sni-listen`, port-443 traffic redirected there has its TLS ClientHello read: one
whose SNI names a blocked site is reset (TCP RST), any other is relayed untouched.

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


def host_of(head: bytes) -> str:
    """The Host header of a request head, without its port."""
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, sep, value = line.partition(":")
        if sep and name.strip().lower() == "host":
            value = value.strip().lower()
            return value.rsplit(":", 1)[0] if value.count(":") == 1 else value
    return ""


def names_blocked(name: str, hosts: list[str]) -> bool:
    """`name` is one of `hosts` or a subdomain of one."""
    name = name.lower().rstrip(".")
    return any(name == h or name.endswith("." + h) for h in hosts)


def client_hello_sni(data: bytes) -> str | None:
    """The server name in a TLS ClientHello (RFC 8446 4.1.2, RFC 6066 3); None when the
    bytes are not a whole ClientHello or it names none."""
    try:
        if data[0] != 22 or data[5] != 1:  # handshake record, ClientHello
            return None
        pos = 5 + 4 + 2 + 32  # record header, handshake header, version, random
        pos += 1 + data[pos]  # session id
        pos += 2 + int.from_bytes(data[pos:pos + 2], "big")  # cipher suites
        pos += 1 + data[pos]  # compression methods
        end = pos + 2 + int.from_bytes(data[pos:pos + 2], "big")
        pos += 2
        while pos + 4 <= end:
            kind = int.from_bytes(data[pos:pos + 2], "big")
            size = int.from_bytes(data[pos + 2:pos + 4], "big")
            if kind == 0:  # server_name: list length, name type 0, name length, name
                length = int.from_bytes(data[pos + 7:pos + 9], "big")
                return data[pos + 9:pos + 9 + length].decode("ascii").lower()
            pos += 4 + size
    except (IndexError, UnicodeDecodeError):
        return None
    return None


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


async def _serve(words: list[str], hosts: list[str], reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
    try:
        line = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        if blocked_word(line.split(b"\r\n")[0], words) or names_blocked(host_of(line), hosts):
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


async def _serve_tls(hosts: list[str], reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    try:
        hello = await asyncio.wait_for(reader.read(MAX_HEAD), 10)
        if not hello:
            writer.close()
            return
        if names_blocked(client_hello_sni(hello) or "", hosts):
            # a reset, not a close: what SNI filters send
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return
        address, port = original_destination(sock)
        up_reader, up_writer = await asyncio.wait_for(
            asyncio.open_connection(address, port), 5)
    except (TimeoutError, ConnectionError, OSError):
        writer.close()
        return
    up_writer.write(hello)
    await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))


BACKLOG = 4096


async def main_async(host: str, port: int, words: list[str], hosts: list[str] | None = None,
                     sni_listen: tuple[str, int] | None = None) -> None:
    hosts = hosts or []
    # every seat's whole audit passes here at once (up to 64 requests in flight from each
    # of 40 seats): asyncio's default backlog of 100 dropped SYNs, and a seat then saw its
    # exam site silently dropped (a lab artefact, not the filter modelled)
    server = await asyncio.start_server(lambda r, w: _serve(words, hosts, r, w), host, port,
                                        limit=MAX_HEAD, backlog=BACKLOG)
    servers = [server]
    if sni_listen:
        servers.append(await asyncio.start_server(lambda r, w: _serve_tls(hosts, r, w),
                                                  *sni_listen, limit=MAX_HEAD,
                                                  backlog=BACKLOG))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for each in servers:
        each.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", required=True, help="address:port")
    parser.add_argument("--word", action="append", default=[], help="a word to block")
    parser.add_argument("--host", action="append", default=[],
                        help="a site whose HTTP requests (by Host) and TLS handshakes (by SNI) "
                             "are blocked")
    parser.add_argument("--sni-listen", default="",
                        help="address:port where redirected TLS connections arrive")
    args = parser.parse_args()
    host, _, port = args.listen.rpartition(":")
    sni = None
    if args.sni_listen:
        sni_host, _, sni_port = args.sni_listen.rpartition(":")
        sni = (sni_host, int(sni_port))
    asyncio.run(main_async(host, int(port), args.word, args.host, sni))


if __name__ == "__main__":
    main()
