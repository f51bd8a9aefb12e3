"""A VecEnv wrapper whose reward comes from GAIL's discriminator.

The env's own reward stays in ``info["env_reward"]``, and Monitor-style ``episode`` entries (from the
envs underneath) still report the true return, so SB3's ``rollout/ep_rew_mean`` is the true return.
Truncation is left to SB3 PPO, which bootstraps a truncated episode from the value of its
``terminal_observation``: an episode cut by a time limit carries no end-of-episode signal. With a
discriminator built with ``absorbing``, a terminated episode's last reward also counts the
absorbing state's (:mod:`advrl.gail.absorbing`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from stable_baselines3.common.running_mean_std import RunningMeanStd
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper
from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs, VecEnvStepReturn

from advrl.gail.absorbing import absorbing_tail, with_absorbing
from advrl.gail.demos import concat_obs
from advrl.gail.discriminator import Discriminator, RewardForm


class GeneratorSteps(NamedTuple):
    """The generator's steps since the last :meth:`DiscriminatorReward.take_samples`.

    Attributes:
        obs: observations, then one absorbing-state row per terminated episode (D with
            ``absorbing``).
        acts: actions, rows as ``obs``.
        absorbing: which rows are the absorbing state (None: D has no absorbing state).
        rewards: D's raw reward of each step (not of the absorbing rows), before normalization.
    """

    obs: Any
    acts: np.ndarray
    absorbing: np.ndarray | None
    rewards: np.ndarray


def _copy(obs: VecEnvObs) -> Any:
    if isinstance(obs, dict):
        return {k: np.array(v) for k, v in obs.items()}
    return np.array(obs)


class DiscriminatorReward(VecEnvWrapper):
    """Replaces each step's reward by ``reward_from_logits(D(s, a))`` and keeps the ``(s, a)`` pairs.

    Args:
        venv: the env the generator plays (observations as the demonstrations hold them).
        discriminator: D.
        form: ``"gail"`` (``-log(1 - D)``), ``"logd"`` or ``"logit"``.
        normalize: divide rewards by the running standard deviation of the discounted return (as
            SB3's ``VecNormalize``), so the policy's learning rate fits any D.
        gamma: discount of that return.
    """

    def __init__(
        self,
        venv: VecEnv,
        discriminator: Discriminator,
        *,
        form: RewardForm = "gail",
        normalize: bool = True,
        gamma: float = 0.99,
    ) -> None:
        super().__init__(venv)
        self.discriminator = discriminator
        self.form = form
        self.normalize = normalize
        self.gamma = gamma
        self.return_rms = RunningMeanStd(shape=())
        self._returns = np.zeros(self.num_envs)
        self._obs: Any = None
        self._actions: np.ndarray | None = None
        self._samples: list[tuple[Any, np.ndarray, np.ndarray]] = []
        self._rewards: list[np.ndarray] = []

    def reset(self) -> VecEnvObs:
        """Reset the envs (and the running return)."""
        obs = self.venv.reset()
        self._obs = _copy(obs)
        self._returns[:] = 0
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        """Remember the actions, then step."""
        self._actions = np.array(actions)
        self.venv.step_async(actions)

    def step_wait(self) -> VecEnvStepReturn:
        """Step, and replace the reward by D's."""
        obs, env_rewards, dones, infos = self.venv.step_wait()
        assert self._obs is not None and self._actions is not None, "step before reset"
        reward = self.discriminator.reward(self._obs, self._actions, self.form)
        cut = [info.get("TimeLimit.truncated", False) for info in infos]
        terminated = np.asarray(dones, dtype=bool) & ~np.asarray(cut, dtype=bool)
        self._samples.append((self._obs, self._actions, terminated))
        self._rewards.append(reward)
        if self.discriminator.absorbing and terminated.any():
            tail = absorbing_tail(self.discriminator.absorbing_reward(self.form), self.gamma)
            reward = reward + np.float32(tail) * terminated
        for info, r in zip(infos, env_rewards, strict=True):
            info["env_reward"] = float(r)
        if self.normalize:
            self._returns = self._returns * self.gamma + reward
            self.return_rms.update(self._returns)
            reward = (reward / np.sqrt(self.return_rms.var + 1e-8)).astype(np.float32)
            self._returns[dones] = 0
        self._obs = _copy(obs)
        return obs, reward, dones, infos

    def take_samples(self) -> GeneratorSteps:
        """Every step since the last call (and the absorbing rows after terminations, with an
        ``absorbing`` D); clears them."""
        if not self._samples:
            raise RuntimeError("no steps were taken since the last take_samples()")
        obs = concat_obs([s[0] for s in self._samples])
        acts = np.concatenate([s[1] for s in self._samples])
        ends = np.concatenate([s[2] for s in self._samples])
        rewards = np.concatenate(self._rewards)
        self._samples, self._rewards = [], []
        if not self.discriminator.absorbing:
            return GeneratorSteps(obs, acts, None, rewards)
        obs, acts, mask = with_absorbing(obs, acts, ends)
        return GeneratorSteps(obs, acts, mask, rewards)

    def state_dict(self) -> dict[str, Any]:
        """The reward normalizer's statistics."""
        rms = self.return_rms
        return {"mean": float(rms.mean), "var": float(rms.var), "count": float(rms.count)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.return_rms.mean = np.asarray(state["mean"], dtype=np.float64)
        self.return_rms.var = np.asarray(state["var"], dtype=np.float64)
        self.return_rms.count = float(state["count"])
