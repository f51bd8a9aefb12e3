"""Teachers: where each UED method's levels come from, and what it learns from how they were played.

One class per method, picked from a table by the runner's caller (no ``if method == ...`` chains):

========================  =====================================================  ==============
teacher                   levels                                                 students learn
========================  =====================================================  ==============
:class:`DomainRandomization`  drawn at random                                    on every batch
:class:`PAIRED`           built by an adversary rewarded with regret             on every batch
:class:`Minimax`          built by an adversary rewarded with −protagonist's     on every batch
                          best return
:class:`PLR`              new random levels, or replayed from a scored buffer    replays only (⊥)
:class:`ACCEL`            PLR⊥, plus small random edits of the replayed levels   replays only
:class:`REPAIRED`         PLR⊥ whose new levels PAIRED's adversary designs       replays only
========================  =====================================================  ==============
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, get_args

import numpy as np
from stable_baselines3.common.logger import Logger

from advrl.pair.adversary import Adversary
from advrl.pair.buffer import LevelBuffer
from advrl.pair.levels import LevelFamily
from advrl.pair.scores import (
    RegretMode,
    max_monte_carlo,
    minimax_score,
    paired_regret,
    positive_value_loss,
)
from advrl.pair.students import RolloutResult, Student

LevelSource = Literal["new", "designed", "replay", "edit"]


@dataclass(frozen=True)
class Proposal:
    """A batch of levels for the students, one per slot.

    Attributes:
        levels: the levels.
        learn: whether the students take a gradient step on this batch.
        source: where they came from.
        buffer_indices: for replayed levels, their places in the PLR buffer.
    """

    levels: list[Any]
    learn: bool = True
    source: LevelSource = "new"
    buffer_indices: np.ndarray | None = None


@dataclass(frozen=True)
class Cloning:
    """Behavioural cloning between the students in one iteration (PAIRED's BiBC/UniBC).

    Attributes:
        coef: the weight of ``KL(pi_other || pi_self)`` in a student's PPO loss.
        both: both students imitate each other (BiBC); else the protagonist only (UniBC).
    """

    coef: float
    both: bool


def rng_state(rng: np.random.Generator) -> str:
    """A numpy generator's state as JSON text (checkpoint-safe)."""
    return json.dumps(rng.bit_generator.state)


def set_rng_state(rng: np.random.Generator, state: str) -> None:
    """Restore a state written by :func:`rng_state`."""
    rng.bit_generator.state = json.loads(state)


class Teacher(ABC):
    """Proposes levels and learns from the students' rollouts on them."""

    needs_antagonist: ClassVar[bool] = False
    """Whether the runner must play each batch with a second student (PAIRED)."""

    def attach(self, protagonist: Student, antagonist: Student | None) -> None:  # noqa: B027
        """Called once with the run's students, before :meth:`start` (a teacher that builds the
        protagonist's levels as they are played hooks into its env here)."""

    def start(self, total_timesteps: int, logger: Logger) -> None:  # noqa: B027
        """Called once before the first proposal (adversaries set up SB3 here)."""

    @abstractmethod
    def propose(self, n: int) -> Proposal:
        """The next ``n`` levels."""

    @abstractmethod
    def update(
        self,
        proposal: Proposal,
        protagonist: RolloutResult,
        antagonist: RolloutResult | None,
    ) -> dict[str, float]:
        """Learn from the rollouts on ``proposal``; returns scalars to log (``ued/<key>``)."""

    def played_levels(self, proposal: Proposal) -> list[Any]:
        """The levels the students played for ``proposal`` (what the runner's level statistics
        and images describe): the proposal's own, unless the teacher builds them in play."""
        return list(proposal.levels)

    def cloning(self, iteration: int) -> Cloning | None:
        """Whether the students imitate each other in iteration ``iteration`` (0-based), and how."""
        return None

    def state_dict(self) -> dict[str, Any]:
        """Checkpoint-safe state (the adversary's networks are saved with the other agents)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:  # noqa: B027
        """Restore :meth:`state_dict`."""


class DomainRandomization(Teacher):
    """Uniformly random levels from the family (PAIRED's DR baseline).

    Args:
        family: the levels.
        seed: seed of the level draws.
    """

    def __init__(self, family: LevelFamily, seed: int = 0) -> None:
        self.family = family
        self.rng = np.random.default_rng(seed)

    def propose(self, n: int) -> Proposal:
        """``n`` random levels."""
        return Proposal([self.family.sample(self.rng) for _ in range(n)])

    def update(
        self, proposal: Proposal, protagonist: RolloutResult, antagonist: RolloutResult | None
    ) -> dict[str, float]:
        """Nothing to learn."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """The generator state."""
        return {"rng": rng_state(self.rng)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the generator state."""
        set_rng_state(self.rng, state["rng"])


class _AdversaryTeacher(Teacher):
    """Levels designed by an adversary that is rewarded with a per-level score."""

    def __init__(self, adversary: Adversary) -> None:
        self.adversary = adversary
        self.last_scores: np.ndarray | None = None
        """The scores of the last update's levels (the runner logs their histogram)."""

    def start(self, total_timesteps: int, logger: Logger) -> None:
        """Set up the adversary's SB3 state."""
        self.adversary.start(total_timesteps, logger)

    def propose(self, n: int) -> Proposal:
        """One design per adversary slot."""
        if n != self.adversary.num_levels:
            raise ValueError(f"the adversary designs {self.adversary.num_levels} levels, not {n}")
        return Proposal(self.adversary.design(), source="designed")

    @abstractmethod
    def scores(self, protagonist: RolloutResult, antagonist: RolloutResult | None) -> np.ndarray:
        """The adversary's reward for each level."""

    def update(
        self, proposal: Proposal, protagonist: RolloutResult, antagonist: RolloutResult | None
    ) -> dict[str, float]:
        """Reward the adversary's last design step with the scores; PPO update."""
        scores = self.scores(protagonist, antagonist)
        self.adversary.reward(scores)
        self.last_scores = scores
        return {"adversary_reward": float(scores.mean())}


class PAIRED(_AdversaryTeacher):
    """PAIRED (Dennis et al., 2020): the adversary is rewarded with the regret of each level.

    Regret = antagonist's best episode return − protagonist's mean episode return on the level
    (see :func:`~advrl.pair.scores.paired_regret` for the other estimators it can use). The
    students need no special objective: each maximizes its own return, which makes the antagonist
    raise the regret and the protagonist lower it.

    Args:
        adversary: the designer agent.
        regret: ``clipped`` (PAIRED), ``unclipped``, ``flexible``, ``mean`` or ``flexible-mean``;
            or ``mna``: the protagonist's maximised negative advantage on the levels it solved
            (Mead et al. 2025), which uses no antagonist's returns.
        cloning: behavioural cloning between the students (Mediratta et al. 2023): ``none``,
            ``bibc`` (each student's PPO loss adds ``cloning_coef * KL(pi_other || pi_self)``, the
            other frozen) or ``unibc`` (the protagonist's only).
        cloning_coef: the KL's weight.
        cloning_every: the term is on in iterations ``k * cloning_every - 1`` (as dcd's
            ``(num_updates + 1) % kl_update_step == 0``).
    """

    needs_antagonist = True

    def __init__(
        self,
        adversary: Adversary,
        regret: RegretMode = "clipped",
        *,
        cloning: Literal["none", "bibc", "unibc"] = "none",
        cloning_coef: float = 0.1,
        cloning_every: int = 25,
    ) -> None:
        super().__init__(adversary)
        if cloning not in ("none", "bibc", "unibc"):
            raise ValueError(f"cloning must be 'none', 'bibc' or 'unibc', got {cloning!r}")
        if cloning_coef <= 0 or cloning_every < 1:
            raise ValueError(
                f"cloning_coef must be > 0 and cloning_every >= 1, got {cloning_coef} and "
                f"{cloning_every}"
            )
        self.regret = regret
        self._cloning = (
            None if cloning == "none" else Cloning(float(cloning_coef), both=cloning == "bibc")
        )
        self.cloning_every = int(cloning_every)

    def cloning(self, iteration: int) -> Cloning | None:
        """The cloning of the settings, in every ``cloning_every``-th iteration."""
        if self._cloning is None or (iteration + 1) % self.cloning_every:
            return None
        return self._cloning

    def scores(self, protagonist: RolloutResult, antagonist: RolloutResult | None) -> np.ndarray:
        """Per-level regret."""
        if self.regret == "mna":  # the protagonist's shortfall on levels it solved
            return protagonist.negative_advantage()
        if antagonist is None:
            raise ValueError("PAIRED needs the antagonist's rollout")
        return paired_regret(protagonist.returns, antagonist.returns, self.regret)

    def update(
        self, proposal: Proposal, protagonist: RolloutResult, antagonist: RolloutResult | None
    ) -> dict[str, float]:
        """Reward with regret; log it and where it comes from.

        Besides the mean regret: the share of levels with positive regret (the adversary's only
        learning signal under clipping), the antagonist's lead (unclipped regret: its best return
        minus the protagonist's mean), and the share of levels that only the antagonist solved.
        """
        metrics = super().update(proposal, protagonist, antagonist)
        assert antagonist is not None and self.last_scores is not None
        p_mean = protagonist.mean_return
        metrics["regret"] = metrics["adversary_reward"]
        metrics["regret_positive_share"] = float((self.last_scores > 0).mean())
        metrics["antagonist_lead"] = float((antagonist.max_return - p_mean).mean())
        metrics["antagonist_only_solved"] = float((antagonist.solved & ~protagonist.solved).mean())
        return metrics


class Minimax(_AdversaryTeacher):
    """The minimax adversary: rewarded with minus the protagonist's best return on each level.

    Args:
        adversary: the designer agent.
    """

    def scores(self, protagonist: RolloutResult, antagonist: RolloutResult | None) -> np.ndarray:
        """``-max_return`` of the protagonist."""
        return minimax_score(protagonist.returns)


ScoreName = Literal["pvl", "maxmc", "mna"]
SCORE_NAMES: tuple[ScoreName, ...] = get_args(ScoreName)


class PLR(Teacher):
    """Robust prioritized level replay, PLR⊥ (Jiang et al., 2021).

    Each batch is, with probability ``replay_prob`` (once the buffer holds a batch's worth), levels
    replayed from the :class:`~advrl.pair.buffer.LevelBuffer`, on which the students learn; else new
    random levels, which the students only play to score (robust PLR: no gradient on them; with
    ``robust=False`` they learn on both, as the original PLR). Every level played is scored from the
    protagonist's rollout by positive value loss (``pvl``), MaxMC (``maxmc``) or the maximised negative
    advantage (``mna``, 0 until a level is first solved); replayed levels take
    the new score, new ones are offered to the buffer.

    Args:
        family: the levels.
        buffer: the scored level buffer.
        replay_prob: probability of a replay batch.
        score: ``pvl`` or ``maxmc``.
        robust: no gradient updates on new levels (PLR⊥).
        new_levels: ``random`` (domain randomization) or ``blank`` (the family's simplest level).
        seed: seed of the teacher's draws.
    """

    def __init__(
        self,
        family: LevelFamily,
        buffer: LevelBuffer,
        *,
        replay_prob: float = 0.5,
        score: ScoreName = "pvl",
        robust: bool = True,
        new_levels: Literal["random", "blank"] = "random",
        seed: int = 0,
    ) -> None:
        if not 0.0 <= replay_prob <= 1.0:
            raise ValueError(f"replay_prob must be in [0, 1], got {replay_prob}")
        if score not in SCORE_NAMES:
            raise ValueError(f"score must be one of {SCORE_NAMES}, got {score!r}")
        if new_levels not in ("random", "blank"):
            raise ValueError(f"new_levels must be 'random' or 'blank', got {new_levels!r}")
        self.family = family
        self.buffer = buffer
        self.replay_prob = float(replay_prob)
        self.score = score
        self.robust = bool(robust)
        self.new_levels = new_levels
        self.rng = np.random.default_rng(seed)

    # ------------------------------------------------------------------ proposing
    def new_batch(self, n: int) -> Proposal:
        """``n`` new levels."""
        draw = self.family.sample if self.new_levels == "random" else self.family.blank
        return Proposal([draw(self.rng) for _ in range(n)], learn=not self.robust, source="new")

    def replay_batch(self, n: int) -> Proposal:
        """``n`` levels drawn from the buffer by its replay distribution."""
        idx = self.buffer.sample(n, self.rng)
        self.buffer.played(idx.tolist())
        levels = [self.buffer.levels[i] for i in idx]
        return Proposal(levels, learn=True, source="replay", buffer_indices=idx)

    def propose(self, n: int) -> Proposal:
        """Replay with probability ``replay_prob`` once the buffer holds ``n`` levels, else new."""
        ready = len(self.buffer) >= min(n, self.buffer.capacity)
        if ready and self.rng.random() < self.replay_prob:
            return self.replay_batch(n)
        return self.new_batch(n)

    # ------------------------------------------------------------------ scoring
    def level_scores(self, result: RolloutResult, best_returns: np.ndarray) -> np.ndarray:
        """The regret estimate of each level from the protagonist's rollout."""
        if self.score == "pvl":
            return positive_value_loss(result.advantages)
        if self.score == "mna":  # gated on the level having ever been solved
            return result.negative_advantage(solved=np.asarray(best_returns) > 0)
        return max_monte_carlo(result.values, best_returns)

    def update(
        self, proposal: Proposal, protagonist: RolloutResult, antagonist: RolloutResult | None
    ) -> dict[str, float]:
        """Score the levels; update replayed ones, offer new ones to the buffer."""
        rollout_best = protagonist.max_return
        if proposal.source == "replay":
            assert proposal.buffer_indices is not None
            idx = proposal.buffer_indices.tolist()
            self.buffer.record_returns(idx, rollout_best)
            scores = self.level_scores(protagonist, self.buffer.best_returns[idx])
            self.buffer.update(idx, scores)
            inserted = 0
        else:
            best = rollout_best.copy()
            for j, level in enumerate(proposal.levels):
                held = self.buffer.find(level)
                if held is not None:
                    best[j] = max(best[j], self.buffer.best_returns[held])
            scores = self.level_scores(protagonist, best)
            inserted = sum(
                self.buffer.insert(level, s, b) is not None
                for level, s, b in zip(proposal.levels, scores, best, strict=True)
            )
        return {
            "replay": float(proposal.source == "replay"),
            "level_score": float(np.mean(scores)),
            "buffer_size": float(len(self.buffer)),
            "buffer_score_mean": float(self.buffer.scores.mean()) if len(self.buffer) else 0.0,
            "buffer_score_max": float(self.buffer.scores.max()) if len(self.buffer) else 0.0,
            "buffer_staleness_mean": float((self.buffer.clock - self.buffer.last_played).mean())
            if len(self.buffer)
            else 0.0,
            "buffer_inserted": float(inserted),
        }

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """The buffer and the generator."""
        return {"rng": rng_state(self.rng), "buffer": self.buffer.state_dict(self.family.encode)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the buffer and the generator."""
        set_rng_state(self.rng, state["rng"])
        self.buffer.load_state_dict(state["buffer"], self.family.decode)


class ACCEL(PLR):
    """ACCEL (Parker-Holder et al., 2022): PLR⊥ whose replayed levels are edited and offered back.

    After a replay batch (on which the students learn), the next batch is the same levels each
    changed by ``num_edits`` small random edits (:meth:`LevelFamily.edit`); the students play them
    without a gradient step, they are scored like new levels and enter the buffer if they score high.
    New levels start from the family's blank level by default (ACCEL's empty rooms).

    Args:
        family: the levels.
        buffer: the scored level buffer.
        num_edits: edits per child level.
        replay_prob: probability of a replay batch (when no children are waiting).
        score: ``pvl`` or ``maxmc``.
        new_levels: ``blank`` or ``random``.
        seed: seed of the teacher's draws.
    """

    def __init__(
        self,
        family: LevelFamily,
        buffer: LevelBuffer,
        *,
        num_edits: int = 5,
        replay_prob: float = 0.8,
        score: ScoreName = "pvl",
        new_levels: Literal["random", "blank"] = "blank",
        seed: int = 0,
    ) -> None:
        super().__init__(
            family,
            buffer,
            replay_prob=replay_prob,
            score=score,
            robust=True,
            new_levels=new_levels,
            seed=seed,
        )
        if num_edits < 1:
            raise ValueError(f"num_edits must be >= 1, got {num_edits}")
        self.num_edits = int(num_edits)
        self.parents: list[Any] = []

    def propose(self, n: int) -> Proposal:
        """Edited children of the last replay batch if there are any, else as PLR."""
        if self.parents:
            children = [self.family.edit(p, self.rng, self.num_edits) for p in self.parents]
            self.parents = []
            return Proposal(children, learn=False, source="edit")
        return super().propose(n)

    def update(
        self, proposal: Proposal, protagonist: RolloutResult, antagonist: RolloutResult | None
    ) -> dict[str, float]:
        """As PLR; after a replay batch, remember its levels as the next parents."""
        metrics = super().update(proposal, protagonist, antagonist)
        if proposal.source == "replay":
            self.parents = list(proposal.levels)
        metrics["edit"] = float(proposal.source == "edit")
        return metrics

    def state_dict(self) -> dict[str, Any]:
        """PLR's state and the waiting parents."""
        state = super().state_dict()
        state["parents"] = [self.family.encode(p) for p in self.parents]
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore PLR's state and the waiting parents."""
        super().load_state_dict(state)
        self.parents = [self.family.decode(p) for p in state.get("parents", [])]


class REPAIRED(PLR):
    """REPAIRED (Jiang et al., 2021, "Replay-Guided Adversarial Environment Design"): PLR⊥ whose
    new levels are designed by PAIRED's adversary.

    Each batch is, with probability ``replay_prob`` (once the buffer holds a batch's worth), levels
    replayed from the buffer, on which both students learn; else a batch the adversary designs,
    which both students play without a gradient step (robust: PLR⊥'s rule) and which rewards the
    adversary with their regret, exactly as :class:`PAIRED` (regret estimator and BiBC/UniBC
    included). Every level played is scored by PLR's score of the protagonist's rollout, and the
    designed ones are offered to the buffer.

    Simplifications against dcd's code (``ued_algo: paired`` with ``use_plr``): one buffer, scored
    by the protagonist, from which both students replay the same batch (dcd can keep one per
    student); and the adversary learns only from the batches it designed (dcd's loop also runs
    its update after a replay batch, on its storage from the last design).

    Args:
        paired: the PAIRED teacher whose adversary designs the new levels and learns from them.
        family: the levels (for the buffer's encoding).
        buffer: the scored level buffer.
        replay_prob: probability of a replay batch.
        score: the buffer's score, ``pvl``, ``maxmc`` or ``mna``.
        robust: no gradient updates on designed levels (PLR⊥).
        seed: seed of the teacher's draws.
    """

    needs_antagonist = True

    def __init__(
        self,
        paired: PAIRED,
        family: LevelFamily,
        buffer: LevelBuffer,
        *,
        replay_prob: float = 0.5,
        score: ScoreName = "pvl",
        robust: bool = True,
        seed: int = 0,
    ) -> None:
        super().__init__(
            family, buffer, replay_prob=replay_prob, score=score, robust=robust, seed=seed
        )
        self.paired = paired
        self.adversary = paired.adversary

    @property
    def last_scores(self) -> np.ndarray | None:
        """The regret of the last designed batch's levels (None after a replay batch)."""
        return self.paired.last_scores

    def start(self, total_timesteps: int, logger: Logger) -> None:
        """Set up the adversary's SB3 state."""
        self.paired.start(total_timesteps, logger)

    def new_batch(self, n: int) -> Proposal:
        """``n`` levels designed by the adversary (no gradient for the students if robust)."""
        designed = self.paired.propose(n)
        return Proposal(designed.levels, learn=not self.robust, source="designed")

    def cloning(self, iteration: int) -> Cloning | None:
        """PAIRED's cloning between the students."""
        return self.paired.cloning(iteration)

    def update(
        self, proposal: Proposal, protagonist: RolloutResult, antagonist: RolloutResult | None
    ) -> dict[str, float]:
        """Score the levels into the buffer; reward the adversary on the batches it designed."""
        metrics = super().update(proposal, protagonist, antagonist)
        if proposal.source == "designed":
            metrics.update(self.paired.update(proposal, protagonist, antagonist))
        else:
            self.paired.last_scores = None
        return metrics
