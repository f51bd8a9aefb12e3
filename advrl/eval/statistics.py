"""Every confidence interval advrl states, in one place.

- :func:`aggregate`: IQM and mean over runs with stratified-bootstrap 95% CIs (rliable; Agarwal
  et al., 2021), the statistics of every benchmark table and of ``advrl sweep report``: a
  method's scores are a ``[runs, tasks]`` matrix (a vector is one task); the interquartile mean
  over all its entries, and its 95% CI from bootstrapping runs within each task. rliable is an
  optional dependency (the ``bench`` and ``sweep`` extras); it is imported on the first call.
- :data:`Z95` and :func:`sem`: the normal interval ``mean +- Z95 * sem`` of a mean over episodes
  or seeds (robustness curves, plots over seeds).
- :func:`wilson`: Wilson's score interval of a rate over ``n`` episodes (one run's solve rate).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

Z95 = 1.959964
"""Two-sided 95% normal quantile: normal intervals are ``mean +- Z95 * sem``."""


def sem(values: np.ndarray) -> float:
    """The standard error of the mean of ``values`` (0 for fewer than two)."""
    values = np.asarray(values, dtype=float)
    return float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else 0.0


def wilson(rate: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson's score interval of a success rate over ``n`` episodes (nan for none)."""
    if n <= 0 or not math.isfinite(rate):
        return (math.nan, math.nan)
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (centre - half, centre + half)


@dataclass(frozen=True)
class Estimate:
    """A point estimate and its 95% confidence interval."""

    point: float
    low: float
    high: float

    def format(self, digits: int = 2) -> str:
        """``point [low, high]`` with ``digits`` decimals."""
        return f"{self.point:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"

    def as_tuple(self) -> tuple[float, float, float]:
        """``(point, low, high)``."""
        return (self.point, self.low, self.high)


@dataclass(frozen=True)
class Aggregate:
    """One method's IQM and mean over its runs (and tasks)."""

    iqm: Estimate
    mean: Estimate


def aggregate(
    scores: Mapping[str, np.ndarray], reps: int = 2000, seed: int = 0
) -> dict[str, Aggregate]:
    """IQM and mean with stratified-bootstrap 95% CIs for each method's scores.

    Args:
        scores: method -> ``[runs, tasks]`` scores, or ``[runs]`` for one task.
        reps: bootstrap resamples.
        seed: the bootstrap's random seed (the same tables on every call).

    Raises:
        ImportError: rliable is not installed.
    """
    from rliable import library as rly
    from rliable import metrics

    matrices = {k: np.asarray(v, dtype=float).reshape(len(v), -1) for k, v in scores.items()}

    def both(x: np.ndarray) -> np.ndarray:
        return np.array([metrics.aggregate_iqm(x), metrics.aggregate_mean(x)])

    # rliable's stratified bootstrap draws its resamples from NumPy's global generator (its
    # random_state argument only reaches arch, which does not draw them), so the seed is set
    # there, and the caller's global state put back.
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        with warnings.catch_warnings():  # arch's notice about its random_state argument
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            point, ci = rly.get_interval_estimates(
                matrices, both, reps=reps, random_state=np.random.RandomState(seed)
            )
    finally:
        np.random.set_state(state)
    return {
        k: Aggregate(
            iqm=Estimate(float(point[k][0]), float(ci[k][0][0]), float(ci[k][1][0])),
            mean=Estimate(float(point[k][1]), float(ci[k][0][1]), float(ci[k][1][1])),
        )
        for k in matrices
    }
