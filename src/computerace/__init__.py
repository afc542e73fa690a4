"""computerace: a scenario-driven Monte Carlo forecast of the US-China AI compute race.

Public API (see DESIGN.md, "Public contracts")::

    import computerace as cr
    sc = cr.load_scenario("baseline", overrides={"smuggling.enforcement": 0.02})
    run = cr.run(sc, samples=10_000, seed=0)
    run.dataset      # xarray.Dataset [sample, month, actor, channel]
    run.summary()    # the dict written to summary.json
    run.save("out")  # summary.json, run.nc, quantiles.csv, manifest.json, report.html

Heavy libraries are imported lazily so that `computerace --help` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # pragma: no cover
    from .results import Run
    from .scenario import Scenario


def load_scenario(name_or_path: str, overrides: dict[str, Any] | None = None, as_of: str | None = None) -> Scenario:
    """Load a preset name or a YAML path, apply `overrides` ({"section.key": value}), validate.

    `as_of` (YYYY-MM-DD) refuses parameters whose sources were published after that date.
    """
    from .scenario import load_scenario as _load

    return _load(name_or_path, overrides, as_of)


def run(scenario: Any, samples: int = 10_000, seed: int = 0, chunk: int | None = None,
        progress: Any = None) -> Run:
    """Draw `samples` Monte Carlo samples of `scenario` with `seed` and simulate them.

    `scenario` may be a Scenario, a preset name or a path. `chunk` bounds the samples simulated
    at once (memory); results are bit-identical whatever the chunk size.
    """
    from .api import run as _run

    return _run(scenario, samples=samples, seed=seed, chunk=chunk, progress=progress)


__all__ = ["__version__", "load_scenario", "run"]
