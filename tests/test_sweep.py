"""``advrl sweep`` on a local Ray: trials are ordinary run folders, a report aggregates them, a
resumed sweep runs only what is unfinished and a trial cut short resumes from its checkpoint."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest
import yaml

from advrl.cli import main
from tests.test_cli import CONFIG

TRIAL = [
    "env.n_envs=2",
    "ppo.n_steps=64",
    "ppo.batch_size=64",
    "ppo.n_epochs=1",
    "train.total_timesteps=256",
    "train.eval_every=0",
    "train.eval_episodes=3",
    "train.image_every=0",
    "train.checkpoint_every=128",
]


def sweep(tmp_path: Path, *extra: str) -> list[str]:
    argv = ["sweep", "--config", CONFIG, "--seeds", "0-1", "--grid", "ppo.learning_rate=1e-3,3e-4"]
    argv += [x for item in TRIAL for x in ("--set", item)]
    return [*argv, "--out", str(tmp_path), "--name", "s", "--reps", "200", "--no-plot", *extra]


def steps(run: Path) -> list[int]:
    """The steps of a run's training rows (not its final evaluation's, marked eval/final)."""
    with (run / "tb" / "progress.csv").open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if not r.get("eval/final")]
    return [int(float(r["time/total_timesteps"])) for r in rows]


def test_a_sweep_runs_resumes_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(sweep(tmp_path)) == 0
    folder = tmp_path / "s"
    trials = sorted(p.name for p in (folder / "trials").iterdir())
    assert trials == [
        "learning_rate1e-3-seed0",
        "learning_rate1e-3-seed1",
        "learning_rate3e-4-seed0",
        "learning_rate3e-4-seed1",
    ]
    for name in trials:  # each an ordinary run folder, with its grid value and seed
        run = folder / "trials" / name
        config = yaml.safe_load((run / "config.yaml").read_text())
        assert config["train"]["seed"] == int(name[-1])
        assert config["ppo"]["learning_rate"] == (1e-3 if "1e-3" in name else 3e-4)
        assert json.loads((run / "summary.json").read_text())["timesteps"] == 256
    with (folder / "report.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["setting"], r["seeds"]) for r in rows] == [
        ("ppo.learning_rate=0.001", "2"),
        ("ppo.learning_rate=0.0003", "2"),
    ]  # the values the runs used, from their config.yaml
    assert "| ppo.learning_rate=0.001 | 2 |" in (folder / "report.md").read_text()

    # Cut two trials short: one lost entirely, one killed after its checkpoint at step 128.
    import shutil

    shutil.rmtree(folder / "trials" / "learning_rate1e-3-seed0")
    cut = folder / "trials" / "learning_rate3e-4-seed1"
    (cut / "summary.json").unlink()
    (cut / "checkpoints" / "step_256.pt").unlink()
    rows_before = [s for s in steps(cut) if s <= 128]
    untouched = folder / "trials" / "learning_rate1e-3-seed1" / "summary.json"
    mtime = untouched.stat().st_mtime_ns
    capsys.readouterr()
    assert main(["sweep", "--resume", str(folder), "--reps", "200", "--no-plot"]) == 0
    assert untouched.stat().st_mtime_ns == mtime  # a finished trial is not run again
    assert (folder / "trials" / "learning_rate1e-3-seed0" / "summary.json").is_file()
    summary = json.loads((cut / "summary.json").read_text())
    assert summary["resumed_from"] == 128 and summary["timesteps"] == 256
    assert steps(cut)[: len(rows_before)] == rows_before and steps(cut) == [128, 256]


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["--seeds", "a-b"], "--seeds must look like 0-4"),
        (["--seeds", "0,0"], "--seeds must name distinct seeds"),
        (["--grid", "ppo.learning_rate"], "must look like key=value1,value2"),
        (["--grid", "train.seed=1,2"], "seeds are given with --seeds"),
        (["--grid", "ppo.lr=1,2"], "unknown key 'lr' in ppo"),
    ],
)
def test_bad_sweeps_are_one_line_and_write_nothing(
    tmp_path: Path, argv: list[str], problem: str, capsys: pytest.CaptureFixture
) -> None:
    base = ["sweep", "--config", CONFIG, "--out", str(tmp_path / "sweeps"), "--no-plot"]
    assert main([*base, *argv]) == 2
    err = capsys.readouterr().err
    assert problem in err and err.count("\n") == 1
    assert not (tmp_path / "sweeps").exists()


def test_without_ray_the_sweep_names_the_extra(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails, as when not installed
    assert main(["sweep", "--config", CONFIG, "--out", str(tmp_path)]) == 2
    assert "pip install 'advrl[sweep]'" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_asha_stops_trials_on_their_periodic_evaluations(tmp_path: Path) -> None:
    """With ``--scheduler asha`` each periodic evaluation reaches Tune as it happens; the sweep
    ends with a report over the trials that finished."""
    extra = ["--scheduler", "asha", "--metric", "eval/success_rate", "--mode", "max"]
    extra += ["--set", "train.eval_every=128", "--set", "train.total_timesteps=512"]
    assert main(sweep(tmp_path, *extra)) == 0
    folder = tmp_path / "s"
    finished = [p for p in (folder / "trials").iterdir() if (p / "summary.json").is_file()]
    assert finished  # the best trial runs to the end
    report = (folder / "report.md").read_text()
    assert "IQM" in report
    results = list((folder / "ray" / "tune").glob("*/result.json"))
    reported = [line for path in results for line in path.read_text().splitlines() if line]
    assert any('"score"' in line and '"eval_mean_reward"' in line for line in reported)
    assert all('"eval_success_rate"' in line for line in reported)  # the metric ranked by


def test_a_trial_whose_worker_is_killed_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    import os
    import signal
    import threading
    import time

    killed: list[int] = []

    def kill_a_worker_after_a_checkpoint() -> None:
        """SIGKILL the process that runs a trial once it has a checkpoint and is not done (its
        run folder's lock names the process)."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            for run in (tmp_path / "s" / "trials").glob("*"):
                lock = run / ".lock"
                started = any(run.glob("checkpoints/step_*.pt"))
                if started and lock.is_file() and not (run / "summary.json").exists():
                    pid = lock.read_text().strip()
                    if pid:
                        os.kill(int(pid), signal.SIGKILL)
                        killed.append(run.name)
                        break
            time.sleep(0.01)

    watcher = threading.Thread(target=kill_a_worker_after_a_checkpoint, daemon=True)
    watcher.start()
    extra = [
        "--seeds",
        "0",
        "--set",
        "train.total_timesteps=4096",
        "--set",
        "train.checkpoint_every=256",
    ]
    assert main(sweep(tmp_path, *extra)) == 0
    watcher.join()
    assert killed
    summaries = {
        p.name: json.loads((p / "summary.json").read_text())
        for p in (tmp_path / "s" / "trials").iterdir()
    }
    assert len(summaries) == 2 and all(s["timesteps"] == 4096 for s in summaries.values())
    resumed = [name for name, s in summaries.items() if s["resumed_from"] is not None]
    assert resumed == killed  # the killed trial was retried from its own checkpoint
    assert steps(tmp_path / "s" / "trials" / killed[0]) == list(range(128, 4097, 128))


def test_trials_run_on_every_node_of_a_cluster(tmp_path: Path) -> None:
    """Two Ray nodes on one machine (Ray's own test cluster): the sweep joins it by address and
    its trials run on both."""
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    try:
        extra = ["--seeds", "0-1", "--address", cluster.address]
        assert main(sweep(tmp_path, *extra)) == 0
        results = list((tmp_path / "s" / "ray" / "tune").glob("*/result.json"))
        nodes = {
            json.loads(line)["node_id"]
            for path in results
            for line in path.read_text().splitlines()
            if line and "node_id" in line
        }
        assert len(nodes) == 2
    finally:
        ray.shutdown()
        cluster.shutdown()


@pytest.mark.parametrize("search", ["random", "optuna"])
def test_a_search_samples_points_of_the_grid(tmp_path: Path, search: str) -> None:
    argv = sweep(tmp_path, "--search", search, "--num-samples", "2", "--seeds", "0")
    assert main(argv) == 0
    runs = sorted((tmp_path / "s" / "trials").iterdir())
    assert len(runs) == 2 and all((run / "summary.json").is_file() for run in runs)
    rates = {
        yaml.safe_load((run / "config.yaml").read_text())["ppo"]["learning_rate"] for run in runs
    }
    assert rates <= {1e-3, 3e-4}
    with (tmp_path / "s" / "report.csv").open(newline="") as f:
        assert sum(int(r["seeds"]) for r in csv.DictReader(f)) == 2


def test_an_optuna_search_without_optuna_names_the_extra(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "optuna", None)
    assert main(sweep(tmp_path, "--search", "optuna")) == 2
    assert "--search optuna needs Optuna; install the sweep extra" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
