"""One report of a sweep: its trials grouped by grid point, aggregated over seeds with rliable
(IQM and mean, stratified-bootstrap 95% CIs), as markdown, CSV and a PNG."""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from advrl.config import ConfigError
from advrl.eval.statistics import aggregate
from advrl.files import atomic_write_bytes
from advrl.sweeps.spec import SweepSpec
from advrl.sweeps.tune import EXTRA_HINT, score


@dataclass(frozen=True)
class GroupResult:
    """One grid point over its seeds.

    Attributes:
        group: the grid point's label.
        seeds: the seeds that finished.
        scores: ``[seeds, tasks]``: per seed, a UED run's solve rate per held-out maze, or one
            score (see :func:`advrl.sweeps.tune.score`).
        iqm, mean: the aggregates, each ``(point, low, high)`` (95% CI).
    """

    group: str
    seeds: list[int]
    scores: np.ndarray
    iqm: tuple[float, float, float]
    mean: tuple[float, float, float]


def _task_scores(summary: dict[str, Any]) -> list[float]:
    stochastic = summary.get("eval", {}).get("stochastic")
    if summary.get("held_out") and stochastic:
        return [float(s["success_rate"]) for s in stochastic.values()]
    return [score(summary)]


def _lookup(config: dict[str, Any], key: str) -> Any:
    """A dotted key's value in a run's config.yaml (``method`` is ``ppo`` where absent)."""
    node: Any = config
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return "ppo" if key == "method" else None
        node = node[part]
    return node


def collect(folder: Path, reps: int = 2000) -> tuple[list[GroupResult], list[str]]:
    """The finished trials of a sweep folder, aggregated per grid point; and the unfinished.

    Raises:
        ConfigError: not a sweep folder, no finished trial, or rliable missing.
    """
    try:
        import rliable  # noqa: F401
    except ImportError:
        raise ConfigError(f"advrl sweep report aggregates with rliable; {EXTRA_HINT}") from None
    spec = SweepSpec.load(folder)
    groups: dict[str, list[tuple[int, list[float]]]] = {}
    missing = []
    runs = sorted(p for p in (folder / "trials").glob("*") if p.is_dir())
    for run in runs:
        if not (run / "summary.json").is_file():
            missing.append(run.name)
            continue
        summary = json.loads((run / "summary.json").read_text())
        config = yaml.safe_load((run / "config.yaml").read_text())
        point = {k: _lookup(config, k) for k in spec.grid}
        group = ", ".join(f"{k}={v}" for k, v in point.items()) or str(summary["method"])
        groups.setdefault(group, []).append((int(config["train"]["seed"]), _task_scores(summary)))
    if spec.search == "grid":
        finished = {run.name for run in runs} - set(missing)
        missing += [
            t.name for t in spec.trials() if t.name not in finished and t.name not in missing
        ]
    if not groups:
        raise ConfigError(f"no trial of {str(folder)!r} has finished yet")
    matrices = {g: np.array([s for _, s in runs], dtype=float) for g, runs in groups.items()}
    results = [
        GroupResult(
            group=g,
            seeds=[seed for seed, _ in groups[g]],
            scores=matrices[g],
            iqm=agg.iqm.as_tuple(),
            mean=agg.mean.as_tuple(),
        )
        for g, agg in aggregate(matrices, reps).items()
    ]
    return results, missing


def write_report(folder: Path, reps: int = 2000, plot: bool = True) -> list[Path]:
    """Write ``report.md``, ``report.csv`` (and ``report.png``) into the sweep folder; returns them."""
    results, missing = collect(folder, reps)
    lines = [
        f"Sweep {folder.name}, {time.strftime('%Y-%m-%d')}: IQM and mean over (seeds x tasks), "
        f"stratified-bootstrap 95% CIs ({reps} reps).",
        "",
        "| setting | seeds | IQM [95% CI] | mean [95% CI] |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {r.group} | {len(r.seeds)} | {r.iqm[0]:.3f} [{r.iqm[1]:.3f}, {r.iqm[2]:.3f}] | "
        f"{r.mean[0]:.3f} [{r.mean[1]:.3f}, {r.mean[2]:.3f}] |"
        for r in results
    ]
    if missing:
        lines += [
            "",
            f"Not finished (stopped early, failed or still to run): {', '.join(missing)}.",
        ]
    files = [folder / "report.md", folder / "report.csv"]
    atomic_write_bytes(files[0], ("\n".join(lines) + "\n").encode("utf-8"))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        ["setting", "seeds", "iqm", "iqm_low", "iqm_high", "mean", "mean_low", "mean_high"]
    )
    for r in results:
        writer.writerow([r.group, len(r.seeds), *r.iqm, *r.mean])
    atomic_write_bytes(files[1], buffer.getvalue().encode("utf-8"))
    if plot:
        files.append(_plot(results, folder / "report.png"))
    return files


def _plot(results: list[GroupResult], path: Path) -> Path:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ConfigError(
            f"the report's PNG needs matplotlib; {EXTRA_HINT} (or --no-plot)"
        ) from None
    fig, ax = plt.subplots(figsize=(6, 0.5 + 0.45 * len(results)))
    y = np.arange(len(results))
    iqm = np.array([r.iqm for r in results])
    ax.errorbar(
        iqm[:, 0], y, xerr=[iqm[:, 0] - iqm[:, 1], iqm[:, 2] - iqm[:, 0]], fmt="o", capsize=3
    )
    ax.set_yticks(y, [r.group for r in results])
    ax.set_xlabel("IQM score (95% CI)")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
    return path
