"""Demonstrations: validation, the .npz round trip, other formats, recording."""

from __future__ import annotations

import math
import sys
from dataclasses import replace
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import advrl  # noqa: F401
from advrl.episodes import random_policy
from advrl.gail import DemoError, Demonstrations, load_demos, record_demos, save_demos


def make_demos(lengths: tuple[int, ...] = (3, 2), dict_obs: bool = False) -> Demonstrations:
    """Episodes whose observation rows count up, so every row is recognizable."""
    k, n = len(lengths), sum(lengths)
    rows = np.arange(n + k, dtype=np.float32)
    obs: np.ndarray | dict[str, np.ndarray] = np.stack([rows, -rows], axis=1)
    if dict_obs:
        obs = {
            "image": np.repeat(rows.astype(np.uint8)[:, None, None, None], 3, axis=3)
            .repeat(5, 1)
            .repeat(5, 2),
            "direction": (np.arange(n + k) % 4).astype(np.int64),
        }
    return Demonstrations(
        obs=obs,
        acts=(np.arange(n) % 2).astype(np.int64),
        rews=np.arange(n, dtype=np.float32),
        lengths=np.array(lengths),
        terminated=np.array([True] + [False] * (k - 1)),
        truncated=np.array([False] + [True] * (k - 1)),
        env_id="Test-v0",
        expert_return=10.0,
        random_return=2.0,
    )


def test_episode_views_and_transitions() -> None:
    demos = make_demos((3, 2))
    assert demos.num_episodes == 2 and demos.num_transitions == 5
    np.testing.assert_array_equal(demos.episode_returns(), [0 + 1 + 2, 3 + 4])
    obs, _, rews = demos.episode(1)
    np.testing.assert_array_equal(obs[:, 0], [4, 5, 6])  # rows 0-3 are episode 0's T + 1 = 4
    np.testing.assert_array_equal(rews, [3, 4])
    steps = demos.transitions()
    np.testing.assert_array_equal(steps.obs[:, 0], [0, 1, 2, 4, 5])
    np.testing.assert_array_equal(steps.next_obs[:, 0], [1, 2, 3, 5, 6])
    np.testing.assert_array_equal(steps.dones, [False, False, True, False, False])  # 2nd: truncated
    assert demos.normalized_score(10.0) == 1.0 and demos.normalized_score(2.0) == 0.0
    head = demos.head(1)
    assert head.num_episodes == 1 and head.num_transitions == 3 and len(head.obs) == 4
    second = demos.episodes(1, 2)  # the episodes after the first: what GAIL can keep unseen
    np.testing.assert_array_equal(second.obs[:, 0], [4, 5, 6])
    np.testing.assert_array_equal(second.rews, [3, 4])
    assert second.truncated.tolist() == [True] and second.num_transitions == 2
    with pytest.raises(ValueError, match=r"episodes \[1, 3\) are not within the 2"):
        demos.episodes(1, 3)


@pytest.mark.parametrize("dict_obs", [False, True])
def test_npz_round_trip(tmp_path: Path, dict_obs: bool) -> None:
    demos = make_demos((4, 1, 2), dict_obs=dict_obs)
    path = save_demos(demos, tmp_path / "d.npz")
    back = load_demos(path)
    assert back.env_id == "Test-v0" and back.expert_return == 10.0 and back.random_return == 2.0
    np.testing.assert_array_equal(back.lengths, demos.lengths)
    np.testing.assert_array_equal(back.terminated, demos.terminated)
    np.testing.assert_array_equal(back.acts, demos.acts)
    if dict_obs:
        assert isinstance(back.obs, dict) and isinstance(demos.obs, dict)
        for key in demos.obs:
            np.testing.assert_array_equal(back.obs[key], demos.obs[key])
            assert back.obs[key].dtype == demos.obs[key].dtype
    else:
        np.testing.assert_array_equal(back.obs, demos.obs)
    assert not list(tmp_path.glob(".*tmp"))  # written through a rename


def test_imitation_npz_layout(tmp_path: Path) -> None:
    """imitation's layout: obs back to back (T + 1 each), acts split at ``indices``."""
    lengths = [3, 2, 4]
    obs = np.arange(sum(lengths) + 3, dtype=np.float32)[:, None]
    path = tmp_path / "traj.npz"
    np.savez(
        path,
        obs=obs,
        acts=np.zeros(9, dtype=np.int64),
        rews=np.ones(9, dtype=np.float32),
        terminal=np.array([True, False, True]),
        indices=np.cumsum(lengths[:-1]),
    )
    demos = load_demos(path)
    np.testing.assert_array_equal(demos.lengths, lengths)
    np.testing.assert_array_equal(demos.truncated, [False, True, False])
    obs1, _, _ = demos.episode(1)
    np.testing.assert_array_equal(obs1[:, 0], [4, 5, 6])


def test_pickled_arrays_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "traj.npz"
    np.savez(
        path,
        obs=np.zeros((3, 1)),
        acts=np.zeros(2, dtype=np.int64),
        rews=np.array([{}, {}], dtype=object),
        terminal=np.array([True]),
        indices=np.array([], dtype=np.int64),
    )
    with pytest.raises(DemoError, match="'rews' holds Python objects"):
        load_demos(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"acts": np.zeros(4, dtype=np.int64)}, "acts has 4 rows, expected 5"),
        ({"rews": np.zeros((5, 1))}, r"rews must have shape \(5,\)"),
        ({"obs": np.zeros((6, 2))}, "obs has 6 rows, expected 7"),
        ({"lengths": np.array([3, 0])}, "lengths must be integers >= 1"),
        ({"terminated": np.array([1, 0])}, "terminated must be a bool array"),
        ({"obs": np.full((7, 2), np.nan, dtype=np.float32)}, "obs holds NaN or infinite"),
        ({"rews": np.array([0, 1, np.inf, 0, 0])}, "rews holds infinite values"),
        ({"obs": np.ones((7, 2), dtype=np.complex64)}, "obs has complex dtype complex64"),
        ({"rews": np.zeros(5, dtype=np.complex128)}, "rews has complex dtype"),
        ({"expert_return": np.complex128(1 + 2j)}, "expert_return must be one number"),
    ],
)
def test_malformed_demos_name_the_field(change: dict[str, np.ndarray], message: str) -> None:
    good = make_demos((3, 2))
    fields = {
        "obs": good.obs,
        "acts": good.acts,
        "rews": good.rews,
        "lengths": good.lengths,
        "terminated": good.terminated,
        "truncated": good.truncated,
    }
    with pytest.raises(DemoError, match=message):
        Demonstrations(**{**fields, **change})


def test_space_mismatch_names_field_and_expectation() -> None:
    demos = make_demos((3, 2))
    env = gym.make("CartPole-v1")
    with pytest.raises(DemoError, match=r"obs has shape \(2,\) per step, CartPole expects \(4,\)"):
        demos.check_spaces(env.observation_space, env.action_space, "CartPole")
    bad_acts = Demonstrations(
        obs=np.zeros((7, 4), dtype=np.float32),
        acts=np.array([0, 1, 2, 0, 1]),
        rews=np.zeros(5),
        lengths=np.array([3, 2]),
        terminated=np.array([True, True]),
        truncated=np.array([False, False]),
    )
    with pytest.raises(
        DemoError, match=r"acts holds values in \[0, 2\], CartPole expects \[0, 1\]"
    ):
        bad_acts.check_spaces(env.observation_space, env.action_space, "CartPole")
    maze = gym.make("advrl/Maze-Small-v0")
    with pytest.raises(DemoError, match="Dict observations"):
        bad_acts.check_spaces(maze.observation_space, maze.action_space)


def test_unreadable_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_demos(tmp_path / "nope.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(DemoError, match=r"not a readable \.npz"):
        load_demos(junk)
    with pytest.raises(DemoError, match=r"end in \.npz"):
        save_demos(make_demos(), tmp_path / "d.npy")


def test_record_demos_on_cartpole() -> None:
    env = gym.make("CartPole-v1")
    policy = random_policy(env.action_space, seed=3)
    demos = record_demos(env, policy, 3, seed=5, env_id="CartPole-v1", random_episodes=4)
    demos.check_spaces(env.observation_space, env.action_space)
    assert demos.num_episodes == 3 and demos.terminated.all() and not demos.truncated.any()
    assert demos.expert_return == pytest.approx(demos.episode_returns().mean())
    assert demos.expert_return == demos.num_transitions / 3  # CartPole: +1 per step
    assert not math.isnan(demos.random_return)
    first, _, _ = demos.episode(0)
    obs0, _ = env.reset(seed=5)
    np.testing.assert_array_equal(first[0], obs0)


def test_record_demos_on_the_maze_keeps_dict_observations(tmp_path: Path) -> None:
    env = gym.make("advrl/Maze-Small-v0")
    demos = record_demos(env, random_policy(env.action_space, 0), 2, seed=0, random_episodes=1)
    assert isinstance(demos.obs, dict) and demos.obs["image"].shape[1:] == (5, 5, 3)
    back = load_demos(save_demos(demos, tmp_path / "maze.npz"))
    back.check_spaces(env.observation_space, env.action_space)
    assert back.obs["image"].dtype == np.uint8  # type: ignore[index]


def test_minari_folder(tmp_path: Path) -> None:
    pytest.importorskip("minari")
    from minari.data_collector.episode_buffer import EpisodeBuffer
    from minari.dataset.minari_storage import MinariStorage

    env = gym.make("CartPole-v1")
    data = tmp_path / "cartpole-test-v0" / "data"
    data.mkdir(parents=True)
    storage = MinariStorage.new(
        data.resolve(),
        observation_space=env.observation_space,
        action_space=env.action_space,
        env_spec=env.spec,
    )
    import minari

    storage.update_metadata(
        {
            "dataset_id": "cartpole/test-v0",
            "minari_version": minari.__version__,
            "ref_min_score": 9.0,
            "ref_max_score": 500.0,
        }
    )
    episodes = []
    for t, end in ((4, "terminated"), (2, "truncated")):
        episodes.append(
            EpisodeBuffer(
                observations=np.arange((t + 1) * 4, dtype=np.float32).reshape(t + 1, 4),
                actions=np.ones(t, dtype=np.int64),
                rewards=np.ones(t),
                terminations=np.arange(t) == t - 1 if end == "terminated" else np.zeros(t, bool),
                truncations=np.arange(t) == t - 1 if end == "truncated" else np.zeros(t, bool),
                infos={},
            )
        )
    storage.update_episodes(episodes)
    demos = load_demos(data.parent)
    np.testing.assert_array_equal(demos.lengths, [4, 2])
    np.testing.assert_array_equal(demos.terminated, [True, False])
    np.testing.assert_array_equal(demos.truncated, [False, True])
    assert demos.env_id == "CartPole-v1"
    assert (demos.random_return, demos.expert_return) == (9.0, 500.0)
    demos.check_spaces(env.observation_space, env.action_space)
    with pytest.raises(DemoError, match="not a Minari dataset folder"):
        load_demos(tmp_path)


@pytest.mark.parametrize(
    ("arrays", "problem"),
    [
        ({}, "has no 'acts' array"),
        (
            {
                "obs": np.array(1.0),
                "acts": np.array(0),
                "rews": np.zeros(0),
                "lengths": [1],
                "terminated": [True],
                "truncated": [False],
            },
            "obs must be an array with one row per step",
        ),
        (
            {
                "obs": np.zeros((3, 2), np.float32),
                "acts": np.zeros(2, np.int64),
                "rews": np.zeros(2, np.float32),
                "lengths": [2],
                "terminated": [True],
                "truncated": [False],
                "expert_return": np.zeros(3),
            },
            "'expert_return' must be one number",
        ),
        (
            {
                "obs": np.zeros((3, 2), np.float32),
                "acts": np.zeros(2, np.int64),
                "terminal": [True],
                "indices": np.zeros((1, 1), np.int64),
            },
            "'indices' must be a 1-D integer array",
        ),
        (
            {
                "obs": np.array(1.0),
                "acts": np.array(1),
                "indices": np.array([], np.int64),
                "terminal": [True],
            },
            "'acts' must be an array with one row per step",
        ),
    ],
)
def test_odd_npz_files_are_one_clear_error(tmp_path: Path, arrays: dict, problem: str) -> None:
    path = tmp_path / "odd.npz"
    np.savez(path, **arrays)
    with pytest.raises(DemoError, match=problem):
        load_demos(path)


def recorded_cartpole(episodes: int = 3) -> Demonstrations:
    env = gym.make("CartPole-v1")
    demos = record_demos(env, random_policy(env.action_space, 0), episodes, env_id="CartPole-v1")
    env.close()
    return demos


def assert_same_episodes(a: Demonstrations, b: Demonstrations) -> None:
    np.testing.assert_array_equal(a.lengths, b.lengths)
    np.testing.assert_array_equal(a.terminated, b.terminated)
    np.testing.assert_array_equal(a.truncated, b.truncated)
    np.testing.assert_allclose(np.asarray(a.obs), np.asarray(b.obs))
    np.testing.assert_array_equal(a.acts, b.acts)
    np.testing.assert_allclose(a.rews, b.rews)


def test_imitation_export_round_trips_and_splits_as_imitation_does(tmp_path: Path) -> None:
    from advrl.gail.demo_files import write_imitation_npz

    demos = make_demos((3, 1, 4))
    path = write_imitation_npz(demos, tmp_path / "traj.npz")
    assert_same_episodes(load_demos(path, "imitation"), demos)
    assert_same_episodes(load_demos(path), demos)  # "auto" tells it from advrl's
    # imitation's loader: obs split at indices + arange + 1, the rest at indices, one info per step
    data = np.load(path, allow_pickle=True)
    n = len(data["indices"])
    obs = np.split(data["obs"], data["indices"] + np.arange(n) + 1)
    acts = np.split(data["acts"], data["indices"])
    infos = np.split(data["infos"], data["indices"])
    assert [len(o) for o in obs] == [4, 2, 5] and [len(a) for a in acts] == [3, 1, 4]
    assert [len(i) for i in infos] == [3, 1, 4] and all(x == {} for x in data["infos"])
    for i, (o, a) in enumerate(zip(obs, acts, strict=True)):
        episode_obs, episode_acts, _ = demos.episode(i)
        np.testing.assert_array_equal(o, episode_obs)
        np.testing.assert_array_equal(a, episode_acts)
    np.testing.assert_array_equal(data["terminal"], demos.terminated)
    with pytest.raises(DemoError, match="not dict observations"):
        write_imitation_npz(make_demos(dict_obs=True), tmp_path / "dict.npz")


def test_minari_export_round_trips_and_minari_reads_it(tmp_path: Path) -> None:
    pytest.importorskip("minari")
    from minari import MinariDataset

    from advrl.gail.minari_io import write_minari

    demos = recorded_cartpole()
    env = gym.make("CartPole-v1")
    folder = write_minari(
        demos, tmp_path / "cartpole", env.observation_space, env.action_space, env.spec
    )
    back = load_demos(folder)
    assert_same_episodes(back, demos)
    assert back.env_id == "CartPole-v1"
    assert (back.expert_return, back.random_return) == (demos.expert_return, demos.random_return)
    dataset = MinariDataset(folder / "data")  # Minari's own reader
    assert dataset.total_episodes == 3 and dataset.total_steps == demos.num_transitions
    assert dataset.spec.dataset_id == "advrl/cartpole-v0"
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no partial folder left
    with pytest.raises(DemoError, match="exists already"):
        write_minari(demos, folder, env.observation_space, env.action_space)


def test_demos_export_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from advrl.cli import main

    demos = recorded_cartpole(2)
    source = save_demos(demos, tmp_path / "d.npz")
    out = tmp_path / "imitation.npz"
    assert main(["demos", "export", str(source), "--to", "imitation", "--out", str(out)]) == 0
    assert "2 episodes" in capsys.readouterr().out
    assert_same_episodes(load_demos(out), demos)
    unknown = save_demos(make_demos(), tmp_path / "unknown.npz")  # recorded on "Test-v0"
    args = ["demos", "export", str(unknown), "--to", "minari", "--out", str(tmp_path / "u")]
    assert main(args) == 2
    assert "env 'Test-v0'" in capsys.readouterr().err
    unnamed = save_demos(replace(make_demos(), env_id=""), tmp_path / "unnamed.npz")
    args = ["demos", "export", str(unnamed), "--to", "minari", "--out", str(tmp_path / "u")]
    assert main(args) == 2
    assert "give --env ID" in capsys.readouterr().err
    assert not (tmp_path / "u").exists()
    foreign = save_demos(replace(make_demos(), env_id="evilmod:Env"), tmp_path / "foreign.npz")
    args = ["demos", "export", str(foreign), "--to", "minari", "--out", str(tmp_path / "u")]
    assert main(args) == 2  # the file's env id would import a module the user did not name
    assert "--allow-import evilmod" in capsys.readouterr().err
    assert not (tmp_path / "u").exists() and "evilmod" not in sys.modules
    pytest.importorskip("minari")
    args = ["demos", "export", str(source), "--to", "minari", "--out", str(tmp_path / "m")]
    assert main(args) == 0
    assert_same_episodes(load_demos(tmp_path / "m"), demos)
