"""The long UED runs (30,000 iterations), window by window: the levels, the adversary, the students.

The runs are the ``*-30k`` variants of ``bench/bench_ued_transfer.py``, trained (and continued
across sessions from their newest checkpoint) with

    python bench/bench_ued_transfer.py --methods paired-ff-30k --out bench-state/ued-long \\
        --results docs/results/ued-long --one paired-ff-30k 0

This script reads their ``tb/progress.csv`` and prints, per run and per window of iterations
(PAIRED: adversary updates), the means of the levels' walls and shortest path, the adversary's
entropy, the protagonist's training solve rate and the regret, and the last held-out and
worst-10% solve rates evaluated in the window. ``--save`` also writes the table as JSON to
``docs/results/ued-long/<run>.json`` (small files, kept with the docs).

    python bench/ued_long_runs.py --window 500 --save
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

COLUMNS = {
    "walls": "levels/num_walls",
    "shortest path": "levels/shortest_path",
    "adversary entropy": "adversary/train/entropy_loss",
    "solve rate (training)": "ued/protagonist_solve_rate",
    "regret": "ued/regret",
    "held-out": "heldout/mean_solve_rate",
    "worst 10%": "sampled/worst10_solve_rate",
    "worst 1%": "sampled/worst1_solve_rate",
}
"""Table column -> progress.csv key."""
EVALUATED = ("held-out", "worst 10%", "worst 1%")
"""Columns that are periodic evaluations (the window's last one, not a mean)."""


def number(text: str | None) -> float:
    """A CSV cell as a float (NaN where empty or not a number)."""
    try:
        return float(text) if text not in (None, "") else math.nan
    except ValueError:
        return math.nan


def windows(rows: list[dict[str, str]], size: int) -> list[dict[str, Any]]:
    """Per window of ``size`` iterations: the column means (entropy as a positive number), and
    the last evaluation within it."""
    out = []
    for start in range(0, len(rows), size):
        part = rows[start : start + size]
        entry: dict[str, Any] = {
            "iterations": f"{start + 1}-{start + len(part)}",
            "protagonist_steps": number(part[-1].get("time/protagonist_steps")),
        }
        for name, key in COLUMNS.items():
            values = np.array([number(r.get(key)) for r in part])
            values = values[~np.isnan(values)]
            if not len(values):
                continue
            entry[name] = float(values[-1]) if name in EVALUATED else float(values.mean())
        if "adversary entropy" in entry:
            entry["adversary entropy"] = -entry["adversary entropy"]
        out.append(entry)
    return out


def table(name: str, entries: list[dict[str, Any]]) -> str:
    """One run's windows as a markdown table."""
    present = [c for c in COLUMNS if any(c in e for e in entries)]
    lines = [
        f"**{name}**",
        "",
        "| iterations | " + " | ".join(present) + " |",
        "|---|" + "---|" * len(present),
    ]
    for e in entries:
        cells = [f"{e[c]:.3f}" if c in e else "" for c in present]
        lines.append(f"| {e['iterations']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="bench-state/ued-long", help="the runs' folders")
    parser.add_argument("--window", type=int, default=500, help="iterations per window")
    parser.add_argument("--save", action="store_true", help="write docs/results/ued-long/*.json")
    parser.add_argument("--results", default="docs/results/ued-long")
    args = parser.parse_args()
    runs = sorted(p for p in Path(args.out).iterdir() if (p / "tb" / "progress.csv").is_file())
    if not runs:
        raise SystemExit(f"no runs with a tb/progress.csv under {args.out}")
    for run in runs:
        with (run / "tb" / "progress.csv").open(newline="") as f:
            rows = list(csv.DictReader(f))
        entries = windows(rows, args.window)
        print(table(run.name, entries), end="\n\n")
        if args.save:
            path = Path(args.results) / f"{run.name}-windows.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            record = {"run": run.name, "iterations": len(rows), "windows": entries}
            path.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
