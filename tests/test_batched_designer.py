"""BatchedMazeDesigner follows MazeDesignerEnv's rules, design for design."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from advrl.envs import MazeDesignerEnv
from advrl.envs.batched_designer import BatchedMazeDesigner

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_equivalent_to_the_single_designer(device: str) -> None:
    n, size, budget = 12, 9, 20
    inner = size - 2
    rng = np.random.default_rng(0)
    batched = BatchedMazeDesigner(n, size=size, wall_budget=budget, noise_dim=3, device=device)
    singles = [MazeDesignerEnv(size=size, wall_budget=budget, noise_dim=3) for _ in range(n)]
    obs_b = batched.reset()  # later designs start by auto-reset after the last placement
    prev = np.zeros(n, dtype=np.int64)
    for _design in range(3):
        for i, env in enumerate(singles):
            env.reset(seed=i)
            env._start_dir = int(batched.start_dir[i])  # the one random draw of a design
        for t in range(budget + 2):
            for i, env in enumerate(singles):
                np.testing.assert_array_equal(env.encode(), obs_b["image"][i], err_msg=f"{t}, {i}")
                assert obs_b["time_step"][i] == t
            actions = rng.integers(0, inner * inner, size=n)
            if t == 1:  # a start on the goal is moved at random: keep this test's starts elsewhere
                goals = np.array([env._goal[0] * inner + env._goal[1] for env in singles])
                actions = np.where(actions == goals, (actions + 1) % (inner * inner), actions)
            if t >= 2:  # aim some walls at occupied cells: the goal, the start, the last wall
                goals = np.array([env._goal[0] * inner + env._goal[1] for env in singles])
                starts = np.array([env._start[0] * inner + env._start[1] for env in singles])
                actions[0::4], actions[1::4], actions[2::4] = goals[0::4], starts[1::4], prev[2::4]
            prev = actions
            obs_b, rewards, dones, infos = batched.step(actions)
            results = [env.step(int(a)) for env, a in zip(singles, actions, strict=True)]
            for i, (obs, reward, terminated, _, info) in enumerate(results):
                assert dones[i] == terminated and rewards[i] == reward
                if terminated:
                    assert infos[i]["level"] == info["level"]
                    np.testing.assert_array_equal(
                        infos[i]["terminal_observation"]["image"], obs["image"]
                    )
                else:
                    np.testing.assert_array_equal(obs["image"], obs_b["image"][i])
        assert all(d for d in dones)


def test_start_on_goal_moves_to_another_cell() -> None:
    env = BatchedMazeDesigner(256, size=6, wall_budget=0, noise_dim=0, seed=1)
    env.reset()
    env.step(np.full(256, 5))
    _, _, dones, infos = env.step(np.full(256, 5))
    starts = [info["level"].start for info in infos]
    assert all(dones) and all(s != (1, 1) for s in starts)
    assert len(set(starts)) == 15  # every other cell of the 4x4 inside is drawn


def test_rewards_and_spaces() -> None:
    env = BatchedMazeDesigner(4, size=6, wall_budget=2, noise_dim=5, reward_fn=lambda lvl: 0.5)
    obs = env.reset()
    assert env.observation_space.contains({k: v[0] for k, v in obs.items()})
    rewards = [env.step(np.array([0, 1, 2, 3]))[1] for _ in range(4)]
    assert [r.tolist() for r in rewards] == [[0.0] * 4] * 3 + [[0.5] * 4]
    with pytest.raises(ValueError, match="cell indices"):
        env.step(np.array([0, 1, 2, 16]))
    with pytest.raises(ValueError, match="wall_budget"):
        BatchedMazeDesigner(2, size=5, wall_budget=8)


def test_an_sb3_adversary_trains_on_it() -> None:
    from advrl.agents import make_ppo

    env = BatchedMazeDesigner(
        4, size=7, wall_budget=4, noise_dim=4, reward_fn=lambda lvl: lvl.num_walls
    )
    model = make_ppo(env, n_steps=12, batch_size=24, n_epochs=1, conv_filters=8, seed=0)
    model.learn(96)
    assert model.num_timesteps == 96
