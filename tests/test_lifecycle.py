"""The run lifecycle's extension point: callbacks hear every periodic evaluation (with the
metrics TensorBoard gets) and every checkpoint, for every kind of run."""

from __future__ import annotations

from pathlib import Path

from advrl.config import PPORunConfig, load_config
from advrl.runners.ppo import train_ppo
from tests.test_cli import CONFIG, TINY


class Recorder:
    def __init__(self) -> None:
        self.evaluations: list[tuple[int, dict[str, float]]] = []
        self.checkpoints: list[tuple[int, Path]] = []

    def on_evaluation(self, steps: int, metrics: dict[str, float]) -> None:
        self.evaluations.append((steps, metrics))

    def on_checkpoint(self, steps: int, path: Path) -> None:
        self.checkpoints.append((steps, path))


def test_callbacks_hear_every_evaluation_and_checkpoint(tmp_path: Path) -> None:
    config = load_config(
        PPORunConfig, CONFIG, [*TINY, f"out_dir={tmp_path}", "name=r", "train.total_timesteps=768"]
    )
    recorder = Recorder()
    summary = train_ppo(config, callbacks=[recorder])
    # evaluations every 256 steps, the last one in the summary (not twice); checkpoints too
    assert [s for s, _ in recorder.evaluations] == [256, 512]
    assert all(
        set(m) == {"eval/mean_reward", "eval/mean_ep_length", "eval/success_rate"}
        for _, m in recorder.evaluations
    )
    assert [s for s, _ in recorder.checkpoints] == [256, 512, 768]
    assert recorder.checkpoints[-1][1] == tmp_path / "r" / "checkpoints" / "step_768.pt"
    assert summary["timesteps"] == 768
