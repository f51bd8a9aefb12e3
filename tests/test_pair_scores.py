"""PAIRED's regret, minimax and PLR's scores on hand-made returns, advantages and values."""

from __future__ import annotations

import numpy as np
import pytest

from advrl.pair.scores import (
    clipped_advantages,
    max_monte_carlo,
    mean_and_max,
    minimax_score,
    negative_advantage_score,
    paired_regret,
    positive_value_loss,
    td_errors,
)

# Four levels; several episodes on some, none on others (those count 0).
PRO = [[0.5, 0.7], [], [0.9], [0.2, 0.4, 0.0]]  # means .6 0 .9 .2, maxes .7 0 .9 .4
ANT = [[0.8, 0.1], [0.3], [0.5, 0.6], []]  # means .45 .3 .55 0, maxes .8 .3 .6 0


def test_mean_and_max_count_unfinished_levels_as_zero() -> None:
    mean, best = mean_and_max(PRO)
    np.testing.assert_allclose(mean, [0.6, 0.0, 0.9, 0.2])
    np.testing.assert_allclose(best, [0.7, 0.0, 0.9, 0.4])


def test_clipped_regret_is_antagonist_best_minus_protagonist_mean_at_least_zero() -> None:
    np.testing.assert_allclose(paired_regret(PRO, ANT, "clipped"), [0.2, 0.3, 0.0, 0.0])


def test_unclipped_regret_goes_negative_where_the_protagonist_wins() -> None:
    np.testing.assert_allclose(paired_regret(PRO, ANT, "unclipped"), [0.2, 0.3, -0.3, -0.2])


def test_mean_regret_is_the_difference_of_mean_returns() -> None:
    np.testing.assert_allclose(paired_regret(PRO, ANT, "mean"), [-0.15, 0.3, -0.35, -0.2])


def test_only_the_mean_regret_is_unbiased_for_one_policy_against_itself() -> None:
    """Two rollouts of one coin-flip policy (return 1 or 0, 4 episodes a level): in expectation the
    mean regret is 0; the papers' clipped best-minus-mean estimator is not."""
    rng = np.random.default_rng(0)
    first = rng.integers(0, 2, (20_000, 4)).astype(float).tolist()
    second = rng.integers(0, 2, (20_000, 4)).astype(float).tolist()
    assert abs(paired_regret(first, second, "mean").mean()) < 0.01
    # E[max of 4 coins] - E[mean] = 15/16 - 1/2 = 0.4375, before clipping adds more
    assert paired_regret(first, second, "unclipped").mean() == pytest.approx(0.4375, abs=0.01)
    assert paired_regret(first, second, "clipped").mean() > 0.44


def test_flexible_regret_lets_the_better_student_play_antagonist() -> None:
    # Levels 0, 1: the antagonist's best is higher -> a_max - p_mean; levels 2, 3: the
    # protagonist's best is higher -> p_max - a_mean.
    np.testing.assert_allclose(paired_regret(PRO, ANT, "flexible"), [0.2, 0.3, 0.35, 0.4])


def test_flexible_mean_regret_is_the_absolute_gap_of_mean_returns() -> None:
    # means: P .6 0 .9 .2, A .45 .3 .55 0; the student with the higher mean plays antagonist
    np.testing.assert_allclose(paired_regret(PRO, ANT, "flexible-mean"), [0.15, 0.3, 0.35, 0.2])
    # swapping the students changes nothing, where the mean regret changes sign
    np.testing.assert_allclose(
        paired_regret(ANT, PRO, "flexible-mean"), paired_regret(PRO, ANT, "flexible-mean")
    )
    np.testing.assert_allclose(paired_regret(ANT, PRO, "mean"), -paired_regret(PRO, ANT, "mean"))


def test_regret_rejects_mismatched_levels_and_modes() -> None:
    with pytest.raises(ValueError, match="4 levels from the protagonist and 3"):
        paired_regret(PRO, ANT[:3])
    with pytest.raises(ValueError, match="regret mode"):
        paired_regret(PRO, ANT, "squared")  # type: ignore[arg-type]


def test_minimax_is_minus_the_protagonists_best_return() -> None:
    np.testing.assert_allclose(minimax_score(PRO), [-0.7, 0.0, -0.9, -0.4])


def test_positive_value_loss_averages_the_positive_advantages() -> None:
    advantages = np.array([[1.0, -1.0], [-2.0, 3.0], [0.5, 0.0]])
    np.testing.assert_allclose(positive_value_loss(advantages), [0.5, 1.0])
    with pytest.raises(ValueError, match=r"\[steps, levels\]"):
        positive_value_loss(np.zeros(3))


def test_max_monte_carlo_is_best_return_minus_value_averaged() -> None:
    values = np.array([[0.1, 0.2], [0.3, 0.4]])
    np.testing.assert_allclose(max_monte_carlo(values, np.array([1.0, 0.5])), [0.8, 0.2])
    with pytest.raises(ValueError, match="for 3 levels"):
        max_monte_carlo(values, np.zeros(3))


# ------------------------------------------------------------------ MNA (Mead et al. 2025)
def test_clipped_advantages_by_hand() -> None:
    """One level, three steps of one episode, gamma 1, lambda 0.5, deltas 1, -2, 0.5.

    s = 0: X = min(1, 0) = 0, min(0 - 2, 0) = -2, min(-2 + .5, 0) = -1.5;
           A = .5 (0 + .5 * -2 + .25 * -1.5) + .125 * -1.5 = -0.875
    s = 1: X = -2, -1.5; A = .5 (-2 + .5 * -1.5) + .25 * -1.5 = -1.75
    s = 2: X = min(.5, 0) = 0; A = 0
    """
    deltas = np.array([[1.0], [-2.0], [0.5]])
    starts = np.array([[True], [False], [False]])
    np.testing.assert_allclose(
        clipped_advantages(deltas, starts, 1.0, 0.5).ravel(), [-0.875, -1.75, 0.0]
    )
    # MNA: the mean of -A over the steps, gated on solved
    advantages = np.array([[1 + 0.5 * -1.75], [-2 + 0.5 * 0.5], [0.5]])  # GAE of the deltas
    np.testing.assert_allclose(td_errors(advantages, starts, 1.0, 0.5).ravel(), deltas.ravel())
    score = negative_advantage_score(
        advantages, starts, np.array([True]), gamma=1.0, gae_lambda=0.5
    )
    np.testing.assert_allclose(score, [(0.875 + 1.75) / 3])
    gated = negative_advantage_score(
        advantages, starts, np.array([False]), gamma=1.0, gae_lambda=0.5
    )
    np.testing.assert_allclose(gated, [0.0])


def test_clipped_advantages_stop_at_episode_ends() -> None:
    """An episode ends after step 0 (step 1 starts another): start 0 sees only delta_0."""
    deltas = np.array([[-1.0], [-4.0]])
    starts = np.array([[True], [True]])
    np.testing.assert_allclose(clipped_advantages(deltas, starts, 0.9, 0.5).ravel(), [-1.0, -4.0])


def _gae(deltas: np.ndarray, starts: np.ndarray, gamma: float, lam: float) -> np.ndarray:
    out, running = np.zeros_like(deltas), np.zeros(deltas.shape[1])
    for t in reversed(range(len(deltas))):
        alive = 1.0 - starts[t + 1] if t + 1 < len(deltas) else 1.0
        running = deltas[t] + gamma * lam * alive * running
        out[t] = running
    return out


def test_without_clipping_the_clipped_advantage_is_gae() -> None:
    """Where every TD error is negative no running sum is clipped: GAE exactly, and
    td_errors inverts GAE."""
    rng = np.random.default_rng(0)
    deltas = -rng.random((30, 4))
    starts = rng.random((30, 4)) < 0.2
    gae = _gae(deltas, starts, 0.9, 0.8)
    np.testing.assert_allclose(clipped_advantages(deltas, starts, 0.9, 0.8), gae, atol=1e-12)
    np.testing.assert_allclose(td_errors(gae, starts, 0.9, 0.8), deltas, atol=1e-12)
    # with positive TD errors the clipped advantage lies below GAE (a gain is not banked)
    mixed = rng.normal(size=(30, 4))
    clipped = clipped_advantages(mixed, starts, 0.9, 0.8)
    assert (clipped <= 0).all() and (clipped <= _gae(mixed, starts, 0.9, 0.8) + 1e-12).all()
    assert (clipped < _gae(mixed, starts, 0.9, 0.8) - 1e-6).any()


def test_the_mna_score_is_not_a_regret_of_returns() -> None:
    with pytest.raises(ValueError, match="negative_advantage_score"):
        paired_regret(PRO, ANT, "mna")
