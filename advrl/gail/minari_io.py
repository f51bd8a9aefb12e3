"""Reading Minari datasets (the optional ``minari`` extra) into :class:`Demonstrations`."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from advrl.gail.demos import DemoError, Demonstrations, concat_obs


def _data_folder(path: Path) -> Path:
    """A Minari dataset folder holds ``data/metadata.json``; accept it or its ``data`` folder."""
    for candidate in (path / "data", path):
        if (candidate / "metadata.json").is_file():
            return candidate.resolve()
    raise DemoError(
        f"{str(path)!r} is not a Minari dataset folder (no data/metadata.json); give the folder "
        "that `minari.load_dataset(...)` keeps under ~/.minari/datasets/<id>"
    )


def read_minari(path: str | Path) -> Demonstrations:
    """Read every episode of a Minari dataset folder.

    The dataset's ``ref_max_score`` and ``ref_min_score`` (when set) become the expert and random
    returns used for normalized scores.

    Raises:
        ImportError: ``minari`` is not installed (``pip install 'advrl[minari]'``).
        DemoError: the folder is not a Minari dataset, or holds nested Dict/Tuple observations.
    """
    try:
        from minari import MinariDataset
    except ImportError:
        raise ImportError(
            "reading Minari datasets needs the minari extra: pip install 'advrl[minari]'"
        ) from None
    folder = _data_folder(Path(path))
    dataset = MinariDataset(folder)
    obs, acts, rews, lengths, terminated, truncated = [], [], [], [], [], []
    for episode in dataset.iterate_episodes():
        o = episode.observations
        if isinstance(o, dict) and any(isinstance(v, (dict, tuple)) for v in o.values()):
            raise DemoError(f"{str(path)!r}: nested Dict/Tuple observations are not supported")
        if isinstance(o, tuple):
            raise DemoError(f"{str(path)!r}: Tuple observations are not supported")
        obs.append(o)
        acts.append(np.asarray(episode.actions))
        rews.append(np.asarray(episode.rewards, dtype=np.float32))
        lengths.append(len(episode.actions))
        terminated.append(bool(np.asarray(episode.terminations)[-1]))
        truncated.append(bool(np.asarray(episode.truncations)[-1]))
    if not lengths:
        raise DemoError(f"{str(path)!r}: the Minari dataset holds no episodes")
    metadata = dataset.storage.metadata
    spec = dataset.spec.env_spec

    def score(key: str) -> float:
        value = metadata.get(key)
        return float(value) if value is not None else math.nan

    return Demonstrations(
        obs=concat_obs(obs),
        acts=np.concatenate(acts),
        rews=np.concatenate(rews),
        lengths=np.asarray(lengths, dtype=np.int64),
        terminated=np.asarray(terminated),
        truncated=np.asarray(truncated),
        env_id=spec.id if spec is not None else "",
        expert_return=score("ref_max_score"),
        random_return=score("ref_min_score"),
    )
