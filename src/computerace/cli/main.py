"""Entry point: `computerace` (typer app). Exit codes: 0 ok, 2 user error, 1 bug."""

from __future__ import annotations

import typer

from .presets import presets
from .run import run

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


@app.callback()
def _main(version: bool = typer.Option(False, "--version", help="Print the version and exit.")) -> None:
    if version:
        from .. import __version__

        typer.echo(__version__)
        raise typer.Exit(0)


def entry() -> None:
    app()
