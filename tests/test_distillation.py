"""Behavioural cloning between students: the KL term's gradient, its direction, its recurrent form,
and PAIRED's schedule of it (BiBC, UniBC)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import configure
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from test_pair_agents import maze_adversary

from advrl.agents import make_ppo
from advrl.agents.distillation import kl_toward
from advrl.agents.sb3_driver import setup_learning, start_rollout
from advrl.envs.batched import BatchedMaze
from advrl.pair import PAIRED, MazeFamily, Student
from advrl.pair.runner import UEDRunner
from advrl.pair.teachers import Cloning


class _Nothing(BaseCallback):
    def _on_step(self) -> bool:
        return True


def _rolled_out(model: OnPolicyAlgorithm, steps: int) -> None:
    callback = _Nothing()
    setup_learning(model, 10_000, callback)
    model.set_logger(configure(None, []))
    start_rollout(model)
    assert model.env is not None
    model.collect_rollouts(model.env, callback, model.rollout_buffer, steps)


def _update_gradient(model: OnPolicyAlgorithm, **kl: Any) -> list[torch.Tensor]:
    """The gradient of one PPO update's single minibatch (the optimizer does not step)."""
    grads: list[torch.Tensor] = []
    params = list(model.policy.parameters())
    model.policy.optimizer.step = lambda *a, **k: grads.extend(  # type: ignore[method-assign]
        p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p) for p in params
    )
    if kl:
        with kl_toward(model, **kl):
            model.train()
    else:
        model.train()
    return grads


def _model(seed: int, **kwargs: Any) -> OnPolicyAlgorithm:
    env = make_vec_env("CartPole-v1", n_envs=2, seed=0)
    return make_ppo(
        env, n_steps=16, batch_size=32, n_epochs=1, seed=seed, max_grad_norm=1e9, **kwargs
    )


def test_the_term_adds_the_gradient_of_coef_times_kl_teacher_to_student() -> None:
    """PPO's gradient with the term minus without it is ``coef * grad KL(teacher || student)`` over
    the rollout's observations, and not the gradient of the reverse KL."""
    model, teacher = _model(0), _model(1).policy
    with torch.no_grad():  # a teacher far from uniform, where the two KLs' gradients differ
        teacher.action_net.bias.copy_(torch.tensor([2.0, -1.0]))
    _rolled_out(model, 16)
    plain = _update_gradient(model)
    coef = 0.3
    with_term = _update_gradient(model, teacher=teacher, coef=coef)
    obs = torch.as_tensor(model.rollout_buffer.observations.reshape(32, -1))

    def grad_of(forward: bool) -> list[torch.Tensor]:
        student = model.policy.get_distribution(obs).distribution
        with torch.no_grad():
            target = teacher.get_distribution(obs).distribution
        pair = (target, student) if forward else (student, target)
        kl = torch.distributions.kl_divergence(*pair).mean()  # type: ignore[arg-type]
        params = list(model.policy.parameters())
        return list(torch.autograd.grad(coef * kl, params, allow_unused=True))

    expected = [g if g is not None else torch.zeros(1) for g in grad_of(forward=True)]
    reverse = [g if g is not None else torch.zeros(1) for g in grad_of(forward=False)]
    for p, w, e in zip(plain, with_term, expected, strict=True):
        torch.testing.assert_close(w - p, e.expand_as(p), atol=1e-6, rtol=1e-4)
    assert any(
        not torch.allclose(w - p, r.expand_as(p), atol=1e-6)
        for p, w, r in zip(plain, with_term, reverse, strict=True)
    )
    assert "evaluate_actions" not in model.policy.__dict__  # the class's method again


def test_a_recurrent_teacher_replays_the_students_sequences_from_a_zero_state() -> None:
    """The logged KL equals the KL of the two policies stepped one observation at a time from
    fresh states along the student's rollout."""
    model = _model(0, lstm_hidden=8)
    teacher = _model(1, lstm_hidden=8).policy
    with torch.no_grad():
        teacher.action_net.bias.copy_(torch.tensor([2.0, -1.0]))
    _rolled_out(model, 16)
    buffer = model.rollout_buffer
    obs = torch.as_tensor(buffer.observations)  # [steps, envs, 4]
    starts = torch.as_tensor(buffer.episode_starts)
    assert bool(starts[0].all())  # the rollout began episodes
    zeros = torch.zeros(1, 2, 8)
    states = {"teacher": (zeros, zeros), "student": (zeros, zeros)}
    kls = []
    with torch.no_grad():
        for t in range(16):
            teacher_dist, states["teacher"] = teacher.get_distribution(  # type: ignore[attr-defined]
                obs[t], states["teacher"], starts[t]
            )
            target = teacher_dist.distribution
            student_dist, states["student"] = model.policy.get_distribution(  # type: ignore[call-arg]
                obs[t], states["student"], starts[t]
            )
            kls.append(torch.distributions.kl_divergence(target, student_dist.distribution))
    expected = torch.stack(kls).mean().item()
    with kl_toward(model, teacher, 0.1) as logged:
        model.train()
    assert logged == [pytest.approx(expected, rel=1e-4)]


def test_kl_toward_refuses_itself_and_bad_coefficients() -> None:
    model = _model(0)
    with pytest.raises(ValueError, match="imitate itself"), kl_toward(model, model.policy, 0.1):
        pass
    with pytest.raises(ValueError, match="> 0"), kl_toward(model, _model(1).policy, 0.0):
        pass


def test_paired_clones_every_kth_iteration_bibc_both_ways_unibc_the_protagonist_only() -> None:
    bibc = PAIRED(maze_adversary(), cloning="bibc", cloning_coef=0.01, cloning_every=5)
    assert [i for i in range(12) if bibc.cloning(i)] == [4, 9]  # dcd: (updates + 1) % 5 == 0
    assert bibc.cloning(4) == Cloning(0.01, both=True)
    unibc = PAIRED(maze_adversary(), cloning="unibc", cloning_every=1)
    assert unibc.cloning(0) == Cloning(0.1, both=False)
    assert PAIRED(maze_adversary()).cloning(24) is None
    with pytest.raises(ValueError, match="cloning"):
        PAIRED(maze_adversary(), cloning="both")  # type: ignore[arg-type]


@pytest.mark.parametrize(("mode", "cloned"), [("bibc", {"p", "a"}), ("unibc", {"p"})])
def test_the_runner_adds_the_term_to_the_students_the_mode_names(
    mode: str, cloned: set[str]
) -> None:
    records: dict[str, Any] = {}
    logger = configure(None, [])
    logger.record = lambda key, value, exclude=None: records.__setitem__(key, value)  # type: ignore[method-assign]
    students = {}
    for name in ("p", "a"):
        venv = BatchedMaze(4, size=6, max_steps=10, seed=0)
        model = make_ppo(venv, n_steps=20, batch_size=80, n_epochs=1, seed=len(name))
        students[name] = Student(model, name)
    runner = UEDRunner(
        teacher=PAIRED(maze_adversary(), cloning=mode, cloning_every=2),  # type: ignore[arg-type]
        protagonist=students["p"],
        antagonist=students["a"],
        family=MazeFamily((4, 4)),
        logger=logger,
    )
    runner.start(10_000)
    metrics = runner.step()  # iteration 0: no cloning
    assert metrics["ued/cloning"] == 0.0 and not any(k.endswith("bc_kl") for k in records)
    metrics = runner.step()  # iteration 1: cloning
    assert metrics["ued/cloning"] == 1.0
    assert {k.split("/")[0] for k in records if k.endswith("train/bc_kl")} == cloned
    assert all(np.isfinite(v) and v >= 0 for k, v in records.items() if k.endswith("bc_kl"))
