"""Nothing lost, nothing half-written: resumes keep a run's history, checkpoints follow their
update and stay bounded, a run folder has one writer and stays inside out_dir, a damaged
checkpoint falls back to the one before."""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path

import pytest
import torch
import yaml

from advrl.cli import main
from advrl.files import read_state
from advrl.runs import RunDir
from tests.test_cli import CONFIG, TINY, sets


def train(tmp_path: Path, name: str, *extra: str) -> Path:
    argv = ["train", "ppo", "--config", CONFIG, *sets([*TINY, f"out_dir={tmp_path}"])]
    assert main([*argv, "--set", f"name={name}", *extra]) == 0
    return tmp_path / name


def all_rows(run: Path) -> list[dict[str, str]]:
    with (run / "tb" / "progress.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def progress(run: Path) -> list[dict[str, str]]:
    """The training rows (not the final evaluation's)."""
    return [row for row in all_rows(run) if not row.get("eval/final")]


def final_steps(run: Path) -> list[int]:
    """The steps of the rows of final evaluations."""
    return [int(float(r["time/total_timesteps"])) for r in all_rows(run) if r.get("eval/final")]


def policy(path: Path) -> dict[str, torch.Tensor]:
    state = read_state(path)
    return state["agents"]["policy"]["params"]["policy"]


def test_a_resume_keeps_the_runs_history(tmp_path: Path) -> None:
    run = train(tmp_path, "r")
    before = progress(run)
    assert len(before) == 4  # one row per rollout of 128 steps
    assert final_steps(run) == [512]  # and the final evaluation's
    assert main(["train", "ppo", "--resume", str(run), "--train.total_timesteps", "1024"]) == 0
    assert final_steps(run) == [1024]  # the run went on: 512 was not its end after all
    after = progress(run)
    steps = [int(float(r["time/total_timesteps"])) for r in after]
    assert steps == [128, 256, 384, 512, 640, 768, 896, 1024]
    assert [r["time/total_timesteps"] for r in after[:4]] == [
        r["time/total_timesteps"] for r in before
    ]
    # the resumed run's settings are what config.yaml says
    assert yaml.safe_load((run / "config.yaml").read_text())["train"]["total_timesteps"] == 1024


def test_rows_after_the_last_checkpoint_are_played_again_not_doubled(tmp_path: Path) -> None:
    """A run killed after a checkpoint but before its next one: its later rows are dropped on
    resume (the steps are played again) instead of standing twice."""
    run = train(tmp_path, "r")
    (run / "checkpoints" / "step_512.pt").unlink()  # as if killed before the final checkpoint
    assert main(["train", "ppo", "--resume", str(run)]) == 0
    steps = [int(float(r["time/total_timesteps"])) for r in progress(run)]
    assert steps == [128, 256, 384, 512]


def test_a_failed_resume_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = train(tmp_path, "r")
    csv_before = (run / "tb" / "progress.csv").read_bytes()
    config_before = (run / "config.yaml").read_bytes()
    assert main(["train", "ppo", "--resume", str(run), "--set", "policy.net_arch=[64]"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("advrl: error:") and "does not fit this run's settings" in err
    assert err.count("\n") == 1
    assert (run / "tb" / "progress.csv").read_bytes() == csv_before
    assert (run / "config.yaml").read_bytes() == config_before


def test_a_periodic_checkpoint_follows_the_update_it_belongs_to(tmp_path: Path) -> None:
    """The checkpoint of step 256 in a longer run holds the same weights as a run that ended at
    256: it was written after the update on the rollout that reached 256, not before it."""
    long = train(tmp_path, "long")
    short = train(tmp_path, "short", "--train.total_timesteps", "256")
    a, b = (
        policy(long / "checkpoints" / "step_256.pt"),
        policy(short / "checkpoints" / "step_256.pt"),
    )
    for name, tensor in b.items():
        torch.testing.assert_close(a[name], tensor, rtol=0, atol=0, msg=name)


def test_checkpoints_are_bounded_and_leftovers_cleaned(tmp_path: Path) -> None:
    run = train(tmp_path, "r", "--train.checkpoint_every", "128", "--train.keep_checkpoints", "2")
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert names == ["step_384.pt", "step_512.pt"]
    (run / "checkpoints" / ".step_640.pt.tmp").write_bytes(b"half a write")
    assert main(["train", "ppo", "--resume", str(run), "--train.total_timesteps", "640"]) == 0
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "step_512.pt",
        "step_640.pt",
    ]


def test_a_run_folder_has_one_writer(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = train(tmp_path, "r")
    with RunDir.open(run).lock():
        assert main(["train", "ppo", "--resume", str(run), "--train.total_timesteps", "640"]) == 2
    assert "in use by another advrl process" in capsys.readouterr().err
    assert json.loads((run / "summary.json").read_text())["timesteps"] == 512


@pytest.mark.parametrize("name", ["../escaped", "/tmp/absolute", "a/b", ".."])
def test_a_run_name_stays_inside_out_dir(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "runs"
    argv = ["train", "ppo", "--config", CONFIG, *sets([*TINY, f"out_dir={out}"])]
    assert main([*argv, "--name", name]) == 2
    assert "name must be a plain folder name" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "escaped").exists()


def test_a_damaged_checkpoint_falls_back_to_the_one_before(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    run = train(tmp_path, "r")
    (run / "checkpoints" / "step_512.pt").write_bytes(b"\x00" * 100)  # truncated by a crash
    with pytest.warns(RuntimeWarning, match=r"step_512.pt.*using the checkpoint before it"):
        assert main(["eval", str(run), "--levels", "FourRooms", "--episodes", "2"]) == 0
    with pytest.warns(RuntimeWarning, match="using the checkpoint before it") as record:
        resume = ["train", "ppo", "--resume", str(run), "--train.total_timesteps", "640"]
        assert main(resume) == 0
    assert len(record) == 1
    assert warnings.formatwarning(str(record[0].message), RuntimeWarning, "f", 1).startswith(
        "advrl: warning: cannot read checkpoint"
    )  # the CLI prints it as one line
    summary = json.loads((run / "summary.json").read_text())
    assert summary["resumed_from"] == 256 and summary["timesteps"] == 640
    for path in (run / "checkpoints").iterdir():
        path.write_bytes(b"not a checkpoint")
    with pytest.warns(RuntimeWarning):
        assert main(["train", "ppo", "--resume", str(run), "--train.total_timesteps", "768"]) == 2
    assert "no checkpoint that reads back" in capsys.readouterr().err


def test_a_config_that_is_not_utf8_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    config = tmp_path / "latin1.yaml"
    config.write_bytes("name: caf\xe9\n".encode("latin-1"))
    assert main(["train", "ppo", "--config", str(config)]) == 2
    assert "is not UTF-8 text" in capsys.readouterr().err


MODULE = """
from pathlib import Path

import gymnasium as gym

Path(__file__).with_suffix(".imported").write_text("ran")
if "Maze-Trusted-v0" not in gym.registry:
    gym.register("Maze-Trusted-v0", entry_point="advrl.envs.maze:MazeEnv", kwargs={"size": 7})
"""


def test_a_run_folder_never_imports_code_the_user_did_not_name(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run folder whose config.yaml names ``module:Env`` (anyone can write one) is refused
    with one line by every command that reads it; ``--allow-import module`` lets it in."""
    (tmp_path / "plugin_env.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    run = train(tmp_path, "r")
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["env"]["id"] = "plugin_env:Maze-Trusted-v0"
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    commands = [
        ["eval", str(run), "--levels", "FourRooms", "--episodes", "2"],
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
        ["train", "ppo", "--resume", str(run), "--train.total_timesteps", "640"],
        ["eval", str(run), "--attack", "pgd", "--eps", "0,0.1", "--episodes", "1", "--no-plot"],
    ]
    for argv in commands:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "imports the Python module 'plugin_env'" in err and "--allow-import" in err
    assert not (tmp_path / "plugin_env.imported").exists()
    assert main([*commands[0], "--allow-import", "plugin_env"]) == 0
    assert (tmp_path / "plugin_env.imported").exists()


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (["--set", "ppo.learning_rate=nan"], "ppo.learning_rate must be a finite number"),
        (["--set", "ppo.ent_coef=.inf"], "ppo.ent_coef must be a finite number"),
        (["--ppo.vf_coef", "nan"], "ppo.vf_coef must be a finite number"),
        (["--adversarial.eps", "inf"], "adversarial.eps must be a finite number"),
    ],
)
def test_nan_and_inf_settings_are_refused_before_anything_is_written(
    tmp_path: Path, extra: list[str], problem: str, capsys: pytest.CaptureFixture
) -> None:
    argv = ["train", "ppo", "--config", CONFIG, *sets([*TINY, f"out_dir={tmp_path / 'runs'}"])]
    assert main([*argv, *extra]) == 2
    err = capsys.readouterr().err
    assert problem in err and err.count("\n") == 1
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["--attack", "pgd", "--eps", ","], "--eps must be one or more finite numbers"),
        (["--attack", "pgd", "--eps", "0,nan"], "--eps must be one or more finite numbers"),
        (["--attack", "pgd", "--reference", "inf"], "--reference must be a finite return"),
        (["--levels", "FourRooms", "--episodes", "0"], "--episodes must be >= 1"),
        (["--attack", "pgd", "--episodes", "-3"], "--episodes must be >= 1"),
    ],
)
def test_eval_arguments_are_checked(
    tmp_path: Path, argv: list[str], problem: str, capsys: pytest.CaptureFixture
) -> None:
    run = train(tmp_path, "r")
    assert main(["eval", str(run), *argv]) == 2
    err = capsys.readouterr().err
    assert problem in err and err.count("\n") == 1


def test_levels_show_needs_an_image_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["levels", "show", "FourRooms", "--out", str(tmp_path / "x")]) == 2
    assert "--out must be an image file" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


BOMB = """
a: &a [x, x, x, x, x, x, x, x, x, x]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]
env: {kwargs: {bomb: *h}}
"""


@pytest.mark.parametrize(
    ("text", "extra", "problem"),
    [
        (BOMB, [], "more than 100,000 values once its YAML aliases are expanded"),
        ("env: {n_envs: 1000000000}\n", [], "env.n_envs must be at most 65,536"),
        ("ppo: {n_steps: 1000000000}\n", [], "ppo.n_steps must be at most 1,000,000"),
        ("env: {n_envs: 65536}\nppo: {n_steps: 100000}\n", [], "steps per rollout; at most"),
        ("{}\n", ["--set", "env.n_envs=100000000"], "env.n_envs must be at most"),
    ],
)
def test_settings_that_would_exhaust_the_machine_are_refused_at_once(
    tmp_path: Path, text: str, extra: list[str], problem: str, capsys: pytest.CaptureFixture
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(text)
    assert (
        main(["train", "ppo", "--config", str(config), "--set", f"out_dir={tmp_path}", *extra]) == 2
    )
    err = capsys.readouterr().err
    assert problem in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml"]


def test_layout_files_are_bounded_checked_and_named_by_their_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    huge = tmp_path / "huge.txt"
    huge.write_text(">" + "." * 998 + "G\n")
    assert main(["levels", "show", str(huge), "--out", str(tmp_path / "h.png")]) == 2
    assert "at most 256 x 256 cells" in capsys.readouterr().err
    big = tmp_path / "big.txt"
    big.write_text("." * (5 * 1024 * 1024))
    assert main(["levels", "show", str(big), "--out", str(tmp_path / "b.png")]) == 2
    assert "a layout file is at most 4096 KiB" in capsys.readouterr().err
    latin = tmp_path / "latin.txt"
    latin.write_bytes("; caf\xe9\n>.G\n".encode("latin-1"))
    assert main(["levels", "show", str(latin), "--out", str(tmp_path / "l.png")]) == 2
    assert "is not UTF-8 text" in capsys.readouterr().err
    commented = tmp_path / "commented.txt"
    commented.write_text("; a comment\n; another\n>.G\n.x.\n")
    assert main(["levels", "show", str(commented), "--out", str(tmp_path / "c.png")]) == 2
    assert "unknown character 'x' at line 4, column 2" in capsys.readouterr().err
    walled = tmp_path / "walled.txt"
    walled.write_text(">#G\n.#.\n")
    with pytest.warns(RuntimeWarning, match=r"level\(s\) \[1\] cannot be solved"):
        assert main(["levels", "show", str(walled), "--out", str(tmp_path / "w.png")]) == 0


def test_a_killed_run_resumes_from_its_last_checkpoint_with_its_history(tmp_path: Path) -> None:
    """kill -9 a real training process once it has written checkpoints; the resumed run keeps
    every progress row up to its last intact checkpoint and continues from that step."""
    import os
    import signal
    import subprocess
    import sys
    import time

    settings = [s for s in TINY if not s.startswith(("train.total_timesteps", "train.checkpoint"))]
    argv = [sys.executable, "-m", "advrl.cli", "train", "ppo", "--config", CONFIG]
    argv += sets([*settings, f"out_dir={tmp_path}", "name=r"])
    argv += ["--train.total_timesteps", "10000000", "--train.checkpoint_every", "256"]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoints = tmp_path / "r" / "checkpoints"
    deadline = time.monotonic() + 120
    try:
        while not (checkpoints.is_dir() and len(list(checkpoints.glob("step_*.pt"))) >= 2):
            assert process.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no checkpoint within two minutes"
            time.sleep(0.05)
        time.sleep(0.3)  # let it write a few more rows past the checkpoint
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    run = tmp_path / "r"
    last = max(int(p.stem.split("_")[1]) for p in checkpoints.glob("step_*.pt"))
    before = progress(run)
    kept = [r for r in before if int(float(r["time/total_timesteps"])) <= last]
    target = last + 256
    assert main(["train", "ppo", "--resume", str(run), "--train.total_timesteps", str(target)]) == 0
    after = progress(run)
    # every row up to the checkpoint, unchanged (columns first written later, such as the final
    # evaluation's mark, are added to the header, blank in the older rows)
    assert [{k: r[k] for k in kept[0]} for r in after[: len(kept)]] == kept
    assert all(not r.get("eval/final") for r in after[: len(kept)])
    steps = [int(float(r["time/total_timesteps"])) for r in after]
    assert steps == list(range(128, target + 1, 128))  # then on from it, nothing doubled
    summary = json.loads((run / "summary.json").read_text())
    assert summary["resumed_from"] == last and summary["timesteps"] == target


def test_a_held_out_maze_must_be_solvable(tmp_path: Path) -> None:
    from advrl.envs import register_layout
    from advrl.envs.level import LevelError

    walled = tmp_path / "walled.txt"
    walled.write_text(">#G\n.#.\n")
    with pytest.raises(LevelError, match=r"level\(s\) \[1\] cannot be solved"):
        register_layout("WalledOff", walled)


def test_an_unreadable_progress_file_is_kept_aside(tmp_path: Path) -> None:
    run = train(tmp_path, "r")
    (run / "tb" / "progress.csv").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.warns(RuntimeWarning, match="could not be read"):
        assert main(["train", "ppo", "--resume", str(run), "--train.total_timesteps", "640"]) == 0
    assert (run / "tb" / "progress.damaged.csv").read_bytes() == b"\xff\xfe\x00garbage"
    assert [r["time/total_timesteps"] for r in progress(run)] == ["640"]


def test_a_progress_row_with_an_unreadable_step_is_reported_not_lost(tmp_path: Path) -> None:
    """A garbled step in one row: the resume says so, keeps the file as it was aside, and drops
    that row alone (the others stay)."""
    run = train(tmp_path, "r")
    path = run / "tb" / "progress.csv"
    rows = all_rows(run)
    rows[1]["time/total_timesteps"] = "2x6"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    before = path.read_bytes()
    with pytest.warns(RuntimeWarning, match=r"1 row\(s\) with an unreadable step were dropped"):
        assert main(["train", "ppo", "--resume", str(run), "--train.total_timesteps", "640"]) == 0
    assert (run / "tb" / "progress.damaged.csv").read_bytes() == before
    steps = [r["time/total_timesteps"] for r in progress(run)]
    assert steps == ["128", "384", "512", "640"]


def test_an_attack_ball_too_large_for_float32_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    run = train(tmp_path, "r")
    argv = ["eval", str(run), "--attack", "pgd", "--eps", "0,1e300", "--episodes", "1", "--no-plot"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "eps must be in [0, 10000]" in err and err.count("\n") == 1
