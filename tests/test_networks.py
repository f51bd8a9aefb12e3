"""GridFeaturesExtractor and policy selection."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from advrl.agents import GridFeaturesExtractor, is_grid_space, make_ppo, policy_for
from advrl.envs import MazeDesignerEnv, MazeEnv


def test_one_hot_of_object_types() -> None:
    space = MazeEnv().observation_space
    net = GridFeaturesExtractor(space)
    image = torch.zeros(1, 5, 5, 3)
    image[0, :, :, 0] = 1
    image[0, 2, 0, 0] = 8
    hot = net.one_hot_image(image)
    assert hot.shape == (1, 11, 5, 5)
    assert hot[0, 8, 2, 0] == 1 and hot[0, 1, 2, 0] == 0 and hot.sum() == 25


def test_features_for_maze_and_designer() -> None:
    maze = GridFeaturesExtractor(MazeEnv().observation_space)
    assert maze.features_dim == 16 * 3 * 3 + 5
    designer_space = MazeDesignerEnv().observation_space
    designer = GridFeaturesExtractor(designer_space, conv_filters=8)
    assert designer.features_dim == 8 * 13 * 13 + 2 * 5
    assert is_grid_space(designer_space) and not is_grid_space(
        gym.make("CartPole-v1").observation_space
    )
    assert policy_for(gym.make("CartPole-v1").observation_space)[0] == "MlpPolicy"


def test_ppo_on_the_maze_acts_and_evaluates() -> None:
    model = make_ppo(gym.make("advrl/Maze-v0"), n_steps=16, batch_size=16, seed=0)
    obs, _ = model.env.envs[0].reset(seed=0)
    action, _ = model.predict(obs)
    assert int(action) in (0, 1, 2)
    obs_t, _ = model.policy.obs_to_tensor(obs)
    _, log_prob, _ = model.policy.evaluate_actions(obs_t, torch.as_tensor(np.array([action])))
    assert log_prob.shape == (1,) and float(log_prob.detach()) < 0
