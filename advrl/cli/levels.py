"""``advrl envs`` and ``advrl levels show``: the registered envs, a level drawn to a PNG."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from advrl.cli.arguments import UserError, check_out_folder


def cmd_envs(args: argparse.Namespace) -> int:
    """Print every advrl env id with its entry point."""
    from gymnasium.envs.registration import registry

    from advrl.envs import advrl_env_ids

    for env_id in advrl_env_ids():
        spec = registry[env_id]
        entry = spec.entry_point if isinstance(spec.entry_point, str) else repr(spec.entry_point)
        kwargs = ", ".join(f"{k}={v!r}" for k, v in spec.kwargs.items())
        print(f"{env_id:40s} {entry}({kwargs})")
    return 0


def _resolve_level(name: str, seed: int) -> np.ndarray:
    """An RGB image of a level named by held-out name, env id, or text file path."""
    import gymnasium as gym

    from advrl.envs import all_heldout_names, read_layout, render_level
    from advrl.envs.maze import MazeEnv

    path = Path(name)
    if path.suffix == ".txt" or path.is_file():
        level = read_layout(path).sample(np.random.default_rng(seed))
        return render_level(level)
    env_id = name
    if name in all_heldout_names():
        env_id = f"advrl/Maze-{name}-v0"
    if "/" not in env_id:
        raise UserError(
            f"unknown level {name!r}: give a held-out maze ({', '.join(all_heldout_names())}), "
            "an env id, or a .txt layout file"
        )
    try:
        env = gym.make(env_id, render_mode="rgb_array")
    except gym.error.Error as err:
        raise UserError(str(err)) from None
    if not isinstance(env.unwrapped, MazeEnv):
        raise UserError(f"{env_id} is not a maze env; `levels show` draws mazes")
    env.reset(seed=seed)
    maze_level = env.unwrapped.level
    env.close()
    assert maze_level is not None
    return render_level(maze_level)


def cmd_levels_show(args: argparse.Namespace) -> int:
    """Render one level to a PNG."""
    from PIL import Image

    image = _resolve_level(args.name, args.seed)
    out = Path(args.out or f"{Path(args.name).stem.replace('/', '_')}.png")
    if out.suffix.lower() not in (".png", ".jpg", ".jpeg", ".bmp", ".gif"):
        raise UserError(f"--out must be an image file (.png), got {str(out)!r}")
    check_out_folder(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(out)
    print(f"wrote {out} ({image.shape[1]}x{image.shape[0]})")
    return 0


def add_parsers(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], shown: argparse.ArgumentParser
) -> None:
    """Add this module's commands to ``advrl``'s subcommands (``shown``: the output options of
    long commands)."""
    p_envs = sub.add_parser("envs", help="list the registered environments")
    p_envs.set_defaults(func=cmd_envs)

    p_levels = sub.add_parser("levels", help="look at levels")
    levels_sub = p_levels.add_subparsers(dest="levels_command", required=True)
    p_show = levels_sub.add_parser("show", help="draw a level to a PNG")
    p_show.add_argument("name", help="held-out maze name, env id, or layout .txt file")
    p_show.add_argument("--out", help="PNG to write (default: NAME.png)")
    p_show.add_argument("--seed", type=int, default=0, help="seed for random levels")
    p_show.set_defaults(func=cmd_levels_show)
