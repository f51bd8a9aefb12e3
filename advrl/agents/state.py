"""An SB3 agent's state as tensors, numbers and strings (advrl's checkpoints): networks, optimizer,
counters, its envs' random state, and the global random states SB3 samples from."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.running_mean_std import RunningMeanStd
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecEnvWrapper, VecNormalize

from advrl.agents.sb3_driver import set_update_count, update_count


def model_state(model: BaseAlgorithm) -> dict[str, Any]:
    """An SB3 model's networks, optimizer and step counters (tensors and numbers)."""
    return {
        "params": model.get_parameters(),
        "num_timesteps": int(model.num_timesteps),
        "n_updates": update_count(model),
    }


def load_model_state(model: BaseAlgorithm, state: dict[str, Any]) -> None:
    """Restore :func:`model_state` into ``model``."""
    model.set_parameters(state["params"], exact_match=True, device=model.device)
    model.num_timesteps = int(state["num_timesteps"])
    set_update_count(model, int(state.get("n_updates", 0)))


def _base(venv: VecEnv) -> VecEnv:
    """The VecEnv under a chain of wrappers (``VecNormalize``, ``VecTransposeImage``)."""
    while isinstance(venv, VecEnvWrapper):
        venv = venv.venv
    return venv


def env_rng_state(venv: VecEnv) -> list[str] | dict[str, torch.Tensor]:
    """The random state of a VecEnv's envs (torch generator, or each Gymnasium env's np_random)."""
    venv = _base(venv)
    random_state = getattr(venv, "random_state", None)
    if callable(random_state):  # the batched maze: its generator and its pool of random levels
        return dict(random_state())
    generator = getattr(venv, "generator", None)
    if isinstance(generator, torch.Generator):
        return {"generator": generator.get_state()}
    if isinstance(venv, DummyVecEnv):
        return [json.dumps(env.unwrapped.np_random.bit_generator.state) for env in venv.envs]
    return []  # subprocess envs: their random state stays in their processes


def set_env_rng_state(venv: VecEnv, state: list[str] | dict[str, torch.Tensor]) -> None:
    """Restore :func:`env_rng_state`."""
    venv = _base(venv)
    if isinstance(state, dict) and callable(getattr(venv, "set_random_state", None)):
        venv.set_random_state(state)  # type: ignore[attr-defined]
    elif isinstance(state, dict):
        venv.generator.set_state(state["generator"])  # type: ignore[attr-defined]
    elif isinstance(venv, DummyVecEnv) and state:
        for env, s in zip(venv.envs, state, strict=True):
            env.unwrapped.np_random.bit_generator.state = json.loads(s)


def global_rng_state() -> dict[str, Any]:
    """torch's and numpy's global random states (SB3 samples actions and minibatches from them)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    return {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },
    }


def set_global_rng_state(state: dict[str, Any]) -> None:
    """Restore :func:`global_rng_state` (checkpoints of earlier versions hold torch's only)."""
    torch.set_rng_state(state["torch"])
    n = state.get("numpy")
    if n is not None:
        np.random.set_state(
            (n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"])
        )


def _rms(rms: RunningMeanStd) -> dict[str, torch.Tensor]:
    return {
        "mean": torch.as_tensor(np.asarray(rms.mean, dtype=np.float64)),
        "var": torch.as_tensor(np.asarray(rms.var, dtype=np.float64)),
        "count": torch.tensor(float(rms.count), dtype=torch.float64),
    }


def _set_rms(rms: RunningMeanStd, state: dict[str, torch.Tensor]) -> None:
    rms.mean = state["mean"].numpy().copy()
    rms.var = state["var"].numpy().copy()
    rms.count = float(state["count"])


def normalization_state(venv: VecNormalize) -> dict[str, Any]:
    """``VecNormalize``'s running statistics (observations and returns) and its running
    discounted returns, as tensors (pickle-free, unlike SB3's own ``save``)."""
    state: dict[str, Any] = {
        "ret": _rms(venv.ret_rms),
        "returns": torch.as_tensor(np.asarray(venv.returns, dtype=np.float64)),
    }
    if venv.norm_obs:
        assert isinstance(venv.obs_rms, RunningMeanStd)
        state["obs"] = _rms(venv.obs_rms)
    return state


def set_normalization_state(venv: VecNormalize, state: dict[str, Any]) -> None:
    """Restore :func:`normalization_state`."""
    _set_rms(venv.ret_rms, state["ret"])
    venv.returns = state["returns"].numpy().copy()
    if "obs" in state:
        if not isinstance(venv.obs_rms, RunningMeanStd):
            raise ValueError("the checkpoint normalizes observations; this env does not")
        _set_rms(venv.obs_rms, state["obs"])


def agent_state(model: OnPolicyAlgorithm) -> dict[str, Any]:
    """An SB3 agent's networks, optimizer and counters, its env's random state, and its
    ``VecNormalize`` statistics (if it trains under one)."""
    assert model.env is not None
    state = {**model_state(model), "env_rng": env_rng_state(model.env)}
    normalize = model.get_vec_normalize_env()
    if normalize is not None:
        state["normalize"] = normalization_state(normalize)
    return state


def load_agent_state(model: OnPolicyAlgorithm, state: dict[str, Any]) -> None:
    """Restore :func:`agent_state`."""
    assert model.env is not None
    load_model_state(model, state)
    if "env_rng" in state:  # checkpoints of earlier PPO runs did not hold it
        set_env_rng_state(model.env, state["env_rng"])
    normalize = model.get_vec_normalize_env()
    if normalize is not None and "normalize" in state:
        set_normalization_state(normalize, state["normalize"])


@contextlib.contextmanager
def isolated_rng() -> Iterator[None]:
    """Whatever runs inside leaves torch's and numpy's global random states as it found them (an
    evaluation must not change the training that follows it)."""
    state = global_rng_state()
    try:
        yield
    finally:
        set_global_rng_state(state)
