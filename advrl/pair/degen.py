"""DEGen: a generator that builds each level as the student first sees it, paid per student step
(Mead et al., 2025, "Improving Regret Approximation for Unsupervised Dynamic Environment
Generation").

Each slot's level starts on an empty grid at the start of the student's rollout; before every
observation the generator fills the cells of the student's view that are not built yet, one
decision per cell: which of them, and what it holds (floor, wall, or the goal, which is placed
once). An episode that ends within the rollout replays the level as built so far, and building
goes on (the paper's auto-replay), so each slot holds one level per rollout. The student plays and
learns on these levels with PPO as on any others. The generator's reward is dense: each student
step's maximised negative advantage, ``-A_t`` with ``A_t`` the student's clipped advantage
(:func:`~advrl.pair.scores.clipped_advantages`), gated on the student having solved the slot's
level in the rollout (a level never solved pays nothing), is credited to the generator's last
decision before that step. So the decision that built
a region is paid for what the student then fails to learn there, instead of one number per level
on a designer's last step. The generator is trained with PPO; its entropy bonus is anchored to a
fixed mix of what a cell holds, ``H(cell) - KL(pi_kind || [0.495, 0.495, 0.01])``, which keeps it
from emptying its levels.

Simplifications against the paper's code, stated: the generator is feed-forward (theirs: an LSTM
of 256), sees the student's view, which cells are buildable, the direction, whether the goal is
placed and the episode's time (not the student's value estimate); its decisions after a
student's last step of a rollout are not trained on; the rollout is the student's (256 steps in
the benchmark configs, where theirs plays 512 per level).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.logger import Logger
from torch import nn

from advrl.envs.batched import UNSEEN, BuildRequest
from advrl.pair.levels import LevelFamily
from advrl.pair.students import RolloutResult, Student
from advrl.pair.teachers import Proposal, Teacher

KIND_PRIOR = (0.495, 0.495, 0.01)
"""The mix the kind head's entropy term is anchored to: floor, wall, goal (the paper's)."""
VIEW_CODES = 4
"""What a view cell shows the generator: not built, floor, wall, goal."""


class GeneratorNet(nn.Module):
    """The generator's actor-critic: which buildable cell, what it holds, and a value.

    Args:
        cells: cells of the student's view (``v * v``).
        hidden: width of the two hidden layers.
    """

    def __init__(self, cells: int, hidden: int = 128) -> None:
        super().__init__()
        inputs = cells * VIEW_CODES + cells + 4 + 2
        self.trunk = nn.Sequential(
            nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU()
        )
        self.cell = nn.Linear(hidden, cells)
        self.kind = nn.Linear(hidden, 3)
        self.value = nn.Linear(hidden, 1)

    def forward(
        self, x: torch.Tensor, buildable: torch.Tensor, goal_placed: torch.Tensor
    ) -> tuple[torch.distributions.Categorical, torch.distributions.Categorical, torch.Tensor]:
        """The masked cell and kind distributions and the value of each row."""
        h = self.trunk(x)
        cell_logits = self.cell(h).masked_fill(~buildable, -1e9)
        kind_logits = self.kind(h)
        no_goal = torch.zeros_like(kind_logits, dtype=torch.bool)
        no_goal[:, 2] = goal_placed
        kind_logits = kind_logits.masked_fill(no_goal, -1e9)
        return (
            torch.distributions.Categorical(logits=cell_logits),
            torch.distributions.Categorical(logits=kind_logits),
            self.value(h).squeeze(-1),
        )


def features(request: BuildRequest, max_steps: int) -> torch.Tensor:
    """The generator's input for each requested slot: the view (one-hot: not built, floor, wall,
    goal), the buildable cells, the direction (one-hot), whether the goal is placed, the time."""
    from advrl.envs.batched import EMPTY, GOAL, WALL

    view = request.view.long()
    code = torch.zeros_like(view)  # 0: not built (or the agent's own cell, built: floor)
    code[view == EMPTY] = 1
    code[view == WALL] = 2
    code[view == GOAL] = 3
    code[view == UNSEEN] = 0
    parts = [
        nn.functional.one_hot(code, VIEW_CODES).flatten(1).float(),
        request.buildable.float(),
        nn.functional.one_hot(request.direction.long(), 4).float(),
        request.goal_placed.float().view(-1, 1),
        (request.t.float() / max_steps).view(-1, 1),
    ]
    return torch.cat(parts, dim=1)


@dataclass
class _Decisions:
    """The generator's decisions of one rollout, in the order taken."""

    x: list[torch.Tensor]
    buildable: list[torch.Tensor]
    goal_placed: list[torch.Tensor]
    cell: list[torch.Tensor]
    kind: list[torch.Tensor]
    log_prob: list[torch.Tensor]
    value: list[torch.Tensor]
    env: list[torch.Tensor]
    level: list[torch.Tensor]
    step: list[int]

    @classmethod
    def empty(cls) -> _Decisions:
        return cls([], [], [], [], [], [], [], [], [], [])


def credit(env: np.ndarray, step: np.ndarray, step_rewards: np.ndarray) -> np.ndarray:
    """Each decision's reward: the rewards of the student steps from the step it precedes up to
    the step the env's next decision precedes (the last decision before a step takes it).

    Args:
        env: ``[d]`` the env slot of each decision, in the order taken.
        step: ``[d]`` the student step each decision precedes.
        step_rewards: ``[steps, envs]`` the reward of every student step.
    """
    steps = step_rewards.shape[0]
    out = np.zeros(len(env))
    for e in np.unique(env):
        rows = np.flatnonzero(env == e)
        bounds = np.append(step[rows], steps)
        for k, row in enumerate(rows):
            start, stop = bounds[k], max(bounds[k], bounds[k + 1])
            out[row] = step_rewards[start:stop, e].sum() if stop > start else 0.0
    return out


def generator_gae(
    rewards: np.ndarray,
    values: np.ndarray,
    env: np.ndarray,
    level: np.ndarray,
    gamma: float,
    gae_lambda: float,
) -> np.ndarray:
    """GAE over each env's decisions in order, a level's last decision ending its sequence (a
    level spans its replays). A level ends with the rollout (the next one starts a new level), and
    its last decision is already paid every student step to the rollout's end, so an env's last
    decision does not bootstrap."""
    advantages = np.zeros(len(rewards))
    for e in np.unique(env):
        rows = np.flatnonzero(env == e)
        running = 0.0
        for k in range(len(rows) - 1, -1, -1):
            row = rows[k]
            if k == len(rows) - 1:  # the level ends with the rollout
                next_value, alive = 0.0, 0.0
            else:
                nxt = rows[k + 1]
                alive = float(level[nxt] == level[row])
                next_value = values[nxt]
            delta = rewards[row] + gamma * next_value * alive - values[row]
            running = delta + gamma * gae_lambda * alive * running
            advantages[row] = running
    return advantages


class DEGen(Teacher):
    """The dynamic generator (see the module docstring).

    Args:
        family: the levels' family (the maze's).
        seed: seed of the generator's network and sampling.
        hidden: width of its hidden layers.
        learning_rate: Adam's step size.
        n_epochs: passes over a rollout's decisions.
        minibatches: minibatches per pass.
        gamma: the generator's discount.
        gae_lambda: its GAE lambda.
        clip_range: PPO's clipping.
        ent_coef: weight of the anchored entropy term.
        vf_coef: weight of the value loss.
        max_grad_norm: gradient norm clipping.
    """

    def __init__(
        self,
        family: LevelFamily,
        *,
        seed: int = 0,
        hidden: int = 128,
        learning_rate: float = 1e-3,
        n_epochs: int = 4,
        minibatches: int = 4,
        gamma: float = 0.99,
        gae_lambda: float = 0.95,
        clip_range: float = 0.2,
        ent_coef: float = 0.05,
        vf_coef: float = 0.5,
        max_grad_norm: float = 0.5,
    ) -> None:
        self.family = family
        self.hidden = int(hidden)
        self.learning_rate = float(learning_rate)
        self.n_epochs, self.minibatches = int(n_epochs), int(minibatches)
        self.gamma, self.gae_lambda = float(gamma), float(gae_lambda)
        self.clip_range, self.ent_coef = float(clip_range), float(ent_coef)
        self.vf_coef, self.max_grad_norm = float(vf_coef), float(max_grad_norm)
        self.rng = torch.Generator().manual_seed(int(seed))
        self.seed = int(seed)
        self.net: GeneratorNet | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.max_steps = 250
        self.decisions = _Decisions.empty()
        self.prior = torch.tensor(KIND_PRIOR)
        self._env: Any = None

    # ------------------------------------------------------------------ the student's env
    def attach(self, protagonist: Student, antagonist: Student | None) -> None:
        """Build the protagonist's levels: its env must be the batched maze."""
        env = protagonist.model.env
        set_builder = getattr(env, "set_builder", None)
        if not callable(set_builder):
            raise ValueError(
                "degen builds levels as the student sees them on the batched maze: use a maze env "
                "(advrl/Maze-*) with env.backend auto or batched"
            )
        view = int(env.view)  # type: ignore[union-attr]
        self.max_steps = int(env.max_steps)  # type: ignore[union-attr]
        with torch.random.fork_rng(devices=[]):  # the network's initial weights, from its seed
            torch.manual_seed(self.seed)
            self.net = GeneratorNet(view * view, self.hidden)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=self.learning_rate, eps=1e-5)
        set_builder(self.build)
        self._env = env

    def build(self, request: BuildRequest) -> tuple[torch.Tensor, torch.Tensor]:
        """One decision per requested slot, sampled from the generator; recorded for its update."""
        assert self.net is not None, "attach the teacher to its student first"
        x = features(request, self.max_steps)
        with torch.no_grad():
            cell_dist, kind_dist, value = self.net(x, request.buildable, request.goal_placed)
            cell = torch.multinomial(cell_dist.probs, 1, generator=self.rng).squeeze(1)
            kind = torch.multinomial(kind_dist.probs, 1, generator=self.rng).squeeze(1)
            log_prob = cell_dist.log_prob(cell) + kind_dist.log_prob(kind)
        d = self.decisions
        d.x.append(x)
        d.buildable.append(request.buildable.clone())
        d.goal_placed.append(request.goal_placed.clone())
        d.cell.append(cell)
        d.kind.append(kind)
        d.log_prob.append(log_prob)
        d.value.append(value)
        d.env.append(request.envs.clone())
        d.level.append(request.level_ids.clone())
        d.step.extend([request.next_step] * len(request.envs))
        return cell, kind

    # ------------------------------------------------------------------ teaching
    def played_levels(self, proposal: Proposal) -> list[Any]:
        """Each slot's level as built by the end of the rollout (slots without a goal yet left
        out): the levels the runner's statistics describe."""
        return [level for level in self._env.built_levels() if level is not None]

    def propose(self, n: int) -> Proposal:
        """``n`` slots whose levels are built as they are played."""
        self.decisions = _Decisions.empty()
        return Proposal([None] * n, learn=True, source="new")

    def update(
        self, proposal: Proposal, protagonist: RolloutResult, antagonist: RolloutResult | None
    ) -> dict[str, float]:
        """Pay each decision the student's gated negative advantages it precedes; PPO update."""
        d = self.decisions
        if not d.env or protagonist.episode_starts is None:
            return {}
        step_rewards = protagonist.negative_advantages()  # gated on a level solved in the rollout
        env = torch.cat(d.env).numpy()
        level = torch.cat(d.level).numpy()
        step = np.asarray(d.step)
        steps = step_rewards.shape[0]
        keep = step < steps  # decisions after the student's last step are never paid
        rewards = credit(env[keep], step[keep], step_rewards)
        values = torch.cat(d.value).numpy()[keep]
        advantages = generator_gae(
            rewards, values, env[keep], level[keep], self.gamma, self.gae_lambda
        )
        batch = {
            "x": torch.cat(d.x)[keep],
            "buildable": torch.cat(d.buildable)[keep],
            "goal_placed": torch.cat(d.goal_placed)[keep],
            "cell": torch.cat(d.cell)[keep],
            "kind": torch.cat(d.kind)[keep],
            "log_prob": torch.cat(d.log_prob)[keep],
            "advantage": torch.as_tensor(advantages, dtype=torch.float32),
            "return": torch.as_tensor(advantages + values, dtype=torch.float32),
        }
        stats = self._ppo(batch)
        kinds = batch["kind"].numpy()
        return {
            "generator_reward": float(rewards.sum() / max(len(np.unique(env)), 1)),
            "generator_decisions": float(keep.sum()),
            "generator_wall_share": float((kinds == 1).mean()) if len(kinds) else 0.0,
            "generator_goals": float((kinds == 2).sum()),
            # levels still without a goal at the rollout's end: unsolvable (levels/* leave them out)
            "generator_no_goal": float((~self._env.goal_placed).float().mean()),
            "student_step_reward": float(step_rewards.mean()),
            **stats,
        }

    def _ppo(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """PPO's clipped update of the generator on one rollout's decisions."""
        assert self.net is not None and self.optimizer is not None
        n = len(batch["cell"])
        size = max(n // self.minibatches, 1)
        losses: dict[str, list[float]] = {"policy_loss": [], "value_loss": [], "entropy": []}
        for _ in range(self.n_epochs):
            order = torch.randperm(n, generator=self.rng)
            for start in range(0, n, size):
                rows = order[start : start + size]
                cell_dist, kind_dist, value = self.net(
                    batch["x"][rows], batch["buildable"][rows], batch["goal_placed"][rows]
                )
                log_prob = cell_dist.log_prob(batch["cell"][rows]) + kind_dist.log_prob(
                    batch["kind"][rows]
                )
                adv = batch["advantage"][rows]
                if len(adv) > 1:
                    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                ratio = torch.exp(log_prob - batch["log_prob"][rows])
                clipped = torch.clamp(ratio, 1 - self.clip_range, 1 + self.clip_range)
                policy_loss = -torch.min(ratio * adv, clipped * adv).mean()
                value_loss = nn.functional.mse_loss(value, batch["return"][rows])
                entropy = anchored_entropy(cell_dist, kind_dist, self.prior).mean()
                loss = policy_loss + self.vf_coef * value_loss - self.ent_coef * entropy
                self.optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(self.net.parameters(), self.max_grad_norm)
                self.optimizer.step()
                losses["policy_loss"].append(policy_loss.item())
                losses["value_loss"].append(value_loss.item())
                losses["entropy"].append(entropy.item())
        return {f"generator_{k}": float(np.mean(v)) for k, v in losses.items() if v}

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """The generator's network, optimizer and random state."""
        assert self.net is not None and self.optimizer is not None
        return {
            "net": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "rng": self.rng.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (after :meth:`attach`)."""
        assert self.net is not None and self.optimizer is not None
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.set_state(state["rng"])

    def start(self, total_timesteps: int, logger: Logger) -> None:
        """Nothing to set up beyond :meth:`attach`."""


def anchored_entropy(
    cell: torch.distributions.Categorical,
    kind: torch.distributions.Categorical,
    prior: torch.Tensor,
) -> torch.Tensor:
    """``H(cell) - KL(pi_kind || prior)`` per row: the generator's entropy term, which rewards
    spreading its choice of cell and holding what cells contain near ``prior``."""
    probs = kind.probs
    kl = (probs * (torch.log(probs.clamp_min(1e-12)) - torch.log(prior))).sum(-1)
    return cell.entropy() - kl
