"""Run folders and checkpoints: what every ``advrl train`` command writes.

A run folder holds ``config.yaml`` (the resolved config), ``tb/`` (TensorBoard events and a CSV of
the same scalars), ``checkpoints/step_<n>.pt`` and ``summary.json``. Checkpoints hold tensors and
plain numbers only and load with ``torch.load(..., weights_only=True)``: no pickled objects.
Files are written to a temporary name and renamed, so a killed run never leaves half a file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from advrl.config import ConfigError, save_config
from advrl.files import TEMPORARY_SUFFIX, atomic_write_bytes, check_no_links, open_no_follow

STEP_COLUMNS = ("time/total_timesteps", "time/protagonist_steps")
"""The columns of a run's ``tb/progress.csv`` that count a row's env steps (UED: the
protagonist's)."""

CHECKPOINT_RE = re.compile(r"step_(\d+)\.pt")


def check_run_name(name: str) -> None:
    """A run name is one plain folder name inside ``out_dir``.

    Raises:
        ConfigError: it is empty, absolute, ``.``/``..``, or holds a path separator.
    """
    if not name or name in (".", "..") or "/" in name or "\\" in name or Path(name).is_absolute():
        raise ConfigError(
            f"name must be a plain folder name inside out_dir (no '/', not '..'), got {name!r}"
        )


class RunDir:
    """One run's folder.

    Args:
        path: the folder (created by :meth:`create`, or an existing run to resume).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.tb = self.path / "tb"
        self.checkpoints = self.path / "checkpoints"
        self.config_file = self.path / "config.yaml"
        self.summary_file = self.path / "summary.json"

    @classmethod
    def create(cls, out_dir: str | Path, name: str) -> RunDir:
        """Make a new run folder ``out_dir/name``; an existing one is an error (never overwritten).

        Raises:
            ConfigError: ``name`` is not a plain folder name (it would leave ``out_dir``).
            FileExistsError: the folder exists.
        """
        check_run_name(name)
        path = Path(out_dir) / name
        if path.exists():
            raise FileExistsError(
                f"run folder {str(path)!r} already exists; pick another name or resume it with --resume"
            )
        path.mkdir(parents=True)
        check_no_links(path)  # not a link made in the meantime
        run = cls(path)
        run.tb.mkdir()
        run.checkpoints.mkdir()
        return run

    @classmethod
    def open(cls, path: str | Path, *, write: bool = False) -> RunDir:
        """An existing run folder: to read (evaluation: nothing is created in it), or with
        ``write`` to continue it (its ``checkpoints`` and ``tb`` folders made if missing)."""
        run = cls(path)
        if not run.config_file.is_file():
            raise FileNotFoundError(f"{str(path)!r} is not a run folder (no config.yaml)")
        check_no_links(run.path)
        if write:
            run.checkpoints.mkdir(exist_ok=True)
            run.tb.mkdir(exist_ok=True)
        return run

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the run folder for one process (a second ``advrl train`` on it stops at once); its
        ``.lock`` file names the holder's pid.

        Raises:
            FileExistsError: another process holds it.
        """
        with open_no_follow(self.path / ".lock") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "?"
                raise FileExistsError(
                    f"run folder {str(self.path)!r} is in use by another advrl process (pid "
                    f"{holder}); wait for it to end, or resume a copy"
                ) from None
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @staticmethod
    def default_name(env_id: str, method: str, seed: int) -> str:
        """``<env>-<method>-seed<seed>-<YYYYmmdd-HHMMSS>``."""
        env = env_id.split("/")[-1].split(":")[-1]
        return f"{env}-{method}-seed{seed}-{time.strftime('%Y%m%d-%H%M%S')}"

    # ------------------------------------------------------------------ checkpoints
    def checkpoint_path(self, step: int) -> Path:
        """Where the checkpoint of env step ``step`` goes."""
        return self.checkpoints / f"step_{step}.pt"

    def checkpoints_newest_first(self) -> list[Path]:
        """Every checkpoint, the one with the most env steps first."""
        found = [
            (int(m.group(1)), p)
            for p in self.checkpoints.glob("step_*.pt")
            if (m := CHECKPOINT_RE.fullmatch(p.name))
        ]
        return [p for _, p in sorted(found, reverse=True)]

    def latest_checkpoint(self) -> Path | None:
        """The checkpoint with the most env steps, if any."""
        found = self.checkpoints_newest_first()
        return found[0] if found else None

    def prune_checkpoints(self, keep: int) -> None:
        """Delete all but the ``keep`` newest checkpoints (0: keep all), and leftover temporary
        files of writes a kill interrupted."""
        for tmp in self.checkpoints.glob(f".step_*.pt*{TEMPORARY_SUFFIX}"):
            tmp.unlink(missing_ok=True)
        if keep > 0:
            for old in self.checkpoints_newest_first()[keep:]:
                old.unlink(missing_ok=True)

    def write_summary(self, summary: dict[str, Any]) -> None:
        """Write ``summary.json``."""
        atomic_write_bytes(self.summary_file, (json.dumps(summary, indent=2) + "\n").encode())


def start_run(config: Any, method: str, resume: str | Path | None) -> RunDir:
    """The run folder of a training command: a new one named by ``config`` (with the resolved
    config written into it), or the folder ``resume`` being continued."""
    if resume is not None:
        return RunDir.open(resume, write=True)
    name = config.name or RunDir.default_name(config.env.id, method, config.train.seed)
    run = RunDir.create(config.out_dir, name)
    save_config(config, run.config_file)
    return run
