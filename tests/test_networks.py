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


def test_fused_first_layers_equal_sb3s_two_layers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """FusedMlpExtractor: the same latents and gradients as SB3's MlpExtractor, the same
    parameters (state dict, model.zip), one product for both heads."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.torch_layers import MlpExtractor

    from advrl.agents.heads import FusedMlpExtractor
    from advrl.envs.batched_designer import BatchedMazeDesigner

    env = BatchedMazeDesigner(4, size=9, wall_budget=6, noise_dim=5)
    model = make_ppo(env, n_steps=8, batch_size=32, seed=0, conv_filters=8, net_arch=[16, 8])
    extractor = model.policy.mlp_extractor
    assert type(extractor) is FusedMlpExtractor
    obs, _ = model.policy.obs_to_tensor(env.reset())
    features = model.policy.extract_features(obs)
    assert isinstance(features, torch.Tensor)

    def latents_and_grads(forward: object) -> list[torch.Tensor]:
        model.policy.zero_grad()
        pi, vf = forward(features.detach().requires_grad_(False))  # type: ignore[operator]
        (pi.square().sum() + 3 * vf.sum()).backward()
        grads = [p.grad.clone() for p in extractor.parameters()]  # type: ignore[union-attr]
        return [pi.detach(), vf.detach(), *grads]

    fused = latents_and_grads(extractor.forward)
    plain = latents_and_grads(lambda f: MlpExtractor.forward(extractor, f))
    assert len(fused) == 2 + 2 * 2 * 2  # two latents; weight and bias of two layers per head
    for a, b in zip(fused, plain, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert all(float(g.abs().sum()) > 0 for g in fused[2:])
    # SB3's parameters and files: a saved model loads into SB3's own, unfused, extractor
    model.save(tmp_path / "m.zip")
    loaded = PPO.load(tmp_path / "m.zip", device="cpu")
    assert type(loaded.policy.mlp_extractor) is MlpExtractor
    assert loaded.policy.state_dict().keys() == model.policy.state_dict().keys()
    observation = env.reset()
    actions = model.predict(observation, deterministic=True)[0]
    np.testing.assert_array_equal(loaded.predict(observation, deterministic=True)[0], actions)


def test_only_grid_feed_forward_policies_are_fused() -> None:
    from stable_baselines3.common.torch_layers import MlpExtractor

    cartpole = make_ppo(gym.make("CartPole-v1"), n_steps=8, batch_size=8, seed=0)
    assert type(cartpole.policy.mlp_extractor) is MlpExtractor
    maze = make_ppo(MazeEnv(size=7), n_steps=8, batch_size=8, seed=0, lstm_hidden=8)
    assert type(maze.policy.mlp_extractor) is MlpExtractor


def test_acting_features_equal_the_convolutions() -> None:
    """Without gradients (acting) the extractor looks its convolution's weights up per cell
    instead of convolving a one-hot image: the same features, for the student and the designer."""
    from advrl.agents.networks import one_hot_conv

    for space, filters in (
        (MazeEnv().observation_space, 16),
        (MazeDesignerEnv().observation_space, 8),
    ):
        net = GridFeaturesExtractor(space, conv_filters=filters)
        batch = {
            k: torch.as_tensor(np.stack([space[k].sample() for _ in range(6)]))
            for k in space.spaces
        }
        batch = {k: v.float() if k == "image" else v for k, v in batch.items()}
        if "direction" in batch:
            batch["direction"] = torch.nn.functional.one_hot(batch["direction"].long(), 4).float()
        if "time_step" in batch:
            batch["time_step"] = torch.nn.functional.one_hot(
                batch["time_step"].long(), space["time_step"].n
            ).float()
        with torch.no_grad():
            acting = net(batch)
        torch.testing.assert_close(acting, net(batch).detach(), rtol=1e-5, atol=1e-6)
        codes = batch["image"][..., 0].long().clamp(0, net.num_types - 1)
        torch.testing.assert_close(
            one_hot_conv(codes, net.conv[0]), net.conv[0](net.one_hot_image(batch["image"]))
        )


def test_target_kl_stops_an_update_early() -> None:
    """``ppo.target_kl`` reaches SB3's PPO, which then stops after the first minibatch whose KL
    passes 1.5 x target: with a target of 1e-12 the policy takes one gradient step where it
    would take 4 epochs x 4 minibatches, and moves less."""
    from stable_baselines3.common.env_util import make_vec_env

    from advrl.agents.settings import PPOSettings

    settings = PPOSettings(n_steps=64, batch_size=32, n_epochs=4, target_kl=1e-12)
    assert settings.sb3_kwargs()["target_kl"] == 1e-12

    def moved(target_kl: float | None) -> float:
        env = make_vec_env("CartPole-v1", n_envs=2, seed=0)
        kwargs = {**settings.sb3_kwargs(), "target_kl": target_kl}
        model = make_ppo(env, net_arch=[8], seed=0, **kwargs)
        before = torch.cat([p.detach().flatten().clone() for p in model.policy.parameters()])
        model.learn(128)
        after = torch.cat([p.detach().flatten() for p in model.policy.parameters()])
        return float((after - before).norm())

    assert 0 < moved(1e-12) < 0.5 * moved(None)
    with np.testing.assert_raises_regex(ValueError, "target_kl must be positive"):
        PPOSettings(target_kl=0.0)
