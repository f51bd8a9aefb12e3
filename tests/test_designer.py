"""MazeDesignerEnv: placement sequences give known levels."""

from __future__ import annotations

import numpy as np
import pytest

from advrl.envs import MazeDesignerEnv, MazeLevel


def cell(row: int, col: int, inner: int = 5) -> int:
    return row * inner + col


def design(env: MazeDesignerEnv, actions: list[int], seed: int = 0):
    env.reset(seed=seed)
    out = None
    for a in actions:
        out = env.step(a)
    return out


def test_sequence_builds_a_known_level() -> None:
    env = MazeDesignerEnv(size=7, wall_budget=4, noise_dim=3)
    actions = [cell(4, 0), cell(0, 4), cell(1, 1), cell(2, 3), cell(1, 1), cell(4, 0)]
    obs, reward, terminated, truncated, info = design(env, actions)
    assert terminated and not truncated and reward == 0.0
    level = info["level"]
    walls = np.zeros((5, 5), dtype=bool)
    walls[1, 1] = walls[2, 3] = True  # the repeated wall and the wall on the goal did nothing
    expected = MazeLevel(walls=walls, goal=(4, 0), start=(0, 4), start_dir=env._start_dir)
    assert level == expected
    assert obs["time_step"] == 6


def test_observation_encodes_the_grid() -> None:
    env = MazeDesignerEnv(size=7, wall_budget=2, noise_dim=4)
    obs, _ = env.reset(seed=3)
    assert obs["image"].shape == (7, 7, 3) and obs["time_step"] == 0
    assert obs["random_z"].shape == (4,) and obs["random_z"].dtype == np.float32
    assert (obs["image"][1:-1, 1:-1, 0] == 1).all() and (obs["image"][0, :, 0] == 2).all()
    obs, *_ = env.step(cell(1, 2))  # goal at row 1, col 2 -> image[x=3, y=2]
    assert obs["image"][3, 2, 0] == 8 and obs["time_step"] == 1
    obs, *_ = env.step(cell(3, 0))  # start -> image[x=1, y=4], state = direction
    assert tuple(obs["image"][1, 4]) == (10, 0, env._start_dir)
    obs, *_ = env.step(cell(0, 0))
    assert obs["image"][1, 1, 0] == 2
    assert env.observation_space.contains(obs)


def test_start_on_goal_moves_to_a_free_cell() -> None:
    env = MazeDesignerEnv(size=6, wall_budget=0, noise_dim=0)
    starts = set()
    for seed in range(30):
        *_, info = design(env, [cell(1, 1, 4), cell(1, 1, 4)], seed=seed)
        level = info["level"]
        assert level.goal == (1, 1) and level.start != (1, 1)
        starts.add(level.start)
    assert len(starts) > 5  # drawn, not fixed


def test_terminal_reward_only_on_last_step() -> None:
    seen = []

    def regret(level: MazeLevel) -> float:
        seen.append(level)
        return 0.75

    env = MazeDesignerEnv(size=6, wall_budget=3, noise_dim=0, reward_fn=regret)
    env.reset(seed=0)
    rewards = [env.step(a)[1] for a in [0, 1, 2, 3, 4]]
    assert rewards == [0.0, 0.0, 0.0, 0.0, 0.75]
    assert len(seen) == 1 and seen[0].num_walls == 3
    with pytest.raises(RuntimeError, match="finished"):
        env.step(0)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="wall_budget must be in"):
        MazeDesignerEnv(size=5, wall_budget=8)
    env = MazeDesignerEnv(size=5, wall_budget=1)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="cell index"):
        env.step(9)


def test_render_partial_and_full() -> None:
    env = MazeDesignerEnv(size=6, wall_budget=1, render_mode="rgb_array")
    env.reset(seed=0)
    assert env.render().shape == (6 * 32, 6 * 32, 3)
    for a in [0, 5, 10]:
        env.step(a)
    assert env.render().shape == (6 * 32, 6 * 32, 3)
