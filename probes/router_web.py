"""FILTER-FEATURES web_management / remote_management: the router's management page
answers at its fixed address.

params:
  url                the management page (`router.web_url`, e.g. http://192.168.10.1/)
  resolver_address   for a URL with a name (default: this machine's DNS)
  verify_tls         false by default: a router's page carries a self-signed certificate,
                     and what is proven here is that it answers, not who signed it
  connect_timeout_s 3, read_timeout_s 5

Pass: an HTTP status below 500 with a page body (a login page is the usual answer).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from readiness.checkkind import COORDINATOR, SEAT, TARGET, CheckKind, Param, knobs
from readiness.results import ProbeOutcome, Status, Text

from .engines import dns_query, http_fetch


async def run(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
    url = params["url"]
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return ProbeOutcome(Status.ERROR, Text(
            f"bad parameters: 'url' must be an http:// or https:// URL, not {url!r}",
            f"参数错误：'url' 必须是 http:// 或 https:// 地址，而不是 {url!r}"))
    budget = max(0.5, deadline_s - 0.5)
    connect_s = min(float(params["connect_timeout_s"]), budget / 2)
    read_s = min(float(params["read_timeout_s"]), budget / 2)
    host = urlsplit(url).hostname or ""
    address = host
    if not http_fetch.is_address(host):
        servers = [params["resolver_address"]] if params.get("resolver_address") \
            else dns_query.system_nameservers()
        lookup = await dns_query.resolve(host, "A", servers, min(2.0, budget / 4))
        if lookup.outcome != dns_query.ANSWER:
            return ProbeOutcome(Status.PASS, Text(
                f"looked up {url}: {lookup.describe()}", f"解析 {url}：{lookup.describe()}"),
                {"url": url, "found": False, "lookup": lookup.describe()})
        address = lookup.addresses[0]
    f = await http_fetch.fetch(url, address=address, connect_timeout_s=connect_s,
                               timeout_s=read_s, verify_tls=bool(params["verify_tls"]))
    # measured, not judged (readiness/judges/filtering.py router_web)
    return ProbeOutcome(Status.PASS, Text(f"fetched {url}: {f.describe()}",
                                          f"已访问 {url}：{f.describe()}"),
                        {"url": url, "found": True, "described": f.describe(),
                         "result_text": f.result_text(), **f.to_dict()})


KIND = CheckKind(
    probe="router_web", run=run,
    params=(Param("url", TARGET), *knobs("connect_timeout_s", "read_timeout_s", "verify_tls"),
            Param("resolver_address", TARGET, optional=True)),
    judges=("filtering.router_web",), runs_on=frozenset({COORDINATOR, SEAT}))
