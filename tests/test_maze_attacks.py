"""Attacks and adversarial training on the maze: its one-hot view is what gets perturbed."""

from __future__ import annotations

import functools

import gymnasium as gym
import numpy as np
import pytest
import torch
from minigrid.core.constants import OBJECT_TO_IDX

from advrl.agents import AdversarialTraining, RobustPPO, make_ppo
from advrl.agents.advprop import dual_batch_norms
from advrl.agents.attacks import (
    FLIP_TYPES,
    ObservationAttack,
    attacked_actions,
    cell_flips,
    fgsm,
    objective_fn,
    pgd,
)
from advrl.agents.policy_inputs import PolicyInput
from advrl.agents.robust import ROBUST_TERMS
from advrl.agents.robust.perturbed import FastBATSettings
from advrl.agents.robust.regularizers import SASettings
from advrl.agents.robust.terms import log_prob_entropy
from advrl.agents.robust.views import SimAugSettings
from advrl.agents.simaug import make_view
from advrl.episodes import evaluate, sb3_policy
from advrl.eval.robustness import random_return, robustness_curve

MAZE = "advrl/Maze-Small-v0"


@pytest.fixture(scope="module")
def model():
    return make_ppo(gym.make(MAZE), seed=0, n_steps=32, batch_size=32, net_arch=[16])


def batch(n: int = 8) -> dict[str, np.ndarray]:
    env = gym.make(MAZE)
    obs = [env.reset(seed=i)[0] for i in range(n)]
    return {k: np.stack([o[k] for o in obs]) for k in obs[0]}


def test_features_reproduce_the_policy_exactly(model) -> None:
    obs, _ = model.policy.obs_to_tensor(batch())
    target = PolicyInput(model.policy, obs)
    assert target.is_grid and target.x.shape[1:] == target.observation_space.shape
    with torch.no_grad():
        ours = target.get_distribution(target.x).distribution.logits
        theirs = model.policy.get_distribution(obs).distribution.logits
        torch.testing.assert_close(ours, theirs, rtol=0, atol=0)
        torch.testing.assert_close(
            target.predict_values(target.x), model.policy.predict_values(obs)
        )
    back = target.to_observation(target.x)
    assert isinstance(back, dict) and torch.equal(back["image"], obs["image"])


@pytest.mark.parametrize("objective", ["kl", "ce"])
def test_log_prob_objectives_equal_the_distribution_ones(model, objective: str) -> None:
    """The categorical fast path (log-probability tensors) computes the same objective, and the
    same input gradient, as the objective built on SB3's distribution objects."""
    obs, _ = model.policy.obs_to_tensor(batch())
    target = PolicyInput(model.policy, obs)
    assert target.categorical
    x = target.x + 0.1 * torch.rand(target.x.shape, generator=torch.Generator().manual_seed(0))
    lean = objective_fn(target, target.x, objective)

    class Generic:  # the same policy, seen only through get_distribution
        observation_space = target.observation_space
        device = target.device
        get_distribution = target.get_distribution
        predict_values = target.predict_values

    generic = objective_fn(Generic(), target.x, objective)
    grads = []
    for f in (lean, generic):
        point = x.clone().requires_grad_(True)
        value = f(point)
        (grad,) = torch.autograd.grad(value.sum(), point)
        grads.append((value.detach(), grad))
    torch.testing.assert_close(grads[0][0], grads[1][0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grads[0][1], grads[1][1], rtol=1e-5, atol=1e-6)
    log_probs = target.action_log_probs(x)
    dist = target.get_distribution(x)
    actions = torch.arange(len(x)) % log_probs.shape[1]
    torch.testing.assert_close(log_probs.gather(1, actions[:, None])[:, 0], dist.log_prob(actions))
    log_prob, entropy = log_prob_entropy(target, x, actions)
    torch.testing.assert_close(log_prob, dist.log_prob(actions))
    torch.testing.assert_close(entropy, dist.entropy())


@pytest.mark.parametrize("objective", ["kl", "ce", "value"])
def test_pgd_on_the_view_stays_in_the_ball_and_beats_fgsm(model, objective: str) -> None:
    obs, _ = model.policy.obs_to_tensor(batch())
    target = PolicyInput(model.policy, obs)
    gen = torch.Generator().manual_seed(0)
    eps = 0.3
    adv = pgd(target, target.x, eps, objective=objective, steps=5, generator=gen)
    assert ((adv - target.x).abs() <= eps + 1e-6).all()
    assert ((adv >= 0) & (adv <= 1)).all()
    f = objective_fn(target, target.x, objective)
    gen = torch.Generator().manual_seed(0)
    one = fgsm(target, target.x, eps, objective=objective, generator=gen)
    with torch.no_grad():
        assert (f(adv) >= f(one) - 1e-6).all()


def test_discrete_projection_flips_cells_only(model) -> None:
    obs, _ = model.policy.obs_to_tensor(batch())
    target = PolicyInput(model.policy, obs)
    x = target.x.clone()
    x[0, :, 0, 0] = 0
    x[0, 2, 0, 0] = 1  # cell (0, 0) of the first view becomes a wall (type 2)
    flipped = target.to_observation(x)
    assert isinstance(flipped, dict)
    diff = flipped["image"] != obs["image"]
    assert flipped["image"][0, 0, 0, 0] == 2
    assert int(diff.sum()) <= 1 and torch.equal(flipped["direction"], obs["direction"])


def robust_maze(at: AdversarialTraining, n_epochs: int = 2) -> RobustPPO:
    """RobustPPO on the small maze with a tiny network and rollout."""
    model = make_ppo(
        gym.make(MAZE),
        seed=0,
        n_steps=32,
        batch_size=32,
        n_epochs=n_epochs,
        net_arch=[16],
        algorithm=RobustPPO,
        adversarial=at,
        dual_bn=at.method == "advprop",
    )
    assert isinstance(model, RobustPPO)
    return model


def flat_params(model: RobustPPO) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.policy.parameters()])


@pytest.mark.parametrize(
    "method", [m for m, term in ROBUST_TERMS.items() if not term.learned_adversary]
)
def test_robust_training_on_the_maze_changes_the_update(method: str) -> None:
    """On the same rollout, the update with a ball of radius 0.2 on the view's features differs
    from the update with radius 0 (the perturbation reaches the maze policy's loss)."""
    updates = []
    for eps in (0.0, 0.2):
        model = robust_maze(AdversarialTraining(method=method, eps=eps, steps=2), n_epochs=1)
        model.learn(64)
        updates.append(flat_params(model))
    assert (updates[1] - updates[0]).abs().max() > 1e-6
    assert torch.isfinite(updates[1]).all()


@pytest.mark.parametrize("discrete", [False, True])
def test_robustness_curve_on_the_maze(model, discrete: bool) -> None:
    factory = functools.partial(gym.make, MAZE)
    attack = ObservationAttack(method="pgd", steps=2)
    points = robustness_curve(
        model, factory, attack, [0.0, 0.5], episodes=3, seed=7, discrete=discrete
    )
    clean = evaluate(factory(), sb3_policy(model, deterministic=True), 3, seed=7)
    assert points[0].mean_return == pytest.approx(clean.mean_return)
    baseline = random_return(factory, 3, 7)  # random actions on the same seeded mazes
    assert 0.0 <= baseline <= 1.0 and baseline == random_return(factory, 3, 7)
    assert len(points) == 2 and np.isfinite(points[1].mean_return)


@pytest.mark.parametrize("cells", [1, 3])
def test_cell_flips_change_at_most_k_cells_and_never_lower_the_objective(model, cells: int) -> None:
    obs, _ = model.policy.obs_to_tensor(batch(16))
    target = PolicyInput(model.policy, obs)
    adv = cell_flips(target, target.x, cells, objective="ce")
    changed = (adv != target.x).any(1)  # [N, W, H]
    assert (changed.flatten(1).sum(1) <= cells).all() and changed.any()
    assert not changed[:, 2, 4].any()  # the agent's own cell
    assert ((adv == 0) | (adv == 1)).all() and (adv.sum(1) == 1).all()  # still one-hot
    types = adv.argmax(1)[changed]
    assert set(types.tolist()) <= set(FLIP_TYPES)
    f = objective_fn(target, target.x, "ce")
    with torch.no_grad():
        assert (f(adv) >= f(target.x)).all()
        assert (f(adv) > f(target.x)).any()


def test_flip_attack_through_observation_attack(model) -> None:
    obs, _ = model.policy.obs_to_tensor(batch(4))
    target = PolicyInput(model.policy, obs)
    attack = ObservationAttack(method="flip", eps=2, objective="ce")
    flipped = target.to_observation(attack.perturb(target, target.x))
    assert isinstance(flipped, dict)
    assert ((flipped["image"] != obs["image"]).any(-1).flatten(1).sum(1) <= 2).all()
    with pytest.raises(ValueError, match="number of cells"):
        ObservationAttack(method="flip", eps=1.5).perturb(target, target.x)
    with pytest.raises(ValueError, match="one-hot view"):
        ObservationAttack(method="flip", eps=1).perturb(target, target.x * 0.5)


def test_attacked_actions_use_running_batch_norm_statistics() -> None:
    """A dual-BN policy left in training mode is attacked and played as deployed (eval mode)."""
    model = make_ppo(gym.make(MAZE), seed=0, n_steps=32, batch_size=32, net_arch=[16], dual_bn=True)
    model.learn(64)
    for norm in dual_batch_norms(model.policy):  # running statistics far from any batch's
        norm.main.running_mean.fill_(3.0)
        norm.main.running_var.fill_(0.01)
    obs = batch(32)
    expected, _ = model.predict(obs, deterministic=True)
    model.policy.set_training_mode(True)
    act = attacked_actions(model, ObservationAttack(eps=0.0), True, torch.Generator())
    np.testing.assert_array_equal(act(obs), expected)


@pytest.mark.parametrize("method", ["pgd_at", "sa", "advprop", "simaug"])
def test_training_on_cell_flips_changes_at_most_round_eps_cells(method: str, monkeypatch) -> None:
    sa = {"term": SASettings(coef=10.0)} if method == "sa" else {}
    model = robust_maze(AdversarialTraining(method=method, eps=1.4, attack="flip", **sa))
    seen = []
    attack = RobustPPO.attack

    def spy(self, target, eps, objective=None):
        adv = attack(self, target, eps, objective)
        seen.append((target.x, adv))
        return adv

    monkeypatch.setattr(RobustPPO, "attack", spy)
    model.learn(32)
    assert seen
    for clean, adv in seen:
        assert ((adv == 0) | (adv == 1)).all() and (adv.sum(1) == 1).all()
        changed = (adv != clean).any(1).flatten(1).sum(1)
        assert (changed <= 1).all() and (changed == 1).any()
    monkeypatch.undo()
    clean = robust_maze(AdversarialTraining(method=method, eps=0.0, attack="flip", **sa))
    clean.learn(32)
    assert (flat_params(model) - flat_params(clean)).abs().max() > 1e-6  # the flips count


def test_cell_flips_need_the_maze_and_a_search_method() -> None:
    with pytest.raises(ValueError, match="attack='flip' works with"):
        AdversarialTraining(method="fast_bat", attack="flip")
    with pytest.raises(ValueError, match="changes cells of the maze"):
        make_ppo(
            gym.make("CartPole-v1"),
            algorithm=RobustPPO,
            adversarial=AdversarialTraining(method="pgd_at", attack="flip"),
        )


def test_carried_fast_bat_trains_on_the_maze() -> None:
    model = robust_maze(
        AdversarialTraining(method="fast_bat", eps=0.2, term=FastBATSettings(z="carry"))
    )
    model.learn(32)
    assert model.term.points is not None and bool(model.term.points.seen.all())
    assert all(torch.isfinite(p).all() for p in model.policy.parameters())


def test_walls_view_redraws_floor_and_wall_only(model) -> None:
    obs, _ = model.policy.obs_to_tensor(batch(16))
    x = PolicyInput(model.policy, obs).x
    torch.manual_seed(0)
    view = make_view("walls:0.5")(x)
    assert ((view == 0) | (view == 1)).all() and (view.sum(1) == 1).all()
    changed = (view != x).any(1)  # [N, W, H]
    assert changed.any()
    was = x.argmax(1)[changed]
    now = view.argmax(1)[changed]
    floor_wall = {OBJECT_TO_IDX["empty"], OBJECT_TO_IDX["wall"]}
    assert set(was.tolist()) <= floor_wall and set(now.tolist()) <= floor_wall
    assert not changed[:, x.shape[2] // 2, x.shape[3] - 1].any()  # never the agent's cell
    assert torch.equal(make_view("walls:0")(x), x)
    with pytest.raises(ValueError, match="walls"):
        make_ppo(
            gym.make("CartPole-v1"),
            algorithm=RobustPPO,
            adversarial=AdversarialTraining(
                method="simaug", term=SimAugSettings(views=("walls:0.1",))
            ),
        )


def test_simaug_with_walls_views_trains_on_the_maze() -> None:
    at = AdversarialTraining(
        method="simaug", eps=0.1, steps=2, term=SimAugSettings(views=("walls:0.1", "walls:0.2"))
    )
    model = robust_maze(at)
    model.learn(32)
    assert all(torch.isfinite(p).all() for p in model.policy.parameters())
