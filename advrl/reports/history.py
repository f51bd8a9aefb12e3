"""What a run folder recorded, read for reports: its config, its history (every numeric column of
``tb/progress.csv`` against the steps), its held-out table and its robustness results; and runs
of one config (seeds apart) grouped."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from advrl.config import flat_dict
from advrl.runs import STEP_COLUMNS

IGNORED = ("seed", "name", "out_dir")
"""Settings that do not make runs different configs (seeds of one config are one group)."""


class PlotError(ValueError):
    """The runs cannot be plotted (no run folder, nothing recorded)."""


@dataclass
class Run:
    """What a run folder holds for plots."""

    path: Path
    config: dict[str, Any]
    history: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    heldout: list[dict[str, str]] = field(default_factory=list)
    robustness: list[Path] = field(default_factory=list)


def read_run(path: Path) -> Run:
    """A run folder's config, recorded history (every numeric column of ``progress.csv`` against
    the steps), held-out table and robustness results.

    Raises:
        PlotError: the folder is no run (no ``config.yaml``).
    """
    config_file = path / "config.yaml"
    if not config_file.is_file():
        raise PlotError(f"{str(path)!r} is not a run folder (no config.yaml)")
    config = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
    run = Run(path, config if isinstance(config, dict) else {})
    progress = path / "tb" / "progress.csv"
    if progress.is_file():
        with progress.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        step_key = next((k for k in STEP_COLUMNS if rows and k in rows[0]), None)
        if step_key is not None:
            keys = [k for k in rows[0] if k != step_key]
            for key in keys:
                pairs = [(_number(r.get(step_key)), _number(r.get(key))) for r in rows]
                good = [(s, v) for s, v in pairs if math.isfinite(s) and math.isfinite(v)]
                if good:
                    steps, values = np.array(good).T
                    run.history[key] = (steps, values)
    tables = sorted(  # held-out levels; eval-views-*.csv holds view spaces, not levels
        (p for p in path.glob("eval-*.csv") if not p.name.startswith("eval-views-")),
        key=lambda p: p.stat().st_mtime,
    )
    table = path / "heldout.csv" if (path / "heldout.csv").is_file() else None
    table = tables[-1] if tables else table
    if table is not None:
        with table.open(newline="", encoding="utf-8") as f:
            run.heldout = [r for r in csv.DictReader(f) if r.get("level") != "default"]
    run.robustness = sorted(path.glob("robustness-*.json"))
    return run


def _number(text: str | None) -> float:
    try:
        return float(text) if text not in (None, "") else math.nan
    except ValueError:
        return math.nan


def group_runs(runs: Sequence[Run]) -> dict[str, list[Run]]:
    """Runs of the same config (seeds apart) grouped, labelled by their method and by the settings
    in which groups of the same method differ."""
    groups: dict[str, list[Run]] = {}
    keys: dict[str, dict[str, Any]] = {}
    for run in runs:
        flat = flat_dict({k: v for k, v in run.config.items() if k not in IGNORED})
        flat.pop("train.seed", None)
        key = json.dumps(flat, sort_keys=True, default=str)
        groups.setdefault(key, []).append(run)
        keys[key] = flat
    labelled: dict[str, list[Run]] = {}
    for key, members in groups.items():
        flat = keys[key]
        method = flat.get("method", "ppo")
        peers = [f for f in keys.values() if f.get("method", "ppo") == method]  # same method
        differing = sorted(k for k in flat if len({str(f.get(k)) for f in peers}) > 1)
        label = str(method)
        if differing:
            label += f" ({', '.join(f'{k}={flat[k]}' for k in differing[:3])})"
        while label in labelled:
            label += "'"
        labelled[label] = members
    return labelled
