"""``advrl demos record|info|export``: expert demonstrations recorded, described, written for other
libraries."""

from __future__ import annotations

import argparse
from pathlib import Path

from advrl.cli.arguments import UserError, add_allow_import, check_out_folder
from advrl.config import check_env_import


def cmd_demos_record(args: argparse.Namespace) -> int:
    """Roll out a run's policy and save its episodes."""
    from advrl.envs.vector import make_env
    from advrl.episodes import sb3_policy
    from advrl.gail import record_demos, save_demos
    from advrl.gail.record import policy_input_for
    from advrl.runners.loading import load_run

    out = Path(args.out)
    if out.suffix != ".npz":
        raise UserError(f"--out must end in .npz, got {args.out!r}")
    check_out_folder(out)
    if args.episodes < 1:
        raise UserError(f"--episodes must be >= 1, got {args.episodes}")
    loaded = load_run(args.model, allow_import=args.allow_import)
    model, config = loaded.model, loaded.config
    env_id, env_kwargs = config.env.id, config.env.kwargs
    if args.env and args.env != env_id:
        env_id, env_kwargs = args.env, {}
    env = make_env(env_id, env_kwargs)
    try:
        policy_input = policy_input_for(env, model.observation_space, model.action_space)
    except ValueError as err:
        env.close()
        raise UserError(f"{args.model!r}: {err}") from None
    if policy_input is not None:
        print(f"the policy plays {env_id} from its state (info['state']); recording its pixels")
    policy = sb3_policy(model, deterministic=not args.stochastic)
    demos = record_demos(
        env,
        policy,
        args.episodes,
        seed=args.seed,
        env_id=env_id,
        policy_input=policy_input,
    )
    env.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    save_demos(demos, out)
    print(
        f"wrote {out}: {demos.num_episodes} episodes, {demos.num_transitions} steps of {env_id}; "
        f"expert return {demos.expert_return:.2f}, random {demos.random_return:.2f}"
    )
    return 0


def cmd_demos_info(args: argparse.Namespace) -> int:
    """Describe a demonstrations file."""
    from advrl.gail import load_demos

    demos = load_demos(args.path, args.format)
    returns = demos.episode_returns()
    shapes = (
        {k: v.shape[1:] for k, v in demos.obs.items()}
        if isinstance(demos.obs, dict)
        else demos.obs.shape[1:]
    )
    print(f"env:          {demos.env_id or '(not recorded)'}")
    print(f"episodes:     {demos.num_episodes} ({demos.num_transitions} steps)")
    print(
        f"lengths:      min {demos.lengths.min()}, mean {demos.lengths.mean():.1f}, max {demos.lengths.max()}"
    )
    print(
        f"ends:         {int(demos.terminated.sum())} terminated, {int(demos.truncated.sum())} truncated"
    )
    print(f"return:       {returns.mean():.2f} +- {returns.std():.2f}")
    print(
        f"expert/random returns for normalization: {demos.expert_return:.2f} / {demos.random_return:.2f}"
    )
    print(f"observations: {shapes}; actions: {demos.acts.shape[1:]} {demos.acts.dtype}")
    return 0


def cmd_demos_export(args: argparse.Namespace) -> int:
    """Write a demonstrations file in another library's format."""
    import gymnasium as gym

    from advrl.gail import load_demos
    from advrl.gail.demo_files import write_imitation_npz
    from advrl.gail.minari_io import write_minari

    demos = load_demos(args.path)
    out = Path(args.out)
    if args.to == "imitation":
        write_imitation_npz(demos, out)
    else:
        env_id = args.env or demos.env_id
        if not env_id:
            raise UserError(f"{args.path!r} does not say its env: give --env ID (Minari stores it)")
        if not args.env:  # the file's env id, not the user's
            check_env_import(env_id, args.allow_import, args.path, "demos file")
        try:
            env = gym.make(env_id)
        except gym.error.Error as err:
            raise UserError(f"env {env_id!r}: {err}") from None
        demos.check_spaces(env.observation_space, env.action_space, env_id)
        try:
            write_minari(demos, out, env.observation_space, env.action_space, env.spec)
        except ImportError as err:
            raise UserError(str(err)) from None
        finally:
            env.close()
    print(f"wrote {out}: {demos.num_episodes} episodes, {demos.num_transitions} steps ({args.to})")
    return 0


def add_parsers(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], shown: argparse.ArgumentParser
) -> None:
    """Add this module's commands to ``advrl``'s subcommands (``shown``: the output options of
    long commands)."""
    p_demos = sub.add_parser("demos", help="record and inspect expert demonstrations")
    demos_sub = p_demos.add_subparsers(dest="demos_command", required=True)
    p_rec = demos_sub.add_parser(
        "record", help="roll out a run's policy and save episodes", parents=[shown]
    )
    p_rec.add_argument("--model", required=True, help="run folder (PPO expert, GAIL, ASAF, UED)")
    p_rec.add_argument("--env", help="env id to record on (default: the run's env)")
    p_rec.add_argument("--episodes", type=int, default=10, help="episodes to record")
    p_rec.add_argument("--out", required=True, help="the .npz file to write")
    p_rec.add_argument("--seed", type=int, default=0, help="seed of the first episode")
    p_rec.add_argument(
        "--stochastic", action="store_true", help="sample actions (default: greedy actions)"
    )
    add_allow_import(p_rec)
    p_rec.set_defaults(func=cmd_demos_record)
    p_info = demos_sub.add_parser("info", help="describe a demonstrations file")
    p_info.add_argument("path", help=".npz file or Minari dataset folder")
    p_info.add_argument(
        "--format", default="auto", choices=["auto", "advrl", "imitation", "minari"]
    )
    p_info.set_defaults(func=cmd_demos_info)
    p_export = demos_sub.add_parser(
        "export", help="write demonstrations for the imitation library or as a Minari dataset"
    )
    p_export.add_argument("path", help="demonstrations (.npz or Minari folder)")
    p_export.add_argument("--to", required=True, choices=["imitation", "minari"])
    p_export.add_argument("--out", required=True, help="imitation: a .npz; minari: a new folder")
    p_export.add_argument("--env", help="env id (minari; default: the one the demos recorded)")
    add_allow_import(p_export)
    p_export.set_defaults(func=cmd_demos_export)
