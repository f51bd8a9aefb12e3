"""IQM and mean over runs with stratified-bootstrap 95% confidence intervals (rliable).

The statistics every benchmark table and ``advrl sweep report`` state (Agarwal et al., 2021): a
method's scores are a ``[runs, tasks]`` matrix (a vector is one task); the interquartile mean over
all its entries, and its 95% CI from bootstrapping runs within each task. rliable is an optional
dependency (the ``bench`` and ``sweep`` extras); it is imported on the first call.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np


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
