"""Watching a policy: its episodes as frames, written as a GIF (Pillow, no extra), an MP4 (the
``video`` extra: moviepy) or a TensorBoard clip (an animated GIF image summary, as
``SummaryWriter.add_video`` writes one).

The env a policy is watched on is the run's own, rendering to ``rgb_array``, on a level that the
user names: a held-out maze or a layout file (maze runs), a mapping of parameters (physics runs),
or none (the env draws one, or plays its standard level).
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from PIL import Image

from advrl.checks import ConfigError
from advrl.envs.vector import batched_kwargs, make_env
from advrl.episodes.rollouts import EpisodeStats, evaluate, sb3_policy
from advrl.files import atomic_write_bytes
from advrl.yamlio import load_yaml

VIDEO_FPS = 10.0
"""Frames per second of the clips a run records."""

VIDEO_SUFFIXES = (".gif", ".mp4")
"""The video files :func:`write_video` writes."""


def render_env(
    env_id: str,
    env_kwargs: dict[str, Any],
    level: str | None = None,
    *,
    tile_size: int | None = None,
) -> tuple[gym.Env, dict[str, Any] | None]:
    """The run's env rendering to ``rgb_array``, and the ``reset`` options of its level.

    Args:
        env_id, env_kwargs: the run's env.
        level: a held-out maze name or a layout ``.txt`` file (maze envs), or a YAML mapping of
            parameters (``"{g: 3.7}"``: envs whose levels are parameters); ``None``: the env's
            own levels (drawn at random, or its standard level).
        tile_size: the maze's pixels per cell (default: the env's).

    Raises:
        ValueError: ``level`` names no held-out maze or file, or is no mapping of parameters.
    """
    from advrl.envs import all_heldout_names, make_heldout_maze

    maze = batched_kwargs(env_id, env_kwargs)
    extra: dict[str, Any] = {"render_mode": "rgb_array"}
    if maze is not None and tile_size is not None:
        extra["tile_size"] = tile_size
    if level is None:
        return make_env(env_id, {**env_kwargs, **extra}), None
    if maze is None:
        try:
            params = load_yaml(level, "--level")
        except ConfigError:
            params = None
        if not isinstance(params, dict):
            raise ValueError(
                f"{env_id}'s levels are parameters: give --level a mapping of them, e.g. "
                f"'{{g: 3.7}}', not {level!r}"
            )
        return make_env(env_id, {**env_kwargs, **extra}), {"level": params}
    view = int(maze.get("agent_view_size", 5))
    if level in all_heldout_names():
        return make_heldout_maze(level, agent_view_size=view, **extra), None
    if Path(level).suffix == ".txt":
        if not Path(level).is_file():
            raise ValueError(f"layout file {level!r} not found")
        return make_heldout_maze(layout=level, agent_view_size=view, **extra), None
    raise ValueError(
        f"unknown level {level!r}: give a held-out maze ({', '.join(all_heldout_names())}) or "
        "a layout .txt file"
    )


def play_recorded(
    model: Any,
    env_id: str,
    env_kwargs: dict[str, Any],
    *,
    level: str | None = None,
    episodes: int = 1,
    seed: int = 0,
    deterministic: bool = True,
    tile_size: int | None = None,
) -> tuple[EpisodeStats, list[np.ndarray]]:
    """Play a policy (``model.predict``) on the run's env, or on ``level`` (see
    :func:`render_env`), for ``episodes`` seeded episodes; their statistics and every frame.

    Raises:
        ValueError: ``level`` is unknown, gives other observations than the policy's, or is
            refused by the env (a parameter out of range).
    """
    env, options = render_env(env_id, env_kwargs, level, tile_size=tile_size)
    frames: list[np.ndarray] = []
    try:
        if env.observation_space != model.observation_space:
            raise ValueError(
                f"the policy sees {model.observation_space}; the level gives {env.observation_space}"
            )
        policy = sb3_policy(model, deterministic=deterministic)
        stats = evaluate(env, policy, episodes, seed, options=options, frames=frames)
    finally:
        env.close()
    return stats, frames


def policy_clip(
    model: Any,
    env_id: str,
    env_kwargs: dict[str, Any],
    *,
    level: str | None = None,
    seed: int = 0,
    tile_size: int = 16,
) -> list[np.ndarray]:
    """The frames of one greedy episode of a policy on the run's env, or on ``level``."""
    return play_recorded(model, env_id, env_kwargs, level=level, seed=seed, tile_size=tile_size)[1]


def gif_bytes(frames: Sequence[np.ndarray], fps: float) -> bytes:
    """Frames (``H x W x 3`` uint8) as an animated GIF that loops."""
    if not frames:
        raise ValueError("no frames to write")
    images = [Image.fromarray(np.asarray(f, dtype=np.uint8)) for f in frames]
    buffer = io.BytesIO()
    images[0].save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=max(round(1000 / fps), 20),
        loop=0,
        optimize=False,
    )
    return buffer.getvalue()


def check_writer(path: str | Path) -> None:
    """Fail before any work if ``path`` is no video this install can write.

    Raises:
        ValueError: the suffix is neither ``.gif`` nor ``.mp4``.
        ImportError: an MP4 without moviepy (the message names the extra, and ``.gif``).
    """
    suffix = Path(path).suffix
    if suffix not in VIDEO_SUFFIXES:
        raise ValueError(f"a video is a .gif or an .mp4 file, got {str(path)!r}")
    if suffix == ".mp4":
        try:
            import moviepy  # noqa: F401
        except ImportError:
            raise ImportError(
                "writing .mp4 needs the video extra (pip install 'advrl[video]'); or write a .gif"
            ) from None


def write_video(frames: Sequence[np.ndarray], path: str | Path, fps: float = 10.0) -> Path:
    """Frames as ``path``: a GIF (always) or an MP4 (with the ``video`` extra), atomically.

    Raises:
        ValueError: the suffix is neither ``.gif`` nor ``.mp4``.
        ImportError: an MP4 without moviepy (the message names the extra, and ``.gif``).
    """
    path = Path(path)
    check_writer(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gif":
        atomic_write_bytes(path, gif_bytes(frames, fps))
        return path
    from moviepy import ImageSequenceClip

    # MP4's encoders want even sides: pad the last row/column when odd.
    h, w = frames[0].shape[:2]
    pad = ((0, h % 2), (0, w % 2), (0, 0))
    clip = ImageSequenceClip([np.pad(np.asarray(f, np.uint8), pad) for f in frames], fps=fps)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial.mp4")
    os.close(fd)  # a new file of advrl's, which the encoder overwrites (never a planted link)
    partial = Path(name)
    try:
        clip.write_videofile(str(partial), codec="libx264", audio=False, logger=None)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
        clip.close()
    return path


def tensorboard_video(
    writer: Any, tag: str, frames: Sequence[np.ndarray], step: int, fps: float
) -> None:
    """A clip in TensorBoard's Images tab: an animated GIF image summary (what
    ``SummaryWriter.add_video`` writes, encoded with Pillow instead of moviepy).

    Args:
        writer: a ``torch.utils.tensorboard.SummaryWriter``.
    """
    from tensorboard.compat.proto.summary_pb2 import Summary

    h, w = frames[0].shape[:2]
    image = Summary.Image(
        height=h, width=w, colorspace=3, encoded_image_string=gif_bytes(frames, fps)
    )
    writer.file_writer.add_summary(Summary(value=[Summary.Value(tag=tag, image=image)]), step)
    writer.flush()
