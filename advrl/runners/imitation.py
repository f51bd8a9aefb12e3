"""``advrl train gail|asaf``: adversarial imitation runs, with TensorBoard, checkpoints and a summary.

Both methods keep their policy in an SB3 PPO object built exactly as ``advrl train ppo`` builds one,
so a policy moves freely between runs: an expert's PPO run records demos, a GAIL run's policy starts
an ASAF fine-tuning run (``init.from_run``), and every run's policy is evaluated the same way.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecTransposeImage

from advrl.agents.state import load_model_state, model_state
from advrl.config import (
    IMITATION_METHODS,
    ConfigError,
    ImitationRunConfig,
    PPORunConfig,
    PPOTrainSettings,
    RunConfig,
    UEDRunConfig,
    load_run_config,
    read_yaml,
)
from advrl.files import read_state, write_state
from advrl.gail import (
    ASAF,
    GAIL,
    DemoError,
    Demonstrations,
    DiffAugment,
    Discriminator,
    behaviour_clone,
    load_demos,
)
from advrl.pair.methods import TEACHERS
from advrl.runners.ppo import (
    EVAL_SEED_OFFSET,
    build_ppo,
    check_env_config,
    make_env,
    policy_evaluation,
)
from advrl.runs import Every, RunDir, run_timing, start_run


def run_demos(config: ImitationRunConfig) -> Demonstrations:
    """The run's demonstrations, checked against its env.

    Raises:
        ConfigError: the file is missing or malformed, or does not fit the env.
    """
    path = Path(config.demos.path)
    try:
        demos = load_demos(path, config.demos.format)
        if config.demos.episodes is not None:
            if config.demos.episodes > demos.num_episodes:
                raise DemoError(
                    f"demos.episodes is {config.demos.episodes} but the file holds only "
                    f"{demos.num_episodes}"
                )
            demos = demos.head(config.demos.episodes)
        env = make_env(config.env.id, config.env.kwargs)
        demos.check_spaces(env.observation_space, env.action_space, config.env.id)
        env.close()
    except FileNotFoundError:
        raise ConfigError(
            f"demos.path: {str(path)!r} not found; record demos with `advrl demos record`"
        ) from None
    except DemoError as err:
        raise ConfigError(f"demos.path {str(path)!r}: {err}") from None
    return demos


def _policy_config(config: ImitationRunConfig) -> PPORunConfig:
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
        source = RunDir.open(init.from_run).latest_checkpoint()
        if source is None:
            raise ConfigError(f"init.from_run: run {init.from_run!r} has no checkpoint")
        params = read_state(source, "params")["params"]
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
    config: ImitationRunConfig, demos: Demonstrations, tensorboard_dir: Path | None = None
) -> tuple[GAIL | ASAF, BaseAlgorithm]:
    """The trainer (GAIL or ASAF) and the PPO object holding the policy."""
    seed = config.train.seed
    model = build_ppo(_policy_config(config), tensorboard_dir)
    venv = model.get_env()
    assert venv is not None
    if isinstance(venv, VecTransposeImage):  # GAIL rewards what the demos hold: untransposed
        venv = venv.venv
    if config.method == "gail":
        d = config.discriminator
        try:
            augment = DiffAugment(d.augment) if d.augment else None
            disc = Discriminator(
                venv.observation_space,
                venv.action_space,
                net_arch=d.net_arch,
                conv_filters=d.conv_filters,
                spectral_norm=d.spectral_norm,
                augment=augment,
                device=model.device,
            )
        except ValueError as err:
            raise ConfigError(f"discriminator: {err}") from None
        gail = GAIL(
            venv=venv,
            model=model,
            discriminator=disc,
            demos=demos,
            reward=d.reward,
            normalize_reward=d.normalize_reward,
            disc_lr=d.learning_rate,
            disc_batch_size=d.batch_size,
            disc_epochs=d.epochs,
            grad_penalty=d.grad_penalty,
            svc_bound=d.svc_bound,
            svc_every=d.svc_every,
            seed=seed,
        )
        return gail, model
    a = config.asaf
    asaf = ASAF(
        model=model,
        demos=demos,
        window=a.window,
        rollout_episodes=a.rollout_episodes,
        rollout_steps=a.rollout_steps,
        n_epochs=a.n_epochs,
        batch_size=a.batch_size,
        learning_rate=a.learning_rate,
        max_grad_norm=a.max_grad_norm,
        seed=seed,
    )
    return asaf, model


def save_imitation(path: Path, trainer: GAIL | ASAF, model: BaseAlgorithm) -> None:
    """Checkpoint: the policy and its optimizer, the trainer (D, normalizer, RNGs), torch's RNG."""
    write_state(
        path,
        {**model_state(model), "trainer": trainer.state_dict(), "torch_rng": torch.get_rng_state()},
    )


def load_imitation(path: Path, trainer: GAIL | ASAF, model: BaseAlgorithm) -> None:
    """Restore :func:`save_imitation`."""
    state = read_state(path, "trainer", map_location=model.device)
    load_model_state(model, state)
    trainer.load_state_dict(state["trainer"])
    torch.set_rng_state(state["torch_rng"])


def imitation_eval(
    model: BaseAlgorithm, config: ImitationRunConfig, demos: Demonstrations, episodes: int
) -> dict[str, Any]:
    """The policy (stochastic and greedy) on the true reward, with normalized scores."""
    seed = config.train.seed + EVAL_SEED_OFFSET
    out = policy_evaluation(model, config.env.id, config.env.kwargs, episodes, seed)
    out.update(expert_return=demos.expert_return, random_return=demos.random_return)
    if not (np.isnan(demos.expert_return) or np.isnan(demos.random_return)):
        for key in ("policy", "policy_deterministic"):
            out[key]["normalized_score"] = demos.normalized_score(out[key]["mean_return"])
    return out


class _RolloutHook(BaseCallback):
    """Runs the periodic hooks after each of GAIL's PPO rollouts."""

    def __init__(self, hooks: list[Every[BaseAlgorithm]]) -> None:
        super().__init__()
        self.hooks = hooks

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        for hook in self.hooks:
            hook(self.model)


def train_imitation(config: ImitationRunConfig, resume: str | Path | None = None) -> dict[str, Any]:
    """Train (or resume) a GAIL or ASAF run; returns the summary also written to ``summary.json``."""
    if config.method not in IMITATION_METHODS:
        raise ConfigError(f"method must be one of {IMITATION_METHODS}, got {config.method!r}")
    if config.policy.lstm_hidden is not None:
        raise ConfigError(f"{config.method} trains feed-forward policies; drop policy.lstm_hidden")
    check_env_config(_policy_config(config))
    demos = run_demos(config)
    run = start_run(config, config.method, resume)
    trainer, model = build_imitation(config, demos, run.tb)
    checkpoint = run.latest_checkpoint() if resume is not None else None
    if checkpoint is not None:
        load_imitation(checkpoint, trainer, model)
    else:
        init_policy(model, config, demos)
    done = int(model.num_timesteps)
    t = config.train

    def log_eval(model: BaseAlgorithm) -> None:
        result = imitation_eval(model, config, demos, t.eval_episodes)
        model.logger.record("eval/mean_return", result["policy"]["mean_return"])
        model.logger.record(
            "eval/mean_return_deterministic", result["policy_deterministic"]["mean_return"]
        )
        if "normalized_score" in result["policy"]:
            model.logger.record("eval/normalized_score", result["policy"]["normalized_score"])

    def log_checkpoint(model: BaseAlgorithm) -> None:
        save_imitation(run.checkpoint_path(model.num_timesteps), trainer, model)

    hooks = [
        Every[BaseAlgorithm](t.eval_every, log_eval, done),
        Every[BaseAlgorithm](t.checkpoint_every, log_checkpoint, done),
    ]
    start = time.perf_counter()
    if t.total_timesteps > done:
        if isinstance(trainer, GAIL):
            trainer.learn(
                t.total_timesteps - done,
                callback=_RolloutHook(hooks),
                reset_num_timesteps=checkpoint is None,
                progress_bar=t.progress_bar,
            )
        else:

            def after_round(asaf: ASAF, stats: dict[str, float]) -> None:
                for hook in hooks:
                    hook(asaf.model)

            trainer.learn(t.total_timesteps, callback=after_round)
    elapsed = time.perf_counter() - start
    save_imitation(run.checkpoint_path(model.num_timesteps), trainer, model)
    model.save(run.path / "model.zip")
    result = imitation_eval(model, config, demos, t.eval_episodes)
    summary = {
        "run": str(run.path),
        "env": config.env.id,
        "method": config.method,
        "variant": variant_name(config),
        "seed": t.seed,
        "demo_episodes": demos.num_episodes,
        **run_timing(model, done, checkpoint is not None, elapsed),
        "eval": result,
    }
    run.write_summary(summary)
    venv = model.get_env()
    if venv is not None:
        venv.close()
    return summary


def variant_name(config: ImitationRunConfig) -> str:
    """``GAIL`` (``+DiffAugment``), ``ASAF``, ``ASAF-w`` (window w) or ``ASAF-1``, with
    `` (fine-tuned)`` or `` +BC`` for the start."""
    if config.method == "gail":
        name = "GAIL +DiffAugment" if config.discriminator.augment else "GAIL"
    elif config.asaf.window is None:
        name = "ASAF"
    elif config.asaf.window == 1:
        name = "ASAF-1"
    else:
        name = f"ASAF-{config.asaf.window}"
    if config.init.from_run:
        name += " (fine-tuned)"
    if config.init.bc_epochs:
        name += " +BC"
    return name


def load_run_model(run: str | Path) -> tuple[BaseAlgorithm, RunConfig]:
    """A run's policy from its latest checkpoint, with the run's config.

    PPO runs (experts), GAIL and ASAF runs give their policy; UED runs their protagonist.

    Raises:
        ConfigError: not a run folder, or no checkpoint yet.
    """
    from advrl.runners.ued import load_protagonist

    path = Path(run)
    config_file = path / "config.yaml"
    if not config_file.is_file():
        raise ConfigError(f"{str(path)!r} is not a run folder (no config.yaml)")
    method = read_yaml(config_file).get("method")
    if method in TEACHERS:
        ued = load_run_config(UEDRunConfig, config_file)
        return load_protagonist(path, ued), ued
    checkpoint = RunDir.open(path).latest_checkpoint()
    if checkpoint is None:
        raise ConfigError(f"run {str(path)!r} has no checkpoint yet")
    config: RunConfig
    if method in IMITATION_METHODS:
        config = load_run_config(ImitationRunConfig, config_file)
        ppo_config = _policy_config(config)
    else:
        config = ppo_config = load_run_config(PPORunConfig, config_file)
    model = build_ppo(ppo_config)
    load_model_state(model, read_state(checkpoint, "params", map_location=model.device))
    return model, config
