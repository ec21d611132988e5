"""The Host header a request may carry: a name or address this service is reached by.

A web page from anywhere can make a browser on the exam LAN send requests to the
service (DNS rebinding: the page's own name is made to resolve to the proctor PC), and
then read the answers as if they came from its own site; only the Host header still
names the page's site. So a request is answered only when its Host is
  * the address the connection arrived on (an address in the URL reaches only the
    machine that has it: no page can rebind it),
  * `localhost` on a loopback connection,
  * this machine's own host name, or a name given with --host-name (the name staff type
    in the browser, e.g. proctor.school.lan, or the outside address of a port forward).
Everything else gets 421, naming the address to use instead.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable


def _normal(name: str) -> str:
    return name.strip().rstrip(".").lower()


def host_part(header: str) -> str:
    """`name`, `name:port`, `[v6]:port` -> the name or address, lower case."""
    value = header.strip()
    if value.startswith("["):
        end = value.find("]")
        return _normal(value[1:end]) if end > 0 else ""
    if value.count(":") == 1:
        value = value.split(":", 1)[0]
    return _normal(value)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


class HostCheck:
    def __init__(self, names: Iterable[str] = ()):
        self.names = {str(_address(n) or _normal(n)) for n in names if n.strip()}
        hostname = _normal(socket.gethostname())
        if hostname:
            self.names.add(hostname)

    def allows(self, header: str | None, local_address: str) -> bool:
        """`header`: the request's Host; `local_address`: where the connection arrived."""
        if not header:
            return False
        host = host_part(header)
        if not host:
            return False
        local = _address(local_address)
        given = _address(host)
        if given is not None:
            # an address named with --host-name: the service behind a port forward or NAT
            return (local is not None and given == local) or str(given) in self.names
        if host == "localhost" or host.endswith(".localhost"):
            return local is not None and local.is_loopback
        return host in self.names
