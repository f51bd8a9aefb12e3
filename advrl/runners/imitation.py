"""``advrl train gail|asaf``: adversarial imitation runs, with TensorBoard, checkpoints and a summary.

Both methods keep their policy in an SB3 PPO object built exactly as ``advrl train ppo`` builds one,
so a policy moves freely between runs: an expert's PPO run records demos, a GAIL run's policy starts
an ASAF fine-tuning run (``init.from_run``), and every run's policy is evaluated the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm

from advrl import progress
from advrl.config import (
    ConfigError,
    ImitationRunConfig,
    PPORunConfig,
    PPOTrainSettings,
)
from advrl.envs.vector import make_env
from advrl.episodes import EVAL_SEED_OFFSET
from advrl.episodes.rollouts import PolicyModes, eval_scalars, evaluate_modes
from advrl.eval.video import policy_clip
from advrl.files import atomic_write_with
from advrl.gail import DemoError, Demonstrations, behaviour_clone, load_demos
from advrl.gail.methods import IMITATION, ImitationContext
from advrl.runners.checkpoints import policy_params
from advrl.runners.lifecycle import Finished, Job, RunCallback, execute
from advrl.runners.ppo import build_ppo, check_env_config
from advrl.runners.trainers import ASAFTrainer, SB3Trainer
from advrl.runs import RunDir


def run_demos(config: ImitationRunConfig) -> tuple[Demonstrations, Demonstrations | None]:
    """The run's demonstrations, checked against its env, and the episodes after them kept out
    of training (``demos.heldout_episodes``; None: none), from one read of the file.

    Raises:
        ConfigError: the file is missing or malformed, or does not fit the env.
    """
    path = Path(config.demos.path)
    unseen = None
    try:
        demos = load_demos(path, config.demos.format)
        wanted, kept_out = config.demos.episodes, config.demos.heldout_episodes
        if wanted is not None:
            if wanted > demos.num_episodes:
                raise DemoError(
                    f"demos.episodes is {wanted} but the file holds only {demos.num_episodes}"
                )
            if wanted + kept_out > demos.num_episodes:
                raise DemoError(
                    f"demos.episodes ({wanted}) + demos.heldout_episodes ({kept_out}) is more "
                    f"than the {demos.num_episodes} episodes the file holds: lower one"
                )
            if kept_out:
                unseen = demos.episodes(wanted, wanted + kept_out)
            demos = demos.head(wanted)
        env = make_env(config.env.id, config.env.kwargs)
        demos.check_spaces(env.observation_space, env.action_space, config.env.id)
        env.close()
    except FileNotFoundError:
        raise ConfigError(
            f"demos.path: {str(path)!r} not found; record demos with `advrl demos record`"
        ) from None
    except DemoError as err:
        raise ConfigError(f"demos.path {str(path)!r}: {err}") from None
    return demos, unseen


def policy_config(config: ImitationRunConfig) -> PPORunConfig:
    """The PPO settings of the policy's container (GAIL's generator)."""
    return PPORunConfig(
        env=config.env,
        ppo=config.ppo,
        policy=config.policy,
        train=PPOTrainSettings(seed=config.train.seed),
    )


def init_policy(model: BaseAlgorithm, config: ImitationRunConfig, demos: Demonstrations) -> None:
    """Start the policy from another run's policy and/or behaviour-clone it (``init``)."""
    init = config.init
    if init.from_run is not None:
        try:
            params = policy_params(RunDir.open(init.from_run), "policy")
        except (ConfigError, FileNotFoundError) as err:
            raise ConfigError(f"init.from_run: {err}") from None
        try:
            model.policy.load_state_dict(params["policy"])
        except (RuntimeError, KeyError) as err:
            raise ConfigError(
                f"init.from_run: the policy of {init.from_run!r} does not fit this run's policy "
                f"settings ({str(err).splitlines()[0]}); use the same policy and env"
            ) from None
    if init.bc_epochs:
        behaviour_clone(
            model.policy,  # type: ignore[arg-type]
            demos,
            epochs=init.bc_epochs,
            batch_size=init.bc_batch_size,
            learning_rate=init.bc_learning_rate,
            seed=config.train.seed,
        )


def build_imitation(
    config: ImitationRunConfig, demos: Demonstrations, unseen: Demonstrations | None = None
) -> SB3Trainer:
    """The trainer of a run (GAIL around PPO, ASAF, or a registered method's learner,
    :data:`~advrl.gail.methods.IMITATION`); its ``model`` holds the policy. The learner gets its
    own settings section, not the run config."""
    model = build_ppo(policy_config(config))
    method = IMITATION[config.method]
    context = ImitationContext(demos, model, unseen, config.train.seed, on_step=progress.tick)
    learner = method.build(getattr(config, method.section), context)
    return ASAFTrainer(learner) if method.own_loop else SB3Trainer(model, trainer=learner)


def imitation_eval(
    model: BaseAlgorithm, config: ImitationRunConfig, demos: Demonstrations, episodes: int
) -> tuple[PolicyModes, dict[str, Any]]:
    """The policy (stochastic and greedy) on the true reward; and the summary's layout of it, with
    the demos' expert and random returns and each mode's normalized score."""
    modes = evaluate_modes(
        model,
        config.env.id,
        episodes,
        config.train.seed + EVAL_SEED_OFFSET,
        env_kwargs=config.env.kwargs,
    )
    out: dict[str, Any] = modes.as_dict()
    out.update(expert_return=demos.expert_return, random_return=demos.random_return)
    if not (np.isnan(demos.expert_return) or np.isnan(demos.random_return)):
        for key in ("policy", "policy_deterministic"):
            out[key]["normalized_score"] = demos.normalized_score(out[key]["mean_return"])
    return modes, out


def imitation_scalars(modes: PolicyModes, result: dict[str, Any]) -> dict[str, float]:
    """An evaluation's scalars: SB3's ``eval/*`` of the sampling policy, the greedy policy's
    return, and the normalized score where the demos have the references."""
    metrics = eval_scalars(modes.stochastic)
    metrics["eval/mean_reward_deterministic"] = modes.greedy.mean_return
    if "normalized_score" in result["policy"]:
        metrics["eval/normalized_score"] = result["policy"]["normalized_score"]
    return metrics


def imitation_job(config: ImitationRunConfig) -> Job:
    """The GAIL or ASAF run a config describes (every setting checked; nothing written)."""
    if config.policy.lstm_hidden is not None:
        raise ConfigError(f"{config.method} trains feed-forward policies; drop policy.lstm_hidden")
    if config.env.normalize.enabled:
        raise ConfigError(
            f"env.normalize is for PPO runs; {config.method} learns from the demos' own "
            "observations and its own reward: drop env.normalize"
        )
    check_env_config(policy_config(config))
    demos, unseen = run_demos(config)
    trainer = build_imitation(config, demos, unseen)
    model, t = trainer.model, config.train

    def evaluate_now() -> dict[str, float]:
        return imitation_scalars(*imitation_eval(model, config, demos, t.eval_episodes))

    def finish(run: RunDir) -> Finished:
        atomic_write_with(run.path / "model.zip", model.save)
        modes, result = imitation_eval(model, config, demos, t.eval_episodes)
        return Finished({"eval": result}, imitation_scalars(modes, result))

    summary = {
        "env": config.env.id,
        "variant": variant_name(config),
        "seed": t.seed,
        "demo_episodes": demos.num_episodes,
    }
    return Job(
        trainer,
        evaluate_now,
        finish,
        fresh_start=lambda: init_policy(model, config, demos),
        summary=summary,
        video=lambda: policy_clip(
            model, config.env.id, config.env.kwargs, seed=t.seed + EVAL_SEED_OFFSET
        ),
        metrics=(
            ("imitation/normalized_score", "score"),
            *IMITATION[config.method].metrics,
            ("eval/normalized_score", "eval score"),
        ),
    )


def train_imitation(
    config: ImitationRunConfig,
    resume: str | Path | None = None,
    callbacks: Sequence[RunCallback] = (),
) -> dict[str, Any]:
    """Train (or resume) a GAIL or ASAF run; returns the summary also written to ``summary.json``."""
    return execute(
        config, config.method, lambda: imitation_job(config), resume=resume, callbacks=callbacks
    )


def variant_name(config: ImitationRunConfig) -> str:
    """``GAIL`` (``+DiffAugment``), ``ASAF``, ``ASAF-w`` (window w) or ``ASAF-1``, with
    `` (fine-tuned)`` or `` +BC`` for the start."""
    method = IMITATION[config.method]
    name = method.variant(getattr(config, method.section))
    if config.init.from_run:
        name += " (fine-tuned)"
    if config.init.bc_epochs:
        name += " +BC"
    return name
