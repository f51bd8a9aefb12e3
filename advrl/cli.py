"""The ``advrl`` command line.

::

    advrl envs                                   list the registered environments
    advrl levels show NAME [--out FILE.png]      draw a level (held-out name, id, or text file)
    advrl train ppo --config configs/ppo-maze.yaml [--set train.seed=3] [--resume RUN]

User mistakes (a missing file, an unknown config key, a bad value) end with one ``advrl: error:``
line and exit status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from advrl.config import ConfigError, PPORunConfig, load_config
from advrl.envs.level import LevelError


class UserError(Exception):
    """A mistake in what the user asked for; printed as one line."""


# ------------------------------------------------------------------------------------ commands
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
    if out.parent and not out.parent.exists():
        raise UserError(f"folder {str(out.parent)!r} does not exist")
    Image.fromarray(image).save(out)
    print(f"wrote {out} ({image.shape[1]}x{image.shape[0]})")
    return 0


def cmd_train_ppo(args: argparse.Namespace) -> int:
    """Train SB3 PPO from a config (or resume a run)."""
    from advrl.runners import train_ppo

    if args.resume:
        run_config = Path(args.resume) / "config.yaml"
        if not run_config.is_file():
            raise UserError(f"{args.resume!r} is not a run folder (no config.yaml)")
        config = load_config(PPORunConfig, run_config, args.set)
    else:
        if not args.config:
            raise UserError("give --config FILE (e.g. configs/ppo-maze.yaml) or --resume RUN")
        config = load_config(PPORunConfig, args.config, args.set)
    summary = train_ppo(config, resume=args.resume)
    ev = summary["eval"]
    print(
        f"run {summary['run']}: {summary['timesteps']} steps in {summary['wall_clock_s']} s; "
        f"success {ev['policy']['success_rate']:.2f} (greedy "
        f"{ev['policy_deterministic']['success_rate']:.2f}, random {ev['random']['success_rate']:.2f}), "
        f"return {ev['policy']['mean_return']:.3f} (random {ev['random']['mean_return']:.3f})"
    )
    if args.json:
        print(json.dumps(summary, indent=2))
    return 0


# ------------------------------------------------------------------------------------ parser
def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``advrl``."""
    parser = argparse.ArgumentParser(prog="advrl", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p_envs = sub.add_parser("envs", help="list the registered environments")
    p_envs.set_defaults(func=cmd_envs)

    p_levels = sub.add_parser("levels", help="look at levels")
    levels_sub = p_levels.add_subparsers(dest="levels_command", required=True)
    p_show = levels_sub.add_parser("show", help="draw a level to a PNG")
    p_show.add_argument("name", help="held-out maze name, env id, or layout .txt file")
    p_show.add_argument("--out", help="PNG to write (default: NAME.png)")
    p_show.add_argument("--seed", type=int, default=0, help="seed for random levels")
    p_show.set_defaults(func=cmd_levels_show)

    p_train = sub.add_parser("train", help="train an agent")
    train_sub = p_train.add_subparsers(dest="method", required=True)
    p_ppo = train_sub.add_parser("ppo", help="SB3 PPO on one env")
    p_ppo.add_argument("--config", help="YAML config (see configs/)")
    p_ppo.add_argument("--resume", help="run folder to continue from its latest checkpoint")
    p_ppo.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set train.total_timesteps=10000 (repeatable)",
    )
    p_ppo.add_argument("--json", action="store_true", help="print the whole summary as JSON")
    p_ppo.set_defaults(func=cmd_train_ppo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``advrl`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (UserError, ConfigError, LevelError, FileNotFoundError, FileExistsError) as err:
        print(f"advrl: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into e.g. `head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("advrl: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
