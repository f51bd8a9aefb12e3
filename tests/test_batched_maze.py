"""BatchedMaze behaves exactly like MazeEnv: same levels and actions give the same steps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from advrl.envs import MazeEnv, MazeLevel, RandomWalls
from advrl.envs.batched import BatchedMaze

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def drive_both(levels: list[MazeLevel], steps: int, max_steps: int, device: str, seed: int = 0):
    """Step N MazeEnvs and one BatchedMaze in lockstep; assert equality; return event counts."""
    n, size = len(levels), levels[0].height + 2
    singles = [MazeEnv(size=size, max_steps=max_steps, num_walls=0) for _ in levels]
    batched = BatchedMaze(n, size=size, max_steps=max_steps, device=device)
    batched.set_levels(levels)
    obs_b = batched.reset()
    obs_s = [env.reset(options={"level": lvl})[0] for env, lvl in zip(singles, levels, strict=True)]
    rng = np.random.default_rng(seed)
    counts = {"success": 0, "truncated": 0, "both": 0, "blocked": 0}
    for _ in range(steps):
        check_obs(obs_s, obs_b)
        actions = rng.integers(0, 3, size=n)
        before = [env.agent_pos for env in singles]
        obs_b, rew_b, done_b, infos = batched.step(actions)
        for i, env in enumerate(singles):
            obs, reward, terminated, truncated, _ = env.step(int(actions[i]))
            counts["blocked"] += int(actions[i] == 2 and env.agent_pos == before[i])
            assert np.float32(reward) == rew_b[i], (i, reward, rew_b[i])
            assert done_b[i] == (terminated or truncated)
            if terminated or truncated:
                info = infos[i]
                assert info["is_success"] == terminated
                assert info["TimeLimit.truncated"] == (truncated and not terminated)
                check_obs([obs], {k: v[None] for k, v in info["terminal_observation"].items()})
                counts["success"] += int(terminated)
                counts["truncated"] += int(truncated)
                counts["both"] += int(terminated and truncated)
                obs, _ = env.reset(options={"level": levels[i]})
            obs_s[i] = obs
    check_obs(obs_s, obs_b)
    return counts


def check_obs(singles: list[dict], batched: dict[str, np.ndarray]) -> None:
    for i, obs in enumerate(singles):
        np.testing.assert_array_equal(obs["image"], batched["image"][i], err_msg=f"slot {i}")
        assert obs["direction"] == batched["direction"][i], f"slot {i}"


@pytest.mark.parametrize("device", DEVICES)
def test_equivalent_to_maze_env_over_thousands_of_steps(device: str, room: MazeLevel) -> None:
    rng = np.random.default_rng(0)
    levels = [RandomWalls(shape=(5, 5), num_walls=(0, 10)).sample(rng) for _ in range(15)]
    levels.append(room)
    counts = drive_both(levels, steps=400, max_steps=24, device=device)  # 6,400 slot-steps
    assert counts["success"] > 20 and counts["truncated"] > 20 and counts["blocked"] > 100


@pytest.mark.parametrize("device", DEVICES)
def test_equivalent_on_the_paired_maze(device: str) -> None:
    rng = np.random.default_rng(1)
    levels = [RandomWalls(shape=(13, 13), num_walls=(0, 60)).sample(rng) for _ in range(8)]
    counts = drive_both(levels, steps=300, max_steps=250, device=device)
    assert counts["success"] + counts["truncated"] >= 8


def test_goal_reached_at_the_step_limit() -> None:
    level = MazeLevel.from_text(">G\n..")
    batched = BatchedMaze(1, size=4, max_steps=1)
    batched.set_levels([level])
    batched.reset()
    _, reward, done, infos = batched.step(np.array([2]))
    assert done[0] and infos[0]["is_success"] and not infos[0]["TimeLimit.truncated"]
    assert reward[0] == np.float32(1 - 0.9)
    single = MazeEnv(size=4, max_steps=1)
    single.reset(options={"level": level})
    _, r, terminated, truncated, _ = single.step(2)
    assert terminated and truncated and np.float32(r) == reward[0]


def test_random_levels_are_valid_seeded_and_in_range() -> None:
    a = BatchedMaze(64, size=9, num_walls=(3, 12), seed=5)
    b = BatchedMaze(64, size=9, num_walls=(3, 12), seed=5)
    a.reset()
    b.reset()
    levels_a, levels_b = a.get_attr("level"), b.levels()
    assert levels_a == levels_b
    assert all(3 <= lvl.num_walls <= 12 for lvl in levels_a)
    assert len({lvl.num_walls for lvl in levels_a}) > 4
    assert len(set(levels_a)) == 64
    dirs = {lvl.start_dir for lvl in levels_a}
    assert dirs == {0, 1, 2, 3}


def test_fixed_levels_repeat_and_random_levels_change(room: MazeLevel) -> None:
    env = BatchedMaze(2, size=7, max_steps=3, seed=0)
    env.set_levels([room, None])
    env.reset()
    first = env.levels()
    for _ in range(3):  # both slots hit the step limit and reset
        env.step(np.array([0, 0]))
    second = env.levels()
    assert first[0] == second[0] == room and first[1] != second[1]


def test_sb3_ppo_trains_on_it() -> None:
    from advrl.agents import make_ppo

    env = BatchedMaze(8, size=7, max_steps=20, seed=0)
    model = make_ppo(env, n_steps=16, batch_size=64, n_epochs=1, seed=0)
    model.learn(256)
    assert model.num_timesteps == 256 and len(model.ep_info_buffer) > 0


def test_bad_arguments(room: MazeLevel) -> None:
    with pytest.raises(ValueError, match="num_walls"):
        BatchedMaze(2, size=5, num_walls=20)
    env = BatchedMaze(2, size=9)
    with pytest.raises(ValueError, match="level is 5x5 but the inner grid is 7x7"):
        env.set_levels([room, room])
    with pytest.raises(ValueError, match="got 1 levels for 2 slots"):
        env.set_levels([room])
