"""DEGen's credit assignment, its generator's GAE and entropy term, by hand; the generator builds
the student's levels on the batched maze and learns from them."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import configure

from advrl.agents import make_ppo
from advrl.envs.batched import BatchedMaze
from advrl.pair import MazeFamily, Student
from advrl.pair.degen import KIND_PRIOR, DEGen, anchored_entropy, credit, generator_gae
from advrl.pair.runner import UEDRunner
from advrl.runners.ued import make_level_env


def test_each_student_step_pays_the_last_decision_before_it() -> None:
    """Env 0 decides twice before step 0 and once before step 2; env 1 once before step 1.
    Steps 0-1 of env 0 pay its second decision (the last before them), steps 2-3 its third;
    the first decision of env 0 gets nothing; env 1's decision gets steps 1-3."""
    rewards = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0]])  # [steps, envs]
    env = np.array([0, 0, 1, 0])
    step = np.array([0, 0, 1, 2])
    np.testing.assert_allclose(credit(env, step, rewards), [0.0, 3.0, 90.0, 7.0])


def test_generator_gae_by_hand() -> None:
    """One env, three decisions: two on one level, the third on the next, which ends with the
    rollout (no bootstrap). gamma .5, lambda 1."""
    rewards = np.array([1.0, 2.0, 3.0])
    values = np.array([0.5, 1.0, 2.0])
    level = np.array([1, 1, 2])
    adv = generator_gae(rewards, values, np.zeros(3, int), level, gamma=0.5, gae_lambda=1.0)
    # third (ends the rollout's level): 3 - 2 = 1; second (ends its level): 2 - 1 = 1; first:
    # 1 + .5 * 1 - .5 = 1, plus .5 * 1 (the second's advantage) = 1.5
    np.testing.assert_allclose(adv, [1.5, 1.0, 1.0])


def test_the_entropy_term_is_cell_entropy_minus_kl_to_the_kind_prior() -> None:
    cell = torch.distributions.Categorical(logits=torch.zeros(1, 25))
    prior = torch.tensor(KIND_PRIOR)
    at_prior = torch.distributions.Categorical(probs=prior.view(1, 3))
    assert anchored_entropy(cell, at_prior, prior).item() == pytest.approx(math.log(25))
    walls = torch.distributions.Categorical(probs=torch.tensor([[0.0, 1.0, 0.0]]))
    assert anchored_entropy(cell, walls, prior).item() == pytest.approx(
        math.log(25) - math.log(1 / 0.495)
    )


def test_degen_needs_the_batched_maze() -> None:
    venv = make_vec_env(
        make_level_env, n_envs=2, env_kwargs={"env_id": "advrl/Maze-v0", "kwargs": {"size": 7}}
    )
    student = Student(make_ppo(venv, n_steps=8, batch_size=16, seed=0), "protagonist")
    with pytest.raises(ValueError, match="batched maze"):
        DEGen(MazeFamily((5, 5))).attach(student, None)


def test_the_generator_builds_the_students_levels_and_learns_from_them() -> None:
    env = BatchedMaze(4, size=7, max_steps=12, seed=0)
    student = Student(make_ppo(env, n_steps=24, batch_size=48, n_epochs=1, seed=0), "protagonist")
    teacher = DEGen(MazeFamily((5, 5)), seed=1, hidden=16, minibatches=2)
    runner = UEDRunner(
        teacher=teacher, protagonist=student, family=MazeFamily((5, 5)), logger=configure(None, [])
    )
    runner.start(10_000)
    before = [p.detach().clone() for p in teacher.net.parameters()]  # type: ignore[union-attr]
    metrics = runner.step()
    # each slot builds one level over the rollout's episodes: each of its 24 cells at most once
    assert 4 * 5 < metrics["ued/generator_decisions"] <= 4 * 24
    assert 0.0 <= metrics["ued/generator_wall_share"] <= 1.0
    assert metrics["ued/generator_no_goal"] == float((~env.goal_placed).float().mean())
    assert "levels/num_walls" in metrics  # the built levels, described as any others
    after = list(teacher.net.parameters())  # type: ignore[union-attr]
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))
    assert bool(env.building.all())
    state = teacher.state_dict()
    other = DEGen(MazeFamily((5, 5)), seed=7, hidden=16)
    other.attach(Student(make_ppo(BatchedMaze(4, size=7), n_steps=8, batch_size=32), "p"), None)
    other.load_state_dict(state)
    for a, b in zip(other.net.parameters(), after, strict=True):  # type: ignore[union-attr]
        assert torch.equal(a, b)
