"""A KL term toward another policy in an SB3 PPO update: behavioural cloning between two agents.

PAIRED's stabilizer BiBC (Mediratta et al., 2023) adds to each student's PPO loss, on every
minibatch of its own rollout, ``coef * KL(pi_teacher || pi_student)`` averaged over the minibatch's
steps, with the other student as the frozen teacher. :func:`kl_toward` adds that term to the
update of any SB3 ``PPO`` or advrl's recurrent PPO without a copy of their ``train``: the policy's
``evaluate_actions`` is wrapped for the update, computes the term from the minibatch it is given,
and threads its gradient into the log-probabilities that the PPO loss is built from (the loss's
gradient becomes that of ``ppo_loss + coef * KL``; its logged value stays PPO's). The mean KL of
the update is logged as ``train/bc_kl``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy
from sb3_contrib.common.recurrent.type_aliases import RNNStates
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.policies import ActorCriticPolicy


class _WithGradientOf(torch.autograd.Function):
    """``carrier`` unchanged going forward; going backward, also the gradient of the scalar
    ``term``, as if ``term`` had been added to the loss the carrier flows into."""

    @staticmethod
    def forward(ctx: Any, carrier: torch.Tensor, term: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(term)
        return carrier.view_as(carrier)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        (term,) = ctx.saved_tensors
        return grad, torch.ones_like(term)


def with_gradient_of(carrier: torch.Tensor, term: torch.Tensor) -> torch.Tensor:
    """``carrier``, through which the backward pass of any loss built on it also adds the gradient
    of the scalar ``term`` (once per backward pass, whatever the loss does with ``carrier``)."""
    if term.dim() != 0:
        raise ValueError(f"term must be a scalar, got shape {tuple(term.shape)}")
    return _WithGradientOf.apply(carrier, term)


def last_distribution(policy: ActorCriticPolicy) -> torch.distributions.Distribution:
    """The torch action distribution of the policy's last ``evaluate_actions`` or forward pass."""
    distribution = policy.action_dist.distribution
    if not isinstance(distribution, torch.distributions.Distribution):
        raise TypeError(
            f"imitation needs one torch distribution per step, got {type(distribution).__name__}"
        )
    return distribution


def _teacher_distribution(
    teacher: ActorCriticPolicy, obs: Any, actions: torch.Tensor, recurrent_args: tuple[Any, ...]
) -> torch.distributions.Distribution:
    """The frozen teacher's action distribution on a minibatch (no gradients, evaluation mode)."""
    was_training = teacher.training
    teacher.set_training_mode(False)
    try:
        with torch.no_grad():
            if isinstance(teacher, RecurrentActorCriticPolicy):
                if not recurrent_args:
                    raise ValueError(
                        "a recurrent teacher needs whole sequences: the student must be recurrent too"
                    )
                states, episode_starts = recurrent_args
                sequences = states.pi[0].shape[1]
                if not bool(episode_starts.view(sequences, -1)[:, 0].all()):
                    raise ValueError(
                        "a recurrent teacher replays the student's sequences from a zero state, so "
                        "each must begin an episode (UED's rollouts do)"
                    )
                lstm = teacher.lstm_actor
                zeros = torch.zeros(
                    lstm.num_layers, sequences, lstm.hidden_size, device=episode_starts.device
                )
                fresh = RNNStates((zeros, zeros), (zeros, zeros))
                teacher.evaluate_actions(obs, actions, fresh, episode_starts)
            else:
                teacher.evaluate_actions(obs, actions)
            return last_distribution(teacher)
    finally:
        teacher.set_training_mode(was_training)


@contextmanager
def kl_toward(
    model: OnPolicyAlgorithm, teacher: ActorCriticPolicy, coef: float
) -> Iterator[list[float]]:
    """Within the block, ``model``'s PPO updates add ``coef * KL(teacher || model's policy)`` per
    minibatch (the teacher frozen). Yields the list of the minibatches' mean KLs.

    Args:
        model: an SB3 ``PPO`` or advrl's recurrent PPO (whose ``train`` calls
            ``policy.evaluate_actions`` once per minibatch).
        teacher: the policy imitated, with the same observation and action spaces.
        coef: the term's weight (> 0).
    """
    if coef <= 0:
        raise ValueError(f"the KL coefficient must be > 0, got {coef}")
    policy = model.policy
    if teacher is policy:
        raise ValueError("a policy cannot imitate itself")
    if teacher.action_space != policy.action_space:
        raise ValueError("the teacher's action space differs from the student's")
    original = policy.evaluate_actions
    shadowed = policy.__dict__.get("evaluate_actions")  # an instance attribute to put back
    kls: list[float] = []

    def evaluate_actions(obs: Any, actions: torch.Tensor, *recurrent: Any) -> Any:
        values, log_prob, entropy = original(obs, actions, *recurrent)
        student = last_distribution(policy)
        target = _teacher_distribution(teacher, obs, actions, recurrent)
        kl = torch.distributions.kl_divergence(target, student).mean()
        kls.append(float(kl.detach()))
        return values, with_gradient_of(log_prob, coef * kl), entropy

    policy.evaluate_actions = evaluate_actions  # type: ignore[method-assign]
    try:
        yield kls
    finally:
        if shadowed is None:
            del policy.evaluate_actions  # the class's method again
        else:
            policy.evaluate_actions = shadowed  # type: ignore[method-assign]
        if kls:
            model.logger.record("train/bc_kl", sum(kls) / len(kls))
