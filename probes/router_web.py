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

from readiness.results import ProbeOutcome, Status, Text

from .engines import dns_query, http_fetch


async def run(params: dict[str, Any], deadline_s: float) -> ProbeOutcome:
    url = params.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return ProbeOutcome(Status.ERROR, Text(
            f"bad parameters: 'url' must be an http:// or https:// URL, not {url!r}",
            f"参数错误：'url' 必须是 http:// 或 https:// 地址，而不是 {url!r}"))
    budget = max(0.5, deadline_s - 0.5)
    connect_s = min(float(params.get("connect_timeout_s", 3.0)), budget / 2)
    read_s = min(float(params.get("read_timeout_s", 5.0)), budget / 2)
    host = urlsplit(url).hostname or ""
    address = host
    if not http_fetch.is_address(host):
        servers = [params["resolver_address"]] if params.get("resolver_address") \
            else dns_query.system_nameservers()
        lookup = await dns_query.resolve(host, "A", servers, min(2.0, budget / 4))
        if lookup.outcome != dns_query.ANSWER:
            return ProbeOutcome(Status.FAIL, Text(
                f"the router's management page {url} cannot be found: {lookup.describe()}; "
                "use the router's fixed LAN address in router.web_url",
                f"找不到路由器管理页面 {url}：{lookup.describe()}；"
                "请在 router.web_url 中使用路由器固定的局域网地址"), {"url": url})
        address = lookup.addresses[0]
    f = await http_fetch.fetch(url, address=address, connect_timeout_s=connect_s,
                               timeout_s=read_s,
                               verify_tls=bool(params.get("verify_tls", False)))
    measured: dict[str, Any] = {"url": url, "request": f.describe(), **f.to_dict()}
    if f.outcome == http_fetch.RESPONSE and (f.status or 0) < 500 and f.body_bytes > 0:
        title = f" ({f.title})" if f.title else ""
        return ProbeOutcome(Status.PASS, Text(
            f"the router's management page answers: {f.describe()}{title}",
            f"路由器管理页面可访问：{f.describe()}{title}"), measured)
    if f.outcome == http_fetch.RESPONSE:
        why_en = (f"answers HTTP {f.status} with an empty page" if f.body_bytes == 0
                  else f"answers HTTP {f.status} (a server error)")
        why_zh = (f"返回 HTTP {f.status}，页面为空" if f.body_bytes == 0
                  else f"返回 HTTP {f.status}（服务器错误）")
    else:
        why_en, why_zh = f"does not answer: {f.result_text()}", f"无应答：{f.result_text()}"
    return ProbeOutcome(Status.FAIL, Text(
        f"the router's management page {url} {why_en}; check the address and that web "
        "management is enabled on the LAN side",
        f"路由器管理页面 {url} {why_zh}；请检查地址，并确认已在局域网侧启用 Web 管理"),
        measured)
