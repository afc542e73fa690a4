"""Entry point: `computerace` (typer app). Exit codes: 0 ok, 2 user error, 1 bug."""

from __future__ import annotations

import typer

from .backtest import backtest
from .claims import claims
from .common import use_help_metavars
from .compare import compare
from .controls import controls_app
from .dashboard import dashboard
from .data import data_app
from .discover import discover
from .presets import presets
from .run import run
from .sensitivity import sensitivity
from .serve import serve_estimate
from .sweep import sweep
from .update import update

app = typer.Typer(
    name="computerace",
    help="Monte Carlo forecast of the US-China AI compute race, in H100-equivalents. "
         "Every number is cited or marked as an assumption; results are conditional on the scenario.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("run")(run)
app.command("presets")(presets)
app.command("claims")(claims)
app.command("discover")(discover)
app.command("backtest")(backtest)
app.command("compare")(compare)
app.command("dashboard")(dashboard)
app.command("sensitivity")(sensitivity)
app.command("sweep")(sweep)
app.command("serve-estimate")(serve_estimate)
app.command("update")(update)
app.add_typer(data_app, name="data")
app.add_typer(controls_app, name="controls")
use_help_metavars(app)  # `--json`, not `--json <bool>`; `--as-of DATE`, not `--as-of <str>`


def _print_version(value: bool) -> None:
    """--version: print the version and exit 0, before any command is required (an eager option)."""
    if value:
        from .. import __version__

        typer.echo(__version__)
        raise typer.Exit(0)


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """Monte Carlo forecast of the US-China AI compute race."""


def entry() -> None:
    app()
