"""``advrl train <UED method>``: build a UED run from its config, train, evaluate.

Each method is one entry of :data:`advrl.pair.methods.TEACHERS`, which builds its teacher;
everything else (students, adversary, logging, held-out evaluation, checkpoints, resume) is shared.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

from advrl import progress
from advrl.agents import make_ppo
from advrl.agents.settings import PolicySettings, PPOSettings
from advrl.config import ConfigError, UEDRunConfig, UEDTrainSettings
from advrl.envs.batched_designer import BatchedMazeDesigner
from advrl.envs.physics import ParamDesignerEnv
from advrl.envs.vector import UEDEnvSettings, batched_kwargs, make_env, make_vec
from advrl.envs.wrappers import FixedLevel
from advrl.episodes import EVAL_SEED_OFFSET
from advrl.eval.video import policy_clip
from advrl.eval.worst_case import SampledLevels, episode_limits, success_rates
from advrl.eval.zero_shot import ZeroShotResult, write_table, zero_shot
from advrl.files import atomic_write_with
from advrl.pair import Adversary, MazeFamily, ParamFamily, Student, UEDRunner, family_for
from advrl.pair.methods import TEACHERS, TeacherContext
from advrl.pair.settings import AdversarySettings, StudentSettings
from advrl.pair.sfl import SuccessRates
from advrl.runners.lifecycle import Finished, Job, RunCallback, execute
from advrl.runners.trainers import UEDTrainer
from advrl.runs import RunDir

Family = MazeFamily | ParamFamily


# ---------------------------------------------------------------------------- envs and agents
def make_level_env(env_id: str, kwargs: dict[str, Any] | None = None) -> gym.Env:
    """A student env: ``gymnasium.make`` wrapped to replay fixed levels, under SB3's Monitor."""
    return Monitor(FixedLevel(make_env(env_id, kwargs)))


def make_family(env: UEDEnvSettings) -> Family:
    """The level family of the configured env (a clear error for an env without levels)."""
    try:
        probe = make_env(env.id, env.kwargs)
    except (gym.error.Error, ValueError, TypeError) as err:
        raise ConfigError(f"env {env.id!r} with kwargs {env.kwargs}: {err}") from None
    try:
        return family_for(probe)
    except ValueError as err:
        raise ConfigError(f"env {env.id!r}: {err}") from None
    finally:
        probe.close()


def make_student_env(env: UEDEnvSettings, seed: int) -> VecEnv:
    """The students' VecEnv: BatchedMaze for mazes (unless ``backend: gymnasium``), else Gymnasium
    envs that replay fixed levels."""
    try:
        return make_vec(
            env.id,
            env.kwargs,
            env.num_levels,
            backend=env.backend,
            device=env.device,
            seed=seed,
            factory=make_level_env,
            levels=True,
        )
    except (ValueError, RuntimeError) as err:
        if isinstance(err, ConfigError):
            raise
        raise ConfigError(f"env (the students' levels): {err}") from None


def _ppo(
    role: str, venv: VecEnv, ppo: PPOSettings, policy: PolicySettings, seed: int, **override: Any
) -> OnPolicyAlgorithm:
    settings = {**ppo.sb3_kwargs(), **override}
    settings["batch_size"] = min(settings["batch_size"], settings["n_steps"] * venv.num_envs)
    try:
        return make_ppo(venv, **policy.kwargs(), seed=seed, verbose=0, **settings)
    except ValueError as err:
        venv.close()
        raise ConfigError(f"{role}.ppo: {err}") from None


def make_student(env: UEDEnvSettings, student: StudentSettings, name: str, seed: int) -> Student:
    """A student: PPO on its own copy of the students' env."""
    venv = make_student_env(env, seed)
    return Student(_ppo(name, venv, student.ppo, student.policy, seed), name, progress.tick)


def make_adversary(
    env: UEDEnvSettings, adv: AdversarySettings, family: Family, seed: int
) -> Adversary:
    """PPO on the designer of the family's levels, one design per level slot per rollout."""
    n = env.num_levels
    venv: VecEnv
    if isinstance(family, MazeFamily):
        height, width = family.shape
        if height != width:
            raise ConfigError("the maze designer builds square mazes; this env's are not square")
        try:
            venv = BatchedMazeDesigner(
                n,
                size=height + 2,
                wall_budget=adv.wall_budget,
                noise_dim=adv.noise_dim,
                device=env.device,
                seed=seed,
            )
        except ValueError as err:
            raise ConfigError(f"adversary: {err}") from None
        steps = adv.wall_budget + 2
    else:
        level_space = family.level_space
        noise = max(adv.noise_dim, 1)
        venv = make_vec_env(
            ParamDesignerEnv,
            n_envs=n,
            seed=seed,
            env_kwargs={"level_space": level_space, "noise_dim": noise},
            vec_env_cls=DummyVecEnv,
        )
        steps = 1
    return Adversary(_ppo("adversary", venv, adv.ppo, adv.policy, seed, n_steps=steps))


def maze_success_rates(env: UEDEnvSettings) -> SuccessRates | None:
    """A policy's success rate on given levels of the run's maze, each played ``episodes`` times
    side by side on the batched maze; None where the env is no domain-randomized maze."""
    try:
        max_steps, view = episode_limits(env.id, env.kwargs)
    except ValueError:
        return None

    def success(model: Any, levels: Sequence[Any], episodes: int, seed: int) -> np.ndarray:
        with progress.phase("scoring sampled levels", len(levels) * episodes, "episodes"):
            return success_rates(
                model,
                levels,
                episodes=episodes,
                max_steps=max_steps,
                seed=seed,
                agent_view_size=view,
                device=env.device,
            )

    return success


# ---------------------------------------------------------------------------- the runner
def build_runner(config: UEDRunConfig[Any], logger: Logger | None = None) -> UEDRunner:
    """Every agent and the teacher a config describes, in one runner.

    Raises:
        ConfigError: the env, a kwarg or a setting does not work (before anything is written).
    """
    family = make_family(config.env)
    seed = config.train.seed
    method = TEACHERS[config.method]
    context = TeacherContext(
        family=family,
        seed=seed + 2,
        adversary=lambda: make_adversary(config.env, config.adversary, family, seed + 2),
        success_rates=maze_success_rates(config.env),
    )
    try:
        teacher = method.build(config.teacher, context)
    except ValueError as err:
        raise ConfigError(f"{config.method}: {err}") from None
    protagonist = make_student(config.env, config.protagonist, "protagonist", seed)
    antagonist = (
        make_student(config.env, config.antagonist, "antagonist", seed + 1)
        if teacher.needs_antagonist
        else None
    )
    return UEDRunner(
        teacher=teacher,
        protagonist=protagonist,
        antagonist=antagonist,
        family=family,
        logger=logger if logger is not None else Logger(folder=None, output_formats=[]),
        image_every=config.train.image_every,
    )


# ---------------------------------------------------------------------------- evaluation
def run_zero_shot(
    model: Any, env: UEDEnvSettings, train: UEDTrainSettings, with_random: bool = False
) -> ZeroShotResult:
    """:func:`~advrl.eval.zero_shot.zero_shot` with a UED run's env and evaluation settings."""
    return zero_shot(
        model,
        env.id,
        env.kwargs,
        list(train.eval_levels),
        episodes=train.eval_episodes,
        seed=train.seed + EVAL_SEED_OFFSET,
        with_random=with_random,
    )


def sampled_levels(env: UEDEnvSettings, t: UEDTrainSettings) -> SampledLevels | None:
    """The run's fixed set of sampled levels (``train.eval_sampled_levels``), or None (off)."""
    if not t.eval_sampled_levels:
        return None
    try:
        return SampledLevels(
            env.id,
            env.kwargs,
            levels=t.eval_sampled_levels,
            episodes=t.eval_sampled_episodes,
        )
    except ValueError as err:
        raise ConfigError(f"train.eval_sampled_levels: {err}") from None


# ---------------------------------------------------------------------------- training
UED_METRICS = (
    ("ued/protagonist_return", "return"),
    ("ued/protagonist_solve_rate", "solve rate"),
    ("ued/regret", "regret"),
    ("levels/shortest_path", "path"),
    ("heldout/mean_solve_rate", "held-out solve rate"),
)
"""A UED run's key metrics in the progress display's line."""


def ued_job(config: UEDRunConfig[Any]) -> Job:
    """The UED run a config describes (every setting checked; nothing written)."""
    runner = build_runner(config)
    trainer = UEDTrainer(runner, config.train.total_timesteps)
    sampled = sampled_levels(config.env, config.train)
    eval_seed = config.train.seed + EVAL_SEED_OFFSET

    def evaluate_now() -> dict[str, float]:
        scalars = run_zero_shot(runner.protagonist.model, config.env, config.train).scalars()
        if sampled is not None:
            scalars.update(sampled.evaluate(runner.protagonist.model, seed=eval_seed).scalars())
        return scalars

    def finish(run: RunDir) -> Finished:
        atomic_write_with(run.path / "protagonist.zip", runner.protagonist.model.save)
        result = run_zero_shot(runner.protagonist.model, config.env, config.train, with_random=True)
        write_table(result.rows(), run.path / ("heldout.csv" if result.held_out else "eval.csv"))
        extra, scalars = {}, result.scalars()
        if sampled is not None:
            worst = sampled.evaluate(runner.protagonist.model, seed=eval_seed)
            extra["sampled"] = worst.summary()
            scalars.update(worst.scalars())
        fields = {
            **extra,
            "agent_timesteps": {role: int(m.num_timesteps) for role, m in runner.agents().items()},
            "iterations": runner.iteration,
            "student_steps_per_s": trainer.student_steps_per_s,
            **result.summary(),
            "last": {
                k: v for k, v in runner.last_metrics.items() if k.startswith(("ued/", "levels/"))
            },
        }
        return Finished(fields, scalars)

    summary = {"env": config.env.id, "seed": config.train.seed}

    def video() -> list[Any]:  # the protagonist on the first held-out maze (mazes)
        maze = batched_kwargs(config.env.id, config.env.kwargs) is not None
        level = config.train.eval_levels[0] if maze and config.train.eval_levels else None
        seed = config.train.seed + EVAL_SEED_OFFSET
        model = runner.protagonist.model
        return policy_clip(model, config.env.id, config.env.kwargs, level=level, seed=seed)

    return Job(trainer, evaluate_now, finish, summary=summary, video=video, metrics=UED_METRICS)


def train_ued(
    config: UEDRunConfig[Any],
    resume: str | Path | None = None,
    callbacks: Sequence[RunCallback] = (),
) -> dict[str, Any]:
    """Train (or resume) a UED run; returns the summary also written to ``summary.json``."""
    return execute(
        config, config.method, lambda: ued_job(config), resume=resume, callbacks=callbacks
    )
