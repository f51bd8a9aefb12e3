"""ATLA (Zhang et al., ICLR 2021): the agent trains against a learned adversary that it alternates
with. Before each of the agent's rollouts the adversary takes one PPO iteration of its own (on
:class:`~advrl.agents.attacks.learned.ObservationAdversaryEnv` around the agent as it is, its
reward minus the agent's); the agent then collects its rollout seeing every observation perturbed
by the adversary's sampled action (:class:`PerturbedObservations`) and updates on what it saw.
``atla`` leaves the agent's loss PPO's; ``atla_sa`` adds SA-PPO's regularizer (ATLA-SA).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecEnvWrapper, VecNormalize

from advrl.agents.attacks.learned import ObservationAdversaryEnv
from advrl.agents.obs_normalization import ObservationNormalizer
from advrl.agents.robust.regularizers import SA, SASettings
from advrl.agents.robust.terms import Minibatch, RobustTerm, Terms, TermSettings
from advrl.agents.sb3_driver import PrefixLogger, setup_learning, start_rollout, update
from advrl.agents.state import agent_state, load_agent_state

if TYPE_CHECKING:
    from advrl.agents.robust.ppo import RobustPPO


@dataclass(frozen=True)
class ATLASettings(TermSettings):
    """ATLA's settings (``atla``).

    Args:
        adversary_lr: the learned adversary's learning rate (its other PPO settings are the
            agent's).
    """

    adversary_lr: float = 3e-3

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.adversary_lr > 0:
            raise ValueError(f"adversary_lr must be positive, got {self.adversary_lr}")


@dataclass(frozen=True)
class ATLASASettings(ATLASettings, SASettings):
    """ATLA-SA's settings (``atla_sa``).

    Args:
        adversary_lr: as :class:`ATLASettings`.
        coef: SA-PPO's ``kappa``, as :class:`~advrl.agents.robust.regularizers.SASettings`.
    """


class ATLATerm(RobustTerm):
    """ATLA: PPO's own loss; the robustness comes from the adversary's perturbed rollouts."""

    name = "atla"
    help = "ATLA: rollouts perturbed by a learned adversary trained in alternation"
    learned_adversary = True
    Settings = ATLASettings
    settings: ATLASettings

    def terms(self, model: RobustPPO, b: Minibatch, clean: Terms) -> Terms:
        return clean


class ATLASATerm(SA):
    """ATLA-SA: the learned adversary's rollouts and SA-PPO's regularizer."""

    name = "atla_sa"
    help = "ATLA with SA-PPO's regularizer"
    learned_adversary = True
    Settings = ATLASASettings
    settings: ATLASASettings


class PerturbedObservations(VecEnvWrapper):
    """The agent's VecEnv with every observation it is given perturbed by the adversary:
    ``obs + eps * clip(a, -1, 1)``, ``a`` the adversary's sampled action on ``obs`` (the
    normalized observation, under ``VecNormalize`` inside this wrapper). Without an adversary
    (or at eps 0) observations pass unchanged; the env's state is never touched."""

    def __init__(self, venv: VecEnv) -> None:
        super().__init__(venv)
        self.adversary: OnPolicyAlgorithm | None = None
        self.eps = 0.0

    def _perturb(self, obs: Any) -> Any:
        if self.adversary is None or self.eps == 0:
            return obs
        action, _ = self.adversary.predict(obs, deterministic=False)
        delta = self.eps * np.clip(np.asarray(action, np.float32), -1.0, 1.0)
        return (obs + delta).astype(obs.dtype, copy=False)

    def reset(self) -> Any:
        """Reset, then perturb the first observations."""
        return self._perturb(self.venv.reset())

    def step_wait(self) -> Any:
        """Step, then perturb the observations (a finished episode's first one included)."""
        obs, rewards, dones, infos = self.venv.step_wait()
        return self._perturb(obs), rewards, dones, infos


class _Alternate(BaseCallback):
    """Before each of the agent's rollouts: the adversary's iteration."""

    def __init__(self, atla: ATLA) -> None:
        super().__init__()
        self.atla = atla

    def _on_rollout_start(self) -> None:
        self.atla.adversary_iteration()

    def _on_step(self) -> bool:
        return True


class ATLA:
    """The alternation around an agent (a :class:`~advrl.agents.robust.RobustPPO` on a Box env):
    the adversary (SB3 PPO), its envs, and the wrapper that perturbs the agent's observations. It
    takes the place of GAIL in a run's trainer (``learn``, ``state_dict``).

    Args:
        model: the agent; its env is wrapped in :class:`PerturbedObservations`.
        make_env: one copy of the agent's env (unwrapped by VecNormalize).
        n_envs: the adversary's envs.
        ppo: the adversary's PPO keyword arguments (``n_steps``, ``learning_rate``, ...).
        seed: the adversary's seed.
        on_step: called on every env step of the adversary's rollouts.
    """

    def __init__(
        self,
        model: RobustPPO,
        make_env: Callable[[], gym.Env],
        n_envs: int,
        ppo: dict[str, Any],
        seed: int,
        on_step: Callable[[], None] | None = None,
    ) -> None:
        venv = model.get_env()
        assert venv is not None
        self.model = model
        self.wrapper = PerturbedObservations(venv)
        model.set_env(self.wrapper)
        normalizer = ObservationNormalizer.of_env(venv)
        units = model.adversarial.eps_units
        self.envs = [
            ObservationAdversaryEnv(make_env(), model, model.adversarial.eps, normalizer, units)
            for _ in range(n_envs)
        ]
        adversary_venv = VecNormalize(
            DummyVecEnv([lambda e=e: e for e in self.envs]),  # type: ignore[misc]
            norm_obs=False,
            norm_reward=True,
            gamma=float(ppo.get("gamma", 0.99)),
        )
        adversary_venv.seed(seed)
        self.adversary = PPO("MlpPolicy", adversary_venv, seed=seed, verbose=0, **ppo)
        self.wrapper.adversary = self.adversary
        self.on_step = on_step
        self._started = False

    def _sync(self) -> None:
        """The adversary's envs see the agent as it is now: its normalization, its eps."""
        venv = self.wrapper.venv
        normalizer = ObservationNormalizer.of_env(venv)
        eps = self.model.current_eps()
        self.wrapper.eps = eps
        for env in self.envs:
            env.normalizer = normalizer.to("cpu") if normalizer is not None else None
            env.eps = max(eps, 1e-12)

    def adversary_iteration(self) -> None:
        """One PPO iteration of the adversary against the agent as it is."""
        self._sync()
        if self.wrapper.eps == 0:
            return
        adversary = self.adversary
        assert adversary.env is not None
        if adversary._last_obs is None:  # (its first iteration)
            start_rollout(adversary)
        adversary.collect_rollouts(
            adversary.env, self._tick, adversary.rollout_buffer, adversary.n_steps
        )
        update(adversary)

    def learn(
        self, total_timesteps: int, callback: BaseCallback, reset_num_timesteps: bool = False
    ) -> None:
        """The agent's ``learn`` for ``total_timesteps`` more steps, the adversary's iteration
        before each of its rollouts."""
        if not self._started:
            self._tick = _Ticker(self.on_step)
            horizon = int(self.model.num_timesteps) + int(total_timesteps)  # the agent's
            setup_learning(self.adversary, horizon, self._tick)
            self.adversary.set_logger(PrefixLogger(self.model.logger, "adversary/"))
            self._started = True
        self.model.learn(
            total_timesteps,
            callback=CallbackList([_Alternate(self), callback]),
            reset_num_timesteps=reset_num_timesteps,
        )

    def state_dict(self) -> dict[str, Any]:
        """The adversary's networks, optimizer, counters and envs' random state."""
        return {"adversary": agent_state(self.adversary)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        load_agent_state(self.adversary, state["adversary"])


class _Ticker(BaseCallback):
    def __init__(self, on_step: Callable[[], None] | None) -> None:
        super().__init__()
        self.hook = on_step

    def _on_step(self) -> bool:
        if self.hook is not None:
            self.hook()
        return True
