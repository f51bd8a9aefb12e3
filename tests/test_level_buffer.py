"""PLR⊥'s buffer: rank prioritization, staleness, insertion and replacement, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest

from advrl.pair.buffer import LevelBuffer


def filled(scores: list[float], **kwargs: float) -> LevelBuffer:
    buffer = LevelBuffer(len(scores), **kwargs)  # type: ignore[arg-type]
    for i, s in enumerate(scores):
        buffer.insert(f"level{i}", s)
    return buffer


def test_rank_weights_match_the_hand_computed_distribution() -> None:
    buffer = filled([3.0, 1.0, 2.0], temperature=1.0)
    # ranks 1, 3, 2 -> weights 1, 1/3, 1/2 over 11/6
    np.testing.assert_allclose(buffer.score_weights(), [6 / 11, 2 / 11, 3 / 11])
    buffer.temperature = 0.5  # (1/rank)^2: 1, 1/9, 1/4 over 49/36
    np.testing.assert_allclose(buffer.score_weights(), [36 / 49, 4 / 49, 9 / 49])


def test_equal_scores_rank_by_position() -> None:
    np.testing.assert_allclose(filled([1.0, 1.0], temperature=1.0).score_weights(), [2 / 3, 1 / 3])


def test_staleness_counts_levels_played_since_each_was_last_played() -> None:
    buffer = filled([3.0, 1.0, 2.0], temperature=1.0, staleness_coef=0.3)
    # inserted at clock 1, 2, 3; now clock 3 -> staleness 2, 1, 0
    np.testing.assert_allclose(buffer.staleness_weights(), [2 / 3, 1 / 3, 0.0])
    expected = 0.7 * np.array([6 / 11, 2 / 11, 3 / 11]) + 0.3 * np.array([2 / 3, 1 / 3, 0.0])
    np.testing.assert_allclose(buffer.weights(), expected)
    buffer.played([2])  # clock 4, level 2 just played -> staleness 3, 2, 0
    np.testing.assert_allclose(buffer.staleness_weights(), [3 / 5, 2 / 5, 0.0])
    buffer.played([0, 0])  # each replay is a tick: clock 6 -> staleness 0, 4, 2
    np.testing.assert_allclose(buffer.staleness_weights(), [0.0, 4 / 6, 2 / 6])


def test_sampling_follows_the_weights() -> None:
    buffer = filled([3.0, 1.0, 2.0], temperature=1.0, staleness_coef=0.3)
    draws = buffer.sample(40_000, np.random.default_rng(0))
    freq = np.bincount(draws, minlength=3) / len(draws)
    np.testing.assert_allclose(freq, buffer.weights(), atol=0.01)


def test_a_full_buffer_replaces_its_lowest_score_only_with_a_higher_one() -> None:
    buffer = filled([3.0, 1.0, 2.0])
    assert buffer.insert("better", 1.5) == 1  # replaces level1 (score 1)
    assert buffer.levels == ["level0", "better", "level2"]
    assert buffer.insert("worse", 0.5) is None
    assert "worse" not in buffer.levels and buffer.find("level1") is None
    assert buffer.insert("level0", 0.1) == 0  # held already: new score, no duplicate
    assert len(buffer) == 3 and buffer.scores[0] == pytest.approx(0.1)


def test_update_and_best_returns() -> None:
    buffer = filled([1.0, 2.0])
    buffer.update([1, 0], [5.0, 4.0])
    np.testing.assert_allclose(buffer.scores, [4.0, 5.0])
    buffer.record_returns([0, 0], [0.3, 0.7])
    buffer.record_returns([0], [0.5])
    assert buffer.best_returns[0] == pytest.approx(0.7)


def test_state_dict_round_trip() -> None:
    buffer = filled([3.0, 1.0, 2.0], staleness_coef=0.5)
    buffer.played([1])
    state = buffer.state_dict(str.upper)
    other = LevelBuffer(3, staleness_coef=0.5)
    other.load_state_dict(state, str.lower)
    assert other.levels == buffer.levels and other.clock == buffer.clock
    np.testing.assert_allclose(other.weights(), buffer.weights())
    assert other.find("level2") == 2


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="capacity"):
        LevelBuffer(0)
    with pytest.raises(ValueError, match="staleness_coef"):
        LevelBuffer(2, staleness_coef=1.5)
    with pytest.raises(ValueError, match="empty"):
        LevelBuffer(2).weights()
