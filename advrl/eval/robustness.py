"""Robustness curves: a policy's return under observation attacks of growing size, and their ARA.

:func:`robustness_curve` plays the same seeded episodes at every ``eps`` (episode ``i`` resets with
``seed + i``, as :func:`advrl.episodes.evaluate` does), all episodes of one ``eps`` side by side
(:func:`advrl.episodes.evaluate_batch`), so the attacked policy perturbs a whole batch of observations
per step. The attack acts on the env's observations; for a policy trained under ``VecNormalize``,
pass its ``normalizer`` (the policy then takes their normalization, and ``eps`` stays in the env's
units). :func:`curve_report` adds the ARA
(:mod:`advrl.eval.ara`); :func:`write_curves_csv` and :func:`plot_curves` save several runs' curves
together.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm

from advrl import progress
from advrl.agents.attacks import ObservationAttack, attacked_actions
from advrl.agents.obs_normalization import ObservationNormalizer
from advrl.episodes.rollouts import evaluate_batch
from advrl.eval.ara import ara, normalized_ara
from advrl.eval.statistics import Z95, sem
from advrl.files import atomic_write_bytes


@dataclass(frozen=True)
class CurvePoint:
    """The return at one attack size."""

    eps: float
    mean_return: float
    sem: float
    episodes: int

    @property
    def ci95(self) -> tuple[float, float]:
        """95% confidence interval of the mean return (normal approximation)."""
        half = Z95 * self.sem
        return self.mean_return - half, self.mean_return + half


def robustness_curve(
    model: BaseAlgorithm,
    make_env: Callable[[], gym.Env],
    attack: ObservationAttack,
    eps_values: Sequence[float],
    *,
    episodes: int,
    seed: int,
    deterministic: bool = True,
    discrete: bool = False,
    normalizer: ObservationNormalizer | None = None,
) -> list[CurvePoint]:
    """The policy's mean return under ``attack`` at each ``eps`` (its own ``eps`` is replaced).

    Every ``eps`` plays the same seeded episodes; the attack's random draws are seeded too.
    ``discrete``: for the maze, act on cell flips rather than relaxed features (see
    :func:`attacked_actions`). ``normalizer``: the observation normalization of a policy trained
    under ``VecNormalize``
    (:meth:`~advrl.agents.obs_normalization.ObservationNormalizer.from_vec_normalize`); the envs
    ``make_env`` builds give raw observations.
    """
    values = [float(e) for e in eps_values]
    if not values or any(e < 0 for e in values) or any(np.diff(values) <= 0):
        raise ValueError(f"eps values must be >= 0 and strictly increasing, got {values}")
    points = []
    for eps in values:
        generator = torch.Generator(device=model.policy.device).manual_seed(seed)
        act = attacked_actions(
            model, replace(attack, eps=eps), deterministic, generator, discrete, normalizer
        )
        returns = evaluate_batch(make_env, act, episodes, seed).returns
        progress.advance()
        points.append(CurvePoint(eps, float(returns.mean()), sem(returns), episodes))
    return points


def random_return(make_env: Callable[[], gym.Env], episodes: int, seed: int) -> float:
    """Mean return of uniformly random actions on the same seeded episodes (ARA's baseline)."""
    space = make_env().action_space
    space.seed(seed)

    def act(batch: Any) -> np.ndarray:
        rows = len(next(iter(batch.values()))) if isinstance(batch, dict) else len(batch)
        return np.stack([space.sample() for _ in range(rows)])

    return evaluate_batch(make_env, act, episodes, seed).mean_return


@dataclass(frozen=True)
class CurveReport:
    """A curve's ARA, in return x eps units and normalized (``None`` where the reference return
    is not above the baseline)."""

    baseline: float
    reference: float
    ara: float
    normalized_ara: float | None
    eps_range: tuple[float, float]


def curve_report(
    points: Sequence[CurvePoint],
    *,
    baseline: float,
    reference: float | None = None,
    eps_range: tuple[float, float] | None = None,
) -> CurveReport:
    """ARA of a curve: in return x eps units, and normalized (baseline 0, ``reference`` 1).

    Args:
        baseline: the random policy's return.
        reference: the return scaled to 1 (default: this curve's clean return, its first point).
        eps_range: the range of the normalized ARA (default: the measured one).
    """
    eps = [p.eps for p in points]
    perf = [p.mean_return for p in points]
    ref = perf[0] if reference is None else reference
    normalized = None
    if ref > baseline:
        normalized = normalized_ara(
            eps, perf, baseline=baseline, reference=ref, eps_range=eps_range
        )
    return CurveReport(
        baseline=baseline,
        reference=ref,
        ara=ara(eps, perf, baseline),
        normalized_ara=normalized,
        eps_range=eps_range or (eps[0], eps[-1]),
    )


@dataclass(frozen=True)
class RunCurve:
    """One run's robustness curve and its ARA."""

    run: Path
    points: list[CurvePoint]
    report: CurveReport


@dataclass(frozen=True)
class RobustnessResult:
    """Several runs' robustness curves under one attack, played on the same seeded episodes.

    ``runs`` maps each run's display name (its folder name, or its path where two names clash)
    to its curve; ``files`` are what was written.
    """

    env: str
    attack: dict[str, Any]
    episodes: int
    seed: int
    baseline: float
    runs: dict[str, RunCurve]
    files: list[Path]

    def to_json(self) -> dict[str, Any]:
        """The ``robustness-<attack>.json`` layout: ``{"env", "attack", "episodes", "seed",
        "baseline", "runs": {name: {"run", "curve": [{"eps", "mean_return", "sem"}], **ARA}}}``."""
        runs = {
            name: {
                "run": str(r.run),
                "curve": [
                    {"eps": p.eps, "mean_return": p.mean_return, "sem": p.sem} for p in r.points
                ],
                **asdict(r.report),
            }
            for name, r in self.runs.items()
        }
        return {
            "env": self.env,
            "attack": self.attack,
            "episodes": self.episodes,
            "seed": self.seed,
            "baseline": self.baseline,
            "runs": runs,
        }

    def table(self) -> list[str]:
        """A markdown table: one row per run, the mean return +- 95% CI at each eps, the ARA."""
        eps = [p.eps for p in next(iter(self.runs.values())).points]
        header = ["run", *(f"eps={e:g}" for e in eps), "ARA", "normalized ARA"]
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for name, r in self.runs.items():
            cells = [f"{p.mean_return:.1f} ± {Z95 * p.sem:.1f}" for p in r.points]
            norm = r.report.normalized_ara
            cells += [f"{r.report.ara:.3g}", "n/a" if norm is None else f"{norm:.3f}"]
            lines.append("| " + " | ".join([name, *cells]) + " |")
        return lines


CSV_FIELDS = ("run", "attack", "eps", "mean_return", "sem", "ci95_low", "ci95_high", "episodes")


def write_curves_csv(curves: Mapping[str, Sequence[CurvePoint]], attack: str, path: Path) -> None:
    """One CSV row per (run, eps); written whole or not at all."""
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=CSV_FIELDS)
    writer.writeheader()
    for run, points in curves.items():
        for p in points:
            low, high = p.ci95
            row = {**asdict(p), "run": run, "attack": attack, "ci95_low": low, "ci95_high": high}
            writer.writerow(row)
    atomic_write_bytes(path, text.getvalue().encode("utf-8"))


def check_plotting() -> None:
    """Raise an ImportError naming the extra to install if matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError(
            "plotting robustness curves needs matplotlib: pip install 'advrl[plot]' (or --no-plot)"
        ) from None


def plot_curves(
    curves: Mapping[str, Sequence[CurvePoint]],
    path: Path,
    *,
    baseline: float | None = None,
    title: str = "",
) -> None:
    """A PNG of return against eps for several runs (95% bands), with the baseline's line.

    Needs matplotlib (``pip install 'advrl[plot]'``).
    """
    check_plotting()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for run, points in curves.items():
        x = [p.eps for p in points]
        y = np.array([p.mean_return for p in points])
        half = np.array([Z95 * p.sem for p in points])
        ax.plot(x, y, marker="o", label=run)
        ax.fill_between(x, y - half, y + half, alpha=0.2)
    if baseline is not None:
        ax.axhline(baseline, color="grey", linestyle="--", label="random policy")
    ax.set_xlabel("eps")
    ax.set_ylabel("mean return")
    if title:
        ax.set_title(title)
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
