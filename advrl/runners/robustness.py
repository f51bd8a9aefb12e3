"""``advrl eval RUN... --attack``: robustness curves of runs' policies, their ARA, CSV, PNG, TensorBoard."""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.logger import configure
from stable_baselines3.common.policies import ActorCriticPolicy

from advrl import progress
from advrl.agents import is_grid_space
from advrl.agents.attacks import ATTACKS, ObservationAttack
from advrl.agents.attacks.sarsa import train_robust_sarsa
from advrl.agents.obs_normalization import ObservationNormalizer
from advrl.agents.policy_inputs import supports_attacks
from advrl.config import ConfigError
from advrl.envs.vector import make_env
from advrl.episodes import EVAL_SEED_OFFSET
from advrl.eval.robustness import (
    CurvePoint,
    CurveReport,
    RobustnessResult,
    RunCurve,
    check_plotting,
    curve_report,
    plot_curves,
    random_return,
    robustness_curve,
    write_curves_csv,
)
from advrl.files import atomic_write_bytes
from advrl.runners.loading import load_run


def _tag(eps: float) -> str:
    return f"{eps:g}"


def log_curve(
    run: Path, attack: str, points: Sequence[CurvePoint], report: CurveReport, step: int
) -> None:
    """The curve and its ARA as TensorBoard scalars in the run's ``tb`` folder, at ``step``."""
    logger = configure(str(run / "tb"), ["tensorboard"])
    for p in points:
        logger.record(f"robustness/{attack}/return_eps_{_tag(p.eps)}", p.mean_return)
    logger.record(f"robustness/{attack}/ara", report.ara)
    if report.normalized_ara is not None:
        logger.record(f"robustness/{attack}/normalized_ara", report.normalized_ara)
    logger.dump(step)
    logger.close()


def _sarsa_q(model: Any, factory: Any, attack: ObservationAttack, seed: int) -> Any:
    """The victim's Q-function by robust Sarsa (the ``rs`` attack's), its greedy policy played on
    the env with its frozen normalization."""
    normalizer = _normalizer(model)

    def observe(raw: np.ndarray) -> np.ndarray:
        return np.asarray(raw, np.float32) if normalizer is None else normalizer.one(raw)

    def act(obs: np.ndarray) -> np.ndarray:
        action, _ = model.predict(obs, deterministic=True)
        return np.asarray(action)

    env = factory()
    try:
        with progress.phase("learning robust Sarsa's Q", attack.rs_iterations, "rollouts"):
            return train_robust_sarsa(
                act,
                env,
                int(np.prod(env.observation_space.shape)),
                env.action_space,
                observe=observe,
                iterations=attack.rs_iterations,
                steps=attack.rs_steps,
                seed=seed,
            )
    finally:
        env.close()


def _normalizer(model: Any) -> ObservationNormalizer | None:
    """The frozen observation normalization of a run's policy (None: it trains without)."""
    venv = model.get_env()
    return None if venv is None else ObservationNormalizer.of_env(venv, model.device)


def evaluate_robustness(
    runs: Sequence[Path],
    attack: ObservationAttack,
    eps_values: Sequence[float],
    **kwargs: Any,
) -> RobustnessResult:
    """Robustness curves of several runs under one attack (see :func:`evaluate_attacks`)."""
    (result,) = evaluate_attacks(runs, [attack], eps_values, **kwargs)
    return result


def evaluate_attacks(
    runs: Sequence[Path],
    attacks: Sequence[ObservationAttack],
    eps_values: Sequence[float],
    *,
    episodes: int,
    deterministic: bool = True,
    reference: float | None = None,
    eps_range: tuple[float, float] | None = None,
    out: Path | None = None,
    plot: bool = True,
    discrete: bool = False,
    allow_import: Sequence[str] = (),
    only_applicable: bool = False,
) -> list[RobustnessResult]:
    """Robustness curves of several runs on their env under each attack, on the same seeded
    episodes (the runs loaded once).

    Every run is played on the first run's env and seeds; runs on different envs are refused.
    Writes ``robustness-<attack>.csv``, ``.json`` and ``.png`` (if ``plot``) into ``out`` (default:
    the first run's folder) and each run's curve to its TensorBoard folder. ``discrete``: on the
    maze, act on real observations (cells take their largest type) rather than relaxed features;
    the files and tags are then named ``<attack>-discrete``. ``only_applicable``: leave out the
    attacks that change whole cells of the maze's view on an env without one (``--attack all``).
    """
    if not runs:
        raise ConfigError("give at least one run folder")
    if plot:
        check_plotting()  # before anything is written
    loaded = [(r.path, r.model, r.config) for r in (load_run(p, allow_import) for p in runs)]
    _, _, first = loaded[0]
    env_id, env_kwargs = first.env.id, first.env.kwargs
    for run, _, config in loaded[1:]:
        if (config.env.id, config.env.kwargs) != (env_id, env_kwargs):
            raise ConfigError(
                f"{run} trained on {config.env.id} {config.env.kwargs}, the first run on {env_id} "
                f"{env_kwargs}: compare runs of one env"
            )
    factory = functools.partial(make_env, env_id, env_kwargs)
    probe = factory()
    space = probe.observation_space
    probe.close()
    if not (isinstance(space, spaces.Box) or is_grid_space(space)):
        raise ConfigError(
            f"observation attacks need Box observations or the maze's view; {env_id} has "
            f"{type(space).__name__} ones"
        )
    for run, model, _ in loaded:
        if not isinstance(model.policy, ActorCriticPolicy) or not supports_attacks(model.policy):
            raise ConfigError(
                f"{run}: observation attacks need a feed-forward policy on Box observations or "
                "the maze's view"
            )
    is_grid = is_grid_space(space)
    if discrete and not is_grid:
        raise ConfigError("--discrete applies to the maze's view only")
    if only_applicable and not is_grid:
        attacks = [a for a in attacks if not ATTACKS[a.method].whole_cells]
    seed = first.train.seed + EVAL_SEED_OFFSET
    baseline = random_return(factory, episodes, seed)
    return [
        _curves(
            loaded,
            attack,
            eps_values,
            factory=factory,
            env_id=env_id,
            episodes=episodes,
            seed=seed,
            baseline=baseline,
            deterministic=deterministic,
            reference=reference,
            eps_range=eps_range,
            folder=Path(out) if out is not None else runs[0],
            plot=plot,
            discrete=discrete,
        )
        for attack in attacks
    ]


def _curves(
    loaded: list[tuple[Path, Any, Any]],
    attack: ObservationAttack,
    eps_values: Sequence[float],
    *,
    factory: Any,
    env_id: str,
    episodes: int,
    seed: int,
    baseline: float,
    deterministic: bool,
    reference: float | None,
    eps_range: tuple[float, float] | None,
    folder: Path,
    plot: bool,
    discrete: bool,
) -> RobustnessResult:
    """One attack's curves of the loaded runs, written and logged."""
    label = f"{attack.method}-discrete" if discrete and attack.method != "flip" else attack.method
    curves: dict[str, RunCurve] = {}
    for run, model, _ in loaded:
        run_attack = attack
        if ATTACKS[attack.method].needs_q and attack.q is None:
            run_attack = dataclasses.replace(attack, q=_sarsa_q(model, factory, attack, seed))
        with progress.phase(f"attacking {run.name}", len(eps_values), "eps"):
            points = robustness_curve(
                model,
                factory,
                run_attack,
                eps_values,
                episodes=episodes,
                seed=seed,
                deterministic=deterministic,
                discrete=discrete,
                normalizer=_normalizer(model),
            )
        report = curve_report(points, baseline=baseline, reference=reference, eps_range=eps_range)
        curves[str(run) if run.name in curves else run.name] = RunCurve(run, points, report)
        log_curve(run, label, points, report, int(model.num_timesteps))
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"robustness-{label}"
    files = [stem.with_suffix(s) for s in (".csv", ".json", ".png")[: 3 if plot else 2]]
    result = RobustnessResult(
        env=env_id,
        attack={
            **{k: v for k, v in vars(attack).items() if k not in ("adversary", "q")},
            "deterministic_policy": deterministic,
            "discrete": discrete,
        },
        episodes=episodes,
        seed=seed,
        baseline=baseline,
        runs=curves,
        files=files,
    )
    points_by_run = {name: r.points for name, r in curves.items()}
    write_curves_csv(points_by_run, label, files[0])
    atomic_write_bytes(files[1], json.dumps(result.to_json(), indent=2).encode())
    if plot:
        plot_curves(
            points_by_run,
            files[2],
            baseline=baseline,
            title=f"{env_id}: {label} ({attack.objective}, {attack.norm})",
        )
    return result
