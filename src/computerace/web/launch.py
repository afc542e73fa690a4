"""Start `computerace dashboard` as a user would, in its own process, and stop it: for the browser and hardening tests
and the load benchmark (one way to wait for it to serve and to end it)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    """A TCP port free on the loopback interface now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli() -> str:
    return shutil.which("computerace") or str(Path(sys.executable).parent / "computerace")


@contextlib.contextmanager
def running_dashboard(*args: str, start_timeout: float = 60.0, stop_timeout: float = 15.0
                      ) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`computerace dashboard --port P ARGS` on a free loopback port; yields (base URL, process) once
    GET /api/info answers; terminates it afterwards (killed if it does not stop within `stop_timeout`).
    RuntimeError, with the server's stderr, if it exits or does not answer within `start_timeout`."""
    port = free_port()
    proc = subprocess.Popen([_cli(), "dashboard", "--port", str(port), *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                with urllib.request.urlopen(base + "/api/info", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"dashboard did not start: {proc.communicate()[1][-2000:]}") from None
                time.sleep(0.1)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.communicate(timeout=stop_timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
