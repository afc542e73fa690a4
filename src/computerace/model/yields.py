"""Gross dies per wafer and die yield: the first two steps from wafers to accelerators.

Every function is vectorised: arguments are scalars or numpy arrays that broadcast together (typically
`[sample]`), and the result has the broadcast shape. Die areas are in mm², defect densities in defects per
cm² (the unit foundries quote), so the expected number of killer defects on a die is
lambda = A/100 * D0. Full references: docs/references.md.

Yield models (all equal 1 at lambda = 0 and fall with lambda; for lambda > 0
poisson < murphy < seeds, and negative_binomial runs from seeds (alpha = 1) to poisson (alpha -> inf)):

    poisson            Y = exp(-lambda)                          defects independent and uniform
    murphy             Y = ((1 - exp(-lambda)) / lambda)**2      triangular spread of D0 between wafers
    seeds              Y = 1 / (1 + lambda)                      exponential spread of D0
    negative_binomial  Y = (1 + lambda/alpha)**(-alpha)          gamma spread of D0 (clustering alpha)

The inverses (`*_defect_density`) turn an observed yield into the D0 that model implies; published yields of
SMIC-made Ascend dies (no D0 is published) enter the model that way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

MM2_PER_CM2 = 100.0
RETICLE_LIMIT_MM2 = 858.0  # 26 mm x 33 mm exposure field
MODELS = ("poisson", "murphy", "seeds", "negative_binomial")


# ----------------------------------------------------------------------------------------------- checks

def _array(x: ArrayLike) -> np.ndarray:
    return np.asarray(x, dtype=float)


def _fail(name: str, x: np.ndarray, bad: np.ndarray, expected: str, hint: str) -> None:
    if not np.any(bad):
        return
    x, bad = np.broadcast_arrays(x, bad)
    value = x[bad].flat[0] if x.ndim else x.item()
    where = f" at index {tuple(int(i) for i in np.argwhere(bad)[0])}" if x.ndim else ""
    raise ValueError(f"{name} must be {expected}; got {float(value)!r}{where}. {hint}".rstrip())


def _positive(name: str, x: np.ndarray, hint: str = "") -> None:
    _fail(name, x, ~(x > 0) | np.isnan(x), "> 0 (and not NaN)", hint)


def _nonnegative(name: str, x: np.ndarray, hint: str = "") -> None:
    _fail(name, x, ~(x >= 0), ">= 0 (and not NaN)", hint)


def _area(die_area_mm2: ArrayLike) -> np.ndarray:
    a = _array(die_area_mm2)
    _positive("die_area_mm2", a, "Give the silicon area of one compute die in mm², e.g. 665.61 for the "
              "Ascend 910B die or 814 for the H100 die (not cm²).")
    _fail("die_area_mm2", a, np.isinf(a), "finite", "")
    return a


def _defects(defects_per_cm2: ArrayLike) -> np.ndarray:
    d = _array(defects_per_cm2)
    _nonnegative("defects_per_cm2", d, "D0 is a density of killer defects per cm²; mature nodes run "
                 "~0.05-0.1, a young node 0.2-0.5.")
    _fail("defects_per_cm2", d, np.isinf(d), "finite", "")
    return d


def _lam(die_area_mm2: ArrayLike, defects_per_cm2: ArrayLike) -> np.ndarray:
    return _area(die_area_mm2) / MM2_PER_CM2 * _defects(defects_per_cm2)


def _alpha(alpha: ArrayLike) -> np.ndarray:
    a = _array(alpha)
    _positive("alpha", a, "The clustering parameter is > 0: alpha = 1 is Seeds' model, alpha -> inf "
              "is Poisson; fitted values in the literature are ~0.3-5.")
    return a


def _yield(yield_: ArrayLike) -> np.ndarray:
    y = _array(yield_)
    _fail("yield_", y, ~((y > 0) & (y <= 1)), "in (0, 1]",
          "A yield is the fraction of dies that work: write 30% as 0.3. A yield of 0 implies no finite "
          "defect density.")
    return y


# ----------------------------------------------------------------------------------------------- geometry

def dies_per_wafer(die_area_mm2: ArrayLike, wafer_diameter_mm: ArrayLike = 300.0,
                   edge_exclusion_mm: ArrayLike = 0.0, scribe_mm: ArrayLike = 0.0) -> np.ndarray:
    """Gross (candidate) dies per wafer: N = pi*(d/2)**2/S - pi*d/sqrt(2*S).

    The first term is the wafer area over the die area; the second removes the partial dies along the rim,
    about one per die diagonal sqrt(2*S) of the circumference pi*d.
    Variant: the textbook form of Hennessy & Patterson with two optional corrections,
    d = wafer_diameter_mm - 2*edge_exclusion_mm (usable diameter) and S = (sqrt(A) + scribe_mm)**2
    (a square die plus its share of the scribe lane). With the defaults (no exclusion, no scribe) it is
    exactly the textbook formula: 640.2 for a 100 mm² die on 300 mm (H&P's worked example: 640).
    The value is a continuous expectation, not floored; it is clipped at 0 for dies too large to fit.
    Against the best exact grid count of whole square dies it runs 1-10% low (2.6% for 100 mm², ~10% near
    the reticle limit; tests/test_yields.py); de Vries (2005) compares this and other gross-die formulas.

    die_area_mm2: [sample] or scalar, > 0 mm²; valid ~1..900 (reticle limit 858 mm²).
    wafer_diameter_mm: > 0 mm, normally 300 (200 for older lines).
    edge_exclusion_mm: 0 <= e < d/2 mm, typically 2-3 mm on 300 mm wafers.
    scribe_mm: >= 0 mm, scribe-lane width added to the die edge, typically 0.06-0.2 mm.
    Returns gross dies per wafer (dimensionless count).
    Source: Hennessy & Patterson (2012), §1.6; de Vries (2005). See docs/references.md#dies-per-wafer.
    """
    a = _area(die_area_mm2)
    d = _array(wafer_diameter_mm)
    e = _array(edge_exclusion_mm)
    s = _array(scribe_mm)
    _positive("wafer_diameter_mm", d, "A 300 mm wafer is 300 (not 12 or 0.3).")
    _nonnegative("edge_exclusion_mm", e, "")
    _fail("edge_exclusion_mm", e, 2 * e >= d, "< wafer_diameter_mm / 2",
          "Edge exclusion is the unusable rim width, typically 2-3 mm.")
    _nonnegative("scribe_mm", s, "Scribe lanes are ~0.06-0.2 mm wide.")
    usable = d - 2.0 * e
    pitch_area = (np.sqrt(a) + s) ** 2
    n = np.pi * (usable / 2.0) ** 2 / pitch_area - np.pi * usable / np.sqrt(2.0 * pitch_area)
    return np.maximum(n, 0.0)


# ----------------------------------------------------------------------------------------------- yield models

def poisson(die_area_mm2: ArrayLike, defects_per_cm2: ArrayLike) -> np.ndarray:
    """Die yield, Poisson model: Y = exp(-A*D0).

    Killer defects fall independently and uniformly, so a die of area A sees Poisson(A*D0) of them and
    works when it sees none. The most pessimistic of the four models for large dies.
    die_area_mm2: [sample] or scalar, > 0 mm²; valid ~1..900 (reticle limit 858 mm²).
    defects_per_cm2: [sample] or scalar, D0 >= 0 per cm²; valid ~0.01..2.
    Returns the fraction of dies free of killer defects, in (0, 1].
    Source: the Poisson yield model (Murphy 1964 takes it as the uniform-density case; Stapper 1983).
    See docs/references.md#poisson.
    """
    return np.exp(-_lam(die_area_mm2, defects_per_cm2))


def murphy(die_area_mm2: ArrayLike, defects_per_cm2: ArrayLike) -> np.ndarray:
    """Die yield, Murphy's model: Y = ((1 - exp(-A*D0)) / (A*D0))**2, and 1 at A*D0 = 0.

    Poisson yield averaged over a triangular distribution of defect density between wafers (mean D0).
    die_area_mm2: [sample] or scalar, > 0 mm²; valid ~1..900 (reticle limit 858 mm²).
    defects_per_cm2: [sample] or scalar, D0 >= 0 per cm²; valid ~0.01..2.
    Returns the fraction of good dies, in (0, 1].
    Source: Murphy (1964), as used in the semiconductor yield literature. See docs/references.md#murphy1964.
    """
    lam = _lam(die_area_mm2, defects_per_cm2)
    return _murphy_root(lam) ** 2


def _murphy_root(lam: np.ndarray) -> np.ndarray:
    """sqrt of Murphy's yield, (1 - exp(-x))/x, accurate near x = 0 (expm1), 1 at x = 0."""
    safe = np.where(lam > 0, lam, 1.0)
    return np.where(lam > 0, -np.expm1(-safe) / safe, 1.0)


def seeds(die_area_mm2: ArrayLike, defects_per_cm2: ArrayLike) -> np.ndarray:
    """Die yield, Seeds' model: Y = 1 / (1 + A*D0).

    Poisson yield averaged over an exponential distribution of defect density (mean D0): many wafers are
    nearly clean, a few very dirty. The most optimistic of the four for large dies; equals
    negative_binomial with alpha = 1. (Seeds' paper also gives an empirical exp(-sqrt(A*D0)); the form here
    is the one the yield literature calls Seeds' model.)
    die_area_mm2: [sample] or scalar, > 0 mm²; valid ~1..900 (reticle limit 858 mm²).
    defects_per_cm2: [sample] or scalar, D0 >= 0 per cm²; valid ~0.01..2.
    Returns the fraction of good dies, in (0, 1].
    Source: Seeds (1967). See docs/references.md#seeds1967.
    """
    return 1.0 / (1.0 + _lam(die_area_mm2, defects_per_cm2))


def negative_binomial(die_area_mm2: ArrayLike, defects_per_cm2: ArrayLike, alpha: ArrayLike) -> np.ndarray:
    """Die yield, Stapper's negative binomial model: Y = (1 + A*D0/alpha)**(-alpha).

    Poisson yield averaged over a gamma distribution of defect density (mean D0, shape alpha): alpha
    measures defect clustering. alpha = 1 gives Seeds; alpha -> inf gives Poisson (alpha = inf is accepted
    and returns exp(-A*D0) exactly). Computed as exp(-alpha*log1p(A*D0/alpha)), stable for large alpha.
    die_area_mm2: [sample] or scalar, > 0 mm²; valid ~1..900 (reticle limit 858 mm²).
    defects_per_cm2: [sample] or scalar, D0 >= 0 per cm²; valid ~0.01..2.
    alpha: [sample] or scalar, > 0 (dimensionless); fitted values ~0.3..5, 2-3 common for logic.
    Returns the fraction of good dies, in (0, 1].
    Source: Stapper (1976); Stapper, Armstrong & Saji (1983). See docs/references.md#stapper1976.
    """
    lam = _lam(die_area_mm2, defects_per_cm2)
    a = _alpha(alpha)
    finite = np.isfinite(a)
    a_safe = np.where(finite, a, 1.0)
    return np.where(finite, np.exp(-a_safe * np.log1p(lam / a_safe)), np.exp(-lam))


def die_yield(die_area_mm2: ArrayLike, defects_per_cm2: ArrayLike, model: str = "poisson",
              alpha: ArrayLike | None = None) -> np.ndarray:
    """Die yield under the named model (one of MODELS); `alpha` only for "negative_binomial"."""
    return _by_model(_FORWARD, model, alpha)(die_area_mm2, defects_per_cm2)


# ----------------------------------------------------------------------------------------------- inverses

def poisson_defect_density(yield_: ArrayLike, die_area_mm2: ArrayLike) -> np.ndarray:
    """D0 implied by an observed die yield under Poisson: D0 = -ln(Y) / A, in per cm².

    yield_: [sample] or scalar, in (0, 1]. die_area_mm2: > 0 mm².
    Example: 30% on the 665.61 mm² Ascend 910B die gives 0.181/cm² (the reference notes' 0.18).
    Source: inverse of `poisson`. See docs/references.md#poisson.
    """
    y = _yield(yield_)
    return -np.log(y) / (_area(die_area_mm2) / MM2_PER_CM2)


def seeds_defect_density(yield_: ArrayLike, die_area_mm2: ArrayLike) -> np.ndarray:
    """D0 implied by an observed die yield under Seeds: D0 = (1/Y - 1) / A, in per cm².

    yield_: [sample] or scalar, in (0, 1]. die_area_mm2: > 0 mm².
    Source: inverse of `seeds`. See docs/references.md#seeds1967.
    """
    y = _yield(yield_)
    return (1.0 - y) / y / (_area(die_area_mm2) / MM2_PER_CM2)


def negative_binomial_defect_density(yield_: ArrayLike, die_area_mm2: ArrayLike,
                                     alpha: ArrayLike) -> np.ndarray:
    """D0 implied by an observed die yield under the negative binomial: D0 = alpha*(Y**(-1/alpha) - 1) / A.

    Computed as alpha*expm1(-ln(Y)/alpha), exact to rounding for any alpha; alpha = inf gives Poisson.
    yield_: [sample] or scalar, in (0, 1]. die_area_mm2: > 0 mm². alpha: > 0.
    Source: inverse of `negative_binomial`. See docs/references.md#stapper1976.
    """
    y = _yield(yield_)
    a = _alpha(alpha)
    area_cm2 = _area(die_area_mm2) / MM2_PER_CM2
    finite = np.isfinite(a)
    a_safe = np.where(finite, a, 1.0)
    lam = np.where(finite, a_safe * np.expm1(-np.log(y) / a_safe), -np.log(y))
    return lam / area_cm2


def murphy_defect_density(yield_: ArrayLike, die_area_mm2: ArrayLike) -> np.ndarray:
    """D0 implied by an observed die yield under Murphy: solve ((1 - exp(-x))/x)**2 = Y, D0 = x / A.

    Closed form with Lambert's W (principal branch): with s = sqrt(Y),
        x = 1/s + W0(-exp(-1/s) / s),
    polished by three vectorised Newton steps, since W0 is ill-conditioned near its branch point
    (Y -> 1; there the start is the series x = 2u + 4u²/3 + 10u³/9, u = 1 - s). Round trip murphy_defect_density(murphy(A, D0), A) == D0 to ~1e-14 relative for A*D0 >= 1e-3.
    yield_: [sample] or scalar, in (0, 1]. die_area_mm2: > 0 mm².
    Source: inverse of `murphy`. See docs/references.md#murphy1964.
    """
    from scipy.special import lambertw  # lazy: keeps `computerace --help` fast

    y = _yield(yield_)
    area_cm2 = _area(die_area_mm2) / MM2_PER_CM2
    s = np.sqrt(y)
    interior = s < 1.0
    s_safe = np.where(interior, s, 0.5)
    u = (1.0 - y) / (1.0 + s)  # 1 - s without cancellation
    near_one = u < 1e-3  # W0 at its branch point: start from the series x = 2u + 4u²/3 + 10u³/9 instead
    x = np.where(near_one, 2 * u + 4 * u**2 / 3 + 10 * u**3 / 9,
                 1.0 / s_safe + lambertw(-np.exp(-1.0 / s_safe) / s_safe, 0).real)
    x = np.maximum(x, 1e-300)
    for _ in range(3):
        g = -np.expm1(-x) / x
        # g'(x) = (x e^-x + expm1(-x)) / x², by its series where that difference cancels
        dg = np.where(x < 1e-3, -0.5 + x / 3 - x**2 / 8,
                      (x * np.exp(-x) + np.expm1(-x)) / np.maximum(x, 1e-3) ** 2)
        x = np.maximum(x - (g - s_safe) / dg, 1e-300)
    return np.where(interior, x, 0.0) / area_cm2


def defect_density_from_yield(yield_: ArrayLike, die_area_mm2: ArrayLike, model: str = "poisson",
                              alpha: ArrayLike | None = None) -> np.ndarray:
    """D0 (per cm²) implied by an observed yield under the named model (one of MODELS)."""
    return _by_model(_INVERSE, model, alpha)(yield_, die_area_mm2)


def _by_model(table: dict[str, Any], model: str, alpha: ArrayLike | None) -> Any:
    """The function of `table` for `model` as f(x, area); negative_binomial's with `alpha` bound (required)."""
    if model not in MODELS:
        raise ValueError(f"unknown yield model {model!r}; expected one of {', '.join(MODELS)}")
    if model != "negative_binomial":
        return table[model]
    if alpha is None:
        raise ValueError("model 'negative_binomial' needs alpha (the clustering parameter, e.g. 2)")
    return lambda x, area: table[model](x, area, alpha)


# ----------------------------------------------------------------------------------------------- harvesting

def harvest_yield(die_area_mm2: ArrayLike, defects_per_cm2: ArrayLike, max_defects: int = 1,
                  redundant_fraction: ArrayLike = 1.0, alpha: ArrayLike = np.inf) -> np.ndarray:
    """Share of dies usable when up to k defects in redundant area are tolerated (binned parts).

    A die is split into critical area (1 - f)*A, where any defect kills it, and redundant area f*A
    (spare cores, cache ways) that tolerates up to k defects by fusing units off. With lambda = A*D0 and,
    under the negative binomial, theta = lambda/alpha:
      Poisson (alpha = inf):  Y_k = exp(-lambda) * sum_{j<=k} (f*lambda)**j / j!
      negative binomial:      Y_k = sum_{j<=k} f**j * C(alpha+j-1, j) * theta**j / (1 + theta)**(alpha+j)
    (defect density gamma-distributed across wafers, shared by both regions). k = 0 gives the plain model;
    f = 1 gives the probability of at most k defects, P(N <= k). The share usable only as binned parts is
    harvest_yield(...) - die_yield(...).
    die_area_mm2: [sample] or scalar, > 0 mm². defects_per_cm2: D0 >= 0 per cm².
    max_defects: int k >= 0, defects tolerated in the redundant area.
    redundant_fraction: [sample] or scalar f in [0, 1], share of the die area that is redundant.
    alpha: > 0, clustering parameter; inf (default) for Poisson.
    Returns the usable fraction, in (0, 1], non-decreasing in k.
    Source: Poisson / negative-binomial counts (Stapper, Armstrong & Saji 1983); the critical/redundant
    split is the standard treatment of redundancy. See docs/references.md#harvesting.
    """
    if not isinstance(max_defects, int | np.integer) or max_defects < 0:
        raise ValueError(f"max_defects must be a whole number >= 0; got {max_defects!r}. It counts defects "
                         "a die can absorb by disabling redundant units (0 = no harvesting).")
    lam = _lam(die_area_mm2, defects_per_cm2)
    f = _array(redundant_fraction)
    _fail("redundant_fraction", f, ~((f >= 0) & (f <= 1)), "in [0, 1]",
          "It is the share of the die area whose defects can be fused off.")
    a = _alpha(alpha)
    finite = np.isfinite(a)
    a_safe = np.where(finite, a, 1.0)
    theta = lam / a_safe
    # term_j for both models by the ratio term_{j+1} / term_j
    term = np.where(finite, np.exp(-a_safe * np.log1p(theta)), np.exp(-lam))
    total = term
    for j in range(max_defects):
        ratio = np.where(finite, f * theta / (1.0 + theta) * (a_safe + j), f * lam) / (j + 1)
        term = term * ratio
        total = total + term
    return np.minimum(total, 1.0)


_FORWARD = {"poisson": poisson, "murphy": murphy, "seeds": seeds, "negative_binomial": negative_binomial}
_INVERSE = {"poisson": poisson_defect_density, "murphy": murphy_defect_density,
            "seeds": seeds_defect_density, "negative_binomial": negative_binomial_defect_density}
