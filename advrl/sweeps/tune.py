"""Running a sweep's trials as Ray Tune trials (local Ray by default, or a cluster's address).

Each trial is an ordinary advrl run through the one run lifecycle, in the sweep's ``trials/``
folder. A trial whose worker dies is retried by Tune and resumes from its own newest advrl
checkpoint; a trial that has finished (its ``summary.json``) is not run again, which is what makes
``advrl sweep --resume`` skip finished work.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from advrl.config import ConfigError
from advrl.sweeps.spec import SweepSpec, Trial

EXTRA_HINT = "install the sweep extra: pip install 'advrl[sweep]'"


def import_ray() -> Any:
    """Ray, or the one-line error that names the extra.

    Raises:
        ConfigError: Ray (with Tune) is not installed.
    """
    try:
        import ray
        from ray import tune  # noqa: F401
    except ImportError:
        raise ConfigError(
            f"advrl sweep runs on Ray Tune, which is not installed; {EXTRA_HINT}"
        ) from None
    return ray


def score(summary: dict[str, Any]) -> float:
    """The one number a trial is ranked by: the held-out solve rate of a UED run (the return on
    its standard level for physics envs), the stochastic policy's return otherwise."""
    if "mean_solve_rate" in summary:
        return float(
            summary["mean_solve_rate"] if summary.get("held_out", True) else summary["mean_return"]
        )
    return float(summary["eval"]["policy"]["mean_return"])


SCORES = (
    "heldout/mean_solve_rate",
    "eval/normalized_score",
    "eval/mean_reward",
    "eval/mean_return",
)
"""The periodic evaluation's score, by preference (UED's held-out solve rate first)."""


class TuneReporter:
    """The run callback of a sweep trial: each periodic evaluation goes to Ray Tune (its scores
    drive early stopping: ``--scheduler asha``)."""

    def on_evaluation(self, steps: int, metrics: dict[str, float]) -> None:
        """Report the evaluation, with its score."""
        from ray import tune

        score = next((metrics[k] for k in SCORES if k in metrics), None)
        report = {"timesteps": steps, **({"score": score} if score is not None else {})}
        metrics = {k.replace("/", "_"): v for k, v in metrics.items()}
        tune.report({**report, **metrics, **_node()})

    def on_checkpoint(self, steps: int, path: Path) -> None:
        """Nothing: trials resume from their own run folder's checkpoints."""


def last_evaluation(run: Path) -> dict[str, float]:
    """The last value of each periodic evaluation metric in a run's ``progress.csv`` (named as
    Tune gets them, ``/`` as ``_``), so a trial's final result carries the metric a search ranks
    by, even when it was resumed or had finished before."""
    path = run / "tb" / "progress.csv"
    out: dict[str, float] = {}
    if path.is_file():
        with path.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                for key, value in row.items():
                    if key and key.startswith(("eval/", "heldout/")) and value:
                        out[key.replace("/", "_")] = float(value)
    return out


def _node() -> dict[str, str]:
    """The Ray node a trial runs on (two nodes of one machine share their IP address)."""
    import ray

    return {"node_id": ray.get_runtime_context().get_node_id()}


def run_trial(config: dict[str, Any]) -> None:
    """The Tune trainable: run (or resume, or skip) the trial ``config["trial"]`` and report its
    score."""
    import torch
    from ray import tune

    from advrl.plugins import import_modules
    from advrl.runners.kinds import resolve_settings, run_kind

    trial = config["trial"]
    imported = import_modules(trial.get("imports", ()))  # the user's own modules, in this worker
    if "point" in config:  # a sampled point (random or Optuna search)
        spec = SweepSpec(**trial["spec"])
        suffix = "-" + tune.get_context().get_trial_id()[-5:]
        sampled = spec.trial(dict(config["point"]), int(config["seed"]), suffix)
        trial = {**trial, "name": sampled.name, "method": sampled.method}
        trial["overrides"] = sampled.overrides
    torch.set_num_threads(max(1, int(trial["cpus"])))
    folder = Path(trial["out_dir"]) / trial["name"]
    summary_file = folder / "summary.json"
    if not summary_file.is_file():
        kind = run_kind(trial["method"])
        overrides = [*trial["overrides"], f"out_dir={trial['out_dir']}", f"name={trial['name']}"]
        if kind.family != "ued":
            overrides.append("train.progress_bar=false")
        resume = folder if (folder / "config.yaml").is_file() else None  # a retried trial
        settings = resolve_settings(
            trial["method"],
            config=trial["config"],
            resume=resume,
            overrides=overrides,
            allow_import=[*trial.get("allow_import", ()), *imported],
        )
        kind.train(settings, resume=resume, callbacks=[TuneReporter()])
    summary = json.loads(summary_file.read_text())
    final = {"score": score(summary), "timesteps": summary["timesteps"], **_node()}
    tune.report({**last_evaluation(folder), **final})


def check_trials(spec: SweepSpec) -> list[Trial]:
    """Every trial of ``spec``, its settings resolved once (so a bad one fails before any runs),
    and the search's library installed.

    Raises:
        ConfigError: a trial's settings are wrong, or Optuna is missing for ``--search optuna``.
    """
    from advrl.runners.kinds import resolve_settings

    if spec.search == "optuna":
        try:
            import optuna  # noqa: F401
        except ImportError:
            raise ConfigError(f"--search optuna needs Optuna; {EXTRA_HINT}") from None

    trials = spec.trials()
    for trial in trials:
        resolve_settings(
            trial.method,
            config=spec.config,
            overrides=trial.overrides,
            allow_import=spec.allow_import,
        )
    return trials


def run_sweep(
    spec: SweepSpec,
    folder: Path,
    *,
    address: str | None = None,
    imports: Sequence[str] = (),
) -> list[Trial]:
    """Run every trial of ``spec`` not yet finished, as Ray Tune trials; returns the trials.

    Args:
        spec: the sweep.
        folder: the sweep folder (``trials/`` holds the run folders, ``ray/`` Tune's state).
        address: a Ray cluster to join (``auto``, ``ray://host:10001``); None starts Ray here.
        imports: the user's own modules (``advrl --import``), imported in each trial's worker.
    """
    ray = import_ray()
    from ray import tune

    trials = check_trials(spec)
    out_dir = folder / "trials"
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = [
        {
            "name": t.name,
            "method": t.method,
            "overrides": t.overrides,
            "config": spec.config,
            "out_dir": str(out_dir.resolve()),
            "cpus": spec.cpus_per_trial,
            "allow_import": list(spec.allow_import),
            "imports": list(imports),
        }
        for t in trials
    ]
    started = not ray.is_initialized()
    if started:
        ray.init(
            address=address,
            num_cpus=None if address else os.cpu_count(),
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    try:
        trainable = tune.with_resources(
            run_trial, {"cpu": spec.cpus_per_trial, "gpu": spec.gpus_per_trial}
        )
        scheduler = None
        if spec.scheduler == "asha":
            from ray.tune.schedulers import ASHAScheduler

            scheduler = ASHAScheduler(time_attr="training_iteration", grace_period=1)
        param_space: dict[str, Any]
        search_alg = None
        if spec.search == "grid":
            param_space = {"trial": tune.grid_search(payload)}
            samples = 1
        else:
            base = {**payload[0], "spec": asdict(spec)}
            param_space = {
                "trial": base,
                "point": {k: tune.choice(v) for k, v in spec.grid.items()},
                "seed": tune.grid_search(spec.seeds) if spec.search == "random" else spec.seeds[0],
            }
            samples = spec.num_samples
            if spec.search == "optuna":
                from ray.tune.search.optuna import OptunaSearch

                search_alg = OptunaSearch()
        tuner = tune.Tuner(
            trainable,
            param_space=param_space,
            tune_config=tune.TuneConfig(
                metric=spec.metric.replace("/", "_"),
                mode=spec.mode,
                reuse_actors=False,
                scheduler=scheduler,
                search_alg=search_alg,
                num_samples=samples,
            ),
            run_config=tune.RunConfig(
                storage_path=str((folder / "ray").resolve()),
                name="tune",
                failure_config=tune.FailureConfig(max_failures=spec.max_failures),
                verbose=0,
            ),
        )
        results = tuner.fit()
    finally:
        if started:
            ray.shutdown()
    failed = [results[i] for i in range(len(results)) if results[i].error is not None]
    if failed:
        first = str(failed[0].error).strip().splitlines()[-1]
        raise ConfigError(f"{len(failed)} of {len(trials)} trials failed; the first: {first}")
    return trials
