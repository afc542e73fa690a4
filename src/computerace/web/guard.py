"""ASGI middleware: a query-string limit and security headers on every response.

- Query strings over `max_query` bytes: 414 (bodies are limited by FastAPI's `max_body_size`: 413).
- Every response: a Content-Security-Policy that allows only this server's own scripts and connections
  (the page works offline; a script from elsewhere would be blocked), nosniff, no framing, no referrer,
  and Cross-Origin-Resource-Policy: same-origin. No CORS headers are ever added.
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


class Guard:
    def __init__(self, app: Any, max_query: int) -> None:
        self.app, self.max_query = app, max_query

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if len(scope.get("query_string", b"")) > self.max_query:
            await _reply(send, 414, f"query string longer than {self.max_query} bytes")
            return

        async def secured_send(msg: dict[str, Any]) -> None:
            if msg["type"] == "http.response.start":
                names = {k.lower() for k, _ in msg.get("headers", [])}
                msg = dict(msg)
                msg["headers"] = list(msg.get("headers", [])) + [h for h in HEADERS if h[0] not in names]
            await send(msg)

        await self.app(scope, receive, secured_send)


async def _reply(send: Any, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *HEADERS]})
    await send({"type": "http.response.body", "body": body})
