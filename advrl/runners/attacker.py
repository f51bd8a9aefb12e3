"""The learned attack as a registered env: ``advrl/ObservationAdversary-v0`` wraps a trained run's
env and frozen policy (:class:`~advrl.agents.attacks.learned.ObservationAdversaryEnv`), so the
attacker trains as any ``advrl train ppo`` run does (checkpoints, TensorBoard, resume)::

    advrl train ppo --config configs/attacker-hopper.yaml --set env.kwargs.victim=runs/<run>

Its return is minus the victim's under attack: ``advrl eval`` of the attacker's run measures the
attack.
"""

from __future__ import annotations

from typing import Literal

from advrl.agents.attacks.learned import ObservationAdversaryEnv
from advrl.agents.obs_normalization import ObservationNormalizer
from advrl.checks import ConfigError
from advrl.envs.vector import make_env
from advrl.runners.loading import load_run


def make_attacker_env(
    victim: str | None = None,
    eps: float = 0.075,
    eps_units: Literal["env", "normalized"] = "normalized",
) -> ObservationAdversaryEnv:
    """The learned attack's env on the run folder ``victim`` (its latest checkpoint, its
    normalization frozen), with perturbations of L-inf radius ``eps``.

    Raises:
        ConfigError: no victim named, or not a run that can be attacked.
    """
    if not victim:
        raise ConfigError(
            "advrl/ObservationAdversary-v0 needs the run to attack: env.kwargs.victim=RUN"
        )
    loaded = load_run(victim)
    venv = loaded.model.get_env()
    normalizer = ObservationNormalizer.of_env(venv) if venv is not None else None
    env = make_env(loaded.config.env.id, loaded.config.env.kwargs)
    try:
        return ObservationAdversaryEnv(env, loaded.model, eps, normalizer, eps_units)
    except ValueError as err:
        env.close()
        raise ConfigError(f"env.kwargs: {err}") from None
