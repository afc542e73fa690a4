"""`computerace dashboard`: serve the interactive dashboard (FastAPI on uvicorn) on this machine."""

from __future__ import annotations

import typer

from ..web import DEFAULT_SAMPLES, MAX_SAMPLES
from .common import user_errors


@user_errors
def dashboard(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind. Anything but loopback exposes "
                             "the dashboard to your network (no authentication)."),
    port: int = typer.Option(8050, "--port", "-p", min=1, max=65535, help="Port to listen on."),
    samples: int = typer.Option(DEFAULT_SAMPLES, "--samples", "-n", min=1, max=MAX_SAMPLES,
                                help=f"Monte Carlo samples per view by default (the page can change it, up to "
                                     f"{MAX_SAMPLES:,})."),
    open_: bool = typer.Option(False, "--open", help="Open the page in a web browser once the server is up."),
    rank: bool = typer.Option(True, "--rank/--no-rank", help="Order each preset's inputs by a Sobol sensitivity "
                              "ranking computed in the background (about a minute, low priority) when first shown."),
) -> None:
    """Serve the dashboard: pick a preset, move inputs, see fan charts redraw; API docs at /docs.

    Results are cached by scenario hash, seed and samples; the page's downloads reproduce exactly with
    `computerace run`. Stop with Ctrl+C.
    """
    import socket
    import threading

    import uvicorn

    from ..errors import UserError
    from ..web import is_loopback
    from ..web.app import create_app
    from ..web.server import config as server_config

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:  # a clear message instead of uvicorn's traceback
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            raise UserError(f"cannot listen on {host}:{port} ({e.strerror}); "
                            "choose another port with --port or stop what is using it") from None
    if not is_loopback(host):
        typer.echo(f"warning: listening on {host}: anyone who can reach this machine on port {port} can use the "
                   "dashboard and make it run simulations (there is no authentication)", err=True)
    app = create_app(default_samples=samples, host=host, rank=rank)
    server = uvicorn.Server(server_config(app, host, port))  # read timeouts, connection cap (web/server.py)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else shown}:{port}/"
    typer.echo(f"computerace dashboard: {url}  (API docs: {url}docs; Ctrl+C stops it)")
    if open_:
        def _open() -> None:
            import time
            import webbrowser

            while not server.started and not server.should_exit:
                time.sleep(0.05)
            if server.started:
                webbrowser.open(url)

        threading.Thread(target=_open, daemon=True).start()
    server.run()
