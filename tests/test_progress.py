"""What a user sees while a long command runs: live progress on a terminal, plain lines in a log,
nothing with --quiet. The long commands are run for real, with tiny budgets, in a pseudo-terminal."""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from advrl import progress

ROOT = Path(__file__).resolve().parents[1]
STEPS = re.compile(r"([\d,]+)/([\d,]+) (?:protagonist )?steps")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # anything but \t and \n


def command(
    args: list[str], cwd: Path, terminal: bool = True, timeout: float = 300
) -> tuple[int, str]:
    """Run ``advrl ARGS`` with its output on a pseudo-terminal (or a pipe); exit code, output."""
    env = {**os.environ, "COLUMNS": "160", "LINES": "40", "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    argv = [sys.executable, "-m", "advrl.cli", *args]
    if not terminal:
        done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, timeout=timeout)
        return done.returncode, done.stdout.decode() + done.stderr.decode()
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=timeout)
    os.close(master)
    return proc.returncode, b"".join(chunks).decode(errors="replace")


def step_counts(output: str) -> list[tuple[int, int]]:
    return [(int(a.replace(",", "")), int(b.replace(",", ""))) for a, b in STEPS.findall(output)]


def assert_live(output: str, first_rollout: int) -> None:
    """The steps showed while the first rollout ran, and the display drew live (rich's
    cursor controls), with an evaluation among what it showed."""
    counts = step_counts(output)
    assert counts, output[-2000:]
    assert any(0 < n < first_rollout for n, _ in counts), counts
    assert "\x1b[" in output  # drawn live, not printed line by line
    assert "evaluating" in output


def sets(*items: str) -> list[str]:
    return [x for item in items for x in ("--set", item)]


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("progress")


# ------------------------------------------------------------------------- the reporters
class FakeRun:
    steps = 0


def test_plain_lines_have_steps_rate_phases_and_metrics() -> None:
    out = io.StringIO()
    run = FakeRun()
    with progress.reporting(progress.PlainReporter(out, every_s=1e9)):
        regret = [("ued/regret", "regret")]  # a run kind's own key metric, after SB3's
        with progress.task("ppo", 1000, lambda: run.steps, metrics=regret):
            for run.steps in range(0, 1001, 50):
                progress.tick()
            with progress.phase("evaluating held-out mazes", 3, "mazes"):
                for _ in range(3):
                    progress.advance()
            progress.metrics({"rollout/ep_rew_mean": 0.5, "ued/regret": 0.25, "x": 1.0}, 1000)
            progress.metrics({"rollout/ep_rew_mean": 0.6}, 1000)  # within every_s: not shown
            progress.metrics({"eval/success_rate": 0.75}, 1000)  # an evaluation always shows
    text = out.getvalue()
    lines = text.splitlines()
    steps = [n for n, _ in step_counts(text)]
    assert steps[0] == 0 and steps[-1] == 1000
    assert len(steps) == 11  # the start and each tenth, once
    assert "evaluating held-out mazes..." in lines
    assert any(line.startswith("evaluating held-out mazes 3/3 mazes in") for line in lines)
    assert "step 1,000: return 0.5, regret 0.25" in lines  # x: no key metric
    assert "step 1,000: return 0.6" not in text
    assert "step 1,000: eval success 0.75" in lines
    assert not CONTROL.search(text)


def test_quiet_shows_nothing_and_work_runs_the_same_without_a_reporter() -> None:
    out = io.StringIO()
    with progress.reporting(progress.make_reporter("quiet", stream=out)):
        with progress.task("ppo", 10, lambda: 5), progress.phase("evaluating", 2):
            progress.advance()
            progress.message("hello")
    assert out.getvalue() == ""
    assert list(progress.counted([1, 2], "x")) == [1, 2]  # no reporter set: nothing shown


def test_counted_advances_its_phase() -> None:
    seen = []

    class Recorder(progress.Reporter):
        def refresh(self, force: bool = False) -> None:
            if self.phases:
                seen.append(self.phases[-1].done)

    with progress.reporting(Recorder()):
        assert list(progress.counted("abc", "letters")) == ["a", "b", "c"]
    assert seen[0] == 0 and seen[-1] == 3


def test_live_reporter_draws_on_a_terminal_console() -> None:
    from rich.console import Console

    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    steps = {"n": 0}
    with progress.reporting(progress.LiveReporter(console, every_s=0.0)):
        with progress.task("paired", 100, lambda: steps["n"]):
            steps["n"] = 40
            progress.tick()
            with progress.phase("evaluating held-out mazes", 8, "mazes"):
                progress.advance(3)
    text = out.getvalue()
    assert "40/100 steps" in text and "evaluating held-out mazes" in text and "3/8 mazes" in text
    assert "\x1b[" in text


def test_auto_mode_is_plain_off_a_terminal() -> None:
    assert type(progress.make_reporter("auto", stream=io.StringIO())) is progress.PlainReporter


def test_sb3_table_lists_every_number() -> None:
    table = progress.sb3_table({"train/loss": 0.5, "time/iterations": 3, "text": "no"})
    assert "| train/loss" in table and "| time/iterations" in table and "text" not in table


# ------------------------------------------------------------- the long commands, for real
PPO_TINY = sets(
    "name=maze",
    "env.n_envs=4",
    "ppo.n_steps=512",
    "ppo.batch_size=256",
    "ppo.n_epochs=1",
    "train.total_timesteps=4096",
    "train.eval_every=2048",
    "train.eval_episodes=3",
    "train.checkpoint_every=0",
)


def test_train_ppo_then_eval_show_live_progress(work: Path) -> None:
    code, out = command(
        ["train", "ppo", "--config", str(ROOT / "configs/ppo-maze.yaml"), *PPO_TINY], work
    )
    assert code == 0, out
    assert_live(out, first_rollout=4 * 512)
    assert "run runs/maze: ppo" in out
    code, out = command(["eval", "runs/maze", "--levels", "Labyrinth,FourRooms"], work)
    assert code == 0, out
    # 2 mazes x 10 episodes x 3 policies (sampled, greedy, random), counted as they finish
    assert "evaluating held-out mazes" in out and "60/60 episodes" in out


def test_train_paired_shows_live_progress_before_its_first_iteration_ends(work: Path) -> None:
    code, out = command(
        [
            "train",
            "paired",
            "--config",
            str(ROOT / "configs/paired-maze-small.yaml"),
            *sets(
                "name=paired",
                "train.total_timesteps=4000",
                "train.eval_every=2000",
                "train.eval_episodes=1",
                "train.eval_levels=[Labyrinth, FourRooms]",
            ),
        ],
        work,
    )
    assert code == 0, out
    first = 32 * 128  # levels x the students' rollout steps
    assert_live(out, first_rollout=first)
    assert re.search(r"step [\d,]+: return [\d.]+, solve rate [\d.]+, regret", out)


def test_expert_demos_gail_and_asaf_show_progress(work: Path) -> None:
    expert = sets(  # a first rollout long enough to span redraws (0.1 s apart) on a fast CPU
        "name=expert",
        "env.n_envs=4",
        "ppo.n_steps=1024",
        "ppo.batch_size=1024",
        "ppo.n_epochs=1",
        "train.total_timesteps=4096",
        "train.eval_every=4096",
        "train.eval_episodes=3",
    )
    code, out = command(["expert", "train", "--env", "CartPole-v1", *expert], work)
    assert code == 0, out
    assert_live(out, first_rollout=4 * 1024)
    code, out = command(
        ["demos", "record", "--model", "runs/expert", "--episodes", "3", "--out", "demos/c.npz"],
        work,
    )  # demos/ does not exist yet: it is made
    assert code == 0, out
    assert "recording" in out and "3/3 episodes" in out
    assert (work / "demos" / "c.npz").is_file()
    imitation = sets(
        "env.id=CartPole-v1",
        "env.n_envs=4",
        "demos.path=demos/c.npz",
        "demos.episodes=3",
        "train.total_timesteps=2048",
        "train.eval_every=1024",
        "train.eval_episodes=3",
    )
    code, out = command(
        [
            "train",
            "gail",
            "--config",
            str(ROOT / "configs/gail-cartpole.yaml"),
            *imitation,
            *sets("ppo.n_steps=256", "ppo.n_epochs=1"),
        ],
        work,
    )
    assert code == 0, out
    assert_live(out, first_rollout=4 * 256)
    code, out = command(
        [
            "train",
            "asaf",
            "--config",
            str(ROOT / "configs/asaf-cartpole.yaml"),
            *imitation,
            *sets("asaf.n_epochs=1"),
        ],
        work,
    )
    assert code == 0, out
    counts = step_counts(out)
    assert counts and "evaluating" in out
    assert counts[-1][0] == 2048 or "steps (budget 2,048 reached)" in out  # the end shows


def test_plain_output_off_a_terminal_and_quiet(work: Path) -> None:
    args = ["train", "ppo", "--config", str(ROOT / "configs/ppo-maze.yaml"), *PPO_TINY]
    code, out = command([*args, "--set", "name=plain"], work, terminal=False)
    assert code == 0, out
    assert not CONTROL.search(out), repr(out[:500])
    assert "ppo: 0/4,096 steps" in out and "evaluating" in out
    code, out = command([*args, "--set", "name=quiet", "--quiet"], work)
    assert code == 0, out
    assert out.strip().startswith("run runs/quiet: ppo, 4,096 steps")
    assert "\x1b[" not in out and "evaluating" not in out


def test_a_counter_past_the_budget_says_so_and_names_its_unit() -> None:
    """A last iteration runs whole, past the budget: the counter shows the steps taken and that
    the budget is reached, not a share above 100%; UED counts protagonist steps."""
    out = io.StringIO()
    run = FakeRun()
    with progress.reporting(progress.PlainReporter(out, every_s=1e9)):
        with progress.task("paired", 1000, lambda: run.steps, unit="protagonist steps"):
            for run.steps in (0, 500, 1100):
                progress.tick()
    text = out.getvalue()
    assert "paired: 500/1,000 protagonist steps (50%)" in text
    assert "protagonist steps/s" in text
    assert "paired: 1,100 protagonist steps (budget 1,000 reached)" in text
    assert "110%" not in text and "1,100/1,000" not in text


def test_the_result_line_of_a_resumed_run_counts_the_resumed_part() -> None:
    from advrl.cli.train import _steps_taken

    fresh = {"timesteps": 4096, "resumed_from": None, "wall_clock_s": 10.0}
    assert _steps_taken(fresh) == "4,096 steps in 10.0 s"
    resumed = {"timesteps": 4096, "resumed_from": 1024, "wall_clock_s": 7.5}
    assert _steps_taken(resumed, "protagonist steps") == (
        "3,072 protagonist steps (from step 1,024 to 4,096) in 7.5 s"
    )


def test_a_run_kind_names_its_own_key_metrics() -> None:
    """The metric line shows SB3's key metrics for any run and a run kind's own only when its
    task names them (the display knows no family's metrics)."""
    out = io.StringIO()
    with progress.reporting(progress.PlainReporter(out, every_s=0.0)):
        with progress.task("dr", 10, lambda: 0):
            progress.metrics({"ued/regret": 0.25, "eval/success_rate": 0.5}, 10)
        with progress.task("dr", 10, lambda: 0, metrics=[("ued/regret", "regret")]):
            progress.metrics({"ued/regret": 0.25, "eval/success_rate": 0.5}, 10)
    lines = out.getvalue().splitlines()
    assert "step 10: eval success 0.5" in lines
    assert "step 10: eval success 0.5, regret 0.25" in lines
