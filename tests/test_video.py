"""Watching a policy: `advrl enjoy` writes playable videos of a maze run and a CartPole run, and
`train.video_every` puts clips in TensorBoard."""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from advrl.cli import main
from advrl.eval.video import gif_bytes, write_video

ROOT = Path(__file__).resolve().parents[1]
TINY = [
    "ppo.n_steps=64",
    "ppo.batch_size=64",
    "ppo.n_epochs=1",
    "train.total_timesteps=256",
    "train.eval_every=128",
    "train.eval_episodes=2",
    "train.checkpoint_every=0",
    "train.progress_bar=false",
]


def sets(items: list[str]) -> list[str]:
    return [x for item in items for x in ("--set", item)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("runs")
    maze = ["env.n_envs=2", "train.video_every=128", f"out_dir={out}", "name=maze"]
    assert main(["train", "ppo", "--config", str(ROOT / "configs/ppo-maze.yaml"), "-q",
                 *sets([*TINY, *maze])]) == 0  # fmt: skip
    cartpole = [
        "env.n_envs=2",
        "env.backend=gymnasium",
        f"out_dir={out}",
        "name=cartpole",
        "train.eval_every=0",  # the final evaluation alone
    ]
    assert (
        main(["expert", "train", "--env", "advrl/CartPole-v1", "-q", *sets([*TINY, *cartpole])])
        == 0
    )
    return {"maze": out / "maze", "cartpole": out / "cartpole"}


def played(out: str) -> tuple[list[int], int, int, int]:
    """Episode lengths, and the frames and size the command says it wrote."""
    lengths = [int(n) for n in re.findall(r"episode \d+: return [-\d.]+, (\d+) steps", out)]
    frames, width, height = map(int, re.search(r"(\d+) frames of (\d+)x(\d+)", out).groups())  # type: ignore[union-attr]
    return lengths, frames, width, height


def test_enjoy_writes_a_gif_of_every_step_of_a_maze_run(
    runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["enjoy", str(runs["maze"]), "--level", "SmallCorridor", "--episodes", "2"]) == 0
    out = capsys.readouterr().out
    lengths, frames, width, height = played(out)
    assert len(lengths) == 2 and frames == sum(lengths) + 2  # each reset and each step
    assert "solved" in out  # the maze says what success is
    gif = Image.open(runs["maze"] / "videos" / "SmallCorridor.gif")
    assert gif.n_frames == frames and gif.size == (width, height)
    gif.seek(gif.n_frames - 1)  # every frame decodes
    assert np.asarray(gif.convert("RGB")).std() > 0


def test_enjoy_writes_an_mp4_of_a_cartpole_run_on_a_level_of_its_physics(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("moviepy")
    import imageio.v3 as iio

    video = tmp_path / "cartpole.mp4"
    args = ["enjoy", str(runs["cartpole"]), "--level", "{length: 1.5}", "--video", str(video)]
    assert main(args) == 0
    out = capsys.readouterr().out
    lengths, frames, width, height = played(out)
    assert "solved" not in out  # CartPole does not define success: none printed
    decoded = iio.imread(video)
    assert abs(len(decoded) - frames) <= 1  # the encoder may drop the last frame
    assert decoded.shape[1:] == (height, width, 3)
    assert frames == lengths[0] + 1


def test_enjoy_refuses_bad_requests_in_one_line(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def error(*args: str) -> str:
        assert main(["enjoy", *args]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("advrl: error:")
        return err

    assert "unknown level 'Nowhere'" in error(str(runs["maze"]), "--level", "Nowhere")
    assert "a mapping of them" in error(str(runs["cartpole"]), "--level", "Labyrinth")
    assert ".gif or an .mp4" in error(str(runs["maze"]), "--video", str(tmp_path / "x.avi"))
    assert "--episodes must be >= 1" in error(str(runs["maze"]), "--episodes", "0")
    assert not list(tmp_path.iterdir())  # nothing written


def test_a_level_out_of_range_is_one_line(
    runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["enjoy", str(runs["cartpole"]), "--level", "{length: 99}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("advrl: error: --level:") and "length" in err


def test_mp4_without_moviepy_names_the_extra(
    runs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "moviepy", None)  # as if not installed
    with pytest.raises(ImportError, match=r"advrl\[video\]"):
        write_video([np.zeros((4, 4, 3), np.uint8)], tmp_path / "x.mp4")
    assert not list(tmp_path.iterdir())


def test_what_the_runs_log_is_in_the_readme_table(
    runs: dict[str, Path],
    undocumented: Callable[[Path], set[str]],
    missing: Callable[[Path, set[str]], set[str]],
) -> None:
    """Both ways: every key the runs log is in the table, and every key the table promises a PPO
    run (on the maze: success; on CartPole: none) is in its events. The CartPole run evaluates
    only at the end: its ``eval/*`` are that final evaluation's."""
    assert undocumented(runs["maze"]) == set()
    assert undocumented(runs["cartpole"]) == set()
    common = {"all", "PPO"}
    maze = {*common, "PPO on mazes", "maze runs", "envs that define success"}
    assert (
        missing(
            runs["maze"], maze | {"any (`train.video_every`)", "maze runs with `train.image_every`"}
        )
        == set()
    )
    assert missing(runs["cartpole"], common) == set()


def tensorboard_texts_and_hparams(run: Path) -> tuple[list[str], list[bytes]]:
    from tensorboard.backend.event_processing import event_file_loader

    (events,) = (run / "tb").glob("events.*")
    texts, hparams = [], []
    for event in event_file_loader.EventFileLoader(str(events)).Load():
        for value in event.summary.value:
            if value.tag.startswith("config"):
                texts.append(value.tensor.string_val[0].decode())
            if value.tag.startswith("_hparams_/"):
                hparams.append(value.metadata.plugin_data.content)
    return texts, hparams


def test_tensorboard_holds_the_config_and_hparams(runs: dict[str, Path]) -> None:
    """The config in the Text tab, the settings and the final evaluation's metrics in the HParams
    tab: also for a run whose only evaluation is the final one (CartPole here)."""
    texts, hparams = tensorboard_texts_and_hparams(runs["maze"])
    assert len(texts) == 1 and "name: maze" in texts[0] and "video_every: 128" in texts[0]
    assert hparams and any(b"eval/mean_reward" in h for h in hparams)
    assert any(b"ppo.n_steps" in h for h in hparams)
    _, hparams = tensorboard_texts_and_hparams(runs["cartpole"])
    assert any(b"eval/mean_reward" in h for h in hparams)
    assert any(b"ppo.n_steps" in h for h in hparams)
    rows = list(csv.DictReader((runs["cartpole"] / "tb" / "progress.csv").open()))
    final = [row for row in rows if row.get("eval/mean_reward")]
    assert len(final) == 1 and float(final[0]["time/total_timesteps"]) == 256  # its own row


def test_video_every_puts_clips_of_the_policy_in_tensorboard(runs: dict[str, Path]) -> None:
    events = EventAccumulator(str(runs["maze"] / "tb"), size_guidance={"images": 0})
    events.Reload()
    clips = events.Images("video/episode")
    assert [c.step for c in clips] == [128]  # every 128 steps, before the end at 256
    gif = Image.open(io.BytesIO(clips[0].encoded_image_string))
    assert (
        gif.format == "GIF" and gif.n_frames >= 2 and gif.size == (clips[0].width, clips[0].height)
    )
    summary = json.loads((runs["maze"] / "summary.json").read_text())
    assert summary["timesteps"] == 256


def test_gif_bytes_keep_every_frame_and_its_pixels() -> None:
    frames = [np.full((6, 8, 3), v, np.uint8) for v in (0, 120, 255)]
    gif = Image.open(io.BytesIO(gif_bytes(frames, fps=5)))
    assert gif.n_frames == 3 and gif.size == (8, 6) and gif.info["duration"] == 200
    for i, v in enumerate((0, 120, 255)):
        gif.seek(i)
        assert np.asarray(gif.convert("RGB"))[0, 0, 0] == v
