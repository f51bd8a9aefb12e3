"""``advrl sweep``: a config over seeds and a grid as Ray Tune trials, and its report."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from advrl.cli.arguments import UserError, add_allow_import


def cmd_sweep(args: argparse.Namespace) -> int:
    """Run a sweep (or resume one), or report one (``advrl sweep report SWEEP``)."""
    from advrl.config import read_yaml
    from advrl.reports.sweep import write_report
    from advrl.sweeps import SweepSpec, parse_grid, parse_seeds
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
        spec = SweepSpec.load(folder, args.allow_import)
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
            allow_import=list(args.allow_import),
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
    trials = run_sweep(spec, folder, address=args.address, imports=args.imports)
    print(f"sweep {folder}: {len(trials)} trials in {folder / 'trials'}")
    return report(folder)


def add_parsers(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], shown: argparse.ArgumentParser
) -> None:
    """Add this module's commands to ``advrl``'s subcommands (``shown``: the output options of
    long commands)."""
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
    add_allow_import(p_sweep)
    p_sweep.set_defaults(func=cmd_sweep)
