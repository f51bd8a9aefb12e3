"""Batched evaluation plays the episodes the sequential loop plays, for sampled actions too.

Every evaluation steps its episodes side by side; a sampled action comes from its episode's own
keyed random stream (advrl.episodes.actors), so an episode plays the same alone or beside others.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from stable_baselines3 import PPO

from advrl import progress
from advrl.agents import make_ppo
from advrl.episodes.actors import (
    PolicyActor,
    RandomActor,
    episode_keys,
    keyed_sample,
    uniforms,
)
from advrl.episodes.rollouts import evaluate, play, play_env, sb3_policy

MAZE = "advrl/Maze-Small-v0"


def recurrent(env_id: str = MAZE) -> Any:
    return make_ppo(
        gym.make(env_id), lstm_hidden=8, net_arch=[8], n_steps=16, batch_size=16, seed=0
    )


def feed_forward(env_id: str = MAZE) -> Any:
    policy = "MultiInputPolicy" if env_id == MAZE else "MlpPolicy"
    return PPO(policy, gym.make(env_id), n_steps=16, batch_size=16, seed=0)


def assert_same_episodes(a: Any, b: Any) -> None:
    np.testing.assert_array_equal(a.lengths, b.lengths)
    np.testing.assert_array_equal(a.returns, b.returns)
    np.testing.assert_array_equal(a.successes, b.successes)


def test_uniforms_are_a_function_of_the_key_and_step_alone() -> None:
    keys = episode_keys(7, 50)
    steps = np.arange(50) % 4
    together = uniforms(keys, steps, 3)
    alone = np.concatenate([uniforms(keys[i : i + 1], steps[i : i + 1], 3) for i in range(50)])
    np.testing.assert_array_equal(together, alone)
    assert together.min() > 0 and together.max() < 1
    assert len(np.unique(together)) == together.size  # no repeats across episodes and columns
    assert not np.array_equal(episode_keys(7, 5), episode_keys(8, 5))
    assert not np.array_equal(episode_keys(7, 5, "Labyrinth"), episode_keys(7, 5, "Maze2"))
    big = uniforms(episode_keys(0, 200_000), np.zeros(200_000), 1)[:, 0]
    assert abs(big.mean() - 0.5) < 0.003 and abs(big.var() - 1 / 12) < 0.001


def test_keyed_sampling_draws_from_the_distribution() -> None:
    """Categorical draws match their probabilities; Gaussian draws their mean and spread; a
    squashed one is the tanh of the same draw."""
    from stable_baselines3.common.distributions import (
        CategoricalDistribution,
        DiagGaussianDistribution,
        SquashedDiagGaussianDistribution,
    )

    n = 60_000
    u = uniforms(episode_keys(1, n), np.zeros(n), 2)
    probs = torch.tensor([0.1, 0.6, 0.3])
    cat = CategoricalDistribution(3).proba_distribution(probs.log().expand(n, 3))
    counts = np.bincount(keyed_sample(cat, u).numpy(), minlength=3) / n
    np.testing.assert_allclose(counts, probs.numpy(), atol=0.01)
    mean, log_std = torch.tensor([1.0, -2.0]), torch.tensor([0.0, np.log(0.5)])
    gauss = DiagGaussianDistribution(2).proba_distribution(mean.expand(n, 2), log_std)
    x = keyed_sample(gauss, u).numpy()
    np.testing.assert_allclose(x.mean(0), [1.0, -2.0], atol=0.02)
    np.testing.assert_allclose(x.std(0), [1.0, 0.5], atol=0.02)
    squashed = SquashedDiagGaussianDistribution(2).proba_distribution(mean.expand(n, 2), log_std)
    np.testing.assert_allclose(keyed_sample(squashed, u).numpy(), np.tanh(x), rtol=1e-5)


def test_keyed_sampling_of_a_gsde_policy() -> None:
    """gSDE: each row's action is Normal(mean, sqrt(latent^2 @ std^2)), the variance computed here
    by hand; squashed, the tanh of the same draw. And a use_sde model's sampled evaluation runs."""
    from stable_baselines3.common.distributions import StateDependentNoiseDistribution

    n = 60_000
    u = uniforms(episode_keys(2, n), np.zeros(n), 2)
    latent = torch.tensor([[1.0, 2.0, 0.5]]).expand(n, 3)
    log_std = torch.log(torch.tensor([[0.3, 0.1], [0.2, 0.4], [1.0, 0.2]]))
    std = torch.sqrt((latent[0] ** 2) @ torch.exp(log_std) ** 2).numpy()  # by hand
    dist = StateDependentNoiseDistribution(2, full_std=True, use_expln=False, learn_features=False)
    dist.proba_distribution(torch.tensor([0.5, -1.0]).expand(n, 2), log_std, latent)
    x = keyed_sample(dist, u).numpy()
    np.testing.assert_allclose(x.mean(0), [0.5, -1.0], atol=0.02)
    np.testing.assert_allclose(x.std(0), std, rtol=0.02)
    squashed = StateDependentNoiseDistribution(2, squash_output=True, learn_features=False)
    squashed.proba_distribution(torch.tensor([0.5, -1.0]).expand(n, 2), log_std, latent)
    np.testing.assert_allclose(keyed_sample(squashed, u).numpy(), np.tanh(x), rtol=1e-4)

    from stable_baselines3 import PPO

    from advrl.episodes.rollouts import evaluate_modes

    model = PPO("MlpPolicy", "Pendulum-v1", use_sde=True, n_steps=64, seed=0)
    modes = evaluate_modes(model, "Pendulum-v1", 2, 0)
    assert modes.stochastic is not None and modes.greedy is not None
    assert len(modes.stochastic.returns) == 2
    assert not np.allclose(modes.stochastic.returns, modes.greedy.returns)


@pytest.mark.parametrize("kind", ["feed-forward", "lstm"])
@pytest.mark.parametrize("deterministic", [False, True])
def test_the_batched_maze_plays_the_episodes_of_the_sequential_loop(
    kind: str, deterministic: bool
) -> None:
    """All episodes at once on the batched maze == one at a time in MazeEnv, episode by episode,
    for sampled and greedy actions, with and without memory."""
    model = recurrent() if kind == "lstm" else feed_forward()
    episodes, seed = 12, 3
    batched = play_env(MAZE, model, episodes, seed, deterministic=deterministic)
    alone = play(
        lambda: gym.make(MAZE), model, episodes, seed, deterministic=deterministic, width=1
    )
    side = play(lambda: gym.make(MAZE), model, episodes, seed, deterministic=deterministic, width=5)
    assert_same_episodes(batched, alone)
    assert_same_episodes(side, alone)
    if not deterministic:  # (an untrained greedy policy turns in place until time runs out)
        assert len(set(alone.lengths.tolist())) > 1  # episodes of different lengths together


@pytest.mark.parametrize("kind", ["feed-forward", "lstm"])
def test_greedy_episodes_are_todays_sequential_loop(kind: str) -> None:
    """Greedy actions need no noise: the batched loop gives what ``evaluate`` with the model's own
    ``predict`` (hidden state carried, reset per episode) gives."""
    for env_id in (MAZE, "CartPole-v1"):
        model = recurrent(env_id) if kind == "lstm" else feed_forward(env_id)
        expected = evaluate(gym.make(env_id), sb3_policy(model, deterministic=True), 6, seed=11)
        batched = play_env(env_id, model, 6, 11, deterministic=True)
        assert_same_episodes(batched, expected)


def test_continuous_actions_are_clipped_as_predict_clips_them() -> None:
    model = PPO("MlpPolicy", gym.make("Pendulum-v1"), n_steps=16, batch_size=16, seed=0)
    actor = PolicyActor(model)
    actor.begin(episode_keys(0, 400))
    obs = np.zeros((400, 3), dtype=np.float32)
    actions = actor.act(obs, np.arange(400))
    assert actions.shape == (400, 1) and actions.min() >= -2 and actions.max() <= 2
    greedy = PolicyActor(model, deterministic=True)
    greedy.begin(episode_keys(0, 4))
    expected, _ = model.predict(obs[:4], deterministic=True)
    np.testing.assert_allclose(greedy.act(obs[:4], np.arange(4)), expected, rtol=1e-6)


def test_random_actor_covers_each_space_uniformly() -> None:
    n = 30_000
    for space in (
        spaces.Discrete(4, start=2),
        spaces.MultiDiscrete([2, 5]),
        spaces.MultiBinary(3),
        spaces.Box(-1.0, 3.0, (2,), np.float32),
    ):
        actor = RandomActor(space)
        actor.begin(episode_keys(0, n))
        actions = actor.act(None, np.arange(n))
        assert all(space.contains(a) for a in actions[:100])
        if isinstance(space, spaces.Box):
            np.testing.assert_allclose(actions.mean(0), [1.0, 1.0], atol=0.03)
        elif isinstance(space, spaces.Discrete):
            np.testing.assert_allclose(np.bincount(actions - 2) / n, 0.25, atol=0.015)
    with pytest.raises(ValueError, match="finite bounds"):
        RandomActor(spaces.Box(-np.inf, np.inf, (1,)))


def test_evaluation_leaves_the_global_random_state_alone() -> None:
    model, cartpole = feed_forward(), feed_forward("CartPole-v1")
    torch.manual_seed(5)
    np.random.seed(5)
    expected = (torch.rand(1), np.random.rand())
    torch.manual_seed(5)
    np.random.seed(5)
    play_env(MAZE, model, 4, 0)
    play(lambda: gym.make("CartPole-v1"), cartpole, 3, 0)
    assert torch.equal(torch.rand(1), expected[0]) and np.random.rand() == expected[1]


def test_progress_counts_episodes_as_they_finish(monkeypatch: pytest.MonkeyPatch) -> None:
    steps: list[int] = []
    monkeypatch.setattr(progress, "advance", lambda n=1: steps.append(n))
    play_env(MAZE, feed_forward(), 7, 0)
    assert sum(steps) == 7
    steps.clear()
    play(lambda: gym.make("CartPole-v1"), feed_forward("CartPole-v1"), 5, 0, width=2)
    assert steps == [1] * 5


def test_a_greedy_policy_plays_each_distinct_level_once_with_the_same_result() -> None:
    """Held-out mazes repeat their levels (a fixed layout, four start directions): greedy
    statistics from the distinct levels equal those of every episode played."""
    from advrl.episodes.levels import play_levels
    from advrl.eval.heldout import heldout_levels

    levels, max_steps = heldout_levels("Labyrinth", 12, seed=0)
    assert len(set(levels)) < len(levels)
    model = recurrent()
    together = play_levels(model, levels, max_steps=max_steps, deterministic=True)
    each = [
        play_levels(model, [level], max_steps=max_steps, deterministic=True) for level in levels
    ]
    np.testing.assert_array_equal(together.lengths, [e.lengths[0] for e in each])
    np.testing.assert_array_equal(together.returns, [e.returns[0] for e in each])


def test_sampled_and_greedy_modes_in_one_batch_are_each_mode_alone() -> None:
    """An SB3 model plays its sampled and greedy episodes of several mazes in one batch (one
    forward pass per step): the same episodes as each mode and maze played alone."""
    from advrl.eval.heldout import evaluate_heldout, evaluate_heldout_modes

    model = recurrent()
    names = ["FourRooms", "SimpleCrossing"]  # two sizes: two batches
    both = evaluate_heldout_modes(model, names, episodes=5, seed=2)
    for mode in ("stochastic", "deterministic"):
        for name in names:
            alone = evaluate_heldout(
                model, [name], episodes=5, seed=2, deterministic=mode == "deterministic"
            )[name]
            assert_same_episodes(both[mode][name], alone)
