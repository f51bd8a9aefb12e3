"""The Accuracy-Robustness Area (ARA): how much performance survives as perturbations grow.

Given performance measured at increasing perturbation sizes ``eps`` (a piecewise-linear curve), the
ARA is the area between that curve and a naive baseline's level (the majority-class accuracy for a
classifier, the random policy's return for a policy), integrated over ``eps`` from the first point up
to where the curve first meets the baseline; what happens after that point does not count.

:func:`ara` reports it in (performance x eps) units. :func:`normalized_ara` makes runs comparable:
performance is rescaled so the baseline is 0 and a reference (the reference policy's clean return) is
1, the area is taken over a stated ``eps`` range and divided by its width. A constant curve at the
reference scores 1; a straight decline from the reference to the baseline across the range, 0.5.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _curve(eps: Sequence[float], perf: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(eps, dtype=np.float64), np.asarray(perf, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"eps and perf must be 1-D of one length, got {x.shape} and {y.shape}")
    if len(x) < 2:
        raise ValueError("a curve needs at least two points")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("eps and perf must be finite")
    if not (np.diff(x) > 0).all():
        raise ValueError("eps must be strictly increasing")
    return x, y


def _area_above(x: np.ndarray, y: np.ndarray) -> float:
    """Area under ``y`` (above 0) from ``x[0]`` until ``y`` first reaches 0 (linear in between)."""
    if y[0] <= 0:
        return 0.0
    area = 0.0
    for i in range(len(x) - 1):
        x0, x1, y0, y1 = x[i], x[i + 1], y[i], y[i + 1]
        if y1 > 0:
            area += 0.5 * (y0 + y1) * (x1 - x0)
            continue
        crossing = x0 + (x1 - x0) * y0 / (y0 - y1)  # where the segment meets 0
        return area + 0.5 * y0 * (crossing - x0)
    return area


def ara(eps: Sequence[float], perf: Sequence[float], baseline: float) -> float:
    """Area between the curve and ``baseline`` up to their first meeting, in perf x eps units."""
    x, y = _curve(eps, perf)
    return _area_above(x, y - float(baseline))


def normalized_ara(
    eps: Sequence[float],
    perf: Sequence[float],
    *,
    baseline: float,
    reference: float,
    eps_range: tuple[float, float] | None = None,
) -> float:
    """ARA with performance scaled to baseline 0 / reference 1, over ``eps_range``, per unit of eps.

    Args:
        baseline: the naive baseline's performance (scaled to 0).
        reference: the reference performance (scaled to 1), e.g. the clean return.
        eps_range: ``(low, high)`` inside the measured eps; default the measured span. The curve is
            linearly interpolated at its ends.
    """
    x, y = _curve(eps, perf)
    if not reference > baseline:
        raise ValueError(f"reference ({reference}) must be above baseline ({baseline})")
    low, high = (x[0], x[-1]) if eps_range is None else map(float, eps_range)
    if not x[0] <= low < high <= x[-1]:
        raise ValueError(f"eps_range {eps_range} must lie inside the measured [{x[0]}, {x[-1]}]")
    inside = (x > low) & (x < high)
    xs = np.concatenate(([low], x[inside], [high]))
    ys = np.interp(xs, x, y)
    scaled = (ys - baseline) / (reference - baseline)
    return _area_above(xs, scaled) / (high - low)
