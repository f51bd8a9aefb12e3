"""Demonstration files: advrl's ``.npz`` and the ``imitation`` library's, read without pickle (an
array's declared size checked before it is read), written atomically; :func:`load_demos` picks the
reader (Minari datasets: :mod:`advrl.gail.minari_io`).

advrl's ``.npz`` file (written by :func:`save_demos`, read by :func:`load_demos` without pickle)::

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
from pathlib import Path
from typing import Any

import numpy as np

from advrl.files import atomic_write_bytes
from advrl.gail.demos import FORMAT, DemoError, Demonstrations, Obs


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
