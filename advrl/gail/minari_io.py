"""Minari datasets (the optional ``minari`` extra): read into :class:`Demonstrations`, and
written from them."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
from gymnasium import spaces
from gymnasium.envs.registration import EnvSpec

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


def write_minari(
    demos: Demonstrations,
    path: str | Path,
    observation_space: spaces.Space,
    action_space: spaces.Space,
    env_spec: EnvSpec | None = None,
    dataset_id: str | None = None,
) -> Path:
    """Write demonstrations as a Minari dataset folder (``path/data``: ``metadata.json`` and the
    episodes, as ``minari`` writes them), which :func:`read_minari` and ``minari.MinariDataset``
    read. The expert and random returns become ``ref_max_score`` and ``ref_min_score``.

    The folder is written beside ``path`` and renamed into place: an interrupted export leaves
    nothing half-written.

    Args:
        observation_space, action_space: the env's spaces (Minari stores them).
        env_spec: the env's spec (stored, so ``recover_environment`` can make it).
        dataset_id: Minari's ``namespace/name-vN`` id (default: ``advrl/<folder name>-v0``).

    Raises:
        ImportError: ``minari`` is not installed (``pip install 'advrl[minari]'``).
        DemoError: ``path`` exists already.
    """
    try:
        import minari
        from minari.data_collector.episode_buffer import EpisodeBuffer
        from minari.dataset.minari_storage import MinariStorage
    except ImportError:
        raise ImportError(
            "writing Minari datasets needs the minari extra: pip install 'advrl[minari]'"
        ) from None
    path = Path(path)
    if path.exists():
        raise DemoError(f"{str(path)!r} exists already; give a new folder for the dataset")
    name = "".join(c if c.isalnum() or c in "_-" else "-" for c in path.name) or "demos"
    partial = path.with_name(f".{path.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial.mkdir()
    try:
        storage = MinariStorage.new(
            (partial / "data").resolve(),
            observation_space=observation_space,
            action_space=action_space,
            env_spec=env_spec,
        )
        metadata: dict[str, object] = {
            "dataset_id": dataset_id or f"advrl/{name}-v0",
            "minari_version": minari.__version__,
            "algorithm_name": "advrl demos",
        }
        for key, value in (
            ("ref_max_score", demos.expert_return),
            ("ref_min_score", demos.random_return),
        ):
            if math.isfinite(value):
                metadata[key] = value
        storage.update_metadata(metadata)
        episodes = []
        for i in range(demos.num_episodes):
            obs, acts, rews = demos.episode(i)
            t = len(acts)
            last = np.arange(t) == t - 1
            episodes.append(
                EpisodeBuffer(
                    id=i,
                    observations=obs,
                    actions=acts,
                    rewards=rews,
                    terminations=last & bool(demos.terminated[i]),
                    truncations=last & bool(demos.truncated[i]),
                    infos={},
                )
            )
        storage.update_episodes(episodes)
        partial.replace(path)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return path
