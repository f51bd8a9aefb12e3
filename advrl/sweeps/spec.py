"""What a sweep runs: a config over seeds and a grid of settings, as a list of trials."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from advrl.config import ConfigError, read_yaml
from advrl.files import atomic_write_bytes
from advrl.yamlio import load_yaml

SPEC_FILE = "sweep.yaml"
"""The sweep's own settings, in its folder (what ``--resume`` reads)."""


MAX_SEEDS = 1_000
"""The most seeds a sweep runs."""
MAX_TRIALS = 10_000
"""The most trials a sweep's grid and seeds make."""


def parse_seeds(text: str) -> list[int]:
    """``"0-4"`` or ``"0,2,7"`` (or a mix: ``"0-2,9"``) as a list of seeds.

    Raises:
        ConfigError: not seeds.
    """
    seeds: list[int] = []
    for part in text.split(","):
        lo, sep, hi = part.strip().partition("-")
        try:
            low, high = int(lo), int(hi) if sep else int(lo)
        except ValueError:
            raise ConfigError(f"--seeds must look like 0-4 or 0,2,7, got {text!r}") from None
        if high - low >= MAX_SEEDS:
            raise ConfigError(f"--seeds {part.strip()} names more than {MAX_SEEDS:,} seeds")
        seeds += list(range(low, high + 1))
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise ConfigError(f"--seeds must name distinct seeds >= 0, got {text!r}")
    if len(seeds) > MAX_SEEDS:
        raise ConfigError(
            f"--seeds names {len(seeds):,} seeds; a sweep takes at most {MAX_SEEDS:,}"
        )
    return seeds


def parse_grid(items: list[str]) -> dict[str, list[Any]]:
    """``["ppo.learning_rate=1e-3,3e-4", "method=dr,plr"]`` as ``{key: [values]}`` (YAML values).

    Raises:
        ConfigError: an item is not ``key=v1,v2``.
    """
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        parts = [v.strip() for v in values.split(",") if v.strip()]
        if not sep or not key.strip() or not parts:
            raise ConfigError(f"--grid {item!r} must look like key=value1,value2")
        if key.strip() in ("train.seed", "seed"):
            raise ConfigError("seeds are given with --seeds, not --grid")
        if key.strip() in grid:
            raise ConfigError(f"--grid names {key.strip()!r} twice; give its values in one --grid")
        grid[key.strip()] = [load_yaml(v, f"--grid {item!r}") for v in parts]
    return grid


def _yaml_value(value: Any) -> str:
    """A value as the YAML an override takes (one line, no document end marker)."""
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def _value_name(value: Any) -> str:
    text = str(value).replace("/", "_").replace(" ", "")
    return text if len(text) <= 24 else text[:24]


@dataclass(frozen=True)
class Trial:
    """One run of a sweep.

    Attributes:
        name: its run folder's name.
        method: the method it trains.
        seed: its seed.
        point: its grid values (``{key: value}``; ``method`` included when the grid has it).
        overrides: ``key=value`` overrides on top of the sweep's config.
    """

    name: str
    method: str
    seed: int
    point: dict[str, Any]
    overrides: list[str]

    @property
    def group(self) -> str:
        """The label of its grid point (trials that differ only in seed share it)."""
        return ", ".join(f"{k}={v}" for k, v in self.point.items()) or self.method


@dataclass(frozen=True)
class SweepSpec:
    """A sweep: one config, run for every seed at every point of a grid.

    Attributes:
        method: the method, unless the grid names ``method``.
        config: the config file (absolute), or None for the method's defaults.
        seeds: the seeds.
        grid: settings to vary, ``{key: [values]}``.
        overrides: fixed ``key=value`` overrides for every trial.
        cpus_per_trial: CPUs Ray gives each trial (and torch's threads in it).
        gpus_per_trial: GPUs (fractions allowed) Ray gives each trial.
        max_failures: retries of a trial whose worker dies (each resumes from its checkpoint).
        scheduler: ``none``, or ``asha``: stop trials whose periodic evaluations score in the
            lower part of their rung (asynchronous successive halving).
        search: ``grid`` (every point, every seed), ``random`` (``num_samples`` points drawn
            from the grid's values, each run with every seed) or ``optuna`` (``num_samples``
            points proposed by Optuna's TPE from the scores so far, each with the first seed).
        num_samples: points a random or Optuna search tries.
        metric: what a search and a scheduler rank trials by: ``score`` (the held-out solve rate
            of a UED run, else the policy's return), or any metric the runs' periodic
            evaluations report (``eval/success_rate``, ``heldout/mean_solve_rate``, ...).
        mode: ``max`` or ``min`` of ``metric``.
        allow_import: modules the trials' env ids may import (``module:Env``; see
            :func:`~advrl.config.check_env_import`).
    """

    method: str
    config: str | None
    seeds: list[int]
    grid: dict[str, list[Any]] = field(default_factory=dict)
    overrides: list[str] = field(default_factory=list)
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    max_failures: int = 2
    scheduler: str = "none"
    search: str = "grid"
    num_samples: int = 8
    metric: str = "score"
    mode: str = "max"
    allow_import: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not isinstance(self.method, str) or not (
            self.config is None or isinstance(self.config, str)
        ):
            raise ConfigError("a sweep's method and config must be a name and a path")
        if not isinstance(self.seeds, list) or not self.seeds:
            raise ConfigError(f"a sweep's seeds must be a list of seeds, got {self.seeds!r}")
        if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in self.seeds):
            raise ConfigError(f"a sweep's seeds must be integers >= 0, got {self.seeds!r}")
        if not isinstance(self.grid, dict) or not all(
            isinstance(k, str) and isinstance(v, list) and v for k, v in self.grid.items()
        ):
            raise ConfigError(
                f"a sweep's grid must map setting names to lists of values, got {self.grid!r}"
            )
        if not isinstance(self.overrides, list) or not all(
            isinstance(o, str) for o in self.overrides
        ):
            raise ConfigError(
                f"a sweep's overrides must be key=value texts, got {self.overrides!r}"
            )
        if not (0 < self.cpus_per_trial <= 1024) or not (0 <= self.gpus_per_trial <= 64):
            raise ConfigError(
                "--cpus-per-trial must be in (0, 1024] and --gpus-per-trial in [0, 64], got "
                f"{self.cpus_per_trial} and {self.gpus_per_trial}"
            )
        if not 0 <= self.max_failures <= 100:
            raise ConfigError(f"--max-failures must be in [0, 100], got {self.max_failures}")
        if self.scheduler not in ("none", "asha"):
            raise ConfigError(f"--scheduler must be none or asha, got {self.scheduler!r}")
        if self.search not in ("grid", "random", "optuna"):
            raise ConfigError(f"--search must be grid, random or optuna, got {self.search!r}")
        if self.search != "grid" and not self.grid:
            raise ConfigError(f"--search {self.search} samples from --grid values; give some")
        if self.mode not in ("max", "min"):
            raise ConfigError(f"--mode must be max or min, got {self.mode!r}")
        if self.num_samples < 1:
            raise ConfigError(f"--num-samples must be >= 1, got {self.num_samples}")

    def trials(self) -> list[Trial]:
        """Every (grid point, seed), grid points in the order given, seeds innermost (a random or
        Optuna search samples its points from these)."""
        keys = list(self.grid)
        count = len(self.seeds) * math.prod(len(v) for v in self.grid.values())
        if count > MAX_TRIALS:
            raise ConfigError(
                f"the grid and seeds make {count:,} trials; a sweep runs at most {MAX_TRIALS:,}"
            )
        out = [
            self.trial(dict(zip(keys, values, strict=True)), seed)
            for values in itertools.product(*(self.grid[k] for k in keys))
            for seed in self.seeds
        ]
        names = [t.name for t in out]
        if len(set(names)) != len(names):
            raise ConfigError("two grid points give one run name; use values that differ more")
        return out

    def trial(self, point: dict[str, Any], seed: int, suffix: str = "") -> Trial:
        """The trial of one grid point and seed (``suffix`` tells apart repeated samples)."""
        method = str(point.get("method", self.method))
        settings = [f"{k}={_yaml_value(v)}" for k, v in point.items() if k != "method"]
        label = "-".join(f"{k.split('.')[-1]}{_value_name(v)}" for k, v in point.items())
        name = f"{label or method}-seed{seed}{suffix}"
        return Trial(name, method, seed, point, [*self.overrides, *settings, f"train.seed={seed}"])

    def save(self, folder: Path) -> None:
        """Write :data:`SPEC_FILE` into the sweep folder."""
        data = {k: v for k, v in asdict(self).items() if k != "allow_import"}  # see load
        text = yaml.safe_dump(data, sort_keys=False)
        atomic_write_bytes(folder / SPEC_FILE, text.encode("utf-8"))

    @classmethod
    def load(cls, folder: Path, allow_import: Sequence[str] = ()) -> SweepSpec:
        """The spec of an existing sweep folder, with the modules its env ids may import given by
        the command that resumes it: a sweep folder is data, and never allows an import itself
        (an ``allow_import`` in its file is ignored).

        Raises:
            ConfigError: not a sweep folder, or a malformed spec.
        """
        path = folder / SPEC_FILE
        if not path.is_file():
            raise ConfigError(f"{str(folder)!r} is not a sweep folder (no {SPEC_FILE})")
        data = read_yaml(path)
        data.pop("allow_import", None)
        try:
            return cls(**data, allow_import=list(allow_import))
        except TypeError as err:
            raise ConfigError(f"{path}: {err}") from None
