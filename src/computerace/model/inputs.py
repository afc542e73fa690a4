"""The model's one window on its inputs: sampled values as arrays, month by month.

`simulate` never calls back into the sampler. It wraps the sampled draws in `Inputs`, which holds plain
arrays: a scalar parameter is [sample]; a time series is its knot values [knot, sample] with the
interpolation weights of every month precomputed, so `series(key).at(m)` is month m's [sample] values
(exact, the same whatever the number of samples) and `path(key)` is the whole [sample, month] path.

Interpolation between knots (per series): `log` (ln v linear in time, for growth paths and capacities),
`linear`, or `step` (a value holds until the next knot); flat before the first and after the last knot.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np


class SeriesSpec(Protocol):
    """What the model needs of a time series' definition: knot times (decimal years) and the mode."""

    times: tuple[float, ...]
    mode: str


def knot_weights(times: np.ndarray, mode: str, t_years: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Left knot index i and weight w of the right knot at each month: v(t) = v_i (1 - w) + v_{i+1} w.

    Step series use w = 0 and i = the last knot at or before t. times: [knot] increasing decimal years;
    t_years: [month]. Returns ([month] int, [month] float).
    """
    if len(times) == 1:
        return np.zeros(len(t_years), int), np.zeros(len(t_years))
    if mode == "step":
        i = np.clip(np.searchsorted(times, t_years + 1e-9, side="right") - 1, 0, len(times) - 1)
        return i, np.zeros(len(t_years))
    tc = np.clip(t_years, times[0], times[-1])
    i = np.clip(np.searchsorted(times, tc, side="right") - 1, 0, len(times) - 2)
    return i, (tc - times[i]) / (times[i + 1] - times[i])


def interpolate(series: SeriesSpec, values: np.ndarray, t_years: np.ndarray) -> np.ndarray:
    """Knot values [sample, knot] -> monthly values [sample, month] (log, linear or step; flat ends)."""
    times = np.asarray(series.times, dtype=float)
    if len(times) == 1:
        return np.repeat(values[:, :1], len(t_years), axis=1)
    i, w = knot_weights(times, series.mode, t_years)
    if series.mode == "step":
        return values[:, i]
    if series.mode == "log":
        lv = np.log(values)
        return np.exp(lv[:, i] * (1 - w) + lv[:, i + 1] * w)
    return values[:, i] * (1 - w) + values[:, i + 1] * w


class Monthly:
    """A time series' [sample] values (raised to `power`) month by month: `at(m)`, exact from its knots.

    knots: [knot, sample] values (for log series their logs times `power`, so one exp per month).
    """

    def __init__(self, times: np.ndarray, mode: str, values_sk: np.ndarray, t_years: np.ndarray,
                 power: float = 1.0) -> None:
        self.mode, self.power = mode, power
        self.idx, self.w = knot_weights(times, mode, t_years)
        v = np.ascontiguousarray(values_sk.T)  # [knot, sample]
        self.knots = np.log(v) * power if mode == "log" else v
        self.const = len(times) == 1
        if self.const:
            self.value0 = v[0] ** power if power != 1.0 else v[0].copy()

    def at(self, m: int) -> np.ndarray:
        if self.const:
            return self.value0
        i, w = self.idx[m], self.w[m]
        if self.mode == "step" or w == 0.0:
            v = self.knots[i]
        else:
            v = self.knots[i] * (1.0 - w) + self.knots[i + 1] * w
        if self.mode == "log":
            return np.exp(v)
        return v ** self.power if self.power != 1.0 else v


class _Constant:
    """A scalar parameter read as a series: the same [sample] values every month."""

    def __init__(self, v: np.ndarray, power: float = 1.0) -> None:
        self.v = v ** power if power != 1.0 else v

    def at(self, m: int) -> np.ndarray:
        return self.v


@dataclass
class Inputs:
    """Every sampled input of `n` samples, as arrays.

    t_years: [month] decimal year at each month start; scalars {key: [sample]}; knots {key: (series spec,
    [sample, knot] values)}; events {stream: [sample] uniforms}; access {licensed part: (open [month],
    licence-conditional [month])} 0/1 from the export-control rules, the same for every sample (China's access to
    the part is open + conditional x the sampled shipped share, channels.conditional_licence_share).
    """

    n: int
    t_years: np.ndarray
    scalars: Mapping[str, np.ndarray]
    knots: Mapping[str, tuple[SeriesSpec, np.ndarray]]
    events: Mapping[str, np.ndarray]
    access: Mapping[str, tuple[np.ndarray, np.ndarray]]

    def scalar(self, key: str) -> np.ndarray:
        """[sample] values of a scalar parameter."""
        return self.scalars[key]

    def series(self, key: str, power: float = 1.0) -> Monthly | _Constant:
        """Month-by-month values of a parameter raised to `power`: `.at(m)` gives [sample] (a scalar is
        constant in time). Growth factors per year are read with power 1/12 (a monthly factor)."""
        if key in self.scalars:
            return _Constant(self.scalars[key], power)
        spec, values = self.knots[key]
        return Monthly(np.asarray(spec.times, dtype=float), spec.mode, values, self.t_years, power)

    def path(self, key: str) -> np.ndarray:
        """[sample, month] values of a parameter."""
        if key in self.scalars:
            return np.repeat(self.scalars[key][:, None], len(self.t_years), axis=1)
        spec, values = self.knots[key]
        return interpolate(spec, values, self.t_years)

    def last_knot(self, key: str) -> float:
        """Decimal year of a series' last knot (the horizon's start for a scalar)."""
        return float(self.knots[key][0].times[-1]) if key in self.knots else float(self.t_years[0])

    def take(self, order: np.ndarray) -> Inputs:
        """The same inputs with samples reordered by `order`."""
        return Inputs(self.n, self.t_years, {k: v[order] for k, v in self.scalars.items()},
                      {k: (s, v[order]) for k, (s, v) in self.knots.items()},
                      {k: v[order] for k, v in self.events.items()}, self.access)
