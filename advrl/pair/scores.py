"""Per-level scores of UED: PAIRED's regret and its variants, minimax, and PLR's regret estimates.

Every function works on one row per level (the slot that played it for a rollout) and returns a
float array of the same length. Episode returns are the undiscounted returns of the episodes that
*finished* during the rollout, as in the PAIRED reference code; a level on which no episode finished
scores 0 for both its mean and its max.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, get_args

import numpy as np

RegretMode = Literal["clipped", "unclipped", "flexible", "mean", "flexible-mean", "mna"]
REGRET_MODES: tuple[RegretMode, ...] = get_args(RegretMode)


def mean_and_max(returns: Sequence[Sequence[float]]) -> tuple[np.ndarray, np.ndarray]:
    """The mean and the max episode return of each level (0 and 0 where none finished)."""
    mean = np.array([float(np.mean(r)) if len(r) else 0.0 for r in returns])
    best = np.array([float(np.max(r)) if len(r) else 0.0 for r in returns])
    return mean, best


def paired_regret(
    protagonist: Sequence[Sequence[float]],
    antagonist: Sequence[Sequence[float]],
    mode: RegretMode = "clipped",
) -> np.ndarray:
    """PAIRED's regret of each level from the two students' episode returns on it.

    - ``clipped`` (PAIRED): ``max(antagonist's best − protagonist's mean, 0)``;
    - ``unclipped``: ``antagonist's best − protagonist's mean``, negative when the protagonist wins;
    - ``flexible``: per level, whichever student has the higher best return plays antagonist:
      ``max(max(best_P, best_A) − mean of the other student, 0)`` (ties: the protagonist is best);
    - ``mean`` (an estimator ablation, not the papers'): ``antagonist's mean − protagonist's mean``,
      zero in expectation when the two students are the same policy, where the others are biased
      upward (the best of several episodes beats their mean; clipping keeps only positive noise).
    - ``flexible-mean`` (an ablation): ``flexible`` on mean returns, the student with the higher
      mean plays antagonist: ``|antagonist's mean − protagonist's mean|``. A level is worth its
      capability gap whichever student leads on it, so an antagonist that falls behind on hard
      levels does not make them cost the adversary; for equal students it scores the absolute
      value of their noise, largest where episodes are few and their outcomes uncertain.

    Args:
        protagonist: for each level, the protagonist's finished episode returns.
        antagonist: for each level, the antagonist's finished episode returns.
        mode: one of ``clipped``, ``unclipped``, ``flexible``, ``mean``, ``flexible-mean``.
    """
    if len(protagonist) != len(antagonist):
        raise ValueError(
            f"got returns for {len(protagonist)} levels from the protagonist and "
            f"{len(antagonist)} from the antagonist"
        )
    p_mean, p_max = mean_and_max(protagonist)
    a_mean, a_max = mean_and_max(antagonist)
    if mode == "clipped":
        return np.maximum(a_max - p_mean, 0.0)
    if mode == "unclipped":
        return a_max - p_mean
    if mode == "mean":
        return a_mean - p_mean
    if mode == "flexible-mean":
        return np.abs(a_mean - p_mean)
    if mode == "mna":
        raise ValueError(
            "the mna score comes from the protagonist's advantages, not from episode returns: "
            "use negative_advantage_score"
        )
    if mode == "flexible":
        antagonist_best = a_max > p_max
        best = np.where(antagonist_best, a_max, p_max)
        other_mean = np.where(antagonist_best, p_mean, a_mean)
        return np.maximum(best - other_mean, 0.0)
    raise ValueError(f"regret mode must be one of {REGRET_MODES}, got {mode!r}")


def minimax_score(protagonist: Sequence[Sequence[float]]) -> np.ndarray:
    """The minimax adversary's reward: minus the protagonist's best return on each level."""
    return -mean_and_max(protagonist)[1]


def positive_value_loss(advantages: np.ndarray) -> np.ndarray:
    """PLR's positive value loss: the mean over a level's steps of ``max(GAE advantage, 0)``.

    The mean runs over every step of the rollout, so the episodes that finished on the level in it
    count by their length. (The dcd code scores each episode and keeps the last one's score, merged
    with the part of it played in the previous rollout: an estimate from fewer steps.)

    Args:
        advantages: ``[steps, levels]`` GAE advantages of a rollout in which column ``j`` played
            level ``j`` throughout.
    """
    advantages = np.asarray(advantages, dtype=np.float64)
    if advantages.ndim != 2:
        raise ValueError(f"advantages must be [steps, levels], got shape {advantages.shape}")
    return np.clip(advantages, 0.0, None).mean(axis=0)


def max_monte_carlo(values: np.ndarray, best_returns: np.ndarray) -> np.ndarray:
    """PLR's MaxMC regret: the mean over a level's steps of ``best return ever on it − V(s_t)``.

    Args:
        values: ``[steps, levels]`` value estimates of the states visited.
        best_returns: ``[levels]`` the highest episode return ever reached on each level.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != len(best_returns):
        raise ValueError(
            f"values must be [steps, {len(best_returns)}] for {len(best_returns)} levels, "
            f"got shape {values.shape}"
        )
    return (np.asarray(best_returns, dtype=np.float64)[None, :] - values).mean(axis=0)


def td_errors(
    advantages: np.ndarray, episode_starts: np.ndarray, gamma: float, gae_lambda: float
) -> np.ndarray:
    """The TD errors ``delta_t = r_t + gamma V(s_t+1) (1 - done_t) - V(s_t)`` of a rollout, from
    its GAE advantages: GAE's recursion ``A_t = delta_t + gamma lambda (1 - done_t) A_t+1``
    solved for ``delta_t`` (the last step's advantage is its TD error).

    Args:
        advantages: ``[steps, levels]`` GAE advantages.
        episode_starts: ``[steps, levels]`` whether step ``t`` began an episode (so step ``t - 1``
            ended one), SB3's ``episode_starts``.
        gamma: the discount of the advantages.
        gae_lambda: their GAE lambda.
    """
    advantages = np.asarray(advantages, dtype=np.float64)
    starts = np.asarray(episode_starts, dtype=np.float64)
    if advantages.ndim != 2 or starts.shape != advantages.shape:
        raise ValueError(
            f"advantages and episode_starts must both be [steps, levels], got shapes "
            f"{advantages.shape} and {starts.shape}"
        )
    deltas = advantages.copy()
    deltas[:-1] -= gamma * gae_lambda * (1.0 - starts[1:]) * advantages[1:]
    return deltas


def clipped_advantages(
    deltas: np.ndarray, episode_starts: np.ndarray, gamma: float, gae_lambda: float
) -> np.ndarray:
    """The maximised negative advantages of Mead et al. (2025): GAE over n-step advantages whose
    running sums are clipped at 0 from above.

    For a start step ``s``: ``X_n = min(X_n-1 + gamma^(n-1) delta_s+n-1, 0)`` with ``X_0 = 0`` (a
    return above ``V(s)`` within the first steps is forgotten, not banked), and
    ``A_s = (1 - lambda) sum_n=1..N lambda^(n-1) X_n + lambda^N X_N``, where ``N`` runs to the end
    of ``s``'s episode or of the rollout. Without clipping this is GAE. Every ``A_s <= 0``.

    Args:
        deltas: ``[steps, levels]`` TD errors (:func:`td_errors`).
        episode_starts: ``[steps, levels]`` SB3's episode starts.
        gamma: the discount.
        gae_lambda: GAE's lambda.
    """
    deltas = np.asarray(deltas, dtype=np.float64)
    starts = np.asarray(episode_starts, dtype=bool)
    if deltas.ndim != 2 or starts.shape != deltas.shape:
        raise ValueError(
            f"deltas and episode_starts must both be [steps, levels], got shapes "
            f"{deltas.shape} and {starts.shape}"
        )
    steps = deltas.shape[0]
    first = np.arange(steps)[:, None]  # the start step s of each row
    running = np.zeros_like(deltas)  # X_n of every start s: [s, level]
    weighted = np.zeros_like(deltas)  # sum_n lambda^(n-1) X_n so far
    tail = np.zeros_like(deltas)  # lambda^N X_N, once s's episode (or the rollout) ended
    alive = np.zeros(deltas.shape, dtype=bool)  # s has started and its episode runs at step t
    for t in range(steps):
        alive[t] = True
        n = t - first  # steps since s, minus one
        running = np.where(alive, np.minimum(running + gamma**n * deltas[t], 0.0), running)
        weighted += np.where(alive, gae_lambda**n * running, 0.0)
        ending = alive & (starts[t + 1][None, :] if t + 1 < steps else True)
        tail = np.where(ending, gae_lambda ** (n + 1) * running, tail)
        alive &= ~ending
    return (1 - gae_lambda) * weighted + tail


def negative_advantages(
    advantages: np.ndarray,
    episode_starts: np.ndarray,
    solved: np.ndarray,
    *,
    gamma: float,
    gae_lambda: float,
) -> np.ndarray:
    """``[steps, levels]``: each step's ``-A_t``, with ``A_t`` the :func:`clipped_advantages` of
    the student's rollout, times a solvability gate (0 on a level not ``solved``). MNA's score of
    a level is their mean (:func:`negative_advantage_score`); DEGen pays them step by step.

    Args:
        advantages: ``[steps, levels]`` GAE advantages of the rollout.
        episode_starts: ``[steps, levels]`` SB3's episode starts.
        solved: ``[levels]`` the gate: whether the level was solved (in this rollout, or ever).
        gamma: the discount of the advantages.
        gae_lambda: their GAE lambda.
    """
    solved = np.asarray(solved, dtype=bool)
    deltas = td_errors(advantages, episode_starts, gamma, gae_lambda)
    if solved.shape != (deltas.shape[1],):
        raise ValueError(f"solved must hold one flag per level ({deltas.shape[1]})")
    clipped = clipped_advantages(deltas, episode_starts, gamma, gae_lambda)
    return -np.minimum(clipped, 0.0) * solved[None, :]


def negative_advantage_score(
    advantages: np.ndarray,
    episode_starts: np.ndarray,
    solved: np.ndarray,
    *,
    gamma: float,
    gae_lambda: float,
) -> np.ndarray:
    """MNA (maximised negative advantage, Mead et al. 2025): per level, the mean over the
    rollout's steps of ``-A_t``, with ``A_t`` the :func:`clipped_advantages` of the student's
    rollout, times a solvability gate: 0 on a level the student has not solved
    (:func:`negative_advantages`, averaged).

    A level scores high where the student keeps doing worse than it expects, on levels it can
    solve: a learnable shortfall, where positive value loss also pays for luck. (Their code sums
    over the rollout's steps; with a fixed rollout length the mean differs by that constant.)

    Args:
        advantages: ``[steps, levels]`` GAE advantages of the rollout.
        episode_starts: ``[steps, levels]`` SB3's episode starts.
        solved: ``[levels]`` the gate: whether the level was solved (in this rollout, or ever).
        gamma: the discount of the advantages.
        gae_lambda: their GAE lambda.
    """
    steps = negative_advantages(
        advantages, episode_starts, solved, gamma=gamma, gae_lambda=gae_lambda
    )
    return steps.mean(axis=0)
