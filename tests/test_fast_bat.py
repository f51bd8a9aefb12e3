"""Fast-BAT: the implicit gradient through the closed-form lower level matches finite differences."""

from __future__ import annotations

import torch
from torch import nn

from advrl.agents.attacks import project
from advrl.agents.fast_bat import adaptive_lambda, fast_bat_point

F64 = torch.float64  # finite differences need double precision


def quadratic_problem() -> tuple[nn.Linear, torch.Tensor, torch.Tensor, torch.Tensor, float]:
    """A linear 'policy' m(x) = W x + b; the attack maximizes |m(x)|^2, training fits m(x) to y."""
    gen = torch.Generator().manual_seed(0)
    model = nn.Linear(3, 2).double()
    with torch.no_grad():
        model.weight.copy_(torch.randn(2, 3, generator=gen, dtype=F64))
        model.bias.copy_(torch.randn(2, generator=gen, dtype=F64))
    x = torch.randn(5, 3, generator=gen, dtype=F64)
    y = torch.randn(5, 2, generator=gen, dtype=F64)
    z = x + 0.1 * (2 * torch.rand(5, 3, generator=gen, dtype=F64) - 1)
    return model, x, y, z, 0.3


def losses(model: nn.Linear, y: torch.Tensor):
    def attack_loss(x: torch.Tensor) -> torch.Tensor:  # the attacker minimizes -|m(x)|^2
        return -(model(x) ** 2).sum(1)

    def train_loss(x: torch.Tensor) -> torch.Tensor:
        return ((model(x) - y) ** 2).sum()

    return attack_loss, train_loss


LAMBDA = 2.0
BIG = torch.full((3,), 10.0, dtype=F64)


def upper_loss(model: nn.Linear, x, y, z, eps) -> torch.Tensor:
    attack_loss, train_loss = losses(model, y)
    return train_loss(fast_bat_point(attack_loss, x, z, eps, "linf", -BIG, BIG, LAMBDA))


def test_some_coordinates_are_clipped_and_some_free() -> None:
    model, x, y, z, eps = quadratic_problem()
    attack_loss, _ = losses(model, y)
    point = fast_bat_point(attack_loss, x, z, eps, "linf", -BIG, BIG, LAMBDA).detach()
    inside = ((point - x).abs() < eps - 1e-9).double().mean()
    assert 0.1 < inside < 0.9  # the projection's mask H is neither all ones nor all zeros


def test_implicit_gradient_matches_finite_differences() -> None:
    model, x, y, z, eps = quadratic_problem()
    params = list(model.parameters())
    grads = torch.autograd.grad(upper_loss(model, x, y, z, eps), params)
    h = 1e-6
    for param, grad in zip(params, grads, strict=True):
        numeric = torch.zeros_like(param)
        for i in range(param.numel()):
            with torch.no_grad():
                param.view(-1)[i] += h
                plus = upper_loss(model, x, y, z, eps)
                param.view(-1)[i] -= 2 * h
                minus = upper_loss(model, x, y, z, eps)
                param.view(-1)[i] += h
            numeric.view(-1)[i] = (plus - minus) / (2 * h)
        torch.testing.assert_close(grad, numeric, rtol=1e-6, atol=1e-7)


def test_gradient_equals_the_papers_formula_and_differs_without_the_implicit_term() -> None:
    """grad = d l_tr/d theta |_x* + (1/lambda) d/d theta <grad_x l_atk(theta, z), -H grad_x l_tr(x*)>."""
    model, x, y, z, eps = quadratic_problem()
    attack_loss, train_loss = losses(model, y)
    params = list(model.parameters())
    total = torch.autograd.grad(upper_loss(model, x, y, z, eps), params)

    point = fast_bat_point(attack_loss, x, z, eps, "linf", -BIG, BIG, LAMBDA).detach()
    point.requires_grad_(True)
    outer = train_loss(point)
    direct = torch.autograd.grad(outer, params, retain_graph=True)
    (outer_x,) = torch.autograd.grad(outer, point)
    zz = z.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(attack_loss(zz).sum(), zz, create_graph=True)
    unprojected = (z - g / LAMBDA).detach()
    mask = ((unprojected - x).abs() < eps).double()  # H: coordinates the projection left free
    implicit = torch.autograd.grad((g * (mask * outer_x)).sum() * (-1 / LAMBDA), params)
    for t, d, i in zip(total, direct, implicit, strict=True):
        torch.testing.assert_close(t, d + i)
    assert max(float(i.abs().max()) for i in implicit) > 1e-3  # the implicit term matters here


def test_adaptive_lambda_gives_a_step_of_length_eps() -> None:
    g = torch.tensor([[0.1, -0.4, 0.2], [3.0, 1.0, 0.0]], dtype=F64)
    step = g / adaptive_lambda(g, 0.05, "linf")
    torch.testing.assert_close(step.abs().amax(1), torch.full((2,), 0.05, dtype=F64))
    step2 = g / adaptive_lambda(g, 0.05, "l2")
    torch.testing.assert_close(step2.norm(dim=1), torch.full((2,), 0.05, dtype=F64))


def test_point_stays_in_the_ball_and_the_bounds() -> None:
    model, x, y, z, eps = quadratic_problem()
    attack_loss, _ = losses(model, y)
    low, high = torch.full((3,), -0.5, dtype=F64), torch.full((3,), 0.5, dtype=F64)
    x = x.clamp(-0.5, 0.5)
    point = fast_bat_point(
        attack_loss, x, project(z, x, eps, "linf", low, high), eps, "linf", low, high
    )
    assert ((point - x).abs() <= eps + 1e-12).all()
    assert ((point >= low) & (point <= high)).all()
