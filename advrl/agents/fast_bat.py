"""Fast-BAT's perturbation (Zhang et al., ICML 2022, *Fast Bi-level Adversarial Training*).

Adversarial training as a bi-level problem: the lower level finds the perturbation,
``x*(theta) = argmin_{x in C} l_atk(theta, x)``, the upper level trains on it,
``min_theta l_tr(theta, x*(theta))``. Fast-BAT linearizes ``l_atk`` at a point ``z`` and adds a
proximal term ``lambda/2 |x - z|^2``, so the lower level has the closed form

    x*(theta) = P_C(z - grad_x l_atk(theta, z) / lambda)

(``P_C``: projection onto the eps ball intersected with the observation bounds). Its implicit gradient
is ``dx*/dtheta = -(1/lambda) H_C d^2 l_atk / (dx dtheta)`` with ``H_C`` the projection's Jacobian
(for L-inf, the 0/1 mask of coordinates strictly inside their bounds), so the upper gradient is

    grad_theta l_tr(theta, x*) + (dx*/dtheta)^T grad_x l_tr(theta, x*).

:func:`fast_bat_point` builds ``x*(theta)`` with its dependence on ``theta`` kept in the autograd graph
(``z`` and ``lambda`` are constants): back-propagating ``l_tr`` through it yields exactly both terms,
the implicit one as a Hessian-vector product computed by double back-propagation.

The linearization point: Fast-BAT's reference training takes one plain gradient step from a random
point of the ball (:func:`linearization_point`). PPO revisits every sample in each of its epochs, so
:class:`LinearizationPoints` can carry each sample's ``x*`` over to its next visit as that visit's
``z`` (a warm start across epochs, as ATTA (Zheng et al., CVPR 2020) carries perturbations across
training epochs): the gradient step is then paid once per rollout, in the first epoch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from advrl.agents.attacks import Norm, project


def _per_sample_norm(g: torch.Tensor, norm: Norm) -> torch.Tensor:
    flat = g.flatten(1)
    size = flat.abs().amax(1) if norm == "linf" else flat.norm(dim=1)
    return size.clamp_min(1e-12).view(-1, *([1] * (g.dim() - 1)))


def adaptive_lambda(grad: torch.Tensor, eps: float, norm: Norm) -> torch.Tensor:
    """Per-sample ``lambda = |grad| / eps`` (L-inf: max coordinate; L2: Euclidean), detached.

    The step ``grad / lambda`` then has length ``eps``, whatever the scale of the policy's input
    gradients (which varies over training far more than a classifier's). It is a constant of the
    lower level: the implicit gradient does not differentiate it.
    """
    return (_per_sample_norm(grad, norm) / eps).detach()


def fast_bat_point(
    attack_loss: Callable[[torch.Tensor], torch.Tensor],
    clean: torch.Tensor,
    z: torch.Tensor,
    eps: float,
    norm: Norm,
    low: torch.Tensor,
    high: torch.Tensor,
    lmbda: float | torch.Tensor | None = None,
) -> torch.Tensor:
    """The lower level's closed-form solution ``P_C(z - grad_x l_atk(theta, z) / lambda)``.

    Args:
        attack_loss: per-sample ``l_atk(theta, x) -> [batch]``, which the attacker minimizes (the
            negated attack objective); it must depend on the parameters ``theta`` to be trained.
        clean: the clean inputs (centre of the ball).
        z: the linearization point, inside the ball (treated as a constant).
        eps, norm, low, high: the ball and the observation bounds.
        lmbda: the proximal weight; None: :func:`adaptive_lambda`.

    Returns:
        ``x*(theta)``, differentiable in ``theta`` (implicit gradient) but not in ``z``.
    """
    with torch.enable_grad():
        point = z.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(attack_loss(point).sum(), point, create_graph=True)
    scale = adaptive_lambda(grad, eps, norm) if lmbda is None else lmbda
    return project(point.detach() - grad / scale, clean, eps, norm, low, high)


def linearization_point(
    attack_loss: Callable[[torch.Tensor], torch.Tensor],
    clean: torch.Tensor,
    start: torch.Tensor,
    eps: float,
    norm: Norm,
    low: torch.Tensor,
    high: torch.Tensor,
    lmbda: float | None = None,
) -> torch.Tensor:
    """``z``: one plain (not signed) gradient step from ``start`` (a random point of the ball),
    as Fast-BAT's reference training does before the differentiable step. Detached."""
    with torch.enable_grad():
        point = start.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(attack_loss(point).sum(), point)
    scale = adaptive_lambda(grad, eps, norm) if lmbda is None else lmbda
    return project(start - grad / scale, clean, eps, norm, low, high).detach()


@dataclass
class LinearizationPoints:
    """Each sample's last ``x*`` in one update, to serve as its next linearization point.

    Args:
        z: ``[samples, *features]``, the carried points.
        seen: ``[samples]``, which samples have one.
    """

    z: torch.Tensor
    seen: torch.Tensor

    @classmethod
    def empty(cls, samples: int, like: torch.Tensor) -> LinearizationPoints:
        """No points yet for ``samples`` samples shaped like the rows of ``like``."""
        return cls(
            torch.zeros((samples, *like.shape[1:]), dtype=like.dtype, device=like.device),
            torch.zeros(samples, dtype=torch.bool, device=like.device),
        )

    def get(self, indices: torch.Tensor, fresh: Callable[[], torch.Tensor]) -> torch.Tensor:
        """The points of ``indices``; ``fresh()`` (a whole minibatch of new points) is called only
        when some of them have none yet, and fills those."""
        seen = self.seen[indices]
        carried = self.z[indices]
        if bool(seen.all()):
            return carried
        mask = seen.view(-1, *([1] * (carried.dim() - 1)))
        return torch.where(mask, carried, fresh())

    def put(self, indices: torch.Tensor, points: torch.Tensor) -> None:
        """Remember ``points`` (detached) for ``indices``."""
        self.z[indices] = points.detach()
        self.seen[indices] = True
