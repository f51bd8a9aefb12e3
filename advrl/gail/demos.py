"""Expert demonstrations: episodes of observations, actions and rewards, checked once, saved as ``.npz``.

A :class:`Demonstrations` holds K episodes back to back. Episode ``i`` of length ``T_i`` has
``T_i + 1`` observations (the last one is where it ended), ``T_i`` actions and ``T_i`` rewards, and
ended by ``terminated[i]`` or ``truncated[i]``. Observations are one array, or a dict of arrays for
``Dict`` observation spaces (the maze: ``image`` and ``direction``).

The ``.npz`` file (written by :func:`save_demos`, read by :func:`load_demos` without pickle)::

    obs            (sum(T_i + 1), *obs_shape)    or obs.<key> per Dict key
    acts           (sum(T_i), *act_shape)
    rews           (sum(T_i),) float32
    lengths        (K,) int64                    T_i
    terminated     (K,) bool
    truncated      (K,) bool
    env_id         () str                        the env it was recorded on ("" if unknown)
    expert_return  () float64                    the expert's mean return (nan if unknown)
    random_return  () float64                    a random policy's mean return (nan if unknown)
    format         () str                        "advrl-demos-1"
"""

from __future__ import annotations

import io
import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from gymnasium import spaces

from advrl.files import atomic_write_bytes

FORMAT = "advrl-demos-1"
"""The ``format`` entry of advrl's demo files."""

Obs = np.ndarray | dict[str, np.ndarray]
"""Observations: one array, or one array per ``Dict`` key."""


class DemoError(ValueError):
    """Demonstrations that are malformed or do not fit an env; the message names the field."""


def _rows(obs: Obs) -> int:
    if isinstance(obs, dict):
        counts = {len(v) for v in obs.values()}
        if len(counts) != 1:
            raise DemoError(
                f"obs: every Dict key needs the same number of rows, got "
                f"{ {k: len(v) for k, v in obs.items()} }"
            )
        return counts.pop()
    return len(obs)


def take_rows(obs: Obs, index: Any) -> Obs:
    """Rows ``index`` of observations (of every key, for Dict observations)."""
    if isinstance(obs, dict):
        return {k: v[index] for k, v in obs.items()}
    return obs[index]


def concat_obs(parts: list[Any]) -> Obs:
    """Batches of observations (arrays, or dicts of arrays) joined along the first axis."""
    if isinstance(parts[0], dict):
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return np.concatenate(parts)


@dataclass(frozen=True)
class Transitions:
    """Single steps ``(obs, act, next_obs)`` flattened over episodes.

    Attributes:
        obs: observation before each step.
        acts: action taken.
        next_obs: observation after it.
        dones: the step ended its episode by termination (not truncation).
        episode: index of the episode each step belongs to.
    """

    obs: Obs
    acts: np.ndarray
    next_obs: Obs
    dones: np.ndarray
    episode: np.ndarray

    def __len__(self) -> int:
        return len(self.acts)


@dataclass(frozen=True)
class Demonstrations:
    """K episodes, validated at construction (see the module docstring for the layout).

    Raises:
        DemoError: a field has the wrong shape, dtype or count; the message names it.
    """

    obs: Obs
    acts: np.ndarray
    rews: np.ndarray
    lengths: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    env_id: str = ""
    expert_return: float = math.nan
    random_return: float = math.nan
    _starts: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        arrays = dict(self.obs) if isinstance(self.obs, dict) else {"obs": self.obs}
        for name, value in {**arrays, "acts": self.acts, "rews": self.rews}.items():
            if np.ndim(value) < 1:
                raise DemoError(f"{name} must be an array with one row per step, got a scalar")
        for name in ("expert_return", "random_return"):
            value = getattr(self, name)
            if (
                np.ndim(value) != 0
                or not isinstance(value, (int, float, np.number))
                or np.iscomplexobj(value)
            ):
                raise DemoError(f"{name} must be one number, got {value!r}")
            object.__setattr__(self, name, float(value))
        lengths = np.asarray(self.lengths)
        if lengths.ndim != 1 or len(lengths) == 0:
            raise DemoError(f"lengths must be a non-empty 1-D array, got shape {lengths.shape}")
        if not np.issubdtype(lengths.dtype, np.integer) or (lengths < 1).any():
            raise DemoError("lengths must be integers >= 1 (steps per episode)")
        k, n = len(lengths), int(lengths.sum())
        for name in ("terminated", "truncated"):
            value = np.asarray(getattr(self, name))
            if value.shape != (k,) or value.dtype != np.bool_:
                raise DemoError(
                    f"{name} must be a bool array of shape ({k},) (one per episode), got "
                    f"{value.dtype} {value.shape}"
                )
        if len(self.acts) != n:
            raise DemoError(f"acts has {len(self.acts)} rows, expected {n} (the sum of lengths)")
        rews = np.asarray(self.rews)
        if rews.shape != (n,):
            raise DemoError(f"rews must have shape ({n},), got {rews.shape}")
        if isinstance(self.obs, dict) and not self.obs:
            raise DemoError("obs is an empty dict")
        rows = _rows(self.obs)
        if rows != n + k:
            raise DemoError(
                f"obs has {rows} rows, expected {n + k}: each episode stores its T + 1 observations"
            )
        arrays = {"acts": self.acts}
        arrays.update(
            {f"obs[{k!r}]": v for k, v in self.obs.items()}
            if isinstance(self.obs, dict)
            else {"obs": self.obs}
        )
        for name, value in [*arrays.items(), ("rews", rews)]:
            array = np.asarray(value)
            if np.iscomplexobj(array):  # training would read the real part alone
                raise DemoError(
                    f"{name} has complex dtype {array.dtype}; demonstrations hold real numbers"
                )
            if name == "rews":  # NaN rewards mean "not recorded": checked below
                continue
            if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
                raise DemoError(f"{name} holds NaN or infinite values; record the demos again")
        if np.isinf(
            rews
        ).any():  # NaN rewards mean "not recorded" (imitation's files may lack them)
            raise DemoError("rews holds infinite values; record the demos again")
        object.__setattr__(self, "lengths", lengths.astype(np.int64))
        object.__setattr__(self, "rews", rews.astype(np.float32))
        starts = np.concatenate([[0], np.cumsum(lengths[:-1])]).astype(np.int64)
        object.__setattr__(self, "_starts", starts)

    # ------------------------------------------------------------------ views
    @property
    def num_episodes(self) -> int:
        """K."""
        return len(self.lengths)

    @property
    def num_transitions(self) -> int:
        """The sum of episode lengths."""
        return int(self.lengths.sum())

    @property
    def episode_starts(self) -> np.ndarray:
        """Index of each episode's first action in ``acts``/``rews``."""
        return self._starts

    def episode_returns(self) -> np.ndarray:
        """Undiscounted return of each episode."""
        return np.add.reduceat(self.rews.astype(np.float64), self._starts)

    def mean_return(self) -> float:
        """Mean episode return of the demonstrations."""
        return float(self.episode_returns().mean())

    def normalized_score(self, episode_return: float) -> float:
        """``(R - random) / (expert - random)``: 0 is a random policy, 1 the expert.

        Raises:
            DemoError: the file has no expert or random return to normalize with.
        """
        if math.isnan(self.expert_return) or math.isnan(self.random_return):
            raise DemoError(
                "these demos carry no expert_return/random_return; record them with "
                "`advrl demos record` (or pass both to Demonstrations)"
            )
        span = self.expert_return - self.random_return
        if span == 0:
            raise DemoError("expert_return equals random_return: no score can be normalized")
        return (episode_return - self.random_return) / span

    def episode(self, i: int) -> tuple[Obs, np.ndarray, np.ndarray]:
        """Observations (T + 1), actions and rewards of episode ``i``."""
        if not 0 <= i < self.num_episodes:
            raise IndexError(f"episode {i} of {self.num_episodes}")
        a, t = int(self._starts[i]), int(self.lengths[i])
        o = a + i
        return take_rows(self.obs, slice(o, o + t + 1)), self.acts[a : a + t], self.rews[a : a + t]

    def obs_index(self) -> np.ndarray:
        """For each transition, the row of its observation in ``obs`` (``+1`` gives the next one)."""
        episode = np.repeat(np.arange(self.num_episodes), self.lengths)
        return np.arange(self.num_transitions) + episode

    def transitions(self) -> Transitions:
        """Every step as ``(obs, act, next_obs, done)``."""
        episode = np.repeat(np.arange(self.num_episodes), self.lengths)
        rows = self.obs_index()
        last = np.zeros(self.num_transitions, dtype=bool)
        last[self._starts + self.lengths - 1] = True
        return Transitions(
            obs=take_rows(self.obs, rows),
            acts=self.acts,
            next_obs=take_rows(self.obs, rows + 1),
            dones=last & self.terminated[episode],
            episode=episode,
        )

    def head(self, k: int) -> Demonstrations:
        """The first ``k`` episodes (all of them if there are fewer)."""
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        return self.episodes(0, min(k, self.num_episodes))

    def episodes(self, start: int, stop: int) -> Demonstrations:
        """Episodes ``start`` to ``stop - 1``."""
        if not 0 <= start < stop <= self.num_episodes:
            raise ValueError(
                f"episodes [{start}, {stop}) are not within the {self.num_episodes} recorded"
            )
        first, last = int(self.lengths[:start].sum()), int(self.lengths[:stop].sum())
        return Demonstrations(
            obs=take_rows(self.obs, slice(first + start, last + stop)),
            acts=self.acts[first:last],
            rews=self.rews[first:last],
            lengths=self.lengths[start:stop],
            terminated=self.terminated[start:stop],
            truncated=self.truncated[start:stop],
            env_id=self.env_id,
            expert_return=self.expert_return,
            random_return=self.random_return,
        )

    # ------------------------------------------------------------------ checks
    def check_spaces(
        self, observation_space: spaces.Space, action_space: spaces.Space, env: str = "the env"
    ) -> None:
        """Check that observations and actions fit an env's spaces.

        Raises:
            DemoError: naming the field, what it holds and what the space expects.
        """
        if isinstance(observation_space, spaces.Dict):
            if not isinstance(self.obs, dict):
                raise DemoError(
                    f"obs is one array but {env} has Dict observations with keys "
                    f"{sorted(observation_space.spaces)}"
                )
            if set(self.obs) != set(observation_space.spaces):
                raise DemoError(
                    f"obs has keys {sorted(self.obs)}, {env} expects "
                    f"{sorted(observation_space.spaces)}"
                )
            for key, sub in observation_space.spaces.items():
                _check_array(f"obs.{key}", self.obs[key], sub, env)
        else:
            if isinstance(self.obs, dict):
                raise DemoError(
                    f"obs is a dict {sorted(self.obs)} but {env} has array observations"
                )
            _check_array("obs", self.obs, observation_space, env)
        _check_array("acts", self.acts, action_space, env)


def _check_array(name: str, value: np.ndarray, space: spaces.Space, env: str) -> None:
    """Shape, dtype kind and (for discrete spaces) range of one field against a space."""
    if not isinstance(
        space, (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)
    ):
        raise DemoError(f"{name}: {type(space).__name__} spaces are not supported")
    shape = tuple(space.shape or ())
    if tuple(value.shape[1:]) != shape:
        raise DemoError(
            f"{name} has shape {tuple(value.shape[1:])} per step, {env} expects {shape} ({space})"
        )
    if isinstance(space, spaces.Box):
        if not np.issubdtype(value.dtype, np.number):
            raise DemoError(f"{name} has dtype {value.dtype}, {env} expects numbers ({space})")
        if np.issubdtype(space.dtype, np.integer) and not np.issubdtype(value.dtype, np.integer):
            raise DemoError(f"{name} has dtype {value.dtype}, {env} expects {space.dtype}")
        return
    if not np.issubdtype(value.dtype, np.integer):
        raise DemoError(f"{name} has dtype {value.dtype}, {env} expects integers ({space})")
    if isinstance(space, spaces.Discrete):
        low, high = int(space.start), int(space.start + space.n - 1)
        if len(value) and (value.min() < low or value.max() > high):
            raise DemoError(
                f"{name} holds values in [{value.min()}, {value.max()}], {env} expects "
                f"[{low}, {high}]"
            )


# ---------------------------------------------------------------------------------------- files
def save_demos(demos: Demonstrations, path: str | Path) -> Path:
    """Write demonstrations to an ``.npz`` file (atomically; no pickled objects)."""
    path = Path(path)
    if path.suffix != ".npz":
        raise DemoError(f"demo files end in .npz, got {str(path)!r}")
    arrays: dict[str, np.ndarray] = {}
    if isinstance(demos.obs, dict):
        for key, value in demos.obs.items():
            arrays[f"obs.{key}"] = np.asarray(value)
    else:
        arrays["obs"] = np.asarray(demos.obs)
    arrays.update(
        acts=np.asarray(demos.acts),
        rews=demos.rews,
        lengths=demos.lengths,
        terminated=np.asarray(demos.terminated),
        truncated=np.asarray(demos.truncated),
        env_id=np.array(demos.env_id),
        expert_return=np.array(demos.expert_return, dtype=np.float64),
        random_return=np.array(demos.random_return, dtype=np.float64),
        format=np.array(FORMAT),
    )
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]
    atomic_write_bytes(path, buffer.getvalue())
    return path


def _open_npz(path: Path) -> Any:
    if not path.is_file():
        raise FileNotFoundError(f"demo file {str(path)!r} not found")
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise DemoError(f"{str(path)!r} is not a readable .npz file: {err}") from None


MAX_ARRAY_BYTES = 8 * 2**30
"""The largest array a demonstrations file may hold (8 GiB)."""


def _check_declared_size(data: Any, name: str, path: Path) -> None:
    """Read an array's ``.npy`` header before the array: refuse a shape whose bytes exceed what
    the file stores for it (a header can declare 10**12 rows in a few bytes) or 8 GiB."""
    member = f"{name}.npy"
    archive = getattr(data, "zip", None)
    if archive is None or member not in archive.namelist():
        return
    info = archive.getinfo(member)
    try:
        with archive.open(info) as f:
            version = np.lib.format.read_magic(f)
            read = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, _, dtype = read(f)
    except (ValueError, OSError, zipfile.BadZipFile) as err:
        raise DemoError(f"{str(path)!r}: {name!r} has no readable array header ({err})") from None
    declared = math.prod(shape) * dtype.itemsize
    if declared > min(info.file_size, MAX_ARRAY_BYTES):
        raise DemoError(
            f"{str(path)!r}: {name!r} declares shape {tuple(shape)} ({declared:,} bytes) but the "
            f"file holds {info.file_size:,} bytes for it (at most {MAX_ARRAY_BYTES:,}): damaged "
            "or forged"
        )


def _field(data: Any, name: str, path: Path) -> np.ndarray:
    _check_declared_size(data, name, path)
    try:
        return np.asarray(data[name])
    except KeyError:
        raise DemoError(
            f"{str(path)!r} has no {name!r} array (it holds {sorted(data.files)})"
        ) from None
    except ValueError:  # an object array: it would need pickle
        raise DemoError(
            f"{str(path)!r}: {name!r} holds Python objects; advrl reads only plain arrays "
            "(no pickle)"
        ) from None


def _number(data: Any, name: str, path: Path) -> float:
    """A scalar field (nan where the file has none)."""
    if name not in data.files:
        return math.nan
    value = _field(data, name, path)
    if value.shape != () or not np.issubdtype(value.dtype, np.number):
        raise DemoError(
            f"{str(path)!r}: {name!r} must be one number, got {value.dtype} {value.shape}"
        )
    return float(value)


def read_advrl_npz(path: str | Path) -> Demonstrations:
    """Read a file written by :func:`save_demos`."""
    path = Path(path)
    with _open_npz(path) as data:
        keys = [k for k in data.files if k.startswith("obs.")]
        obs: Obs = (
            {k.removeprefix("obs."): _field(data, k, path) for k in keys}
            if keys
            else _field(data, "obs", path)
        )
        return Demonstrations(
            obs=obs,
            acts=_field(data, "acts", path),
            rews=_field(data, "rews", path),
            lengths=_field(data, "lengths", path),
            terminated=_field(data, "terminated", path).astype(bool),
            truncated=_field(data, "truncated", path).astype(bool),
            env_id=str(_field(data, "env_id", path)) if "env_id" in data.files else "",
            expert_return=_number(data, "expert_return", path),
            random_return=_number(data, "random_return", path),
        )


def read_imitation_npz(path: str | Path) -> Demonstrations:
    """Read the ``imitation`` library's ``.npz`` trajectory layout.

    Its arrays: ``obs`` (every trajectory's T + 1 observations back to back), ``acts``, ``rews``,
    ``terminal`` (per trajectory) and ``indices`` (where trajectories split in ``acts``). Its
    ``infos`` array holds pickled dicts and is not read. Non-terminal trajectories count as truncated.
    """
    path = Path(path)
    with _open_npz(path) as data:
        acts = _field(data, "acts", path)
        indices = _field(data, "indices", path)
        if indices.ndim != 1 or not np.issubdtype(indices.dtype, np.integer):
            raise DemoError(
                f"{str(path)!r}: 'indices' must be a 1-D integer array, got {indices.dtype} "
                f"{indices.shape}"
            )
        if acts.ndim < 1:
            raise DemoError(f"{str(path)!r}: 'acts' must be an array with one row per step")
        bounds = np.concatenate([[0], indices.astype(np.int64), [len(acts)]])
        lengths = np.diff(bounds)
        terminal = _field(data, "terminal", path).astype(bool)
        if terminal.shape != lengths.shape:
            raise DemoError(
                f"{str(path)!r}: 'terminal' has {terminal.size} entries but 'indices' gives "
                f"{len(lengths)} trajectories"
            )
        rews = (
            _field(data, "rews", path)
            if "rews" in data.files
            else np.full(len(acts), np.nan, dtype=np.float32)
        )
        return Demonstrations(
            obs=_field(data, "obs", path),
            acts=acts,
            rews=rews,
            lengths=lengths,
            terminated=terminal,
            truncated=~terminal,
        )


def write_imitation_npz(demos: Demonstrations, path: str | Path) -> Path:
    """Write demonstrations in the ``imitation`` library's ``.npz`` trajectory layout (what
    :func:`read_imitation_npz` reads, and what ``imitation.data.serialize.load`` reads from a
    ``.npz``: it splits ``obs`` at ``indices + arange + 1`` and the rest at ``indices``).

    ``infos`` is one empty dict per step (``imitation`` wants one per step; it is an object array,
    which advrl writes but never reads back). Truncated episodes are written non-terminal; the
    expert and random returns are not part of the layout.

    Raises:
        DemoError: dict observations (the layout holds one observation array).
    """
    path = Path(path)
    if path.suffix != ".npz":
        raise DemoError(f"imitation's trajectory files end in .npz, got {str(path)!r}")
    if isinstance(demos.obs, dict):
        raise DemoError(
            "imitation's .npz layout holds one observation array, not dict observations"
        )
    infos = np.empty(demos.num_transitions, dtype=object)
    infos[:] = [{} for _ in range(demos.num_transitions)]
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        obs=np.asarray(demos.obs),
        acts=np.asarray(demos.acts),
        infos=infos,
        terminal=np.asarray(demos.terminated, dtype=bool),
        rews=np.asarray(demos.rews, dtype=np.float32),
        indices=np.cumsum(demos.lengths[:-1]).astype(np.int64),
    )
    atomic_write_bytes(path, buffer.getvalue())
    return path


def _is_advrl(path: Path) -> bool:
    with _open_npz(path) as data:
        return "format" in data.files or "lengths" in data.files


def load_demos(path: str | Path, fmt: str = "auto") -> Demonstrations:
    """Read demonstrations: advrl ``.npz``, ``imitation``'s ``.npz``, or a Minari dataset folder.

    Args:
        path: the file or folder.
        fmt: ``"advrl"``, ``"imitation"``, ``"minari"``, or ``"auto"`` (a folder is Minari; an
            ``.npz`` with ``lengths`` is advrl's, one with ``indices`` imitation's).

    Raises:
        FileNotFoundError: nothing at ``path``.
        DemoError: the file is malformed; the message names the field.
    """
    path = Path(path)
    if fmt == "auto":
        if path.is_dir():
            fmt = "minari"
        elif not path.exists():
            raise FileNotFoundError(f"demo file {str(path)!r} not found")
        else:
            fmt = "advrl" if _is_advrl(path) else "imitation"
    if fmt == "advrl":
        return read_advrl_npz(path)
    if fmt == "imitation":
        return read_imitation_npz(path)
    if fmt == "minari":
        from advrl.gail.minari_io import read_minari

        return read_minari(path)
    raise DemoError(f"unknown demo format {fmt!r}: use auto, advrl, imitation or minari")
