"""Robust prioritized level replay's level buffer (Jiang et al., 2021).

The buffer holds up to ``capacity`` levels with a score each (a regret estimate: positive value loss
or MaxMC) and the time each was last played. Replay draws levels from

    P = (1 - staleness_coef) * P_S + staleness_coef * P_C,

where ``P_S`` is rank-based prioritization, ``P_S(i) ∝ (1 / rank(score_i)) ** (1 / temperature)``
(rank 1 = highest score; equal scores rank by position, the earlier one first), and ``P_C`` favours
stale levels, ``P_C(i) ∝ c - C_i`` with ``c`` the number of levels played so far and ``C_i`` the
value of ``c`` when level ``i`` was last played. Each level played (replayed or new) counts once.
A new level enters while there is room; once the buffer is full it replaces the lowest-scoring level
only if its own score is higher.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np


class LevelBuffer:
    """PLR⊥'s scored level buffer.

    Args:
        capacity: the most levels held.
        temperature: of the rank prioritization (lower: sharper).
        staleness_coef: weight ``rho`` of the staleness distribution.
        key: maps a level to a hashable key (a level already held is updated, never duplicated).
    """

    def __init__(
        self,
        capacity: int,
        *,
        temperature: float = 0.3,
        staleness_coef: float = 0.3,
        key: Callable[[Any], Hashable] = lambda level: level,
    ) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if not 0.0 <= staleness_coef <= 1.0:
            raise ValueError(f"staleness_coef must be in [0, 1], got {staleness_coef}")
        self.capacity = int(capacity)
        self.temperature = float(temperature)
        self.staleness_coef = float(staleness_coef)
        self.key = key
        self.levels: list[Any] = []
        self.scores = np.zeros(0)
        self.last_played = np.zeros(0, dtype=np.int64)
        self.best_returns = np.zeros(0)
        self.clock = 0  # c: levels played so far
        self._index: dict[Hashable, int] = {}

    def __len__(self) -> int:
        return len(self.levels)

    # ------------------------------------------------------------------ distribution
    def score_weights(self) -> np.ndarray:
        """``P_S``: rank prioritization of the scores."""
        n = len(self)
        order = np.argsort(-self.scores, kind="stable")  # best first; ties keep position order
        ranks = np.empty(n)
        ranks[order] = np.arange(1, n + 1)
        weights = (1.0 / ranks) ** (1.0 / self.temperature)
        return weights / weights.sum()

    def staleness_weights(self) -> np.ndarray:
        """``P_C``: proportional to the levels played since each was last played (uniform if all 0)."""
        stale = (self.clock - self.last_played).astype(np.float64)
        total = stale.sum()
        return stale / total if total > 0 else np.full(len(self), 1.0 / len(self))

    def weights(self) -> np.ndarray:
        """The replay distribution ``P``."""
        if not self.levels:
            raise ValueError("the level buffer is empty")
        rho = self.staleness_coef
        return (1.0 - rho) * self.score_weights() + rho * self.staleness_weights()

    # ------------------------------------------------------------------ use
    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Indices of ``n`` levels drawn (with replacement) from :meth:`weights`."""
        return rng.choice(len(self), size=n, replace=True, p=self.weights())

    def played(self, indices: Sequence[int]) -> None:
        """Mark buffer levels as played now, one clock tick each, in order."""
        for i in indices:
            self.clock += 1
            self.last_played[i] = self.clock

    def update(self, indices: Sequence[int], scores: Sequence[float] | np.ndarray) -> None:
        """Set the scores of replayed levels."""
        for i, s in zip(indices, scores, strict=True):
            self.scores[i] = float(s)

    def record_returns(self, indices: Sequence[int], returns: Sequence[float] | np.ndarray) -> None:
        """Keep each level's best episode return (for MaxMC)."""
        for i, r in zip(indices, returns, strict=True):
            self.best_returns[i] = max(self.best_returns[i], float(r))

    def find(self, level: Any) -> int | None:
        """The index of a level already held, if it is."""
        return self._index.get(self.key(level))

    def insert(self, level: Any, score: float, best_return: float = 0.0) -> int | None:
        """Offer a newly played level; returns its index, or None when it did not get in.

        A level already held gets the new score. The clock advances once (the level was played).
        """
        self.clock += 1
        existing = self.find(level)
        if existing is not None:
            self.scores[existing] = float(score)
            self.last_played[existing] = self.clock
            self.best_returns[existing] = max(self.best_returns[existing], best_return)
            return existing
        if len(self) < self.capacity:
            self.levels.append(level)
            self.scores = np.append(self.scores, float(score))
            self.last_played = np.append(self.last_played, self.clock)
            self.best_returns = np.append(self.best_returns, best_return)
            index = len(self) - 1
        else:
            index = int(np.argmin(self.scores))
            if float(score) <= self.scores[index]:
                return None
            del self._index[self.key(self.levels[index])]
            self.levels[index] = level
            self.scores[index] = float(score)
            self.last_played[index] = self.clock
            self.best_returns[index] = best_return
        self._index[self.key(level)] = index
        return index

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self, encode: Callable[[Any], Any]) -> dict[str, Any]:
        """Everything needed to continue, with levels in a checkpoint-safe form."""
        return {
            "levels": [encode(level) for level in self.levels],
            "scores": self.scores.tolist(),
            "last_played": self.last_played.tolist(),
            "best_returns": self.best_returns.tolist(),
            "clock": int(self.clock),
        }

    def load_state_dict(self, state: dict[str, Any], decode: Callable[[Any], Any]) -> None:
        """Restore from :meth:`state_dict`."""
        self.levels = [decode(x) for x in state["levels"]]
        self.scores = np.asarray(state["scores"], dtype=np.float64)
        self.last_played = np.asarray(state["last_played"], dtype=np.int64)
        self.best_returns = np.asarray(state["best_returns"], dtype=np.float64)
        self.clock = int(state["clock"])
        self._index = {self.key(level): i for i, level in enumerate(self.levels)}
