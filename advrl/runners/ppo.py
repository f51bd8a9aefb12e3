"""``advrl train ppo``: SB3 PPO on any Gymnasium env, with TensorBoard, checkpoints and a summary."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import gymnasium as gym
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv, VecNormalize

from advrl import progress
from advrl.agents import RobustPPO, is_grid_space, make_ppo
from advrl.agents.obs_normalization import ObservationNormalizer
from advrl.agents.robust import RobustSetupError
from advrl.agents.robust.atla import ATLA, ATLASettings
from advrl.agents.robust.terms import observations_error
from advrl.config import ConfigError, EnvSettings, PPORunConfig
from advrl.envs.vector import make_env, make_vec
from advrl.episodes import EVAL_SEED_OFFSET
from advrl.episodes.rollouts import PolicyModes, eval_scalars, evaluate_modes, play_env
from advrl.eval.video import policy_clip
from advrl.files import atomic_write_with
from advrl.logging import LevelLogger
from advrl.runners.lifecycle import Finished, Job, RunCallback, execute
from advrl.runners.trainers import SB3Trainer
from advrl.runs import RunDir


def check_env_config(config: PPORunConfig) -> gym.Space:
    """Make the configured envs once, so a bad id or kwarg fails before anything is written.

    Returns:
        The env's observation space.
    """
    try:
        env = make_env(config.env.id, config.env.kwargs)
        space = env.observation_space
        env.close()
        make_training_env(replace(config.env, n_envs=1, vec_env="dummy"), 0).close()
    except (gym.error.Error, ValueError, TypeError, RuntimeError) as err:
        if isinstance(err, ConfigError):
            raise
        raise ConfigError(f"env {config.env.id!r} with kwargs {config.env.kwargs}: {err}") from None
    return space


def make_training_env(env_cfg: EnvSettings, seed: int, gamma: float = 0.99) -> VecEnv:
    """The training VecEnv: BatchedMaze (``batched``/``auto``) or Gymnasium envs under SB3, under
    ``VecNormalize`` when ``env.normalize`` asks (``gamma``: the discount its reward scaling
    follows, PPO's)."""
    venv = make_vec(
        env_cfg.id,
        env_cfg.kwargs,
        env_cfg.n_envs,
        backend=env_cfg.backend,
        device=env_cfg.device,
        seed=seed,
        vec_env_cls=SubprocVecEnv if env_cfg.vec_env == "subproc" else DummyVecEnv,
    )
    norm = env_cfg.normalize
    if not norm.enabled:
        return venv
    if norm.obs and not isinstance(venv.observation_space, gym.spaces.Box):
        venv.close()
        raise ConfigError(
            f"env.normalize.obs normalizes Box observations; {env_cfg.id} has "
            f"{type(venv.observation_space).__name__} observations"
        )
    return VecNormalize(
        venv,
        norm_obs=norm.obs,
        norm_reward=norm.reward,
        clip_obs=norm.clip_obs,
        clip_reward=norm.clip_reward,
        gamma=gamma,
    )


def check_adversarial_config(config: PPORunConfig, space: gym.Space) -> None:
    """Fail before anything is written if adversarial training cannot run on the env (observation
    ``space``): what the method perturbs (the one check :class:`RobustPPO` makes too), and a
    recurrent policy."""
    at = config.adversarial
    if at.enabled and config.policy.lstm_hidden is not None:
        raise ConfigError(
            "adversarial training runs on feed-forward policies; drop policy.lstm_hidden or the "
            "adversarial section"
        )
    problem = observations_error(at, space, is_grid_space(space))
    if problem is not None:
        raise ConfigError(f"{problem}; {config.env.id} has {type(space).__name__} observations")


def build_ppo(config: PPORunConfig) -> BaseAlgorithm:
    """The vectorized env and PPO agent a config describes (:class:`RobustPPO` when the
    ``adversarial`` section asks for adversarial training)."""
    venv = make_training_env(config.env, config.train.seed, gamma=config.ppo.gamma)
    ppo: dict[str, Any] = config.ppo.sb3_kwargs()
    if config.adversarial.enabled:
        ppo.update(algorithm=RobustPPO, adversarial=config.adversarial)
    try:
        model = make_ppo(venv, **config.policy.kwargs(), seed=config.train.seed, verbose=0, **ppo)
    except ValueError as err:
        venv.close()
        section = "adversarial" if isinstance(err, RobustSetupError) else "ppo"
        raise ConfigError(f"{section}: {err}") from None
    return model


def final_evaluation(model: BaseAlgorithm, config: PPORunConfig) -> PolicyModes:
    """The trained policy (stochastic and greedy) and a random policy on the same seeded levels."""
    return evaluate_modes(
        model,
        config.env.id,
        config.train.eval_episodes,
        config.train.seed + EVAL_SEED_OFFSET,
        with_random=True,
        env_kwargs=config.env.kwargs,
    )


def ppo_job(config: PPORunConfig) -> Job:
    """The PPO run a config describes (every setting checked; nothing written)."""
    check_adversarial_config(config, check_env_config(config))
    model = build_ppo(config)
    venv = model.get_env()
    assert venv is not None
    t = config.train

    def evaluate_now() -> dict[str, float]:
        with progress.phase("evaluating", t.eval_episodes, "episodes"):
            stats = play_env(
                config.env.id,
                model,
                t.eval_episodes,
                t.seed + EVAL_SEED_OFFSET,
                env_kwargs=config.env.kwargs,
            )
        return eval_scalars(stats)

    def finish(run: RunDir) -> Finished:
        atomic_write_with(
            run.path / "model.zip", model.save
        )  # SB3's own format, for PPO.load users
        normalizer = ObservationNormalizer.of_env(venv)
        if normalizer is not None:  # what the policy's observations go through, beside it
            normalizer.save(run.path / "normalize.npz")
        modes = final_evaluation(model, config)
        return Finished({"eval": modes.as_dict()}, eval_scalars(modes.stochastic))

    atla = None
    term = model.term if isinstance(model, RobustPPO) else None
    if isinstance(model, RobustPPO) and term is not None and term.learned_adversary:
        assert isinstance(term.settings, ATLASettings)
        ppo = {**config.ppo.sb3_kwargs(), "learning_rate": term.settings.adversary_lr}
        atla = ATLA(
            model,
            functools.partial(make_env, config.env.id, config.env.kwargs),
            n_envs=config.env.n_envs,
            ppo=ppo,
            seed=t.seed + 1,
            on_step=progress.tick,
        )
    trainer = SB3Trainer(model, trainer=atla, callbacks=[LevelLogger(image_every=t.image_every)])
    summary = {"env": config.env.id, "adversarial": config.adversarial.method, "seed": t.seed}

    def video() -> list[Any]:
        seed = t.seed + EVAL_SEED_OFFSET
        return policy_clip(model, config.env.id, config.env.kwargs, seed=seed)

    return Job(trainer, evaluate_now, finish, summary=summary, video=video)


def train_ppo(
    config: PPORunConfig,
    resume: str | Path | None = None,
    callbacks: Sequence[RunCallback] = (),
) -> dict[str, Any]:
    """Train (or resume) a PPO run; returns the summary also written to ``summary.json``.

    Args:
        config: the run's settings.
        resume: an existing run folder: continue from its latest checkpoint with ``config``.
        callbacks: told of the run's evaluations and checkpoints.
    """
    return execute(config, "ppo", lambda: ppo_job(config), resume=resume, callbacks=callbacks)
