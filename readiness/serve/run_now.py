"""Who may start a run from the live page.

"Run now" has its own credential, `serve.run_now_token` of the site file, never the
agents' token (every seat PC holds that one). A request is signed exactly like a
request to an agent (readiness/agent/auth.py: HMAC-SHA256 over the scheme, the audience,
method, path, time, a random nonce and the body's digest), with the audience
`readiness-serve/<site code>/run-now`, so a request made for one site's service or for an
agent verifies nowhere else. The token itself never crosses the network, so a captured
request is all an eavesdropper on the exam LAN gets, and it cannot be used again: its
time is refused once it is older than the window, its nonce is remembered until then,
and a request signed before the service (re)started is refused too (the nonces of a
previous process are gone).

The live page signs in the browser (page.py), with the token the user types; a wrong
clock on that PC is answered with the service's time, which the page signs with once
more. Staff read every refusal, so each is said in both languages.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from ..agent import auth
from ..config.load import MAKE_TOKEN
from ..redact import Secret
from ..results import Text

PATH = "/run"


def audience(site_code: str) -> str:
    return f"readiness-serve/{site_code}/run-now"


def sign(token: Secret, site_code: str, *, now: float | None = None,
         nonce: str | None = None) -> dict[str, str]:
    """The headers of one signed "run now" (POST /run, empty body)."""
    return auth.sign(token, "POST", PATH, b"", agent=audience(site_code), now=now,
                     nonce=nonce)


_ENTER = ("enter the run-now token (serve.run_now_token of the site file) on the live page",
          "请在实时页面输入“立即检查”令牌（站点文件中的 serve.run_now_token）")
_CLOCK = ("the page signs again with the service's time; if this stays, set this "
          "computer's clock", "页面会按服务时间重新签名；若仍出现，请校准本机时钟")

OFF = Text(f"run now is off: the site file has no serve.run_now_token; make a token with "
           f"{MAKE_TOKEN}, put it in the secrets file and add serve: {{run_now_token: "
           "secret:NAME}} to the site file",
           f"“立即检查”未启用：站点文件没有 serve.run_now_token；用 {MAKE_TOKEN} 生成令牌，"
           "写入密钥文件，并在站点文件加上 serve: {run_now_token: secret:NAME}")

REFUSALS: dict[str, Text] = {
    "off": OFF,
    auth.MISSING: Text(f"this request is not signed: {_ENTER[0]}",
                       f"请求未签名：{_ENTER[1]}"),
    auth.MALFORMED: Text(f"the signature headers are malformed: {_ENTER[0]}",
                         f"签名请求头格式错误：{_ENTER[1]}"),
    auth.BAD_SIGNATURE: Text(
        "wrong run-now token: enter serve.run_now_token of the site file (not the agents' "
        "token)", "“立即检查”令牌不正确：请输入站点文件 serve.run_now_token 的值（不是代理令牌）"),
    auth.EXPIRED: Text(f"the request is too old or from before the service started: {_CLOCK[0]}",
                       f"请求已过期或早于服务启动：{_CLOCK[1]}"),
    auth.FUTURE: Text(f"the request's time is ahead of the service's clock: {_CLOCK[0]}",
                      f"请求时间晚于服务时钟：{_CLOCK[1]}"),
    auth.REPLAYED: Text("this request was already received once: a repeated request is "
                        "refused (press the button again for a new one)",
                        "该请求已收到过：重复的请求被拒绝（如需检查请再按一次按钮）"),
    auth.WRONG_AGENT: Text("this request was signed for another service or site: reload "
                           "the page", "该请求是为其他服务或站点签名的：请刷新页面"),
    auth.OVERLOADED: Text("too many run-now requests in the last minute; try again shortly",
                          "一分钟内“立即检查”请求过多，请稍后再试"),
}


class Refused(Exception):
    def __init__(self, status: int, code: str, server_time: int | None = None):
        super().__init__(status, code)
        self.status, self.code, self.server_time = status, code, server_time
        self.text = REFUSALS.get(code, REFUSALS[auth.BAD_SIGNATURE])

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.text.to_dict()}
        if self.server_time is not None:
            body["server_time"] = self.server_time
        return body


class RunNowGate:
    """Checks "run now" requests; one per service process. Thread-safe."""

    def __init__(self, token: Secret | None, site_code: str, *,
                 clock: Callable[[], float] = time.time):
        self.audience = audience(site_code)
        self.clock = clock
        self.started = int(clock())
        self._verifier = auth.Verifier(token, clock=clock) if token is not None else None

    @property
    def enabled(self) -> bool:
        return self._verifier is not None

    def page_info(self) -> dict[str, Any]:
        """What the page needs to sign (nothing secret)."""
        window = self._verifier.window_s if self._verifier else auth.DEFAULT_WINDOW_S
        return {"enabled": self.enabled, "audience": self.audience, "path": PATH,
                "scheme": auth.SCHEME, "window_s": window}

    def check(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> None:
        """Raise Refused unless the request is signed with the run-now token for this
        service, fresh, new, and made after the service started. `headers`: lower case."""
        if self._verifier is None:
            raise Refused(403, "off")
        try:
            stamp = int(headers.get(auth.TIME_HEADER.lower(), ""))
        except ValueError:
            stamp = None
        if stamp is not None and stamp < self.started:
            raise Refused(401, auth.EXPIRED, int(self.clock()))
        try:
            self._verifier.verify(method, path, headers, body, self.audience)
        except auth.AuthError as exc:
            raise Refused(exc.status, exc.code, exc.server_time) from None
