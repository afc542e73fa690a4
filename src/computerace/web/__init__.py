"""The dashboard: a FastAPI server (app.py), its compute layer (service.py) and a static page (static/).

Kept light on purpose: importing this package (and `app.py`) pulls in FastAPI but neither numpy,
scipy nor xarray, so `computerace dashboard` answers within a second of starting; the model is
imported by a warm-up thread once the server is listening. See docs/dashboard.md.
"""

from __future__ import annotations

DEFAULT_SAMPLES = 500
"""Samples per view unless the page or `--samples` asks for more. A new view then costs about 220 ms of
server CPU on this model (load 45, run 110, summary 60; benchmarks/bench_dashboard.py), inside the
300 ms redraw budget; 1,000 samples cost about 300 ms. Every view uses the same seed, so moving an input
compares paired samples (common random numbers): the change shown is the input's effect, while the
quantiles themselves vary by ~3-4% across seeds at 500. The page can raise the count; downloads
reproduce at any count."""

MAX_SAMPLES = 20_000
"""Largest sample count a request may ask for; bigger runs belong to `computerace run`."""

MAX_SAMPLE_MONTHS = MAX_SAMPLES * 240
"""Largest samples x months of one run (a longer horizon costs memory too)."""

MAX_BODY_BYTES = 64 * 1024
"""Largest request body; a larger one gets 413 before it is read."""

MAX_QUERY_BYTES = 8 * 1024
"""Largest query string; a longer one gets 414."""

MAX_OVERRIDES = 64
MAX_OVERRIDE_CHARS = 2_000

MAX_HORIZON_END = "2060-12"
"""Last month a dashboard run may reach (`horizon.end`); longer horizons belong to `computerace run`."""

HEADER_TIMEOUT_S = 5.0
"""A request's line and headers must arrive within this many seconds (else 408 and the connection closes)."""

BODY_TIMEOUT_S = 10.0
"""A request's body must arrive within this many seconds of its headers."""

MAX_CONNECTIONS = 256
"""Open connections kept at most; past it a new one closes the oldest connection that is not being answered."""

MAX_ACTIVE_REQUESTS = 64
"""Requests answered at once; more get 503 with a JSON body (connections waiting to send a request don't count)."""

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False

__all__ = ["BODY_TIMEOUT_S", "DEFAULT_SAMPLES", "HEADER_TIMEOUT_S", "LOOPBACK_HOSTS", "is_loopback", "MAX_ACTIVE_REQUESTS",
           "MAX_BODY_BYTES", "MAX_CONNECTIONS", "MAX_HORIZON_END", "MAX_OVERRIDES", "MAX_OVERRIDE_CHARS",
           "MAX_QUERY_BYTES", "MAX_SAMPLES", "MAX_SAMPLE_MONTHS"]
