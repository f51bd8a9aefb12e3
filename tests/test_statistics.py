"""The IQM and its stratified-bootstrap CI that every benchmark table and sweep report states."""

import numpy as np
import pytest

from advrl.eval.statistics import aggregate

pytest.importorskip("rliable")


def test_iqm_is_the_mean_of_the_middle_half_and_its_ci_brackets_it() -> None:
    scores = np.array([100.0, 1, 2, 3, 4, 5, 6, -100])  # the IQM drops the two on each end
    result = aggregate({"m": scores}, reps=500)["m"]
    assert result.iqm.point == pytest.approx(3.5)  # mean of 1..6 without 1 and 6 -> 2,3,4,5
    assert result.mean.point == pytest.approx(scores.mean())
    assert result.iqm.low <= result.iqm.point <= result.iqm.high
    assert result.iqm.low < result.iqm.high
    assert result.iqm.format(1) == f"3.5 [{result.iqm.low:.1f}, {result.iqm.high:.1f}]"


def test_constant_runs_have_a_point_interval_and_tasks_are_columns() -> None:
    same = aggregate({"c": np.full((5, 3), 0.25)}, reps=200)["c"]
    assert same.iqm.as_tuple() == pytest.approx((0.25, 0.25, 0.25))
    # two tasks: the IQM pools (runs x tasks), the bootstrap resamples runs within each task
    two = aggregate({"t": np.array([[0.0, 1.0]] * 4)}, reps=200)["t"]
    assert two.iqm.point == pytest.approx(0.5) and two.mean.point == pytest.approx(0.5)


def test_the_same_seed_gives_the_same_table() -> None:
    rng = np.random.default_rng(0)
    scores = {"a": rng.random(5), "b": rng.random(5)}
    assert aggregate(scores, reps=300) == aggregate(scores, reps=300)


def test_the_callers_global_numpy_state_is_left_alone() -> None:
    np.random.seed(7)
    expected = np.random.random()
    np.random.seed(7)
    aggregate({"a": np.arange(6.0)}, reps=100)
    assert np.random.random() == expected
