"""What a run writes besides checkpoints as it trains: ``progress.csv`` continued on resume
(:class:`ResumedCSV`), the progress display's feed (:class:`ProgressWriter`), and the settings as
TensorBoard text and HParams."""

from __future__ import annotations

import csv
import math
import warnings
from pathlib import Path
from typing import Any

import yaml
from stable_baselines3.common.logger import CSVOutputFormat, KVWriter

from advrl import progress
from advrl.config import flat_dict
from advrl.files import atomic_write_bytes
from advrl.runs import STEP_COLUMNS

FINAL_COLUMN = "eval/final"
"""``progress.csv``'s mark (1) on the row of a run's final evaluation; a run resumed to go on
drops that row, as an uninterrupted run never wrote it at that step."""


class ResumedCSV(CSVOutputFormat):
    """SB3's ``progress.csv`` writer, continuing a resumed run's file: the rows up to the step of
    the checkpoint resumed from are kept (later ones were never checkpointed and are played
    again; a final evaluation's row goes, see :data:`FINAL_COLUMN`), then new rows follow. SB3's
    own writer truncates the file."""

    def __init__(self, filename: Path, keep_until: int) -> None:
        keys: list[str] = []
        rows: list[dict[str, str]] = []
        if filename.is_file():
            try:
                with filename.open(newline="", encoding="utf-8") as f:
                    reader = csv.DictReader(f)
                    keys = list(reader.fieldnames or [])
                    found = [r for r in reader if _complete(r)]
                rows, unreadable = [], 0
                for r in found:
                    step = _row_step(r)
                    if step is None:
                        unreadable += 1
                    elif step <= keep_until and not r.get(FINAL_COLUMN):
                        rows.append(r)
                if unreadable:  # say so, and keep the file as it was
                    damaged = filename.with_suffix(".damaged.csv")
                    atomic_write_bytes(damaged, filename.read_bytes())  # a link there: replaced
                    warnings.warn(
                        f"{filename}: {unreadable} row(s) with an unreadable step were dropped; "
                        f"the file as it was is kept as {damaged.name}",
                        RuntimeWarning,
                        stacklevel=2,
                    )
            except (UnicodeDecodeError, csv.Error) as err:
                damaged = filename.with_suffix(".damaged.csv")
                filename.replace(damaged)
                warnings.warn(
                    f"{filename} could not be read ({err}); kept as {damaged.name}, and the "
                    "history starts again here",
                    RuntimeWarning,
                    stacklevel=2,
                )
                keys, rows = [], []
        filename.unlink(missing_ok=True)  # a link in its place goes, never written through
        super().__init__(str(filename))  # opens a new file "w+"
        self.keys = keys
        if keys:
            writer = csv.DictWriter(self.file, fieldnames=keys, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
            self.file.flush()


def _complete(row: dict[str, str]) -> bool:
    """Whether a row has all its fields (a kill can cut the last line short)."""
    return None not in row and None not in row.values()


def _row_step(row: dict[str, str]) -> float | None:
    """A row's step (None: unreadable; -inf for a row that does not say, which is kept)."""
    for column in STEP_COLUMNS:
        if row.get(column):
            try:
                step = float(row[column])
            except ValueError:
                return None
            return step if math.isfinite(step) else None
    return float("-inf")


class ProgressWriter(KVWriter):
    """Hands every record the run dumps to the progress display (its compact metric line)."""

    def write(
        self,
        key_values: dict[str, Any],
        key_excluded: dict[str, tuple[str, ...]],
        step: int = 0,
    ) -> None:
        """The record's numbers, to :func:`advrl.progress.metrics`."""
        progress.metrics({k: v for k, v in key_values.items() if isinstance(v, (int, float))}, step)

    def close(self) -> None:
        """Nothing to close."""


def config_markdown(settings: dict[str, Any]) -> str:
    """A run's resolved settings as TensorBoard text (Markdown: a code block of the YAML)."""
    text = yaml.safe_dump(settings, sort_keys=False, default_flow_style=None)
    return "\n".join("    " + line for line in text.splitlines())


def hparams(settings: dict[str, Any]) -> dict[str, bool | int | float | str]:
    """The settings flattened to ``section.key`` with values TensorBoard's HParams takes (a list
    or None becomes its text)."""
    return {
        key: value if isinstance(value, (bool, int, float, str)) else str(value)
        for key, value in flat_dict(settings).items()
    }
