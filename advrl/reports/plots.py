"""The figures of one run or several (``advrl plot``), from what the runs wrote.

- **learning curves**: return and success against env steps (training, periodic evaluation,
  held-out solve rate), from ``tb/progress.csv``; runs of the same config (seeds) are one line,
  their mean, with a band of one standard error over seeds;
- **held-out solve rate per maze**: bars with 95% intervals (over seeds; with one run, Wilson's
  interval over its episodes) and the random policy's rate as a tick, from the run's
  ``heldout.csv`` (UED) or its newest ``eval-*.csv`` (``advrl eval``);
- **level complexity**: the walls and the shortest path of the levels the students played, against
  env steps (PAIRED's levels should grow);
- **robustness**: the ``advrl eval --attack`` curves saved in the runs (``robustness-*.json``).

A figure is made only when some run holds its data. Needs matplotlib (``advrl[plot]``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from advrl.eval.statistics import Z95, sem, wilson
from advrl.files import atomic_write_bytes
from advrl.reports.history import PlotError, Run, group_runs, read_run

HELD_OUT = "heldout/mean_solve_rate"
"""A UED run's periodic held-out solve rate."""

CURVES: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "return": [
        ("training", ("rollout/ep_rew_mean", "ued/protagonist_return")),
        ("evaluation", ("eval/mean_reward", "eval/mean_return")),
    ],
    "success": [
        ("training", ("rollout/success_rate", "ued/protagonist_solve_rate")),
        ("evaluation", ("eval/success_rate",)),
        ("held-out", (HELD_OUT,)),
    ],
}
"""Learning-curve panels: each a list of series, each the first of its keys a run records."""

COMPLEXITY = {"walls": "levels/num_walls", "shortest path": "levels/shortest_path"}
"""Level-complexity panels and their keys."""

STYLES = {"training": "-", "evaluation": "--", "held-out": ":"}


def _series(
    runs: Sequence[Run], keys: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Steps, the mean over runs and its standard error, on the first run's steps (within the
    range every run covers)."""
    curves = []
    for run in runs:
        key = next((k for k in keys if k in run.history), None)
        if key is not None:
            curves.append(run.history[key])
    return _mean_band(curves)


def _mean_band(
    curves: Sequence[tuple[np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``(x, mean, standard error)`` of several ``(x, values)`` curves, on the first one's x
    within the range every curve covers."""
    if not curves:
        return None
    end = min(steps[-1] for steps, _ in curves)
    grid = curves[0][0][curves[0][0] <= end]
    values = np.stack([np.interp(grid, steps, v) for steps, v in curves])
    sem = (
        values.std(axis=0, ddof=1) / np.sqrt(len(values))
        if len(values) > 1
        else np.zeros(len(grid))
    )
    return grid, values.mean(axis=0), sem


def _labels(ax: Any, title: str, xlabel: str, ylabel: str) -> None:
    """A panel's title, axis labels and legend."""
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize="x-small")


def _figure(panels: int) -> tuple[Any, list[Any]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 4), squeeze=False)
    return fig, list(axes[0])


def learning_curves(groups: dict[str, list[Run]]) -> Any | None:
    """Return and success against env steps, one color per group, one style per series."""
    panels = {
        name: [
            (series, keys)
            for series, keys in specs
            if any(_series(g, keys) for g in groups.values())
        ]
        for name, specs in CURVES.items()
    }
    panels = {name: specs for name, specs in panels.items() if specs}
    if not panels:
        return None
    fig, axes = _figure(len(panels))
    for ax, (name, specs) in zip(axes, panels.items(), strict=True):
        for color, (label, runs) in enumerate(groups.items()):
            held_out = any(HELD_OUT in r.history for r in runs)
            for series, keys in specs:
                found = _series(runs, keys)
                if found is None or (series, name, held_out) == ("evaluation", "success", True):
                    continue  # a UED run's evaluation success is its held-out solve rate
                steps, mean, sem = found
                n = len([r for r in runs if any(k in r.history for k in keys)])
                ax.plot(
                    steps,
                    mean,
                    STYLES[series],
                    color=f"C{color}",
                    label=f"{label}: {series} ({_count(n)})",
                )
                if n > 1:
                    ax.fill_between(steps, mean - sem, mean + sem, color=f"C{color}", alpha=0.2)
        _labels(ax, name, "env steps", name)
    fig.tight_layout()
    return fig


def heldout_bars(groups: dict[str, list[Run]]) -> Any | None:
    """The held-out solve rate per maze, a bar per group with its 95% interval."""
    tables = {label: [r.heldout for r in runs if r.heldout] for label, runs in groups.items()}
    tables = {label: t for label, t in tables.items() if t}
    if not tables:
        return None
    levels = list(
        dict.fromkeys(row["level"] for t in tables.values() for rows in t for row in rows)
    )
    fig, (ax,) = _figure(1)
    fig.set_size_inches(max(6.0, 0.7 * len(levels) * len(tables) + 2), 4.5)
    width = 0.8 / len(tables)
    x = np.arange(len(levels))
    randoms_by_level: dict[str, list[float]] = {level: [] for level in levels}
    for i, (label, runs) in enumerate(tables.items()):
        means, lows, highs = [], [], []
        for level in levels:
            rates = [
                float(row["solve_rate"]) for rows in runs for row in rows if row["level"] == level
            ]
            episodes = [
                int(row["episodes"]) for rows in runs for row in rows if row["level"] == level
            ]
            mean = float(np.mean(rates)) if rates else math.nan
            if len(rates) > 1:
                half = Z95 * sem(np.array(rates))
                low, high = mean - half, mean + half
            else:
                low, high = wilson(mean, episodes[0] if episodes else 0)
            means.append(mean)
            lows.append(max(mean - low, 0.0))
            highs.append(max(high - mean, 0.0))
            randoms_by_level[level] += [
                float(row["solve_rate_random"])
                for rows in runs
                for row in rows
                if row["level"] == level and row.get("solve_rate_random")
            ]
        offset = x - 0.4 + width * (i + 0.5)
        ax.bar(
            offset,
            means,
            width,
            yerr=[lows, highs],
            capsize=2,
            color=f"C{i}",
            label=f"{label} ({_count(len(runs))})",
        )
    # The random policy's rate on each maze: one dashed line across the maze's bars, apart from
    # the bars' black interval whiskers.
    marked = [k for k, level in enumerate(levels) if randoms_by_level[level]]
    if marked:
        ax.hlines(
            [float(np.mean(randoms_by_level[levels[k]])) for k in marked],
            [x[k] - 0.45 for k in marked],
            [x[k] + 0.45 for k in marked],
            colors="dimgrey",
            linestyles="dashed",
            zorder=3,
            label="random policy",
        )
    ax.set_xticks(x, levels, rotation=45, ha="right", fontsize="small")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("solve rate")
    ax.set_title("held-out solve rate per maze (95% intervals)")
    ax.legend(fontsize="x-small")
    fig.tight_layout()
    return fig


def level_complexity(groups: dict[str, list[Run]]) -> Any | None:
    """The walls and shortest path of the levels played, against env steps."""
    present = {
        name: key
        for name, key in COMPLEXITY.items()
        if any(_series(g, (key,)) for g in groups.values())
    }
    if not present:
        return None
    fig, axes = _figure(len(present))
    for ax, (name, key) in zip(axes, present.items(), strict=True):
        for color, (label, runs) in enumerate(groups.items()):
            found = _series(runs, (key,))
            if found is None:
                continue
            _band(ax, found, color, f"{label} ({_count(len(runs))})", len(runs))
        _labels(ax, f"levels played: {name}", "env steps", name)
    fig.tight_layout()
    return fig


UED_CURVES = {
    "walls": "levels/num_walls",
    "shortest path": "levels/shortest_path",
    "held-out solve rate": HELD_OUT,
    "worst 10% of sampled levels": "sampled/worst10_solve_rate",
}
"""Panels of :func:`ued_curves` and their keys."""

ITERATION = "time/iteration"
"""A UED run's iteration counter (0-based; PAIRED's adversary updates once per iteration)."""


def _by_iteration(run: Run, key: str) -> tuple[np.ndarray, np.ndarray] | None:
    """A UED run's ``key`` against its iterations (1-based: the updates taken so far)."""
    if key not in run.history or ITERATION not in run.history:
        return None
    steps, values = run.history[key]
    at, iterations = run.history[ITERATION]
    return np.interp(steps, at, iterations) + 1, values


def ued_curves(groups: dict[str, list[Run]]) -> Any | None:
    """The levels' walls and shortest path, the held-out solve rate and the solve rate on the
    worst 10% of the sampled levels, against the teacher's iterations (PAIRED's adversary
    updates): how a curriculum grows and what it buys."""
    curves = {
        name: {
            label: [c for c in (_by_iteration(r, key) for r in runs) if c is not None]
            for label, runs in groups.items()
        }
        for name, key in UED_CURVES.items()
    }
    present = {name: by for name, by in curves.items() if any(by.values())}
    if not present:
        return None
    fig, axes = _figure(len(present))
    for ax, (name, by_group) in zip(axes, present.items(), strict=True):
        for color, (label, found) in enumerate(by_group.items()):
            band = _mean_band(found)
            if band is not None:
                _band(ax, band, color, f"{label} ({_count(len(found))})", len(found))
        _labels(ax, name, "iterations (PAIRED: adversary updates)", name)
    fig.tight_layout()
    return fig


def _band(
    ax: Any, band: tuple[np.ndarray, np.ndarray, np.ndarray], color: int, label: str, runs: int
) -> None:
    """A mean curve in color ``color``, with its standard-error band where several runs made it."""
    x, mean, sem = band
    ax.plot(x, mean, color=f"C{color}", label=label)
    if runs > 1:
        ax.fill_between(x, mean - sem, mean + sem, color=f"C{color}", alpha=0.2)


def _count(runs: int) -> str:
    return f"{runs} run" if runs == 1 else f"{runs} runs"


def robustness(runs: Sequence[Run]) -> Any | None:
    """The robustness curves the runs hold (one panel per attack file), with the random line."""

    files = list(dict.fromkeys(p.resolve() for r in runs for p in r.robustness))
    results = [json.loads(p.read_text(encoding="utf-8")) for p in files]
    if not results:
        return None
    fig, axes = _figure(len(results))
    for ax, path, result in zip(axes, files, results, strict=True):
        for name, curve in result.get("runs", {}).items():
            points = curve["curve"]
            eps = [p["eps"] for p in points]
            mean = np.array([p["mean_return"] for p in points])
            half = np.array([Z95 * p["sem"] for p in points])
            ara = curve.get("ara")
            ax.plot(
                eps, mean, marker="o", label=f"{name} (ARA {ara:.3g})" if ara is not None else name
            )
            ax.fill_between(eps, mean - half, mean + half, alpha=0.2)
        if result.get("baseline") is not None:
            ax.axhline(result["baseline"], color="grey", linestyle="--", label="random policy")
        _labels(ax, path.stem, "eps", "mean return")
    fig.tight_layout()
    return fig


def make_figures(paths: Sequence[Path]) -> dict[str, Any]:
    """Every figure the runs have data for, by file stem (``learning_curves``,
    ``heldout_solve_rate``, ``level_complexity``, ``ued_curves``, ``robustness``).

    Raises:
        PlotError: a folder is no run, or no run recorded anything to plot.
        ImportError: matplotlib is missing (the message names the extra).
    """
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError("advrl plot needs matplotlib: pip install 'advrl[plot]'") from None
    runs = [read_run(Path(p)) for p in paths]
    groups = group_runs(runs)
    made = {
        "learning_curves": learning_curves(groups),
        "heldout_solve_rate": heldout_bars(groups),
        "level_complexity": level_complexity(groups),
        "ued_curves": ued_curves(groups),
        "robustness": robustness(runs),
    }
    figures = {name: fig for name, fig in made.items() if fig is not None}
    if not figures:
        raise PlotError("the runs have recorded nothing to plot yet (no tb/progress.csv)")
    return figures


def save_figures(figures: dict[str, Any], folder: Path) -> list[Path]:
    """Each figure as ``folder/<name>.png`` (atomically); the figures are closed."""
    import io

    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, fig in figures.items():
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110)
        plt.close(fig)
        path = folder / f"{name}.png"
        atomic_write_bytes(path, buffer.getvalue())
        paths.append(path)
    return paths


def figures_to_tensorboard(paths: Sequence[Path], logdir: Path) -> None:
    """The PNGs as images in a TensorBoard log (tag ``plots/<name>``)."""
    from PIL import Image
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(logdir))
    try:
        for path in paths:
            image = np.asarray(Image.open(path).convert("RGB"))
            writer.add_image(f"plots/{path.stem}", image, 0, dataformats="HWC")
    finally:
        writer.close()
