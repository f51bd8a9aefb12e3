"""Behaviour cloning: fit an SB3 actor-critic policy to the expert's actions by maximum likelihood.

Used to start ASAF fine-tuning from a cloned policy, and as the plain imitation baseline.
"""

from __future__ import annotations

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.policies import ActorCriticPolicy

from advrl.gail.demos import Demonstrations, take_rows


def policy_actions(policy: ActorCriticPolicy, acts: np.ndarray) -> torch.Tensor:
    """Actions as the tensor ``policy.evaluate_actions`` takes: ``[N, dim]`` floats for ``Box``
    spaces, integers otherwise (``[N]``, or ``[N, parts]`` for MultiDiscrete)."""
    t = torch.as_tensor(acts, device=policy.device)
    if isinstance(policy.action_space, spaces.Box):
        return t.float().reshape(len(acts), -1)
    return t.long().reshape(len(acts), *((-1,) if t.dim() > 1 else ()))


def behaviour_clone(
    policy: ActorCriticPolicy,
    demos: Demonstrations,
    *,
    epochs: int = 10,
    batch_size: int = 256,
    learning_rate: float = 1e-3,
    ent_coef: float = 1e-3,
    seed: int = 0,
) -> list[float]:
    """Minimize ``-log pi(a|s) - ent_coef * H(pi(.|s))`` over the demonstrations' steps.

    Returns the mean loss of each epoch.
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError("epochs and batch_size must be >= 1")
    demos.check_spaces(policy.observation_space, policy.action_space, "the policy")
    steps = demos.transitions()
    rng = np.random.default_rng(seed)
    optimizer = torch.optim.Adam(policy.parameters(), lr=learning_rate)
    policy.set_training_mode(True)
    losses: list[float] = []
    for _ in range(epochs):
        order = rng.permutation(len(steps))
        epoch: list[float] = []
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            obs_t, _ = policy.obs_to_tensor(take_rows(steps.obs, idx))
            acts = policy_actions(policy, steps.acts[idx])
            _, log_prob, entropy = policy.evaluate_actions(obs_t, acts)
            loss = -log_prob.mean()
            if entropy is not None:
                loss = loss - ent_coef * entropy.mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            epoch.append(float(loss.detach()))
        losses.append(float(np.mean(epoch)))
    policy.set_training_mode(False)
    return losses
