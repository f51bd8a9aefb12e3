"""Sizes and settings that a dependency would reject, or that would exhaust the machine, are
refused by advrl's own checks with one line, before anything is built."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from test_ued_cli import tiny_config

from advrl.agents import make_ppo
from advrl.agents.settings import PolicySettings, PPOSettings
from advrl.cli import main
from advrl.envs.batched import BatchedMaze
from advrl.envs.batched_designer import BatchedMazeDesigner


def dr_command(tmp_path: Path, **train: object) -> list[str]:
    """``advrl train dr`` of the tiny DR config (written to ``tmp_path/c.yaml``), runs under
    ``tmp_path``."""
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(tiny_config("dr", tmp_path, **train)))
    return ["train", "dr", "--config", str(tmp_path / "c.yaml"), "-q"]


def trained_dr(tmp_path: Path) -> Path:
    """A finished tiny DR run (64 steps, no periodic evaluation): ``tmp_path/dr``."""
    assert main(dr_command(tmp_path, total_timesteps=64, eval_every=0)) == 0
    return tmp_path / "dr"


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"batch_size": 1}, "batch_size must be at least 2"),
        ({"device": "tpu"}, "device must be one of cpu, cuda"),
        ({"device": "gpu"}, "device must be one of"),
        ({"n_epochs": 10**12}, "n_epochs must be at most 10,000"),
    ],
)
def test_ppo_settings_that_sb3_or_torch_would_reject(kwargs: dict, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        PPOSettings(**kwargs)
    PPOSettings(device="cuda:1")  # a name is checked, not the machine


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"net_arch": [1_000_000_000]}, "at most 65,536 wide"),
        ({"net_arch": [60_000, 60_000]}, "weights between its layers"),
        ({"net_arch": [8] * 65}, "at most 64 layers"),
        ({"lstm_hidden": 100_000_000}, "lstm_hidden must be at most 4,096"),
        ({"conv_filters": 100_000_000}, "conv_filters must be at most 4,096"),
    ],
)
def test_networks_that_would_not_fit_are_refused(kwargs: dict, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        PolicySettings(**kwargs)


def test_the_layers_reading_wide_features_are_bounded_before_they_are_built() -> None:
    designer = BatchedMazeDesigner(2, size=15, wall_budget=3, noise_dim=2)  # 169 cells
    with pytest.raises(ValueError, match="layers reading the policy's"):
        make_ppo(designer, conv_filters=4096, net_arch=[60_000], n_steps=5, batch_size=10)
    with pytest.raises(ValueError, match="n_steps x the number of envs must be at least 2"):
        make_ppo(BatchedMaze(1, size=6), n_steps=1, batch_size=2)


def test_a_huge_network_from_the_command_line_is_one_line_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = dr_command(tmp_path)
    for setting in (
        "protagonist.policy.lstm_hidden=100000000",
        "protagonist.policy.net_arch=[1000000000]",
        "protagonist.ppo.batch_size=1",
        "protagonist.ppo.device=tpu",
    ):
        assert main([*config, "--set", setting]) == 2, setting
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("advrl: error:"), err
    assert not (tmp_path / "dr").exists()


def test_a_seed_numpy_cannot_take_and_unknown_eval_mazes_are_refused_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = dr_command(tmp_path)
    for setting, problem in (
        ("train.seed=1180591620717411303424", "train.seed must be between 0 and"),
        ("train.seed=-1", "train.seed must be between 0 and"),
        ("train.eval_levels=[Nowhere]", "unknown held-out mazes ['Nowhere']"),
        ("env.kwargs={size: 100000}", "size must be between 4"),
        ("env.kwargs={agent_view_size: 999}", "agent_view_size must be odd, >= 3 and <= 31"),
    ):
        assert main([*config, "--set", setting]) == 2, setting
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and problem in err, err
    assert not (tmp_path / "dr").exists()  # nothing written: every check ran before training


def test_a_sweep_of_millions_of_trials_is_refused_at_once() -> None:
    from advrl.checks import ConfigError
    from advrl.sweeps.spec import SweepSpec, parse_seeds

    with pytest.raises(ConfigError, match="more than 1,000 seeds"):
        parse_seeds("0-2000000")
    with pytest.raises(ConfigError, match="more than 1,000 seeds"):
        parse_seeds("0-1000000000000")  # refused before the list is built
    grid = {"ppo.ent_coef": list(range(11))}
    spec = SweepSpec(method="dr", config=None, seeds=list(range(1000)), grid=grid)
    with pytest.raises(ConfigError, match="11,000 trials"):
        spec.trials()


def test_eval_with_no_maze_named_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trained_dr(tmp_path)
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "dr"), "--levels", " , "]) == 2
    assert "--levels needs a held-out maze name" in capsys.readouterr().err


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has a GPU")
def test_cuda_on_a_machine_without_a_gpu_is_an_error_not_a_silent_cpu_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = dr_command(tmp_path)
    for setting in ("protagonist.ppo.device=cuda", "env.device=cuda"):
        assert main([*config, "--set", setting]) == 2, setting
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "no CUDA GPU" in err, err
    assert not (tmp_path / "dr").exists()


def test_a_resumed_run_keeps_its_place_and_an_empty_config_is_no_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trained_dr(tmp_path)
    run = str(tmp_path / "dr")
    capsys.readouterr()
    for setting in ("name=other", f"out_dir={tmp_path / 'elsewhere'}"):
        assert main(["train", "dr", "--resume", run, "-q", "--set", setting]) == 2
        assert "a resumed run stays in its folder" in capsys.readouterr().err
    (tmp_path / "dr" / "config.yaml").write_text("")
    for argv in (["train", "dr", "--resume", run, "-q"], ["eval", run]):
        assert main(argv) == 2
        assert "config.yaml is empty" in capsys.readouterr().err


def test_a_run_whose_config_was_edited_after_training_is_one_line_for_every_reader(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trained_dr(tmp_path)
    run = tmp_path / "dr"
    edited = yaml.safe_load((run / "config.yaml").read_text())
    edited["protagonist"]["policy"]["net_arch"] = [16]  # the checkpoint's heads are 8 wide
    (run / "config.yaml").write_text(yaml.safe_dump(edited))
    capsys.readouterr()
    for argv in (
        ["eval", str(run)],
        ["enjoy", str(run)],
        [
            "demos",
            "record",
            "--model",
            str(run),
            "--episodes",
            "1",
            "--out",
            str(tmp_path / "d.npz"),
        ],
    ):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "do not fit the settings of its config.yaml" in err, err
    edited["method"] = ["dr"]
    (run / "config.yaml").write_text(yaml.safe_dump(edited))
    assert main(["eval", str(run)]) == 2
    assert "method must be a name" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"seeds": None}, "seeds must be a list"),
        ({"seeds": [0, -1]}, "integers >= 0"),
        ({"grid": ["a"]}, "grid must map setting names"),
        ({"method": ["dr"]}, "method and config must be a name"),
        ({"cpus_per_trial": 0}, "--cpus-per-trial must be in"),
        ({"cpus_per_trial": -1}, "--cpus-per-trial must be in"),
        ({"gpus_per_trial": float("nan")}, "--gpus-per-trial in"),
    ],
)
def test_a_malformed_sweep_spec_is_one_error_before_ray_starts(fields: dict, problem: str) -> None:
    from advrl.checks import ConfigError
    from advrl.sweeps.spec import SweepSpec

    spec: dict = {"method": "dr", "config": None, "seeds": [0], **fields}
    with pytest.raises(ConfigError, match=problem):
        SweepSpec(**spec)


def test_a_demos_file_whose_header_declares_a_huge_array_is_refused_before_allocating(
    tmp_path: Path,
) -> None:
    import io
    import zipfile

    import numpy as np
    from test_demos import make_demos

    from advrl.gail.demo_files import load_demos, save_demos
    from advrl.gail.demos import DemoError

    good = save_demos(make_demos(), tmp_path / "good.npz")
    forged = tmp_path / "forged.npz"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(forged, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "acts.npy":  # 10**12 rows in a header of a few bytes
                header = io.BytesIO()
                np.lib.format.write_array_header_1_0(
                    header, {"descr": "<i8", "fortran_order": False, "shape": (10**12,)}
                )
                data = header.getvalue() + b"\0" * 64  # (the header writes the magic too)
            dst.writestr(info.filename, data)
    with pytest.raises(DemoError, match=r"declares shape \(1000000000000,\)"):
        load_demos(forged)
    load_demos(good)  # the untouched file still loads


def test_an_episode_limit_no_evaluation_would_finish_is_refused() -> None:
    import gymnasium as gym

    with pytest.raises(ValueError, match="max_steps must be between 1 and 1,000,000"):
        gym.make("advrl/Maze-Small-v0", max_steps=10**12)
    with pytest.raises(ValueError, match="max_steps must be between 1 and 1,000,000"):
        BatchedMaze(2, size=9, max_steps=10**12)


def test_a_method_that_is_not_a_name_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("method: [dr]\n")
    assert main(["train", "dr", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "method must be one method name" in err
