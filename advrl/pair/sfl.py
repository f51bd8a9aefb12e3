"""Sampling For Learnability, SFL (Rutherford et al., 2024, "No Regrets"): train on the levels the
student solves about half the time.

Every ``refresh_every`` iterations the teacher draws ``num_samples`` random levels, has the
protagonist's current policy play each ``episodes`` times, and keeps the ``buffer_size`` levels of
highest *learnability* ``p (1 - p)``, with ``p`` a level's success rate: levels solved never
(``p = 0``) or always (``p = 1``) teach nothing, those solved half the time most. Each batch is
then ``buffer_share`` levels drawn uniformly (with replacement) from that buffer and fresh random
levels for the rest; the students learn on all of them.

Simplifications against the paper's code, stated: the success rate is over ``episodes`` episodes
played from the level's start (theirs: the episodes completed in 2,000 steps of auto-reset play,
at most the first 10 counted), and the defaults sample 5,000 levels rather than 25,000 (the
sweep is the teacher's whole cost; see docs/benchmarks.md for its seconds on this CPU).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from advrl.pair.levels import LevelFamily
from advrl.pair.students import RolloutResult, Student
from advrl.pair.teachers import Proposal, Teacher, rng_state, set_rng_state

SuccessRates = Callable[[Any, Sequence[Any], int, int], np.ndarray]
"""``(policy, levels, episodes, seed) -> [levels]``: the share of ``episodes`` episodes on each
level that ``policy`` (``model.predict``) solves, actions seeded by ``seed``."""


def learnability(success: np.ndarray) -> np.ndarray:
    """SFL's score of a level from its success rate ``p``: ``p (1 - p)``, largest at ``p = 0.5``."""
    p = np.asarray(success, dtype=np.float64)
    if ((p < 0) | (p > 1)).any():
        raise ValueError("success rates must lie in [0, 1]")
    return p * (1.0 - p)


class SFL(Teacher):
    """Sampling For Learnability: batches of the most learnable of many sampled levels, and new ones.

    Args:
        family: the levels.
        success_rates: a policy's success rate on levels (see :data:`SuccessRates`); the policy
            is the protagonist the runner attaches (:meth:`attach`).
        num_samples: levels drawn and played at each refresh (the paper: 25,000).
        episodes: episodes per sampled level.
        buffer_size: the most learnable levels kept (the paper: 1,000).
        refresh_every: iterations between refreshes (the paper: 100).
        buffer_share: the share of each batch drawn from the buffer (the paper: 0.5).
        seed: seed of the teacher's draws.
    """

    def __init__(
        self,
        family: LevelFamily,
        success_rates: SuccessRates,
        *,
        num_samples: int = 5000,
        episodes: int = 5,
        buffer_size: int = 200,
        refresh_every: int = 100,
        buffer_share: float = 0.5,
        seed: int = 0,
    ) -> None:
        if not 1 <= buffer_size <= num_samples:
            raise ValueError(
                f"buffer_size must be between 1 and num_samples ({num_samples}), got {buffer_size}"
            )
        if episodes < 1 or refresh_every < 1:
            raise ValueError(
                f"episodes and refresh_every must be >= 1, got {episodes} and {refresh_every}"
            )
        if not 0.0 <= buffer_share <= 1.0:
            raise ValueError(f"buffer_share must be in [0, 1], got {buffer_share}")
        self.family = family
        self.success_rates = success_rates
        self.num_samples = int(num_samples)
        self.episodes = int(episodes)
        self.buffer_size = int(buffer_size)
        self.refresh_every = int(refresh_every)
        self.buffer_share = float(buffer_share)
        self.rng = np.random.default_rng(seed)
        self.iteration = 0
        self.buffer: list[Any] = []
        self.scores = np.zeros(0)
        self.success = np.zeros(0)
        self.protagonist: Student | None = None

    def attach(self, protagonist: Student, antagonist: Student | None) -> None:
        """The student whose success rates score the sampled levels."""
        self.protagonist = protagonist

    def refresh(self) -> None:
        """Sample, play and score ``num_samples`` levels; keep the most learnable."""
        if self.protagonist is None:
            raise RuntimeError("attach the protagonist before the first proposal")
        levels = [self.family.sample(self.rng) for _ in range(self.num_samples)]
        seed = int(self.rng.integers(2**31))
        model = self.protagonist.model
        success = np.asarray(
            self.success_rates(model, levels, self.episodes, seed), dtype=np.float64
        )
        if success.shape != (len(levels),):
            raise ValueError(f"success_rates gave shape {success.shape} for {len(levels)} levels")
        scores = learnability(success)
        keep = np.argsort(-scores, kind="stable")[: self.buffer_size]
        self.buffer = [levels[i] for i in keep]
        self.scores, self.success = scores[keep], success[keep]

    def propose(self, n: int) -> Proposal:
        """``round(buffer_share * n)`` levels from the buffer (refreshed first when due), the rest
        new; the replayed ones come first."""
        if self.iteration % self.refresh_every == 0:
            self.refresh()
        self.iteration += 1
        k = round(self.buffer_share * n)
        picked = self.rng.integers(len(self.buffer), size=k)
        levels = [self.buffer[i] for i in picked]
        levels += [self.family.sample(self.rng) for _ in range(n - k)]
        return Proposal(levels, learn=True, source="replay" if k else "new", buffer_indices=picked)

    def update(
        self, proposal: Proposal, protagonist: RolloutResult, antagonist: RolloutResult | None
    ) -> dict[str, float]:
        """Nothing to learn between refreshes; logs the buffer's learnability."""
        return {
            "buffer_learnability_mean": float(self.scores.mean()),
            "buffer_success_mean": float(self.success.mean()),
            "buffer_learnable_share": float((self.scores > 0).mean()),
        }

    def state_dict(self) -> dict[str, Any]:
        """The buffer, its scores, the iteration and the generator."""
        return {
            "rng": rng_state(self.rng),
            "iteration": self.iteration,
            "buffer": [self.family.encode(level) for level in self.buffer],
            "scores": self.scores.tolist(),
            "success": self.success.tolist(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        set_rng_state(self.rng, state["rng"])
        self.iteration = int(state["iteration"])
        self.buffer = [self.family.decode(level) for level in state["buffer"]]
        self.scores = np.asarray(state["scores"], dtype=np.float64)
        self.success = np.asarray(state["success"], dtype=np.float64)
