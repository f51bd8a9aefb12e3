"""Batched zero-shot evaluation gives what MazeEnv gives, episode for episode."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from advrl.envs.maze import MazeEnv
from advrl.episodes.actors import RandomActor, episode_keys
from advrl.episodes.levels import play_levels
from advrl.eval.heldout import evaluate_heldout, heldout_levels


def maze_random() -> RandomActor:
    """A uniformly random maze policy (left, right, forward)."""
    return RandomActor(spaces.Discrete(3))


def hashed_action(image: np.ndarray, direction: np.ndarray, t: int) -> np.ndarray:
    """A wandering but deterministic choice from the view, the direction and the step number."""
    types = image[..., 0].astype(np.int64)
    weights = np.arange(1, types[0].size + 1).reshape(types.shape[1:]) ** 2
    h = (types * weights).sum((1, 2)) + 7 * direction.reshape(-1) + 13 * t * t
    return np.array([0, 1, 2, 2, 2])[h % 5]  # forward three times as often as each turn


class HashPolicy:
    """:func:`hashed_action` for a batch of slots that all started together (counts its calls)."""

    def __init__(self) -> None:
        self.t = 0

    def predict(
        self,
        obs: dict[str, Any],
        state: Any = None,
        episode_start: Any = None,
        deterministic: bool = True,
    ) -> tuple[Any, None]:
        actions = hashed_action(np.asarray(obs["image"]), np.asarray(obs["direction"]), self.t)
        self.t += 1
        return actions, None


@pytest.mark.parametrize("name", ["PerfectMazeSmall", "FourRooms", "SimpleCrossing"])
def test_batched_heldout_evaluation_matches_maze_env(name: str) -> None:
    episodes, seed = 20, 3
    batched = evaluate_heldout(HashPolicy(), [name], episodes=episodes, seed=seed)[name]
    env = gym.make(f"advrl/Maze-{name}-v0")
    returns, lengths, successes = [], [], []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        total, t, done, info = 0.0, 0, False, {}
        while not done:
            action = hashed_action(obs["image"][None], np.array(obs["direction"]), t)[0]
            obs, reward, terminated, truncated, info = env.step(action)
            total, t, done = total + float(reward), t + 1, terminated or truncated
        returns.append(total)
        lengths.append(t)
        successes.append(info["is_success"])
    np.testing.assert_allclose(batched.returns, returns, rtol=1e-6)
    np.testing.assert_array_equal(batched.lengths, lengths)
    np.testing.assert_array_equal(batched.successes, successes)
    if name == "PerfectMazeSmall":  # the wanderer solves some of these (0.15), not all
        assert any(successes) and not all(successes)


def test_heldout_levels_are_the_registered_envs_levels() -> None:
    levels, max_steps = heldout_levels("SixteenRooms", 3, seed=7)
    env = gym.make("advrl/Maze-SixteenRooms-v0")
    for i, level in enumerate(levels):
        env.reset(seed=7 + i)
        base = env.unwrapped
        assert isinstance(base, MazeEnv) and base.level == level
    assert max_steps == env.unwrapped.max_steps


def test_play_levels_needs_one_square_size() -> None:
    small, _ = heldout_levels("SimpleCrossing", 1)
    big, _ = heldout_levels("FourRooms", 1)
    with pytest.raises(ValueError, match="one size"):
        play_levels(HashPolicy(), small + big, max_steps=10)


def test_random_policy_is_uniform_and_seeded() -> None:
    """The random actor: uniform over the three actions, reproducible under play_levels' seed."""
    actor = maze_random()
    actor.begin(episode_keys(0, 30_000))
    counts = np.bincount(actor.act(None, np.arange(30_000)), minlength=3)
    assert counts.sum() == 30_000 and np.all(np.abs(counts - 10_000) < 400)  # ~7 sigma
    levels, max_steps = heldout_levels("FourRooms13", 30, seed=5)
    first = play_levels(maze_random(), levels, max_steps=max_steps, seed=9)
    again = play_levels(maze_random(), levels, max_steps=max_steps, seed=9)
    other = play_levels(maze_random(), levels, max_steps=max_steps, seed=10)
    np.testing.assert_array_equal(first.lengths, again.lengths)
    assert not np.array_equal(first.lengths, other.lengths)
    assert 0 < first.success_rate < 1  # a random walk finds some of the goals in 100 steps


def test_zero_shot_plays_the_random_policy_on_the_same_episodes() -> None:
    from advrl.eval.zero_shot import zero_shot

    result = zero_shot(
        HashPolicy(), "advrl/Maze-v0", {}, ["FourRooms13"], episodes=6, seed=2, with_random=True
    )
    expected = evaluate_heldout(maze_random(), ["FourRooms13"], episodes=6, seed=2)
    assert result.stats["random"]["FourRooms13"].as_dict() == expected["FourRooms13"].as_dict()
    assert result.rows()[0]["solve_rate_random"] == round(expected["FourRooms13"].success_rate, 4)
    assert result.summary()["mean_solve_rate_random"] == expected["FourRooms13"].success_rate
    assert result.held_out
    assert (
        "random"
        not in zero_shot(
            HashPolicy(), "advrl/Maze-v0", {}, ["FourRooms13"], episodes=2, seed=2
        ).stats
    )


class PixelSumPolicy:
    """Left or right by the parity of each frame's pixel sum: actions that depend on the view (a
    batch of frames in, one action per frame out)."""

    def predict(
        self, obs: Any, state: Any = None, episode_start: Any = None, deterministic: bool = True
    ) -> tuple[Any, None]:
        frames = np.asarray(obs, dtype=np.int64)
        return frames.reshape(len(frames), -1).sum(axis=1) % 2, None


def test_views_evaluation_plays_the_same_levels_under_each_view_space() -> None:
    from advrl.episodes.rollouts import play
    from advrl.eval.zero_shot import zero_shot_views

    result = zero_shot_views(
        PixelSumPolicy(), "advrl/PixelCartPole-v1", {}, ["default", "heldout"], episodes=3, seed=5
    )
    assert result.levels == ["default", "heldout"]
    # the random policy ignores what it sees: the same seeded levels give it the same episodes
    rand = result.stats["random"]
    assert np.array_equal(rand["default"].returns, rand["heldout"].returns)
    env = gym.make("advrl/PixelCartPole-v1", views="heldout")
    alone = play(lambda: gym.make("advrl/PixelCartPole-v1", views="heldout"),
                 RandomActor(env.action_space), 3, 5, width=1)  # fmt: skip
    expected = alone  # the same keyed random draws, one episode at a time
    assert np.array_equal(rand["heldout"].returns, expected.returns)
    # CartPole defines no success: the rows give returns only
    assert list(result.rows()[0]) == [
        "views", "episodes", "return", "return_greedy", "return_random"
    ]  # fmt: skip
    with pytest.raises(ValueError, match="has no views to draw it under"):
        zero_shot_views(PixelSumPolicy(), "CartPole-v1", {}, ["default"], episodes=1, seed=0)


@pytest.mark.parametrize("env_id", ["CartPole-v1", "advrl/Maze-Small-v0"])
def test_episodes_side_by_side_are_the_episodes_one_by_one(env_id: str) -> None:
    """evaluate_batch (all episodes stepped together, one batched policy call per step) plays the
    same seeded levels as evaluate: a policy of the observation and the step number gets the same
    returns, lengths and successes."""
    from advrl.episodes.rollouts import evaluate, evaluate_batch

    def action(obs: Any, t: int) -> int:
        if isinstance(obs, dict):  # the maze: wander by a hash of the view and the step
            return int(hashed_action(obs["image"][None], np.asarray(obs["direction"]), t)[0])
        return int(np.sum(obs) * 100 + t) % 2

    class One:  # one observation at a time; reset() at each episode's start
        def reset(self) -> None:
            self.t = 0

        def __call__(self, obs: Any) -> int:
            self.t += 1
            return action(obs, self.t - 1)

    calls = []

    def batch(obs: Any) -> np.ndarray:  # every running episode is at step len(calls)
        rows = len(obs["image"]) if isinstance(obs, dict) else len(obs)
        row = (
            (lambda i: {k: v[i] for k, v in obs.items()})
            if isinstance(obs, dict)
            else obs.__getitem__
        )
        calls.append(rows)
        return np.array([action(row(i), len(calls) - 1) for i in range(rows)])

    alone = evaluate(gym.make(env_id), One(), 6, seed=11)
    together = evaluate_batch(lambda: gym.make(env_id), batch, 6, seed=11)
    assert np.array_equal(alone.returns, together.returns)
    assert np.array_equal(alone.lengths, together.lengths)
    assert np.array_equal(alone.successes, together.successes)
    assert alone.success_defined == together.success_defined == (env_id != "CartPole-v1")
    assert len(set(together.lengths.tolist())) > 1  # episodes of different lengths ran together
    if env_id != "CartPole-v1":
        assert 0 < together.successes.sum() < 6


def test_policy_modes_are_the_three_policies_on_the_same_episodes() -> None:
    """evaluate_modes plays the model's sampled and greedy actions and a random policy, each on the
    episodes the one-at-a-time loop plays with that actor (the maze's levels on the batched maze
    there, Gymnasium envs one by one here); as_dict is the summaries' layout."""
    from stable_baselines3 import PPO

    from advrl.episodes.actors import PolicyActor
    from advrl.episodes.rollouts import evaluate_modes, play

    def make() -> gym.Env:
        return gym.make("advrl/Maze-Small-v0")

    env = make()
    model = PPO("MultiInputPolicy", env, n_steps=16, batch_size=16, seed=0)
    modes = evaluate_modes(model, "advrl/Maze-Small-v0", episodes=3, seed=5, with_random=True)
    for stats, actor in [
        (modes.stochastic, PolicyActor(model)),
        (modes.greedy, PolicyActor(model, deterministic=True)),
        (modes.random, RandomActor(env.action_space)),
    ]:
        expected = play(make, actor, 3, 5, width=1)
        assert stats is not None
        np.testing.assert_array_equal(stats.lengths, expected.lengths)
        np.testing.assert_array_equal(stats.returns, expected.returns)
    layout = modes.as_dict()
    assert list(layout) == ["policy", "policy_deterministic", "random"]
    assert layout["random"]["success_rate"] == modes.random.success_rate  # type: ignore[union-attr]
    assert "random" not in evaluate_modes(model, make, episodes=1, seed=5).as_dict()
    assert len(set(modes.stochastic.lengths.tolist())) > 1  # not all timed out alike
