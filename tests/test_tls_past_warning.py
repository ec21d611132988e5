"""Going past a certificate warning takes a second connection. When the first one
brought the site's own certificate, a stop of the second alone is a busy seat or path,
never a filter: the attempt is `error` (not verified), neither blocked nor leaked.
On loopback, with a real TLS server that stops listening after its first handshake."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

from probes.engines import http_fetch
from probes.url_filter import FETCH_BLOCKS
from readiness.lab.tls import site_certificate


async def _fetch_after_one_handshake(folder: Path) -> http_fetch.Fetch:
    cert, key = site_certificate(folder, "video.example")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    servers: list[asyncio.Server] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        servers[0].close()  # the next connection is refused
        try:
            await writer.start_tls(context)  # the site's certificate, once
        except (OSError, ssl.SSLError):
            pass  # the client gives up on it: self-signed
        writer.close()

    servers.append(await asyncio.start_server(handle, "127.0.0.1", 0))
    port = servers[0].sockets[0].getsockname()[1]
    try:
        return await http_fetch.fetch(f"https://video.example:{port}/", address="127.0.0.1",
                                      connect_timeout_s=2, timeout_s=2, past_warning=True)
    finally:
        servers[0].close()


def test_a_stop_after_the_sites_own_certificate_is_not_a_block(tmp_path: Path) -> None:
    got = asyncio.run(_fetch_after_one_handshake(tmp_path))
    assert got.outcome == http_fetch.ERROR and got.outcome not in FETCH_BLOCKS
    assert "answered with its certificate" in got.result_text()
    assert "too busy to tell" in got.result_text()
    assert got.tls and got.tls["warning"]
