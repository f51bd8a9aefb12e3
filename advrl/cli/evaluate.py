"""``advrl eval``, ``advrl enjoy`` and ``advrl plot``: held-out and view evaluations, robustness curves
under attack, episodes played to a video, a run's figures."""

from __future__ import annotations

import argparse
import math
import warnings
from pathlib import Path
from typing import Any

from advrl import progress
from advrl.cli.arguments import UserError, add_allow_import, episodes_arg, floats_arg
from advrl.config import ConfigError


def cmd_eval(args: argparse.Namespace) -> int:
    """Zero-shot evaluation of a run's policy on held-out levels, or runs' robustness curves."""
    from advrl.envs import all_heldout_names
    from advrl.eval.zero_shot import format_table, write_table, zero_shot
    from advrl.runners.loading import load_run

    if args.attack:
        return cmd_eval_attack(args)
    if len(args.run) > 1:
        raise UserError("several runs are compared under --attack only; give one run folder")
    run = Path(args.run[0])
    loaded = load_run(run, allow_import=args.allow_import)
    if args.views:
        return eval_views(args, run, loaded)
    if args.sampled is not None:
        return eval_sampled(args, run, loaded)
    names = loaded.eval_levels
    if args.all:
        names = list(all_heldout_names())
    elif args.levels != "heldout":
        names = [n.strip() for n in args.levels.split(",") if n.strip()]
        if not names:
            raise UserError("--levels needs a held-out maze name (or 'heldout', or --all)")
        unknown = [n for n in names if n not in all_heldout_names()]
        if unknown:
            raise UserError(
                f"unknown held-out maze(s) {unknown}; known: {', '.join(all_heldout_names())}"
            )
    result = zero_shot(
        loaded.model,
        loaded.config.env.id,
        loaded.config.env.kwargs,
        names,
        episodes=episodes_arg(args, loaded.eval_episodes),
        seed=loaded.eval_seed,
        with_random=True,
    )
    rows = result.rows()
    print(format_table(rows))
    reference = ""
    if "random" in result.stats:
        reference = f" (random policy {result.mean('success_rate', 'random'):.3f})"
    print(f"mean solve rate {result.mean('success_rate'):.3f}{reference}")
    out = run / f"eval-{'all' if args.all else args.levels.replace(',', '_')}.csv"
    save_result(out, lambda: write_table(rows, out))
    return 0


def save_result(path: Path, write: Any) -> None:
    """Write a result beside the run (``write()``); where the run folder cannot take it (a
    read-only folder or file system), say so in one warning: the result is printed above."""
    try:
        write()
    except OSError as err:
        warnings.warn(
            f"could not save {path} ({err.strerror or err}); the result is printed above",
            RuntimeWarning,
            stacklevel=2,
        )
        return
    print(f"wrote {path}")


def eval_sampled(args: argparse.Namespace, run: Path, loaded: Any) -> int:
    """``advrl eval RUN --sampled N``: the solve rate on the worst 1% and 10% of N solvable levels
    sampled from the run's maze (the same levels for every run), each played ``--episodes`` times
    to choose the worst and as many again to score them."""
    import json

    from advrl.eval.worst_case import SampledLevels
    from advrl.files import atomic_write_bytes

    config = loaded.config
    if args.sampled < 1:
        raise UserError(f"--sampled must be >= 1 levels, got {args.sampled}")
    episodes = episodes_arg(args, 10)
    try:
        sampled = SampledLevels(
            config.env.id, config.env.kwargs, levels=args.sampled, episodes=episodes
        )
    except ValueError as err:
        raise UserError(f"--sampled: {err}") from None
    result = sampled.evaluate(loaded.model, seed=loaded.eval_seed)
    summary = result.summary()
    worst = ", ".join(f"worst {p}% {v:.3f}" for p, v in summary["worst_solve_rate"].items())
    print(
        f"{args.sampled:,} sampled levels of {config.env.id}, {episodes} episodes each: "
        f"mean solve rate {result.mean:.3f}; {worst}"
    )
    out = run / f"eval-sampled-{args.sampled}.json"
    save_result(
        out, lambda: atomic_write_bytes(out, (json.dumps(summary, indent=1) + "\n").encode())
    )
    return 0


def eval_views(args: argparse.Namespace, run: Path, loaded: Any) -> int:
    """``advrl eval RUN --views ...``: the run's env drawn under each named view space, on the
    same seeded levels; sampled and greedy actions, and a random policy."""
    from advrl.eval.zero_shot import format_table, write_table, zero_shot_views

    config = loaded.config
    names = [n.strip() for n in args.views.split(",") if n.strip()]
    episodes = episodes_arg(args, loaded.eval_episodes)
    try:
        result = zero_shot_views(
            loaded.model,
            config.env.id,
            config.env.kwargs,
            names,
            episodes=episodes,
            seed=loaded.eval_seed,
        )
    except ValueError as err:
        raise UserError(f"--views: {err}") from None
    rows = result.rows()
    print(f"{config.env.id}, {episodes} episodes per view space (the same levels for each)")
    print(format_table(rows))
    out = run / f"eval-views-{'_'.join(names)}.csv"
    write_table(rows, out)
    print(f"wrote {out}")
    return 0


def cmd_eval_attack(args: argparse.Namespace) -> int:
    """Robustness curves of runs under an observation attack (or every one that applies:
    ``--attack all``, with the strongest at each eps), with their ARA."""
    from advrl.agents import ObservationAttack
    from advrl.agents.attacks import ATTACKS
    from advrl.runners.robustness import evaluate_attacks

    eps = floats_arg(args.eps, "--eps")
    if args.reference is not None and not math.isfinite(args.reference):
        raise UserError(f"--reference must be a finite return, got {args.reference}")
    eps_range = None
    if args.eps_range:
        bounds = floats_arg(args.eps_range, "--eps-range")
        if len(bounds) != 2:
            raise UserError(f"--eps-range needs LOW,HIGH, got {args.eps_range!r}")
        eps_range = (bounds[0], bounds[1])
    adversary = None
    if args.adversary:
        from advrl.runners.loading import load_run

        adversary = load_run(args.adversary, allow_import=args.allow_import).model
    names = [args.attack]
    if args.attack == "all":  # the learned attack where a trained adversary is given
        names = [n for n, a in ATTACKS.items() if adversary is not None or not a.needs_adversary]
    try:
        attacks = [
            ObservationAttack(
                method=name,
                eps=max(eps),
                norm=args.norm,
                objective=args.objective or ATTACKS[name].objective,
                steps=args.steps,
                eps_units=args.eps_units,
                adversary=adversary,
                rs_iterations=args.rs_iterations,
                rs_steps=args.rs_steps,
            )
            for name in names
        ]
        results = evaluate_attacks(
            [Path(r) for r in args.run],
            attacks,
            eps,
            episodes=episodes_arg(args, 20),
            deterministic=not args.stochastic,
            reference=args.reference,
            eps_range=eps_range,
            out=Path(args.out) if args.out else None,
            plot=not args.no_plot,
            discrete=args.discrete,
            allow_import=args.allow_import,
            only_applicable=args.attack == "all",
        )
    except (ValueError, ImportError) as err:
        if isinstance(err, ConfigError):
            raise
        raise UserError(str(err)) from None
    for result in results:
        attack = result.attack
        print(
            f"{result.env}: {attack['method']} ({attack['objective']}, {attack['norm']}), "
            f"{result.episodes} episodes per eps; random policy {result.baseline:.1f}"
        )
        print("\n".join(result.table()))
        for f in result.files:
            print(f"wrote {f}")
    if len(results) > 1:
        print("the strongest attack at each eps (the lowest mean return):")
        print("\n".join(strongest_table(results)))
    return 0


def strongest_table(results: list[Any]) -> list[str]:
    """A markdown table: per run, at each eps, the lowest mean return over the attacks and the
    attack that reached it (the robust-RL papers' "strongest attack")."""
    first = results[0]
    eps = [p.eps for p in next(iter(first.runs.values())).points]
    header = ["run", *(f"eps={e:g}" for e in eps)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name in first.runs:
        cells = []
        for i in range(len(eps)):
            worst = min(results, key=lambda r: r.runs[name].points[i].mean_return)
            point = worst.runs[name].points[i]
            cells.append(f"{point.mean_return:.1f} ({worst.attack['method']})")
        lines.append("| " + " | ".join([name, *cells]) + " |")
    return lines


def cmd_enjoy(args: argparse.Namespace) -> int:
    """Play a run's policy on a level: each episode's result, and a video of them all."""
    from advrl.eval.video import check_writer, play_recorded, write_video
    from advrl.runners.loading import load_run

    if args.episodes < 1:
        raise UserError(f"--episodes must be >= 1, got {args.episodes}")
    if args.fps <= 0 or not math.isfinite(args.fps):
        raise UserError(f"--fps must be a positive number, got {args.fps}")
    loaded = load_run(args.run, allow_import=args.allow_import)
    name = Path(args.level).stem if args.level and not args.level.startswith("{") else "level"
    video = Path(args.video) if args.video else loaded.path / "videos" / f"{name}.gif"
    try:
        check_writer(video)
    except (ValueError, ImportError) as err:
        raise UserError(f"--video: {err}") from None
    env_cfg = loaded.config.env
    try:
        with progress.phase("playing", args.episodes, "episodes"):
            stats, frames = play_recorded(
                loaded.model,
                env_cfg.id,
                env_cfg.kwargs,
                level=args.level,
                episodes=args.episodes,
                seed=args.seed,
                deterministic=not args.stochastic,
            )
    except ValueError as err:  # an unknown level, or one the env or the policy cannot play
        raise UserError(f"--level: {err}") from None
    for i, (ret, length) in enumerate(zip(stats.returns, stats.lengths, strict=True)):
        solved = ("solved" if stats.successes[i] else "not solved") if stats.success_defined else ""
        print(f"episode {i + 1}: return {ret:.3f}, {length} steps{', ' + solved if solved else ''}")
    write_video(frames, video, fps=args.fps)
    height, width = frames[0].shape[:2]
    print(f"wrote {video}: {len(frames)} frames of {width}x{height}")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    """The figures of one run or several (seeds of a config are one line with a band)."""
    from advrl.reports.plots import PlotError, figures_to_tensorboard, make_figures, save_figures

    runs = [Path(r) for r in args.run]
    missing = [str(r) for r in runs if not r.is_dir()]
    if missing:
        raise UserError(f"no run folder {missing[0]!r}")
    out = Path(args.out) if args.out else (runs[0] / "plots" if len(runs) == 1 else Path("plots"))
    from advrl.files import check_no_links

    target = runs[0] if not args.out and len(runs) == 1 else out
    if target.exists() or target.is_symlink():  # the figures and their log: never via a link
        check_no_links(target)
    try:
        with progress.phase("plotting"):
            figures = make_figures(runs)
    except (PlotError, ImportError) as err:
        raise UserError(str(err)) from None
    paths = save_figures(figures, out)
    if not args.no_tensorboard:
        figures_to_tensorboard(paths, out / "tb")
    for path in paths:
        print(f"wrote {path}")
    return 0


def add_parsers(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], shown: argparse.ArgumentParser
) -> None:
    """Add this module's commands to ``advrl``'s subcommands (``shown``: the output options of
    long commands)."""
    from advrl.agents.attacks import ATTACKS

    p_enjoy = sub.add_parser(
        "enjoy", help="watch a run's policy play: each episode, and a video", parents=[shown]
    )
    p_enjoy.add_argument("run", help="run folder")
    p_enjoy.add_argument(
        "--level",
        help="a held-out maze or a layout .txt file (maze runs), or a YAML mapping of parameters "
        "(physics runs, e.g. '{g: 3.7}'); default: the run's own env",
    )
    p_enjoy.add_argument("--episodes", type=int, default=1)
    p_enjoy.add_argument(
        "--video", help=".gif, or .mp4 with the video extra (default: RUN/videos/LEVEL.gif)"
    )
    p_enjoy.add_argument("--fps", type=float, default=10.0, help="frames per second")
    p_enjoy.add_argument("--seed", type=int, default=0, help="seed of the first episode")
    p_enjoy.add_argument(
        "--stochastic", action="store_true", help="sample actions (default: greedy)"
    )
    add_allow_import(p_enjoy)
    p_enjoy.set_defaults(func=cmd_enjoy)

    p_plot = sub.add_parser(
        "plot", help="figures of runs: learning curves, held-out bars, level complexity, ARA"
    )
    p_plot.add_argument("run", nargs="+", help="run folders (seeds of one config share a line)")
    p_plot.add_argument("--out", help="folder of the PNGs (default: RUN/plots, or ./plots)")
    p_plot.add_argument(
        "--no-tensorboard", action="store_true", help="skip the copy in OUT/tb for TensorBoard"
    )
    p_plot.set_defaults(func=cmd_plot)

    p_eval = sub.add_parser(
        "eval",
        help="evaluate a run's policy zero-shot on held-out mazes, or runs' policies under attack",
        parents=[shown],
    )
    p_eval.add_argument("run", nargs="+", help="run folder (several with --attack)")
    p_eval.add_argument(
        "--levels",
        default="heldout",
        help="'heldout' (the run's eval_levels) or comma-separated held-out maze names",
    )
    p_eval.add_argument("--all", action="store_true", help="every held-out maze")
    p_eval.add_argument(
        "--views",
        help="pixel envs: comma-separated view spaces to play the run's env under "
        "(default, train, heldout) instead of held-out mazes",
    )
    p_eval.add_argument(
        "--sampled",
        type=int,
        metavar="N",
        help="maze runs: the solve rate on the worst 1%% and 10%% of N solvable levels sampled "
        "from the run's maze, the same for every run (SFL's robustness metric; e.g. 10000)",
    )
    p_eval.add_argument(
        "--episodes",
        type=int,
        help="episodes per maze, view space, sampled level (default: 10) or eps "
        "(default: the run's / 20)",
    )
    attack = p_eval.add_argument_group("observation attacks (robustness curves and ARA)")
    attack.add_argument(
        "--attack",
        choices=[*ATTACKS, "all"],
        help="attack the policy (all: every attack that applies to the env, and the strongest at "
        "each eps): "
        + "; ".join(f"{a.name}: {a.help}" for a in ATTACKS.values()).replace("%", "%%"),
    )
    attack.add_argument("--eps", default="0,0.02,0.05,0.1,0.2", help="comma-separated sizes")
    attack.add_argument("--objective", choices=["kl", "ce", "value"], help="default: kl (flip: ce)")
    attack.add_argument("--norm", default="linf", choices=["linf", "l2"])
    attack.add_argument(
        "--eps-units",
        default="env",
        choices=["env", "normalized"],
        help="for runs with env.normalize.obs: eps in the env's units or in the normalized "
        "observation's (as SA-PPO and ATLA state it)",
    )
    attack.add_argument("--steps", type=int, default=10, help="PGD steps")
    attack.add_argument(
        "--rs-iterations",
        type=int,
        default=30,
        help="rs: rollouts of robust Sarsa's Q training (SA-PPO's 30)",
    )
    attack.add_argument(
        "--rs-steps", type=int, default=2048, help="rs: env steps per rollout (SA-PPO's 2048)"
    )
    attack.add_argument(
        "--adversary",
        metavar="RUN",
        help="the learned attack's run (configs/attacker.yaml trained on this victim): --attack "
        "learned, or one of --attack all",
    )
    attack.add_argument(
        "--stochastic", action="store_true", help="sample actions (default: greedy)"
    )
    attack.add_argument(
        "--reference", type=float, help="return scaled to 1 in the normalized ARA (default: clean)"
    )
    attack.add_argument("--eps-range", help="LOW,HIGH of the normalized ARA (default: all)")
    attack.add_argument("--out", help="folder for the CSV, JSON and PNG (default: first run)")
    attack.add_argument("--no-plot", action="store_true", help="skip the PNG (no matplotlib)")
    attack.add_argument(
        "--discrete",
        action="store_true",
        help="maze: act on real observations (cells take their largest type), not relaxed features",
    )
    add_allow_import(p_eval)
    p_eval.set_defaults(func=cmd_eval)
