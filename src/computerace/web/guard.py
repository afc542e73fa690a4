"""ASGI middleware: what every request must satisfy before a route sees it, and security headers.

- `Host` must name this server when it listens on loopback (400): a page elsewhere cannot reach it
  through DNS rebinding.
- Query strings over `max_query` bytes: 414; bodies over `max_body` bytes: 413 (by Content-Length before the
  route runs; a chunked body without one, as soon as it passes the limit).
- Cross-origin requests to the routes that compute or change state (PROTECTED): 403. A browser names
  the page that sent a request in `Origin` (which must then be this server's own origin) and says in
  `Sec-Fetch-Site` whether it came from another site (`cross-site` is refused; `same-origin`,
  `same-site`, `none` - typed in the address bar - and absent, as from curl or a script, pass). So a
  page on the web cannot make this machine run simulations, even with a plain `<img src>` or form.
- At most `max_active` requests are answered at once (503 after that).
- Every response: a Content-Security-Policy that allows only this server's own scripts and connections
  (the page works offline; a script from elsewhere would be blocked), nosniff, no framing, no referrer,
  and Cross-Origin-Resource-Policy: same-origin. No CORS headers are ever added.

Every refusal is JSON, `{"detail": message}`, the message naming the problem and the fix.
"""

from __future__ import annotations

import json
from typing import Any

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
       "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'; form-action 'self'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
]

PROTECTED = ("/api/run", "/api/download/", "/api/claims", "/api/parameters", "/api/discover")
"""Path prefixes of the routes that compute (simulations, claims) or start work (the sensitivity ranking)."""


def protected(path: str) -> bool:
    return path.startswith(PROTECTED)


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for k, v in scope.get("headers", []):
        if k == name:
            return v.decode("latin-1")
    return None


def host_name(host: str) -> str:
    """The host part of a Host header ('127.0.0.1:8050' -> '127.0.0.1', '[::1]:80' -> '::1')."""
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def cross_origin(scope: dict[str, Any]) -> str | None:
    """Why a request is cross-origin (a message for the 403), or None when it may run."""
    site = (_header(scope, b"sec-fetch-site") or "").strip().lower()
    origin = _header(scope, b"origin")
    host = _header(scope, b"host") or ""
    own = f"{scope.get('scheme', 'http')}://{host}"
    if origin is not None and origin.strip().lower() != own.lower():
        return (f"cross-origin request refused: a page at {origin.strip()[:100]} asked this dashboard to compute; "
                f"only the dashboard's own page ({own}/) may. Open the dashboard at {own}/, or call the API "
                "from a script or curl")
    if site == "cross-site":
        return ("cross-site request refused (Sec-Fetch-Site: cross-site): another web site asked this dashboard to "
                f"compute. Open the dashboard at {own}/ and use it from there, or call the API from a script or curl")
    return None


class _TooLarge(BaseException):  # not Exception: FastAPI turns those into 400 while reading a body
    """A streamed request body passed the limit."""


class Guard:
    def __init__(self, app: Any, max_query: int, hosts: list[str] | None, max_active: int, max_body: int) -> None:
        self.app, self.max_query, self.max_active, self.max_body = app, max_query, max_active, max_body
        self.hosts = None if hosts is None else {h.lower() for h in hosts}
        self.active = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = _header(scope, b"host") or ""
        if self.hosts is not None and host_name(host).lower() not in self.hosts:
            await reply(send, 400, f"Host header '{host[:100]}' does not name this server; open the dashboard at "
                                   "http://127.0.0.1:PORT/ (or localhost), the address `computerace dashboard` "
                                   "printed")
            return
        if len(scope.get("query_string", b"")) > self.max_query:
            await reply(send, 414, f"query string longer than {self.max_query} bytes; send fewer or shorter "
                                   "overrides, or POST /api/run with a JSON body")
            return
        length = _header(scope, b"content-length")
        if length is not None and (not length.strip().isdigit() or int(length) > self.max_body):
            await reply(send, 413, self._too_large())
            return
        if protected(scope.get("path", "")) and (why := cross_origin(scope)):
            await reply(send, 403, why)
            return
        if self.active >= self.max_active:
            await reply(send, 503, f"the dashboard is answering {self.active} requests already; retry in a "
                                   "moment, with fewer clients at once")
            return

        started = False
        received = 0

        async def limited_receive() -> dict[str, Any]:
            nonlocal received
            msg = await receive()
            if msg["type"] == "http.request":
                received += len(msg.get("body", b""))
                if received > self.max_body:
                    raise _TooLarge
            return msg

        async def secured_send(msg: dict[str, Any]) -> None:
            nonlocal started
            if msg["type"] == "http.response.start":
                started = True
                names = {k.lower() for k, _ in msg.get("headers", [])}
                msg = dict(msg)
                msg["headers"] = list(msg.get("headers", [])) + [h for h in HEADERS if h[0] not in names]
            await send(msg)

        self.active += 1
        try:
            await self.app(scope, limited_receive, secured_send)
        except _TooLarge:
            if not started:
                await reply(send, 413, self._too_large())
        finally:
            self.active -= 1


    def _too_large(self) -> str:
        return (f"request body larger than {self.max_body // 1024} KiB; send fewer or shorter overrides (a scenario "
                "file belongs to 'computerace run FILE')")


async def reply(send: Any, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *HEADERS]})
    await send({"type": "http.response.body", "body": body})
