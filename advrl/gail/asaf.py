"""ASAF (Barde et al., NeurIPS 2020): Adversarial Soft Advantage Fitting.

The discriminator is made of the policy itself. For a piece of trajectory ``tau`` (a whole episode,
a window of ``w`` steps, or one step), with ``pi_G`` the policy as it was when the round's episodes
were generated and ``pi_theta`` the policy being fitted,

    D(tau) = P_theta(tau) / (P_theta(tau) + P_G(tau)),   P(tau) = prod_t pi(a_t | s_t)

(the dynamics cancel), i.e. ``D = sigmoid(sum_t log pi_theta(a_t|s_t) - log pi_G(a_t|s_t))``. Each
round plays ``pi_G``, then fits ``pi_theta`` by the binary cross-entropy of D on expert (label 1) and
generated (label 0) pieces; the fitted policy is the next round's ``pi_G``. No reward, no value
function, no RL step. Variants: ASAF (``window=None``: whole episodes), ASAF-w (``window=w``) and
ASAF-1 (``window=1``).

The policy is an SB3 actor-critic policy inside an SB3 algorithm object (its value head is unused),
so a PPO policy trained by GAIL or by behaviour cloning can be fine-tuned with ASAF directly.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.policies import ActorCriticPolicy

from advrl.gail.bc import policy_actions
from advrl.gail.demos import Demonstrations, Obs, concat_obs, take_rows
from advrl.gail.gail import log_imitation_score


def asaf_logits(
    logp_theta: torch.Tensor, logp_g: torch.Tensor, segments: torch.Tensor, num_segments: int
) -> torch.Tensor:
    """Per-piece logit of D: ``sum_t (log pi_theta - log pi_G)`` over the steps of each piece.

    Args:
        logp_theta: ``[T]`` log-probabilities of the steps' actions under ``pi_theta``.
        logp_g: ``[T]`` the same under ``pi_G`` (constants).
        segments: ``[T]`` the piece each step belongs to, in ``[0, num_segments)``.
        num_segments: number of pieces.
    """
    diff = logp_theta - logp_g
    return torch.zeros(num_segments, dtype=diff.dtype, device=diff.device).index_add(
        0, segments, diff
    )


def asaf_loss(expert_logits: torch.Tensor, generator_logits: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of D: ``-mean(log D(expert)) - mean(log(1 - D(generated)))``."""
    return F.softplus(-expert_logits).mean() + F.softplus(generator_logits).mean()


@dataclass
class Pieces:
    """Steps cut into pieces (episodes or windows): steps of piece ``j`` are rows
    ``starts[j] : starts[j] + lengths[j]`` of ``obs``/``acts``/``logp_g``."""

    obs: Obs
    acts: np.ndarray
    logp_g: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray

    def __len__(self) -> int:
        return len(self.starts)

    def rows(self, pieces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows of the steps of ``pieces`` and, for each, its position in ``pieces``."""
        lengths = self.lengths[pieces]
        segment = np.repeat(np.arange(len(pieces)), lengths)
        offsets = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        return np.repeat(self.starts[pieces], lengths) + offsets, segment


def cut(lengths: np.ndarray, window: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Cut trajectories of ``lengths`` (stored back to back) into windows of ``window`` steps.

    The last window of a trajectory may be shorter; ``window=None`` keeps whole trajectories.
    Returns the windows' start rows and lengths.
    """
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    if window is None:
        return starts, np.asarray(lengths, dtype=np.int64)
    win_starts, win_lengths = [], []
    for s, n in zip(starts, lengths, strict=True):
        offsets = np.arange(0, n, window)
        win_starts.append(s + offsets)
        win_lengths.append(np.minimum(window, n - offsets))
    return np.concatenate(win_starts), np.concatenate(win_lengths)


class ASAF:
    """The ASAF trainer.

    Args:
        model: an SB3 on-policy algorithm (PPO) whose actor-critic policy is fitted and whose env is
            played; its ``learn`` is not used. Its policy optimizer is used with ``learning_rate``.
        demos: the expert's demonstrations (checked against the env's spaces).
        window: steps per piece: None (ASAF, whole episodes), ``w`` (ASAF-w), 1 (ASAF-1).
        rollout_episodes: episodes generated per round (whole-episode ASAF).
        rollout_steps: steps generated per round (windowed ASAF; across all envs).
        n_epochs: passes over the round's generated pieces.
        batch_size: generated (and expert) pieces per gradient step.
        learning_rate: Adam learning rate.
        max_grad_norm: gradient clipping.
        seed: seed of the batch sampling.
        on_step: called on every env step of its rollouts (a progress display's refresh).
    """

    def __init__(
        self,
        *,
        model: BaseAlgorithm,
        demos: Demonstrations,
        window: int | None = None,
        rollout_episodes: int = 10,
        rollout_steps: int = 2000,
        n_epochs: int = 10,
        batch_size: int = 10,
        learning_rate: float = 1e-3,
        max_grad_norm: float = 1.0,
        seed: int = 0,
        on_step: Callable[[], None] | None = None,
    ) -> None:
        if not isinstance(model.policy, ActorCriticPolicy):
            raise ValueError("ASAF fits an SB3 ActorCriticPolicy (e.g. a PPO model's policy)")
        venv = model.get_env()
        if venv is None:
            raise ValueError("the model has no env to play")
        if window is not None and window < 1:
            raise ValueError(f"window must be >= 1 or None (whole episodes), got {window}")
        if min(rollout_episodes, rollout_steps, n_epochs, batch_size) < 1:
            raise ValueError(
                "rollout_episodes, rollout_steps, n_epochs and batch_size must be >= 1"
            )
        demos.check_spaces(model.observation_space, model.action_space, "the policy's env")
        self.model = model
        self.policy: ActorCriticPolicy = model.policy
        self.venv = venv
        self.demos = demos
        self.window = window
        self.rollout_episodes = rollout_episodes
        self.rollout_steps = rollout_steps
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.max_grad_norm = max_grad_norm
        self.on_step = on_step
        self.optimizer = self.policy.optimizer
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate
        self.rng = np.random.default_rng(seed)
        self._expert_obs = demos.transitions().obs
        self._expert_starts, self._expert_lengths = cut(demos.lengths, window)
        self._last_obs: Any = None
        self.rounds = 0
        if getattr(model, "_logger", None) is None:  # a silent logger unless one was set
            model.set_logger(Logger(folder=None, output_formats=[]))
        if model.ep_info_buffer is None:  # set by SB3's learn(), which ASAF does not call
            model.ep_info_buffer = deque(maxlen=model._stats_window_size)
            model.ep_success_buffer = deque(maxlen=model._stats_window_size)

    # ------------------------------------------------------------------ log-probabilities
    def _obs_tensor(self, obs: Obs) -> Any:
        tensor, _ = self.policy.obs_to_tensor(obs)
        return tensor

    def log_prob(self, obs: Obs, acts: np.ndarray, chunk: int = 8192) -> torch.Tensor:
        """``log pi_theta(a|s)`` per step (with gradient)."""
        n = len(acts)
        out = []
        for start in range(0, n, chunk):
            rows = np.arange(start, min(n, start + chunk))
            _, logp, _ = self.policy.evaluate_actions(
                self._obs_tensor(take_rows(obs, rows)), policy_actions(self.policy, acts[rows])
            )
            out.append(logp)
        return torch.cat(out)

    # ------------------------------------------------------------------ rounds
    def collect(self) -> tuple[Pieces, int]:
        """Play ``pi_G``: whole episodes (ASAF) or ``rollout_steps`` steps (ASAF-w, ASAF-1).

        Returns the generated pieces and the env steps taken.
        """
        venv, n_envs = self.venv, self.venv.num_envs
        whole = self.window is None
        if whole or self._last_obs is None:
            self._last_obs = venv.reset()
        obs_steps: list[Any] = []
        act_steps: list[np.ndarray] = []
        logp_steps: list[np.ndarray] = []
        open_rows: list[list[int]] = [[] for _ in range(n_envs)]  # rows of unfinished trajectories
        trajectories: list[list[int]] = []
        steps = 0
        self.policy.set_training_mode(False)
        space = self.model.action_space
        while len(trajectories) < self.rollout_episodes if whole else steps < self.rollout_steps:
            with torch.no_grad():
                actions, _, logp = self.policy(self._obs_tensor(self._last_obs))
            actions_np = actions.cpu().numpy()
            env_actions = actions_np
            if isinstance(space, spaces.Box):
                env_actions = np.clip(actions_np, space.low, space.high)
            obs, _, dones, infos = venv.step(env_actions)
            self.model._update_info_buffer(infos, dones)
            obs_steps.append(self._last_obs)
            act_steps.append(actions_np)
            logp_steps.append(logp.cpu().numpy())
            for i in range(n_envs):
                open_rows[i].append(steps + i)  # row of (this step, env i) in the stacked arrays
                if dones[i]:
                    trajectories.append(open_rows[i])
                    open_rows[i] = []
            self._last_obs = obs
            steps += n_envs
            if self.on_step is not None:
                self.on_step()
        self.model.num_timesteps += steps
        if not whole:
            trajectories += [rows for rows in open_rows if rows]
        order = np.array([r for rows in trajectories for r in rows], dtype=np.int64)
        lengths = np.array([len(rows) for rows in trajectories], dtype=np.int64)
        starts, piece_lengths = cut(lengths, self.window)
        return (
            Pieces(
                obs=take_rows(concat_obs(obs_steps), order),
                acts=np.concatenate(act_steps)[order],
                logp_g=np.concatenate(logp_steps).astype(np.float32)[order],
                starts=starts,
                lengths=piece_lengths,
            ),
            steps,
        )

    def expert_pieces(self) -> Pieces:
        """The demonstrations cut into pieces, with ``log pi_G`` of the current policy."""
        with torch.no_grad():
            logp_g = self.log_prob(self._expert_obs, self.demos.acts).cpu().numpy()
        return Pieces(
            obs=self._expert_obs,
            acts=self.demos.acts,
            logp_g=logp_g,
            starts=self._expert_starts,
            lengths=self._expert_lengths,
        )

    def _piece_logits(self, pieces: Pieces, chosen: np.ndarray) -> torch.Tensor:
        rows, segment = pieces.rows(chosen)
        logp = self.log_prob(take_rows(pieces.obs, rows), pieces.acts[rows])
        logp_g = torch.as_tensor(pieces.logp_g[rows], device=logp.device)
        seg = torch.as_tensor(segment, device=logp.device)
        return asaf_logits(logp, logp_g, seg, len(chosen))

    def fit(self, generated: Pieces, expert: Pieces) -> dict[str, float]:
        """Fit ``pi_theta`` on one round's pieces; returns the means logged."""
        self.policy.set_training_mode(True)
        stats: dict[str, list[float]] = {}
        batch = min(self.batch_size, len(generated))
        for _ in range(self.n_epochs):
            order = self.rng.permutation(len(generated))
            for start in range(0, len(order) - batch + 1, batch):
                gen_idx = order[start : start + batch]
                exp_idx = self.rng.integers(0, len(expert), size=batch)
                le = self._piece_logits(expert, exp_idx)
                lg = self._piece_logits(generated, gen_idx)
                loss = asaf_loss(le, lg)
                self.optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
                self.optimizer.step()
                for key, value in (
                    ("loss", float(loss.detach())),
                    ("expert_acc", float((le > 0).float().mean())),
                    ("generator_acc", float((lg < 0).float().mean())),
                    ("expert_logit", float(le.detach().mean())),
                    ("generator_logit", float(lg.detach().mean())),
                ):
                    stats.setdefault(key, []).append(value)
        self.rounds += 1
        return {k: float(np.mean(v)) for k, v in stats.items()}

    def state_dict(self) -> dict[str, Any]:
        """Round count and batch-sampling RNG (the policy and optimizer live in the model)."""
        return {"rounds": self.rounds, "rng": json.dumps(self.rng.bit_generator.state)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.rounds = int(state["rounds"])
        self.rng.bit_generator.state = json.loads(state["rng"])

    def learn(
        self,
        total_timesteps: int,
        callback: Callable[[ASAF, dict[str, float]], None] | None = None,
    ) -> ASAF:
        """Run rounds until ``total_timesteps`` env steps in all (counting the model's earlier ones).

        ``callback(trainer, stats)`` runs after every round (logging, evaluation, checkpoints).
        """
        start, start_steps = time.perf_counter(), self.model.num_timesteps
        while self.model.num_timesteps < total_timesteps:
            expert = self.expert_pieces()
            generated, _ = self.collect()
            if len(generated) == 0:
                continue
            stats = self.fit(generated, expert)
            stats["pieces"] = float(len(generated))
            logger = self.model.logger
            for key, value in stats.items():
                logger.record(f"asaf/{key}", value)
            ret = log_imitation_score(logger, self.model, self.demos)
            if ret is not None:  # SB3's learn() logs these for PPO; ASAF has no learn()
                logger.record("rollout/ep_rew_mean", ret)
                lengths = [ep["l"] for ep in self.model.ep_info_buffer or ()]
                logger.record("rollout/ep_len_mean", float(np.mean(lengths)))
            elapsed = time.perf_counter() - start
            if elapsed > 0:
                logger.record("time/fps", int((self.model.num_timesteps - start_steps) / elapsed))
            logger.record("time/rounds", self.rounds)
            logger.record("time/total_timesteps", self.model.num_timesteps, exclude="tensorboard")
            try:  # the round's row is written even when the callback stops the run
                if callback is not None:
                    callback(self, stats)
            finally:
                logger.dump(self.model.num_timesteps)
        return self
