"""GAIL (Ho & Ermon, 2016): SB3 PPO as the generator, rewarded by a discriminator.

Each PPO rollout is played under :class:`DiscriminatorReward`; at the end of the rollout (before PPO's
update) the discriminator takes ``epochs`` passes over the rollout's ``(s, a)`` pairs against as
many expert pairs, so the next rollout is rewarded by the updated D. PPO itself is SB3's, untouched.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.type_aliases import MaybeCallback
from stable_baselines3.common.vec_env import VecEnv

from advrl.agents.lipschitz import SingularValueClipping
from advrl.gail.absorbing import expert_pool
from advrl.gail.demos import Demonstrations, Transitions, take_rows
from advrl.gail.discriminator import Discriminator, RewardForm, discriminator_loss
from advrl.gail.reward_env import DiscriminatorReward


class GAIL:
    """The GAIL trainer: hands PPO a discriminator reward and trains the discriminator.

    Args:
        venv: the generator's env, observations as the demonstrations hold them.
        model: SB3 PPO (or another on-policy SB3 algorithm) built on ``venv``; its env is replaced
            by the discriminator-rewarded one.
        discriminator: D.
        demos: the expert's demonstrations (checked against ``venv``'s spaces).
        reward: reward form (``"gail"``: ``-log(1 - D)``, ``"logd"``, ``"logit"``).
        normalize_reward: scale rewards by the running std of the discounted return.
        learning_rate: Adam learning rate of D (the generator's is its PPO model's).
        batch_size: generator (and expert) pairs per D step.
        epochs: passes over each rollout's pairs per round.
        grad_penalty: weight of the gradient penalty (0: off).
        grad_penalty_center: the gradient norm it pulls toward (1: WGAN-GP's; 0: zero-centred).
        svc_bound: singular value clipping bound for D's weights (None: off).
        svc_every: D steps between clippings.
        seed: seed of expert sampling and of DiffAugment.
        unseen_demos: expert episodes D never trains on: each round logs D's accuracy on them
            and on as many of the training ones (both without augmentation), whose gap shows D
            memorizing its demonstrations.
    """

    def __init__(
        self,
        *,
        venv: VecEnv,
        model: BaseAlgorithm,
        discriminator: Discriminator,
        demos: Demonstrations,
        reward: RewardForm = "gail",
        normalize_reward: bool = True,
        learning_rate: float = 3e-4,
        batch_size: int = 256,
        epochs: int = 1,
        grad_penalty: float = 0.0,
        grad_penalty_center: float = 1.0,
        svc_bound: float | None = None,
        svc_every: int = 1,
        seed: int = 0,
        unseen_demos: Demonstrations | None = None,
    ) -> None:
        demos.check_spaces(venv.observation_space, venv.action_space, "the generator's env")
        if unseen_demos is not None:
            unseen_demos.check_spaces(venv.observation_space, venv.action_space, "the env")
        if batch_size < 1 or epochs < 1:
            raise ValueError("batch_size and epochs must be >= 1")
        self.model = model
        self.discriminator = discriminator
        self.demos = demos
        self.expert: Transitions = demos.transitions()
        # D's expert samples: every step, and with an absorbing D one absorbing state per
        # terminated episode
        self._expert_absorbing: np.ndarray | None = None
        self._expert_obs, self._expert_acts = self.expert.obs, self.expert.acts
        if discriminator.absorbing:
            self._expert_obs, self._expert_acts, self._expert_absorbing = expert_pool(self.expert)
        self.unseen: Transitions | None = (
            None if unseen_demos is None else unseen_demos.transitions()
        )
        # the fixed expert steps D's seen / unseen accuracy is measured on, drawn once
        self._probes = (
            []
            if self.unseen is None
            else [self._probe(self.expert, batch_size), self._probe(self.unseen, batch_size)]
        )
        self.batch_size = batch_size
        self.epochs = epochs
        self.grad_penalty = grad_penalty
        self.grad_penalty_center = grad_penalty_center
        gamma = float(getattr(model, "gamma", 0.99))
        if discriminator.absorbing and not gamma < 1:
            raise ValueError(f"absorbing states need the generator's gamma below 1, got {gamma}")
        self.reward_env = DiscriminatorReward(
            venv, discriminator, form=reward, normalize=normalize_reward, gamma=gamma
        )
        model.set_env(self.reward_env)
        self.optimizer = torch.optim.Adam(discriminator.parameters(), lr=learning_rate)
        self.svc = SingularValueClipping(discriminator, svc_bound, svc_every) if svc_bound else None
        self.rng = np.random.default_rng(seed)
        self.torch_rng = torch.Generator(device=discriminator.device).manual_seed(seed)
        self.rounds = 0

    def train_discriminator(self) -> dict[str, float]:
        """One round of D updates on the steps taken since the last round; returns the means logged."""
        gen_obs, gen_acts, gen_absorbing, rewards = self.reward_env.take_samples()
        n, n_expert = len(gen_acts), len(self._expert_acts)
        batch = min(self.batch_size, n)
        stats: dict[str, list[float]] = {}
        self.discriminator.train()
        for _ in range(self.epochs):
            order = self.rng.permutation(n)
            for start in range(0, n - batch + 1, batch):
                idx = order[start : start + batch]
                expert_idx = self.rng.integers(0, n_expert, size=batch)
                out = discriminator_loss(
                    self.discriminator,
                    take_rows(self._expert_obs, expert_idx),
                    self._expert_acts[expert_idx],
                    take_rows(gen_obs, idx),
                    gen_acts[idx],
                    grad_penalty=self.grad_penalty,
                    grad_penalty_center=self.grad_penalty_center,
                    generator=self.torch_rng,
                    expert_absorbing=_rows_of(self._expert_absorbing, expert_idx),
                    gen_absorbing=_rows_of(gen_absorbing, idx),
                )
                self.optimizer.zero_grad()
                out.loss.backward()
                self.optimizer.step()
                sigma = self.svc() if self.svc is not None else None
                for key, value in (
                    ("loss", out.bce),
                    ("grad_penalty", out.penalty),
                    ("expert_acc", out.expert_acc),
                    ("generator_acc", out.generator_acc),
                    ("expert_logit", out.expert_logit),
                    ("generator_logit", out.generator_logit),
                ):
                    stats.setdefault(key, []).append(value)
                if sigma is not None:
                    stats.setdefault("max_singular_value", []).append(sigma)
        self.rounds += 1
        means = {k: float(np.mean(v)) for k, v in stats.items()}
        means["reward_mean"] = float(rewards.mean())
        if self.discriminator.absorbing:
            means["absorbing_reward"] = self.discriminator.absorbing_reward(self.reward_env.form)
        if self._probes:
            seen, unseen = (self._expert_accuracy(*probe) for probe in self._probes)
            means["expert_acc_seen"], means["expert_acc_unseen"] = seen, unseen
        return means

    @staticmethod
    def _probe(expert: Transitions, size: int) -> tuple[Any, np.ndarray]:
        """Up to ``size`` of these expert steps, a fixed draw: ``(obs, acts)``."""
        rows = np.random.default_rng(0).permutation(len(expert))[:size]
        return take_rows(expert.obs, rows), expert.acts[rows]

    @torch.no_grad()
    def _expert_accuracy(self, obs: Any, acts: np.ndarray) -> float:
        """The share of these expert steps that D, without augmentation, calls expert."""
        self.discriminator.eval()
        try:
            logits = self.discriminator(obs, acts)
        finally:
            self.discriminator.train()
        return float((logits > 0).float().mean())

    def learn(
        self,
        total_timesteps: int,
        callback: MaybeCallback = None,
        *,
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> GAIL:
        """Train the generator (PPO) and the discriminator for ``total_timesteps`` env steps."""
        callbacks: list[BaseCallback] = [_DiscriminatorRound(self)]
        if isinstance(callback, list):
            callbacks += callback
        elif isinstance(callback, BaseCallback):
            callbacks.append(callback)
        elif callback is not None:
            raise TypeError("callback must be an SB3 BaseCallback or a list of them")
        self.model.learn(
            total_timesteps,
            callback=CallbackList(callbacks),
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )
        return self

    def state_dict(self) -> dict[str, Any]:
        """D, its optimizer, the reward normalizer and the round count (tensors and numbers)."""
        return {
            "discriminator": self.discriminator.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "reward_norm": self.reward_env.state_dict(),
            "rounds": self.rounds,
            "svc_calls": self.svc.calls if self.svc is not None else 0,
            "rng": json.dumps(self.rng.bit_generator.state),
            "torch_rng": self.torch_rng.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.discriminator.load_state_dict(state["discriminator"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.reward_env.load_state_dict(state["reward_norm"])
        self.rounds = int(state["rounds"])
        if self.svc is not None:
            self.svc.calls = int(state.get("svc_calls", 0))
        self.rng.bit_generator.state = json.loads(state["rng"])
        self.torch_rng.set_state(state["torch_rng"])


def _rows_of(mask: np.ndarray | None, index: np.ndarray) -> np.ndarray | None:
    return None if mask is None else mask[index]


class _DiscriminatorRound(BaseCallback):
    """Trains D at the end of each rollout and logs ``disc/*`` and the normalized score."""

    def __init__(self, trainer: GAIL) -> None:
        super().__init__()
        self.trainer = trainer

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        for key, value in self.trainer.train_discriminator().items():
            self.logger.record(f"disc/{key}", value)
        log_imitation_score(self.logger, self.model, self.trainer.demos)


def log_imitation_score(logger: Any, model: BaseAlgorithm, demos: Demonstrations) -> float | None:
    """Log ``imitation/true_return`` and ``imitation/normalized_score`` from SB3's episode buffer.

    Returns the mean true return logged (None: no episode has ended yet).
    """
    buffer = getattr(model, "ep_info_buffer", None)
    if not buffer:
        return None
    ret = float(np.mean([ep["r"] for ep in buffer]))
    logger.record("imitation/true_return", ret)
    if not (np.isnan(demos.expert_return) or np.isnan(demos.random_return)):
        logger.record("imitation/normalized_score", demos.normalized_score(ret))
    return ret
