"""The ``advrl`` command line.

::

    advrl envs                                   list the registered environments
    advrl levels show NAME [--out FILE.png]      draw a level (held-out name, id, or text file)
    advrl train ppo --config configs/ppo-maze.yaml [--set train.seed=3] [--resume RUN]
    advrl train paired|dr|minimax|plr|accel --config configs/paired-maze.yaml [--resume RUN]
    advrl train gail|asaf --config configs/gail-cartpole.yaml [--resume RUN]
    advrl expert train --env CartPole-v1 [--config configs/expert-cartpole.yaml]
    advrl demos record --model RUN --episodes 10 --out demos.npz
    advrl demos info demos.npz
    advrl demos export demos.npz --to imitation|minari --out PATH
    advrl eval RUN [--levels heldout|NAME,NAME] [--episodes N]
    advrl eval RUN [RUN...] --attack pgd --eps 0,0.05,0.1 [--objective kl] [--norm linf]
    advrl plot RUN [RUN...] [--out FOLDER]
    advrl enjoy RUN [--level NAME|FILE|'{g: 3.7}'] [--episodes N] [--video out.mp4]
    advrl sweep --config configs/dr-maze-small.yaml --seeds 0-4 --grid method=dr,plr
    advrl sweep report SWEEP

User mistakes (a missing file, an unknown config key, a bad value) end with one ``advrl: error:``
line and exit status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import math
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import yaml

from advrl import progress
from advrl.config import (
    ConfigError,
    ImitationRunConfig,
    PPORunConfig,
    UEDRunConfig,
    check_env_import,
    from_dict,
    load_config,
    to_dict,
)
from advrl.envs.level import LevelError
from advrl.gail.demos import DemoError
from advrl.pair.methods import TEACHERS


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


def _check_out_folder(out: Path) -> None:
    """Fail before any work if ``out``'s folder cannot be made (a file stands in its path); a
    folder that does not exist yet is made when ``out`` is written."""
    existing = next((p for p in out.parents if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise UserError(f"{str(existing)!r} is a file, not a folder for {out.name}")


def cmd_levels_show(args: argparse.Namespace) -> int:
    """Render one level to a PNG."""
    from PIL import Image

    image = _resolve_level(args.name, args.seed)
    out = Path(args.out or f"{Path(args.name).stem.replace('/', '_')}.png")
    if out.suffix.lower() not in (".png", ".jpg", ".jpeg", ".bmp", ".gif"):
        raise UserError(f"--out must be an image file (.png), got {str(out)!r}")
    _check_out_folder(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(out)
    print(f"wrote {out} ({image.shape[1]}x{image.shape[0]})")
    return 0


C = TypeVar("C", PPORunConfig, UEDRunConfig[Any], ImitationRunConfig)

TRAIN_OPTIONS = """Settings come from --config FILE (or the run being resumed), then --set KEY=VALUE
overrides (YAML values, repeatable), then the flags below. Also: --resume RUN continues a run from its
latest checkpoint; --json prints the whole summary."""


def _yaml_mapping(text: str) -> dict[str, Any]:
    value = yaml.safe_load(text)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"expected a YAML mapping such as '{{size: 9}}', got {text!r}")
    return value


def _cli_types() -> Any:
    """tyro's constructors for the settings' types it has no flag for: a mapping is one YAML
    argument (``--env.kwargs '{size: 9}'``)."""
    import tyro

    registry = tyro.constructors.ConstructorRegistry()

    @registry.primitive_rule
    def mapping(info: Any) -> Any:
        if info.type_origin is not dict:
            return None
        return tyro.constructors.PrimitiveConstructorSpec(
            nargs=1,
            metavar="YAML",
            instance_from_str=lambda args: _yaml_mapping(args[0]),
            is_instance=lambda value: isinstance(value, dict),
            str_from_instance=lambda value: [
                yaml.safe_dump(value, default_flow_style=True).strip()
            ],
        )

    return registry


def _first_line(text: str) -> str:
    """The first paragraph of a framed tyro message, on one line, without its frame."""
    words: list[str] = []
    for line in text.splitlines()[1:]:  # the first is the frame's top, with the title
        body = line.strip().strip("│╭╮╰╯").strip()
        if not body or body.startswith("─"):
            if words:
                break
            continue
        words.append(body)
    return " ".join(words) or "the flags could not be read"


def _run_config(args: argparse.Namespace, cls: type[C]) -> C:
    """The settings of ``advrl train <method>``: from ``--config`` or the run being resumed, then
    ``--set`` overrides, then the typed flags (``--ppo.learning_rate 1e-3``); ``--help`` lists
    every key of the method's settings with its type, default and doc line."""
    from advrl.runners.kinds import resolve_settings

    method = getattr(args, "method", "ppo")
    if not (args.resume or args.config or args.help):
        example = "ppo-maze" if method == "ppo" else f"{method}-maze"
        raise UserError(f"give --config FILE (e.g. configs/{example}.yaml) or --resume RUN")
    config = resolve_settings(
        method,
        config=args.config,
        resume=args.resume,
        overrides=args.set,
        allow_import=args.allow_import,
    )
    if not (args.flags or args.help):
        return config
    import tyro

    schema: Any = cls
    if isinstance(config, UEDRunConfig):
        schema = UEDRunConfig[type(config.teacher)]  # type: ignore[misc]
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):
            flagged = tyro.cli(
                schema,
                default=config,
                registry=_cli_types(),
                args=[*args.flags, *(["--help"] if args.help else [])],
                prog=f"advrl train {method}",
                description=f"{(cls.__doc__ or '').splitlines()[0]}\n\n{TRAIN_OPTIONS}",
                use_underscores=True,
            )
    except SystemExit as exit_:
        if not exit_.code:
            raise
        raise UserError(
            f"{_first_line(errors.getvalue())}; see advrl train {method} --help"
        ) from None
    return from_dict(cls, to_dict(flagged))  # the loader's checks, as for a file's values


def _ppo_result(summary: dict[str, Any]) -> str:
    ev = summary["eval"]
    policy, greedy, random = ev["policy"], ev["policy_deterministic"], ev["random"]
    out = (
        f"return {policy['mean_return']:.3f} (greedy {greedy['mean_return']:.3f}, random "
        f"{random['mean_return']:.3f})"
    )
    if "success_rate" not in policy:  # the env does not say what success is
        return out
    return (
        f"success {policy['success_rate']:.2f} (greedy {greedy['success_rate']:.2f}, random "
        f"{random['success_rate']:.2f}), {out}"
    )


def _ued_result(summary: dict[str, Any]) -> str:
    regret = summary["last"].get("ued/regret")
    out = f"{summary['student_steps_per_s']} student steps/s"
    out += f", regret {regret:.3f}; " if regret is not None else "; "
    if not summary["held_out"]:  # a physics env: its standard level
        return out + (
            f"return on the standard level {summary['mean_return']:.1f} "
            f"(greedy {summary['mean_return_greedy']:.1f})"
        )
    return out + (
        f"held-out solve rate {summary['mean_solve_rate']:.2f} (greedy "
        f"{summary['mean_solve_rate_greedy']:.2f}; random policy "
        f"{summary['mean_solve_rate_random']:.2f})"
    )


def _imitation_result(summary: dict[str, Any]) -> str:
    ev = summary["eval"]

    def score(result: dict[str, Any]) -> str:
        value = result.get("normalized_score")
        return f", normalized score {value:.2f}" if value is not None else ""

    policy, greedy = ev["policy"], ev["policy_deterministic"]
    return (
        f"{summary['variant']} on {summary['env']} from {summary['demo_episodes']} expert "
        f"episodes; return "
        f"{policy['mean_return']:.1f}{score(policy)} (greedy {greedy['mean_return']:.1f}"
        f"{score(greedy)}; expert {ev['expert_return']:.1f}, random {ev['random_return']:.1f})"
    )


def cmd_train(args: argparse.Namespace) -> int:
    """Train any method from its settings (or resume a run); print one line, or the summary."""
    from advrl.runners.kinds import run_kind

    kind = run_kind(args.method)
    result = {"ued": _ued_result, "imitation": _imitation_result, "ppo": _ppo_result}[kind.family]
    summary: dict[str, Any] = kind.train(_run_config(args, kind.settings), resume=args.resume)
    print(
        f"run {summary['run']}: {summary['method']}, {summary['timesteps']} steps in "
        f"{summary['wall_clock_s']} s; {result(summary)}"
    )
    if args.json:
        print(json.dumps(summary, indent=2))
    return 0


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
    names = loaded.eval_levels
    if args.all:
        names = list(all_heldout_names())
    elif args.levels != "heldout":
        names = [n.strip() for n in args.levels.split(",") if n.strip()]
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
        episodes=_episodes(args, loaded.eval_episodes),
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
    write_table(rows, out)
    print(f"wrote {out}")
    return 0


def eval_views(args: argparse.Namespace, run: Path, loaded: Any) -> int:
    """``advrl eval RUN --views ...``: the run's env drawn under each named view space, on the
    same seeded levels; sampled and greedy actions, and a random policy."""
    from advrl.eval.zero_shot import format_table, write_table, zero_shot_views

    config = loaded.config
    names = [n.strip() for n in args.views.split(",") if n.strip()]
    episodes = _episodes(args, loaded.eval_episodes)
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


def _floats(text: str, what: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UserError(f"{what} must be comma-separated numbers, got {text!r}") from None
    if not values or not all(math.isfinite(v) for v in values):
        raise UserError(f"{what} must be one or more finite numbers, got {text!r}")
    return values


def _episodes(args: argparse.Namespace, default: int) -> int:
    if args.episodes is None:
        return default
    if args.episodes < 1:
        raise UserError(f"--episodes must be >= 1, got {args.episodes}")
    return int(args.episodes)


def cmd_eval_attack(args: argparse.Namespace) -> int:
    """Robustness curves of runs under an observation attack, with their ARA."""
    from advrl.agents import ObservationAttack
    from advrl.agents.attacks import Objective
    from advrl.runners.robustness import evaluate_robustness

    eps = _floats(args.eps, "--eps")
    if args.reference is not None and not math.isfinite(args.reference):
        raise UserError(f"--reference must be a finite return, got {args.reference}")
    objective: Objective = args.objective or ("ce" if args.attack == "flip" else "kl")
    eps_range = None
    if args.eps_range:
        bounds = _floats(args.eps_range, "--eps-range")
        if len(bounds) != 2:
            raise UserError(f"--eps-range needs LOW,HIGH, got {args.eps_range!r}")
        eps_range = (bounds[0], bounds[1])
    try:
        attack = ObservationAttack(
            method=args.attack,
            eps=max(eps),
            norm=args.norm,
            objective=objective,
            steps=args.steps,
        )
        result = evaluate_robustness(
            [Path(r) for r in args.run],
            attack,
            eps,
            episodes=_episodes(args, 20),
            deterministic=not args.stochastic,
            reference=args.reference,
            eps_range=eps_range,
            out=Path(args.out) if args.out else None,
            plot=not args.no_plot,
            discrete=args.discrete,
            allow_import=args.allow_import,
        )
    except (ValueError, ImportError) as err:
        if isinstance(err, ConfigError):
            raise
        raise UserError(str(err)) from None
    print(
        f"{result.env}: {args.attack} ({objective}, {args.norm}), "
        f"{result.episodes} episodes per eps; random policy {result.baseline:.1f}"
    )
    print("\n".join(result.table()))
    for f in result.files:
        print(f"wrote {f}")
    return 0


def cmd_expert_train(args: argparse.Namespace) -> int:
    """Train an SB3 PPO expert on any env (``advrl train ppo`` with the env set)."""
    from advrl.runners import train_ppo
    from advrl.runs import RunDir

    overrides = list(args.set)
    if args.env:
        overrides.insert(0, f"env.id={json.dumps(args.env)}")
    if not (args.config or args.env):
        raise UserError("give --env ID (and optionally --config FILE), e.g. --env CartPole-v1")
    config = load_config(PPORunConfig, args.config, overrides)
    if config.name is None:
        name = RunDir.default_name(config.env.id, "expert", config.train.seed)
        config = dataclasses.replace(config, name=name)
    summary = train_ppo(config)
    ev = summary["eval"]
    print(
        f"expert {summary['run']}: {summary['timesteps']} steps in {summary['wall_clock_s']} s; "
        f"return {ev['policy']['mean_return']:.1f} (greedy "
        f"{ev['policy_deterministic']['mean_return']:.1f}, random {ev['random']['mean_return']:.1f})"
    )
    print(
        f"record demos: advrl demos record --model {summary['run']} --episodes 10 --out demos.npz"
    )
    return 0


def cmd_demos_record(args: argparse.Namespace) -> int:
    """Roll out a run's policy and save its episodes."""
    from advrl.envs.vector import make_env
    from advrl.eval import sb3_policy
    from advrl.gail import record_demos, save_demos
    from advrl.gail.record import policy_input_for
    from advrl.runners.loading import load_run

    out = Path(args.out)
    if out.suffix != ".npz":
        raise UserError(f"--out must end in .npz, got {args.out!r}")
    _check_out_folder(out)
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
    from advrl.eval.plots import PlotError, figures_to_tensorboard, make_figures, save_figures

    runs = [Path(r) for r in args.run]
    missing = [str(r) for r in runs if not r.is_dir()]
    if missing:
        raise UserError(f"no run folder {missing[0]!r}")
    out = Path(args.out) if args.out else (runs[0] / "plots" if len(runs) == 1 else Path("plots"))
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


def cmd_sweep(args: argparse.Namespace) -> int:
    """Run a sweep (or resume one), or report one (``advrl sweep report SWEEP``)."""
    from advrl.config import read_yaml
    from advrl.sweeps import SweepSpec, parse_grid, parse_seeds
    from advrl.sweeps.report import write_report
    from advrl.sweeps.tune import check_trials, import_ray, run_sweep

    def report(folder: Path) -> int:
        files = write_report(folder, reps=args.reps, plot=not args.no_plot)
        for path in files:
            print(f"wrote {path}")
        print(files[0].read_text(), end="")  # report.md
        return 0

    if args.action:
        if args.action[0] != "report" or len(args.action) != 2:
            raise UserError("use `advrl sweep --config FILE ...`, or `advrl sweep report SWEEP`")
        return report(Path(args.action[1]))
    import_ray()  # the one-line error, before anything is written
    if args.resume:
        folder = Path(args.resume)
        spec = SweepSpec.load(folder)
    else:
        if not args.config and not args.method:
            raise UserError("give --config FILE (and/or --method), or --resume SWEEP")
        method = args.method
        if method is None:
            named = read_yaml(args.config).get("method")
            method = str(named) if named is not None else "ppo"
        spec = SweepSpec(
            method=method,
            config=str(Path(args.config).resolve()) if args.config else None,
            seeds=parse_seeds(args.seeds),
            grid=parse_grid(args.grid),
            overrides=list(args.set),
            cpus_per_trial=args.cpus_per_trial,
            gpus_per_trial=args.gpus_per_trial,
            max_failures=args.max_failures,
            scheduler=args.scheduler,
            search=args.search,
            num_samples=args.num_samples,
            metric=args.metric,
            mode=args.mode,
        )
        check_trials(spec)  # every trial's settings checked before the folder is made
        from advrl.runs import check_run_name

        name = args.name or f"sweep-{spec.method}-{time.strftime('%Y%m%d-%H%M%S')}"
        check_run_name(name)
        folder = Path(args.out) / name
        if folder.exists():
            raise UserError(
                f"sweep folder {str(folder)!r} exists; resume it with --resume {folder}"
            )
        folder.mkdir(parents=True)
        spec.save(folder)
    trials = run_sweep(spec, folder, address=args.address)
    print(f"sweep {folder}: {len(trials)} trials in {folder / 'trials'}")
    return report(folder)


def cmd_demos_export(args: argparse.Namespace) -> int:
    """Write a demonstrations file in another library's format."""
    import gymnasium as gym

    from advrl.gail import load_demos
    from advrl.gail.demos import write_imitation_npz
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


# ------------------------------------------------------------------------------------ parser
def _allow_import(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-import",
        action="append",
        default=[],
        metavar="MODULE",
        help="a run folder's env id may import this module (module:Env ids; only for runs you trust)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``advrl``."""
    from advrl.runners.imitation import IMITATION

    parser = argparse.ArgumentParser(prog="advrl", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    shown = argparse.ArgumentParser(add_help=False)  # the output options of long commands
    output = shown.add_mutually_exclusive_group()
    output.add_argument(
        "-q", "--quiet", action="store_true", help="no progress, only the result and errors"
    )
    output.add_argument(
        "-v", "--verbose", action="store_true", help="every record as SB3's table of values"
    )

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
    commands = [("ppo", "SB3 PPO on one env (robust PPO with an adversarial method)")]
    commands += [(name, f"UED: {m.help}") for name, m in TEACHERS.items()]
    commands += [(m, f"imitation: {i.help}") for m, i in IMITATION.items()]
    for method, help_line in commands:
        p_method = train_sub.add_parser(
            method, help=help_line, add_help=False, allow_abbrev=False, parents=[shown]
        )
        p_method.add_argument("-h", "--help", action="store_true", help="list every setting")
        p_method.add_argument("--config", help=f"YAML config (e.g. configs/{method}-maze.yaml)")
        p_method.add_argument("--resume", help="run folder to continue from its latest checkpoint")
        p_method.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="override a setting, e.g. --set train.total_timesteps=10000 (repeatable)",
        )
        p_method.add_argument("--json", action="store_true", help="print the whole summary as JSON")
        _allow_import(p_method)
        p_method.set_defaults(func=cmd_train, method=method, flags=[])

    p_expert = sub.add_parser("expert", help="train experts to record demonstrations from")
    expert_sub = p_expert.add_subparsers(dest="expert_command", required=True)
    p_et = expert_sub.add_parser(
        "train", help="SB3 PPO expert on any Gymnasium env", parents=[shown]
    )
    p_et.add_argument("--env", help="Gymnasium id (e.g. CartPole-v1, advrl/Maze-Small-v0)")
    p_et.add_argument("--config", help="PPO config (e.g. configs/expert-cartpole.yaml)")
    p_et.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a value"
    )
    p_et.set_defaults(func=cmd_expert_train)

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
    _allow_import(p_rec)
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
    _allow_import(p_export)
    p_export.set_defaults(func=cmd_demos_export)

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
    _allow_import(p_enjoy)
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

    p_sweep = sub.add_parser(
        "sweep",
        help="run a config over seeds and a grid as Ray Tune trials; `sweep report SWEEP`",
    )
    p_sweep.add_argument("action", nargs="*", help="`report SWEEP` to (re)write a sweep's report")
    p_sweep.add_argument("--config", help="YAML config of every trial")
    p_sweep.add_argument("--method", help="the method (default: the config's `method:`, or ppo)")
    p_sweep.add_argument("--seeds", default="0-4", help="seeds: 0-4 or 0,2,7 (default 0-4)")
    p_sweep.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="a setting to vary (repeatable; `method=dr,plr` varies the method)",
    )
    p_sweep.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="a setting of every trial"
    )
    p_sweep.add_argument("--out", default="sweeps", help="parent folder of sweep folders")
    p_sweep.add_argument("--name", help="sweep folder name (default: sweep-<method>-<time>)")
    p_sweep.add_argument("--resume", help="a sweep folder: run its unfinished trials")
    p_sweep.add_argument("--cpus-per-trial", type=float, default=1.0)
    p_sweep.add_argument("--gpus-per-trial", type=float, default=0.0)
    p_sweep.add_argument("--max-failures", type=int, default=2, help="retries of a failed trial")
    p_sweep.add_argument(
        "--scheduler",
        default="none",
        choices=["none", "asha"],
        help="asha: stop trials early on their periodic evaluations (train.eval_every)",
    )
    p_sweep.add_argument(
        "--search",
        default="grid",
        choices=["grid", "random", "optuna"],
        help="grid: every point; random: --num-samples points from the grid's values (every "
        "seed each); optuna: --num-samples points proposed by Optuna (the first seed)",
    )
    p_sweep.add_argument("--num-samples", type=int, default=8, help="points a search tries")
    p_sweep.add_argument(
        "--metric",
        default="score",
        help="what a search and --scheduler rank by: score (UED: held-out solve rate, else "
        "return) or a periodic evaluation metric, e.g. eval/success_rate",
    )
    p_sweep.add_argument("--mode", default="max", choices=["max", "min"])
    p_sweep.add_argument("--address", help="a Ray cluster to join (default: Ray starts here)")
    p_sweep.add_argument("--reps", type=int, default=2000, help="bootstrap repetitions")
    p_sweep.add_argument("--no-plot", action="store_true", help="skip the report's PNG")
    p_sweep.set_defaults(func=cmd_sweep)

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
        "--episodes",
        type=int,
        help="episodes per maze, view space or eps (default: the run's / 20)",
    )
    attack = p_eval.add_argument_group("observation attacks (robustness curves and ARA)")
    attack.add_argument(
        "--attack",
        choices=["random", "fgsm", "pgd", "flip"],
        help="attack the policy (flip: the maze, eps = cells changed)",
    )
    attack.add_argument("--eps", default="0,0.02,0.05,0.1,0.2", help="comma-separated sizes")
    attack.add_argument("--objective", choices=["kl", "ce", "value"], help="default: kl (flip: ce)")
    attack.add_argument("--norm", default="linf", choices=["linf", "l2"])
    attack.add_argument("--steps", type=int, default=10, help="PGD steps")
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
    _allow_import(p_eval)
    p_eval.set_defaults(func=cmd_eval)
    return parser


def _one_line_warning(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> str:
    return f"advrl: warning: {message}\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``advrl`` console script."""
    warnings.formatwarning = _one_line_warning
    parser = build_parser()
    args, flags = parser.parse_known_args(argv)
    if flags and getattr(args, "command", None) != "train":
        parser.error(f"unrecognized arguments: {' '.join(flags)}")
    args.flags = flags
    mode: progress.Mode = "quiet" if getattr(args, "quiet", False) else "auto"
    try:
        with progress.reporting(progress.make_reporter(mode, getattr(args, "verbose", False))):
            return int(args.func(args))
    except (
        UserError,
        ConfigError,
        LevelError,
        DemoError,
        FileNotFoundError,
        FileExistsError,
    ) as err:
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
