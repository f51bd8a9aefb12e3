"""ARA: known areas."""

from __future__ import annotations

import pytest

from advrl.eval.ara import ara, normalized_ara


def test_constant_curve_at_the_reference_scores_one() -> None:
    assert normalized_ara([0, 0.1, 0.2], [1, 1, 1], baseline=0, reference=1) == pytest.approx(1.0)
    assert normalized_ara([0, 0.5, 1], [7, 7, 7], baseline=3, reference=7) == pytest.approx(1.0)


def test_linear_decline_to_the_baseline_scores_one_half() -> None:
    assert normalized_ara([0, 1], [1, 0], baseline=0, reference=1) == pytest.approx(0.5)
    returns = [500, 375, 250, 125, 0]  # a policy's return falling linearly to the random return 0
    assert normalized_ara([0, 1, 2, 3, 4], returns, baseline=0, reference=500) == pytest.approx(0.5)


def test_unnormalized_area_stops_where_the_curve_meets_the_baseline() -> None:
    # 1 at eps 0, down to 0 at eps 1, back up to 1 at eps 2; baseline 0.5 is met at eps 0.5.
    assert ara([0, 1, 2], [1, 0, 1], baseline=0.5) == pytest.approx(0.5 * 0.5 * 0.5)
    # Recovering later adds nothing; meeting exactly at a point also stops there.
    assert ara([0, 1, 2, 3], [1, 0.5, 1, 1], baseline=0.5) == pytest.approx(0.25)
    assert ara([0, 1], [0.4, 0.9], baseline=0.5) == 0.0  # starts below the baseline


def test_area_in_eps_units() -> None:
    assert ara([0, 0.1, 0.2], [0.9, 0.9, 0.9], baseline=0.5) == pytest.approx(0.4 * 0.2)


def test_eps_range_interpolates_the_curve() -> None:
    # Over [0, 0.5] of a line from 1 (eps 0) to 0 (eps 1): mean of 1 and 0.5.
    value = normalized_ara([0, 1], [1, 0], baseline=0, reference=1, eps_range=(0, 0.5))
    assert value == pytest.approx(0.75)


@pytest.mark.parametrize(
    ("eps", "perf", "problem"),
    [
        ([0, 0], [1, 1], "strictly increasing"),
        ([0], [1], "at least two"),
        ([0, 1], [1], "one length"),
        ([0, float("nan")], [1, 1], "finite"),
    ],
)
def test_bad_curves(eps, perf, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        ara(eps, perf, baseline=0)


def test_bad_normalization() -> None:
    with pytest.raises(ValueError, match="must be above baseline"):
        normalized_ara([0, 1], [1, 0], baseline=1, reference=1)
    with pytest.raises(ValueError, match="must lie inside"):
        normalized_ara([0, 1], [1, 0], baseline=0, reference=1, eps_range=(0, 2))


def test_curve_report_and_the_runs_table() -> None:
    """A straight decline from 10 to the random return 0: ARA 10 * 2 / 2, normalized 0.5; a curve
    whose clean return is not above the random one has no normalized ARA."""
    from pathlib import Path

    from advrl.eval.robustness import CurvePoint, RobustnessResult, RunCurve, curve_report

    points = [CurvePoint(0.0, 10.0, 0.5, 4), CurvePoint(1.0, 5.0, 0.0, 4), CurvePoint(2.0, 0, 0, 4)]
    report = curve_report(points, baseline=0.0)
    assert report.ara == pytest.approx(10.0)
    assert report.normalized_ara == pytest.approx(0.5)
    assert report.reference == 10.0 and report.eps_range == (0.0, 2.0)
    flat = [CurvePoint(e, -1.0, 0.0, 4) for e in (0.0, 1.0, 2.0)]
    assert curve_report(flat, baseline=0.0).normalized_ara is None
    result = RobustnessResult(
        env="E",
        attack={"method": "pgd"},
        episodes=4,
        seed=0,
        baseline=0.0,
        runs={
            "a": RunCurve(Path("a"), points, report),
            "b": RunCurve(Path("b"), flat, curve_report(flat, baseline=0.0)),
        },
        files=[],
    )
    lines = result.table()
    assert lines[0] == "| run | eps=0 | eps=1 | eps=2 | ARA | normalized ARA |"
    assert lines[2] == "| a | 10.0 ± 1.0 | 5.0 ± 0.0 | 0.0 ± 0.0 | 10 | 0.500 |"
    assert lines[3].endswith("| 0 | n/a |")
    saved = result.to_json()["runs"]["a"]
    assert saved["curve"][1] == {"eps": 1.0, "mean_return": 5.0, "sem": 0.0}
    assert saved["ara"] == pytest.approx(10.0) and list(saved["eps_range"]) == [0.0, 2.0]
