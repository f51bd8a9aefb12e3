"""DAC's absorbing state: an uninformative discriminator no longer prefers short or long episodes,
the absorbing rows are one input whatever the step held, and D learns them as any other state."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv

from advrl.gail import Discriminator, DiscriminatorReward, discriminator_loss
from advrl.gail.absorbing import absorbing_tail, expert_pool, with_absorbing
from advrl.gail.demos import Demonstrations
from advrl.gail.settings import DiscriminatorSettings

GAMMA = 0.9


class TwoPaths(gym.Env):
    """The first action picks the path: 0 ends the episode (terminated) after 2 steps, 1 after 8;
    with ``limit`` the episode is cut (truncated) at that many steps instead."""

    observation_space = spaces.Box(0.0, 10.0, (1,), np.float32)
    action_space = spaces.Discrete(2)

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit
        self.t, self.length = 0, 0

    def reset(self, *, seed: int | None = None, options: Any = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.t, self.length = 0, 0
        return np.zeros(1, np.float32), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        if self.t == 0:
            self.length = 2 if int(action) == 0 else 8
        self.t += 1
        obs = np.full(1, self.t, np.float32)
        if self.limit is not None:
            return obs, 1.0, False, self.t >= self.limit, {}
        return obs, 1.0, self.t >= self.length, False, {}


def uninformative(
    space: spaces.Space, action_space: spaces.Space, absorbing: bool
) -> Discriminator:
    """D = 1/2 everywhere: every weight zero."""
    disc = Discriminator(space, action_space, net_arch=(4,), absorbing=absorbing)
    with torch.no_grad():
        for p in disc.parameters():
            p.zero_()
    return disc


def episode_return(form: str, absorbing: bool, path: int) -> float:
    """The discounted return PPO's targets see from the start of one episode that follows ``path``
    (a terminated step bootstraps nothing, as SB3 does)."""
    venv = DummyVecEnv([TwoPaths])
    disc = uninformative(venv.observation_space, venv.action_space, absorbing)
    env = DiscriminatorReward(venv, disc, form=form, normalize=False, gamma=GAMMA)  # type: ignore[arg-type]
    env.reset()
    total, discount, done = 0.0, 1.0, False
    while not done:
        _, reward, dones, _ = env.step(np.array([path]))
        total += discount * float(reward[0])
        discount *= GAMMA
        done = bool(dones[0])
    return total


@pytest.mark.parametrize("form", ["gail", "logd"])
def test_an_uninformative_d_prefers_no_episode_length(form: str) -> None:
    """Without the absorbing state the ``-log(1 - D)`` reward pays for the long path and ``log D``
    for the short one; with it both paths are worth ``r / (1 - gamma)``, ``r = -+log 2``."""
    short, long = episode_return(form, False, 0), episode_return(form, False, 1)
    step = math.log(2) if form == "gail" else -math.log(2)
    assert short == pytest.approx(step * (1 - GAMMA**2) / (1 - GAMMA), rel=1e-5)
    assert long == pytest.approx(step * (1 - GAMMA**8) / (1 - GAMMA), rel=1e-5)
    assert (long > short) == (form == "gail")
    for path in (0, 1):
        assert episode_return(form, True, path) == pytest.approx(step / (1 - GAMMA), rel=1e-5)


def test_the_tail_is_added_to_terminated_steps_only() -> None:
    """A time limit is no termination: no absorbing tail, no absorbing row (SB3 bootstraps it)."""
    venv = DummyVecEnv([lambda: TwoPaths(limit=3), TwoPaths])
    disc = uninformative(venv.observation_space, venv.action_space, True)
    env = DiscriminatorReward(venv, disc, form="gail", normalize=False, gamma=GAMMA)
    env.reset()
    rewards = [env.step(np.array([0, 0]))[1] for _ in range(3)]
    log2 = math.log(2)
    # env 0: cut at step 3; env 1: terminated at step 2, then a new episode
    np.testing.assert_allclose([r[0] for r in rewards], [log2] * 3, rtol=1e-6)
    tail = absorbing_tail(log2, GAMMA)
    np.testing.assert_allclose([r[1] for r in rewards], [log2, log2 + tail, log2], rtol=1e-6)
    steps = env.take_samples()
    assert steps.absorbing is not None
    assert steps.absorbing.tolist() == [False] * 6 + [True]  # one row: env 1's termination
    assert len(steps.rewards) == 6 and len(steps.acts) == 7


def test_absorbing_tail_by_hand() -> None:
    assert absorbing_tail(2.0, 0.5) == pytest.approx(2.0)  # 2 * (0.5 + 0.25 + ...)
    assert absorbing_tail(1.0, 0.0) == 0.0
    with pytest.raises(ValueError, match="gamma"):
        absorbing_tail(1.0, 1.0)


def test_absorbing_rows_are_one_input_whatever_they_hold() -> None:
    """Absorbing rows: zero features and the flag, for any observation and action; other rows
    carry the flag 0; a D without ``absorbing`` refuses the mask."""
    space, acts = spaces.Box(-5, 5, (3,), np.float32), spaces.Discrete(3)
    torch.manual_seed(0)
    disc = Discriminator(space, acts, net_arch=(8,), absorbing=True)
    obs = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    x = disc.inputs(obs, np.array([0, 1, 2, 1]), np.array([False, True, False, True]))
    assert x.flat.shape == (4, 3 + 3 + 1)
    torch.testing.assert_close(x.flat[1], disc.absorbing_input().flat[0])
    torch.testing.assert_close(x.flat[3], disc.absorbing_input().flat[0])
    assert x.flat[0, -1] == 0 and x.flat[0, :3].abs().sum() > 0
    logits = disc(obs, np.array([0, 1, 2, 1]), np.array([False, True, False, True]))
    absorbing_logit = disc.forward_inputs(disc.absorbing_input())[0]
    torch.testing.assert_close(logits[1], absorbing_logit)
    torch.testing.assert_close(logits[3], absorbing_logit)
    plain = Discriminator(space, acts, net_arch=(8,))
    with pytest.raises(ValueError, match="absorbing=True"):
        plain.inputs(obs, np.zeros(4, np.int64), np.zeros(4, bool))
    with pytest.raises(ValueError, match="absorbing=True"):
        plain.absorbing_reward()


def test_diffaugment_leaves_the_absorbing_rows_alone() -> None:
    """Pixel D with DiffAugment: the augmented batch's absorbing rows are still the zero image,
    so their logits equal the absorbing state's."""
    space = spaces.Box(0, 255, (16, 16, 3), np.uint8)
    torch.manual_seed(0)
    disc = Discriminator(
        space, spaces.Discrete(2), net_arch=(8,), absorbing=True, augment="color,translation"
    )
    obs = np.full((4, 16, 16, 3), 200, np.uint8)
    mask = np.array([True, False, True, False])
    seen: list[torch.Tensor] = []
    handle = disc.conv.register_forward_hook(lambda m, i, o: seen.append(i[0]))  # type: ignore[union-attr]
    discriminator_loss(
        disc, obs, np.zeros(4, np.int64), obs, np.ones(4, np.int64),
        generator=torch.Generator().manual_seed(0), expert_absorbing=mask, gen_absorbing=~mask,
    )  # fmt: skip
    handle.remove()
    expert_images, gen_images = seen
    assert expert_images[mask].abs().sum() == 0 and gen_images[~mask].abs().sum() == 0
    assert expert_images[~mask].abs().sum() > 0


def test_expert_pool_has_one_absorbing_row_per_terminated_episode() -> None:
    demos = Demonstrations(
        obs=np.arange(9, dtype=np.float32).reshape(9, 1),
        acts=np.array([0, 1, 0, 1, 1, 0, 1]),
        rews=np.ones(7, np.float32),
        lengths=np.array([3, 4]),
        terminated=np.array([True, False]),
        truncated=np.array([False, True]),
    )
    obs, acts, mask = expert_pool(demos.transitions())
    assert mask.tolist() == [False] * 7 + [True]
    assert len(acts) == 8 and len(obs) == 8
    _, acts2, mask2 = with_absorbing(np.zeros((2, 1)), np.array([1, 0]), np.array([1, 1]))
    assert mask2.tolist() == [False, False, True, True] and acts2.tolist() == [1, 0, 1, 0]


def test_d_learns_the_absorbing_state_like_any_other() -> None:
    """Expert episodes end (their absorbing rows are expert samples), the generator's are cut:
    D's loss raises the absorbing state's logit, and its reward with it."""
    space, acts = spaces.Box(-1, 1, (2,), np.float32), spaces.Discrete(2)
    torch.manual_seed(0)
    disc = Discriminator(space, acts, net_arch=(8,), absorbing=True)
    opt = torch.optim.Adam(disc.parameters(), lr=1e-2)
    before = disc.absorbing_reward("gail")
    obs = np.zeros((8, 2), np.float32)
    zeros = np.zeros(8, np.int64)
    for _ in range(50):
        out = discriminator_loss(
            disc, obs, zeros, obs, zeros,
            expert_absorbing=np.arange(8) < 4, gen_absorbing=np.zeros(8, bool),
        )  # fmt: skip
        opt.zero_grad()
        out.loss.backward()
        opt.step()
    assert disc.absorbing_reward("gail") > before + 0.5
    assert torch.sigmoid(disc.forward_inputs(disc.absorbing_input()))[0] > 0.9


def test_the_setting_reaches_gail() -> None:
    """``discriminator.absorbing`` builds an absorbing D, and GAIL's expert pool has its rows."""
    from advrl.agents import make_ppo
    from advrl.episodes import random_policy
    from advrl.gail import GAIL, record_demos

    settings = DiscriminatorSettings(absorbing=True, net_arch=[8])
    assert settings.network()["absorbing"] is True
    env = gym.make("CartPole-v1")
    demos = record_demos(env, random_policy(env.action_space, 0), 3)
    venv = make_vec_env("CartPole-v1", n_envs=2, seed=0)
    model = make_ppo(venv, net_arch=[8], seed=0, n_steps=32, batch_size=32, n_epochs=1)
    disc = Discriminator(venv.observation_space, venv.action_space, **settings.network())
    trainer = GAIL(venv=venv, model=model, discriminator=disc, demos=demos, **settings.training())
    assert trainer._expert_absorbing is not None
    assert int(trainer._expert_absorbing.sum()) == int(demos.terminated.sum())
    trainer.learn(64)
    assert trainer.rounds == 1


def test_absorbing_states_need_a_discount_below_one() -> None:
    """The tail r / (1 - gamma) has no value at gamma 1: the config says so before anything is
    written, and the trainer refuses it."""
    from advrl.agents import make_ppo
    from advrl.agents.settings import PPOSettings
    from advrl.checks import ConfigError
    from advrl.config.schemas import GAILRunConfig
    from advrl.episodes import random_policy
    from advrl.gail import GAIL, record_demos

    with pytest.raises(ConfigError, match=r"ppo\.gamma below 1"):
        GAILRunConfig(
            ppo=PPOSettings(gamma=1.0), discriminator=DiscriminatorSettings(absorbing=True)
        )
    GAILRunConfig(ppo=PPOSettings(gamma=1.0))  # without absorbing states gamma 1 is fine
    env = gym.make("CartPole-v1")
    demos = record_demos(env, random_policy(env.action_space, 0), 2)
    venv = make_vec_env("CartPole-v1", n_envs=1, seed=0)
    model = make_ppo(venv, net_arch=[8], seed=0, n_steps=32, batch_size=32, gamma=1.0)
    disc = Discriminator(venv.observation_space, venv.action_space, absorbing=True)
    with pytest.raises(ValueError, match="gamma below 1"):
        GAIL(venv=venv, model=model, discriminator=disc, demos=demos)
