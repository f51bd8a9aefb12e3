"""`advrl plot` on three seeds of a small config: each figure, with its panels and series."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from advrl.cli import main
from advrl.eval.statistics import wilson
from advrl.reports.plots import make_figures

pytest.importorskip("matplotlib")


def ued_config(folder: Path, method: str = "paired") -> Path:
    """The tiny maze run of the UED tests, evaluated on two held-out mazes."""
    from tests.test_ued_cli import tiny_config, write

    config = tiny_config(
        method,
        folder / "runs",
        eval_levels=["SmallCorridor", "FourRooms"],
        checkpoint_every=0,
        image_every=0,
        progress_bar=False,
        eval_sampled_levels=20,
        eval_sampled_episodes=1,
    )
    return Path(write(config, folder / f"{method}.yaml"))


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("plots")
    config = ued_config(folder)
    runs = []
    for seed in range(3):
        name = f"paired-{seed}"
        sets = ["--set", f"train.seed={seed}", "--set", f"name={name}"]
        assert main(["train", "paired", "--config", str(config), "-q", *sets]) == 0
        runs.append(folder / "runs" / name)
    return runs


def labels(ax: object) -> list[str]:
    return [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")]  # type: ignore[attr-defined]


def test_three_seeds_make_one_line_with_a_band_per_series(seeds: list[Path]) -> None:
    figures = make_figures(seeds)
    assert set(figures) == {
        "learning_curves",
        "heldout_solve_rate",
        "level_complexity",
        "ued_curves",
    }

    returns, success = figures["learning_curves"].axes
    assert returns.get_title() == "return" and success.get_title() == "success"
    assert labels(returns) == ["paired: training (3 runs)", "paired: evaluation (3 runs)"]
    assert labels(success) == ["paired: training (3 runs)", "paired: held-out (3 runs)"]
    assert len(returns.collections) == 2 and len(success.collections) == 2  # a band each
    # The line is the mean over seeds of what the runs recorded.
    import csv

    first = []
    for run in seeds:
        with (run / "tb" / "progress.csv").open() as f:
            first.append(float(next(csv.DictReader(f))["ued/protagonist_return"]))
    assert returns.get_lines()[0].get_ydata()[0] == pytest.approx(np.mean(first))

    (bars,) = figures["heldout_solve_rate"].axes
    assert [t.get_text() for t in bars.get_xticklabels()] == ["SmallCorridor", "FourRooms"]
    assert len(bars.patches) == 2  # one group, two mazes
    assert "random policy" in [t.get_text() for t in bars.get_legend().get_texts()]
    # the random policy: a dashed line across each maze's bars, not a tick on the whiskers
    (random_line,) = [c for c in bars.collections if c.get_label() == "random policy"]
    assert random_line.get_linestyle()[0][1] is not None  # dashed
    assert len(random_line.get_segments()) == 2  # one per maze

    assert [a.get_ylabel() for a in figures["learning_curves"].axes] == ["return", "success"]
    walls, path = figures["level_complexity"].axes
    assert (walls.get_ylabel(), path.get_ylabel()) == ("walls", "shortest path")
    assert walls.get_title() == "levels played: walls"
    assert path.get_title() == "levels played: shortest path"
    assert labels(walls) == ["paired (3 runs)"]

    # the same walls, and the held-out and worst-case success, against the adversary's updates
    panels = figures["ued_curves"].axes
    assert [a.get_title() for a in panels] == [
        "walls",
        "shortest path",
        "held-out solve rate",
        "worst 10% of sampled levels",
    ]
    assert all(a.get_xlabel() == "iterations (PAIRED: adversary updates)" for a in panels)
    line = panels[0].get_lines()[0]
    np.testing.assert_allclose(line.get_xdata(), np.arange(1, len(line.get_xdata()) + 1))
    np.testing.assert_allclose(line.get_ydata(), walls.get_lines()[0].get_ydata())
    assert labels(panels[3]) == ["paired (3 runs)"]


def test_different_configs_are_different_lines_and_the_cli_writes_every_figure(
    seeds: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dr = ued_config(tmp_path, "dr")
    assert main(["train", "dr", "--config", str(dr), "-q", "--set", "name=dr"]) == 0
    dr_run = tmp_path / "runs" / "dr"
    # an attack's curves saved in a run are plotted too
    (dr_run / "robustness-pgd.json").write_text(
        '{"baseline": 0.1, "runs": {"dr": {"ara": 0.2, "curve": ['
        '{"eps": 0, "mean_return": 0.5, "sem": 0.1}, {"eps": 0.1, "mean_return": 0.3, "sem": 0.1}]}}}'
    )
    out = tmp_path / "figures"
    assert main(["plot", *map(str, seeds), str(dr_run), "--out", str(out)]) == 0
    written = {p.name for p in out.glob("*.png")}
    assert written == {
        "learning_curves.png",
        "heldout_solve_rate.png",
        "level_complexity.png",
        "ued_curves.png",
        "robustness.png",
    }
    assert any((out / "tb").iterdir())  # the same figures for TensorBoard
    figures = make_figures([*seeds, dr_run])
    returns = figures["learning_curves"].axes[0]
    assert labels(returns) == [
        "paired: training (3 runs)",
        "paired: evaluation (3 runs)",
        "dr: training (1 run)",
        "dr: evaluation (1 run)",
    ]
    (curve,) = figures["robustness"].axes
    assert labels(curve) == ["dr (ARA 0.2)", "random policy"]
    assert len(figures["heldout_solve_rate"].axes[0].patches) == 4  # two groups, two mazes


def test_what_ued_runs_log_is_in_the_readme_table(
    seeds: list[Path],
    undocumented: Callable[[Path], set[str]],
    missing: Callable[[Path, set[str]], set[str]],
) -> None:
    """Both ways: what a PAIRED run on the maze logs is documented, and what the table promises
    it (UED, PAIRED, maze runs, success) is in its events."""
    assert undocumented(seeds[0]) == set()
    kinds = {"all", "UED", "PAIRED", "maze runs", "envs that define success"}
    assert missing(seeds[0], kinds) == set()


def test_plot_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plot", str(tmp_path / "none")]) == 2
    assert "no run folder" in capsys.readouterr().err
    assert main(["plot", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err


def test_wilson_interval_matches_its_formula() -> None:
    low, high = wilson(0.5, 100)
    assert low == pytest.approx(0.4038, abs=1e-4) and high == pytest.approx(0.5962, abs=1e-4)
    low, high = wilson(0.0, 10)
    assert low == pytest.approx(0.0, abs=1e-12) and 0.27 < high < 0.28
    assert all(math.isnan(v) for v in wilson(0.5, 0))
