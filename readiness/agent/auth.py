"""Signing agent requests with the site token, and checking them on the agent.

A request carries four headers:

  X-Readiness-Time       integer Unix time of the caller's clock
  X-Readiness-Nonce      32 random hex digits, never used twice
  X-Readiness-Agent      the agent the request is for: the address and port the caller
                         connected to ("198.18.10.107:8765", "[2001:db8::7]:8765")
  X-Readiness-Signature  hex HMAC-SHA256(token, "readiness-v2\\nAGENT\\nMETHOD\\nTARGET\\n"
                         "TIME\\nNONCE\\n" + hex SHA-256 of the body)

The agent computes AGENT from the local address and port the connection arrived on,
never from the header: a request signed for one seat does not verify on any other
(every seat shares the site token, so without this a captured request would run on
all forty for as long as the window lasts). The header only lets the agent say why.
An agent behind a port forward therefore refuses requests: connect to it directly.

The signature covers the body's digest, not the body, so the agent can check the
cheap parts (presence, clock window, agent) before it reads a byte of the body. A
captured request cannot be replayed: outside the window its time is refused, inside it
its nonce is already known; across a restart of the agent (which forgets its nonces),
a request signed before the agent started is refused. The token itself never leaves
this module in any form other than a MAC, and no message here ever contains it.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import ipaddress
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping

from readiness.redact import Secret

SCHEME = "readiness-v2"
TIME_HEADER = "X-Readiness-Time"
NONCE_HEADER = "X-Readiness-Nonce"
AGENT_HEADER = "X-Readiness-Agent"
SIGNATURE_HEADER = "X-Readiness-Signature"

# Seat PCs in exam rooms often have no NTP; 30 s either way is a compromise between
# refusing a slightly drifted clock and keeping replays out of a long window.
DEFAULT_WINDOW_S = 30
# Far above what one agent ever sees in a window (a few requests per check run), so
# a full cache means a flood, and refusing is then safer than forgetting nonces.
DEFAULT_MAX_NONCES = 50_000

_NONCE_RE = re.compile(r"^[0-9a-f]{32}$")
_SIGNATURE_RE = re.compile(r"^[0-9a-f]{64}$")
_TIME_RE = re.compile(r"^-?[0-9]{1,12}$")

# Error codes; each is also the "error" field of the agent's JSON reply.
MISSING = "missing_signature"
MALFORMED = "malformed_signature"
BAD_SIGNATURE = "bad_signature"
EXPIRED = "expired"
FUTURE = "future"
REPLAYED = "replayed"
WRONG_AGENT = "wrong_agent"
OVERLOADED = "nonce_cache_full"


class AuthError(Exception):
    """Why a request was refused. `message` is safe to send and to log."""

    def __init__(self, status: int, code: str, message: str, server_time: int | None = None):
        super().__init__(status, code, message)
        self.status = status
        self.code = code
        self.message = message
        self.server_time = server_time

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def agent_id(address: str, port: int) -> str:
    """The one spelling of an agent's address and port both sides sign: the address as
    `ipaddress` writes it (no IPv6 zone), IPv6 in brackets."""
    host = address.split("%", 1)[0]
    try:
        host = str(ipaddress.ip_address(host))
    except ValueError:
        host = host.lower()
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _mac(key: bytes, agent: str, method: str, target: str, stamp: str, nonce: str,
         digest: str) -> str:
    message = "\n".join((SCHEME, agent, method.upper(), target, stamp, nonce, digest))
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()


def sign(token: Secret, method: str, target: str, body: bytes, *, agent: str,
         now: float | None = None, nonce: str | None = None) -> dict[str, str]:
    """The headers that authenticate one request (`target` is path and query) for the
    agent `agent` (`agent_id(address, port)` of the connection it is sent on)."""
    stamp = str(int(time.time() if now is None else now))
    nonce = nonce or secrets.token_hex(16)
    signature = _mac(token.reveal().encode("utf-8"), agent, method, target, stamp, nonce,
                     body_digest(body))
    return {TIME_HEADER: stamp, NONCE_HEADER: nonce, AGENT_HEADER: agent,
            SIGNATURE_HEADER: signature}


class NonceCache:
    """Nonces seen inside the window, each forgotten once its request's time has left
    the window (after that the clock check refuses the request anyway)."""

    def __init__(self, max_entries: int = DEFAULT_MAX_NONCES):
        self.max_entries = max_entries
        self._expiry: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._expiry)

    def add(self, nonce: str, expires_at: float, now: float) -> bool:
        """Record `nonce`; False if it was already there (a replay). Raises AuthError
        when the cache is full of live nonces."""
        with self._lock:
            while self._heap and self._heap[0][0] < now:
                _, old = heapq.heappop(self._heap)
                self._expiry.pop(old, None)
            if nonce in self._expiry:
                return False
            if len(self._expiry) >= self.max_entries:
                raise AuthError(503, OVERLOADED,
                                "too many requests in the last minute; try again shortly")
            self._expiry[nonce] = expires_at
            heapq.heappush(self._heap, (expires_at, nonce))
            return True


class Verifier:
    """Checks signed requests on the agent. Thread-safe; one per agent process."""

    def __init__(self, token: Secret, *, window_s: int = DEFAULT_WINDOW_S,
                 max_nonces: int = DEFAULT_MAX_NONCES,
                 clock: Callable[[], float] = time.time):
        self._key = token.reveal().encode("utf-8")
        self.window_s = window_s
        self.clock = clock
        self.nonces = NonceCache(max_nonces)
        # The nonces live in memory only, so a restarted agent has forgotten the ones it
        # saw. Requests signed before it started are therefore refused: a request
        # captured before a restart cannot be replayed after it. (Whole seconds, as
        # stamped: a replay would need the old agent to have answered it in the very
        # second the new one started.) A caller whose clock runs behind is told the
        # agent's time and signs again, as for any stale request.
        self.started_at = int(clock())

    def __repr__(self) -> str:
        return f"Verifier(window_s={self.window_s})"

    def check_headers(self, headers: Mapping[str, str], agent: str,
                      ) -> tuple[str, str, str, int]:
        """The cheap half, before the body is read: presence, form, clock window, and
        that the request names this agent (`agent`: `agent_id` of the local end of the
        connection). Returns (time, nonce, signature, time as int). `headers` keys are
        lower case."""
        stamp = headers.get(TIME_HEADER.lower())
        nonce = headers.get(NONCE_HEADER.lower())
        signature = headers.get(SIGNATURE_HEADER.lower())
        if not (stamp and nonce and signature):
            raise AuthError(401, MISSING,
                            "this request is not signed: it needs the X-Readiness-Time, "
                            "X-Readiness-Nonce and X-Readiness-Signature headers, made with "
                            "the site's agent token")
        if not (_TIME_RE.match(stamp) and _NONCE_RE.match(nonce)
                and _SIGNATURE_RE.match(signature)):
            raise AuthError(401, MALFORMED,
                            "the signature headers are malformed (time: integer seconds, "
                            "nonce: 32 hex digits, signature: 64 hex digits)")
        now = int(self.clock())
        sent = int(stamp)
        if sent < now - self.window_s:
            raise AuthError(401, EXPIRED,
                            f"the request time is {now - sent} s in the past (more than "
                            f"{self.window_s} s): the clocks of the two machines differ "
                            "or the request was captured and replayed", now)
        if sent < self.started_at:
            raise AuthError(401, EXPIRED,
                            f"the request was signed {self.started_at - sent} s before this "
                            "agent started: a request from before a restart is refused, as it "
                            "may be a replay (if the clocks of the two machines differ, "
                            "sign it again with the agent's time)", now)
        if sent > now + self.window_s:
            raise AuthError(401, FUTURE,
                            f"the request time is {sent - now} s in the future (more than "
                            f"{self.window_s} s): the clocks of the two machines differ", now)
        named = headers.get(AGENT_HEADER.lower())
        if not named:
            raise AuthError(401, MISSING,
                            "the request does not name the agent it is for (no "
                            "X-Readiness-Agent header): the coordinator's readiness is "
                            "older than this agent's; update it")
        if named != agent:
            raise AuthError(403, WRONG_AGENT,
                            f"this request was signed for the agent at {named[:60]}, but it "
                            f"reached the agent at {agent}: a request signed for one agent "
                            "is refused by every other (connect to the agent directly, not "
                            "through a port forward)")
        return stamp, nonce, signature, sent

    def verify(self, method: str, target: str, headers: Mapping[str, str], body: bytes,
               agent: str) -> None:
        """Raise AuthError unless the request is signed with the token for this agent
        (`agent`: `agent_id` of the local end of the connection), fresh and new."""
        stamp, nonce, signature, sent = self.check_headers(headers, agent)
        # the MAC is over the agent as this side sees it, never the header's claim
        expected = _mac(self._key, agent, method, target, stamp, nonce, body_digest(body))
        if not hmac.compare_digest(expected, signature):
            raise AuthError(403, BAD_SIGNATURE,
                            "the signature does not match: the caller's agent token differs "
                            "from this agent's (or the request was altered on the way)")
        # Recorded only after the signature holds, so nobody without the token can
        # fill the cache or burn a legitimate caller's nonce.
        if not self.nonces.add(nonce, sent + self.window_s, self.clock()):
            raise AuthError(403, REPLAYED,
                            "this request was already received once (same nonce): "
                            "a replayed request is refused")
