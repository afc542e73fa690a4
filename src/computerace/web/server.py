"""The dashboard's HTTP server: uvicorn's h11 protocol with read timeouts and a connection cap.

uvicorn closes idle keep-alive connections (`timeout_keep_alive`) but waits forever for a request that
never finishes arriving: a client that connects and sends half a request line holds a connection, and
uvicorn's `limit_concurrency` counts connections, so 64 such sockets made it answer every real request
with 503. `Protocol` below adds:

- a header timeout: a request's line and headers must arrive within HEADER_TIMEOUT_S of the connection
  opening (or of the first byte of the next request on a kept-alive connection);
- a body timeout: its body within BODY_TIMEOUT_S of the headers;
  either expiry answers 408 (when no response has started) and closes the connection;
- a connection cap: past MAX_CONNECTIONS open connections, a new one closes the oldest connection that
  has no request being answered (idle or half-sent), so slow clients cannot crowd out a real one.

The limit on work (requests being answered at once) is `Guard`'s (guard.py), not uvicorn's
`limit_concurrency`, which would count the half-open sockets too.
"""

from __future__ import annotations

import json
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from . import BODY_TIMEOUT_S, HEADER_TIMEOUT_S, MAX_CONNECTIONS


def _timeout_reply(what: str, seconds: float) -> bytes:
    body = json.dumps({"detail": f"request {what} not received within {seconds:g} s; the server closed the "
                                 "connection. Send the whole request at once (any HTTP client does)"}).encode()
    return (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


class Protocol(H11Protocol):
    """H11Protocol with header and body read timeouts and an oldest-idle-first connection cap."""

    header_timeout_s = HEADER_TIMEOUT_S
    body_timeout_s = BODY_TIMEOUT_S
    max_connections = MAX_CONNECTIONS

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        self._read_timer: Any = None
        self._reading: str | None = None  # "headers" | "body" while a timer runs
        self.opened_at = self.loop.time()
        super().connection_made(transport)
        self._arm("headers", self.header_timeout_s)
        if len(self.connections) > self.max_connections:
            self._evict()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._reading is None and self.conn.their_state is h11.IDLE:
            self._arm("headers", self.header_timeout_s)  # first bytes of a new request on a kept-alive connection
        super().data_received(data)
        if self.transport.is_closing():
            self._disarm()
            return
        state = self.conn.their_state
        if state is h11.SEND_BODY:
            if self._reading != "body":
                self._arm("body", self.body_timeout_s)
        elif state is not h11.IDLE:  # the whole request has arrived (DONE, MUST_CLOSE, ERROR...)
            self._disarm()

    # --------------------------------------------------------------------------------- timers
    def _arm(self, what: str, seconds: float) -> None:
        self._disarm()
        self._reading = what
        self._read_timer = self.loop.call_later(seconds, self._expired, what, seconds)

    def _disarm(self) -> None:
        if getattr(self, "_read_timer", None) is not None:
            self._read_timer.cancel()
        self._read_timer, self._reading = None, None

    def _expired(self, what: str, seconds: float) -> None:
        self._read_timer, self._reading = None, None
        if self.transport.is_closing():
            return
        if self.cycle is None or not self.cycle.response_started:
            self.transport.write(_timeout_reply(what, seconds))
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        self.transport.close()

    # ---------------------------------------------------------------------------- connection cap
    def _busy(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete and self._reading is None

    def _evict(self) -> None:
        idle = [c for c in self.connections if c is not self and isinstance(c, Protocol) and not c._busy()
                and not c.transport.is_closing()]
        if idle:
            victim = min(idle, key=lambda c: c.opened_at)
            victim._disarm()
            victim.transport.close()
        else:  # every other connection is being answered: refuse this one
            self._disarm()
            self.transport.close()


def config(app: Any, host: str, port: int) -> Any:
    """The uvicorn Config the dashboard runs with."""
    import uvicorn

    return uvicorn.Config(app, host=host, port=port, http=Protocol, log_level="warning", access_log=False,
                          server_header=False, timeout_keep_alive=5, limit_concurrency=None,
                          h11_max_incomplete_event_size=16 * 1024)
