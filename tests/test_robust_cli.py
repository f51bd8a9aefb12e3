"""`advrl train ppo` with an adversarial section and `advrl eval --attack`, run for real, tiny."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from advrl.agents import RobustPPO
from advrl.cli import main
from advrl.runners.loading import load_run

TINY = [
    "env.id=CartPole-v1",
    "env.n_envs=2",
    "env.backend=gymnasium",
    "ppo.n_steps=32",
    "ppo.batch_size=32",
    "ppo.n_epochs=1",
    "policy.net_arch=[8]",
    "train.total_timesteps=64",
    "train.eval_every=0",
    "train.eval_episodes=2",
    "train.image_every=0",
    "train.progress_bar=false",
]


TRAIN = ["train", "ppo", "--config", "configs/robust-cartpole.yaml"]


def sets(*items: str) -> list[str]:
    return [arg for item in items for arg in ("--set", item)]


def train(out: Path, name: str, *extra: str) -> Path:
    assert main(TRAIN + sets(*TINY, f"out_dir={out}", f"name={name}", *extra)) == 0
    return out / name


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = tmp_path_factory.mktemp("runs")
    return [
        train(out, "plain", "adversarial.method=none"),
        train(out, "fastbat", "adversarial.method=fast_bat", "train.total_timesteps=192"),
        train(out, "advprop", "adversarial.method=advprop", "policy.dual_bn=true"),
    ]


def test_adversarial_runs_load_as_robust_ppo(runs: list[Path]) -> None:
    loaded = load_run(runs[1])
    model, config = loaded.model, loaded.config
    assert isinstance(model, RobustPPO)
    assert config.adversarial.method == "fast_bat"
    events = EventAccumulator(str(runs[1] / "tb")).Reload()
    assert "robust/eps" in events.Tags()["scalars"]
    model = load_run(runs[2]).model  # dual batch norm weights and statistics restored
    assert isinstance(model, RobustPPO) and model.adversarial.method == "advprop"


def test_eval_attack_writes_curves_ara_and_tensorboard(
    runs: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["eval", *map(str, runs), "--attack", "pgd", "--eps", "0,0.1,0.3", "--steps", "2"]
    args += ["--episodes", "3", "--out", str(tmp_path), "--eps-range", "0,0.3"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "normalized ARA" in printed and "plain" in printed
    rows = list(csv.DictReader(open(tmp_path / "robustness-pgd.csv")))
    assert len(rows) == 9 and {r["run"] for r in rows} == {"plain", "fastbat", "advprop"}
    result = json.loads((tmp_path / "robustness-pgd.json").read_text())
    assert result["runs"]["plain"]["curve"][0]["eps"] == 0.0
    assert (tmp_path / "robustness-pgd.png").stat().st_size > 1000
    events = EventAccumulator(str(runs[0] / "tb")).Reload()
    assert "robustness/pgd/ara" in events.Tags()["scalars"]
    assert "robustness/pgd/return_eps_0.1" in events.Tags()["scalars"]


def test_every_attack_and_the_strongest(
    runs: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--attack all`` plays every attack that applies (not the maze's cell flips on CartPole)
    on the same episodes and prints, per eps, the lowest mean return and the attack behind it."""
    args = ["eval", str(runs[0]), "--attack", "all", "--eps", "0,0.2", "--steps", "2"]
    args += ["--rs-iterations", "1", "--rs-steps", "64"]  # robust Sarsa's Q, briefly
    assert main([*args, "--episodes", "3", "--out", str(tmp_path), "--no-plot", "-q"]) == 0
    printed = capsys.readouterr().out
    curves = {}
    for name in ("random", "fgsm", "pgd", "critic", "mad", "rs"):
        result = json.loads((tmp_path / f"robustness-{name}.json").read_text())
        curves[name] = result["runs"]["plain"]["curve"]
    assert not (tmp_path / "robustness-flip.json").exists()  # the maze's, not CartPole's
    assert not (tmp_path / "robustness-learned.json").exists()  # no adversary given
    line = next(x for x in printed.splitlines() if x.startswith("| plain |") and "(" in x)
    worst = min(curves, key=lambda n: curves[n][1]["mean_return"])
    assert f"{curves[worst][1]['mean_return']:.1f} ({worst})" in line
    clean = {round(c[0]["mean_return"], 6) for c in curves.values()}
    assert len(clean) == 1  # eps 0: every attack plays the same clean episodes


def test_clean_point_equals_plain_evaluation(runs: list[Path], tmp_path: Path) -> None:
    """eps 0 is the unattacked policy on the same seeded episodes as the run's own evaluation."""
    args = ["eval", str(runs[0]), "--attack", "fgsm", "--eps", "0,0.05", "--episodes", "2"]
    assert main([*args, "--out", str(tmp_path), "--no-plot"]) == 0
    result = json.loads((tmp_path / "robustness-fgsm.json").read_text())
    summary = json.loads((runs[0] / "summary.json").read_text())
    greedy = summary["eval"]["policy_deterministic"]["mean_return"]
    assert result["runs"]["plain"]["curve"][0]["mean_return"] == pytest.approx(greedy)


def test_user_errors_are_one_line(
    runs: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = [
        (["eval", str(runs[0]), "--attack", "pgd", "--eps", "0,x"], "comma-separated numbers"),
        (["eval", str(runs[0]), "--attack", "pgd", "--eps", "0.1,0"], "strictly increasing"),
        (["eval", str(runs[0]), str(runs[1])], "under --attack only"),
        (["eval", str(runs[0]), "--attack", "pgd", "--discrete"], "maze's view only"),
        (
            [*TRAIN, *sets(*TINY, f"out_dir={tmp_path}", "adversarial.method=advprop")],
            "policy.dual_bn",
        ),
        (
            [*TRAIN, *sets(*TINY, f"out_dir={tmp_path}", "adversarial.method=trades")],
            "adversarial.method",
        ),
        (
            [*TRAIN, *sets(*TINY, f"out_dir={tmp_path}", "env.id=FrozenLake-v1")],
            "Box observations",
        ),
        (
            [
                *TRAIN,
                *sets(
                    *TINY,
                    f"out_dir={tmp_path}",
                    "adversarial.method=simaug",
                    "adversarial.term={views: [walls:0.1]}",
                ),
            ],
            "redraw the maze's walls",
        ),
    ]
    for args, message in cases:
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    assert not any(tmp_path.iterdir())  # nothing written by the refused runs


def test_maze_run_under_cell_flips(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    maze = [s.replace("CartPole-v1", "advrl/Maze-Small-v0") for s in TINY]
    run = train(tmp_path, "maze", *maze, "adversarial.method=pgd_at", "adversarial.eps=0.3")
    args = ["eval", str(run), "--attack", "flip", "--eps", "0,1,2", "--episodes", "2"]
    assert main([*args, "--no-plot"]) == 0
    assert "flip (ce, linf)" in capsys.readouterr().out
    result = json.loads((run / "robustness-flip.json").read_text())
    assert [p["eps"] for p in result["runs"]["maze"]["curve"]] == [0.0, 1.0, 2.0]
    args = ["eval", str(run), "--attack", "pgd", "--eps", "0,0.6", "--steps", "2", "--discrete"]
    assert main([*args, "--episodes", "2", "--no-plot"]) == 0
    result = json.loads((run / "robustness-pgd-discrete.json").read_text())
    assert result["attack"]["discrete"] is True
