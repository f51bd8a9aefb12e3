"""RobustPPO: plain PPO when off, each adversarial method trains, AdvProp's BN, SimAug, SVC."""

from __future__ import annotations

import dataclasses
from typing import Any

import gymnasium as gym
import pytest
import torch
from stable_baselines3 import PPO
from torch.distributions import Categorical, kl_divergence

from advrl.agents import AdversarialTraining, RobustPPO, make_ppo
from advrl.agents.advprop import DualBatchNorm, auxiliary_bn, dual_batch_norms
from advrl.agents.attacks import distribution_kl, fgsm
from advrl.agents.fast_bat import LinearizationPoints
from advrl.agents.indexed_buffers import IndexedRolloutBuffer
from advrl.agents.lipschitz import max_singular_value
from advrl.agents.policy_inputs import PolicyInput
from advrl.agents.robust import ROBUST_TERMS, actor_modules, term_settings
from advrl.agents.robust.perturbed import FastBATSettings, MixSettings
from advrl.agents.robust.regularizers import SASettings
from advrl.agents.simaug import hardest_view, make_view, mixup

TINY = {"n_steps": 64, "batch_size": 32, "n_epochs": 2, "net_arch": [16]}


def with_term(method: str, term: dict[str, float], **common: Any) -> AdversarialTraining:
    """``method``'s settings, its term given those of ``term`` that it has (``coef`` for SA)."""
    kind = term_settings(method)
    names = {f.name for f in dataclasses.fields(kind)}
    own = {k: v for k, v in term.items() if k in names}
    return AdversarialTraining(method=method, term=kind(**own), **common)


def robust(env_id: str, method: str = "none", seed: int = 0, **kwargs) -> RobustPPO:
    at = kwargs.pop("adversarial", AdversarialTraining(method=method, eps=0.05, steps=3))
    model = make_ppo(
        gym.make(env_id), seed=seed, algorithm=RobustPPO, adversarial=at, **{**TINY, **kwargs}
    )
    assert isinstance(model, RobustPPO)
    return model


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_without_adversary_the_update_is_sb3_ppo(env_id: str) -> None:
    plain = make_ppo(gym.make(env_id), seed=3, **TINY)
    plain.learn(128)  # seeding reseeds the global generators: build each model just before use
    ours = robust(env_id, seed=3)
    ours.learn(128)
    for name, value in plain.policy.state_dict().items():
        torch.testing.assert_close(ours.policy.state_dict()[name], value, rtol=0, atol=0)


def flat_params(model: PPO) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.policy.parameters()])


IN_UPDATE = [m for m, term in ROBUST_TERMS.items() if not term.learned_adversary]
"""The methods that act inside PPO's update (ATLA's act on its rollouts: test_learned_attack)."""


@pytest.mark.parametrize("method", [m for m in IN_UPDATE if m != "advprop"])
@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_each_method_changes_ppos_update_and_logs(env_id: str, method: str) -> None:
    """On the same rollout (same seed), a method's update is plain PPO's when its ball has
    radius 0 and differs from it when it does not: the adversarial term is in the update."""
    plain = make_ppo(gym.make(env_id), seed=3, **TINY)
    plain.learn(64)
    updates = {}
    for eps in (0.0, 0.2):
        at = with_term(method, {"coef": 10.0}, eps=eps, steps=3)
        model = robust(env_id, adversarial=at, seed=3)
        model.learn(64)
        updates[eps] = flat_params(model)
        assert model.logger.name_to_value["robust/eps"] == pytest.approx(eps)
    torch.testing.assert_close(updates[0.0], flat_params(plain), rtol=0, atol=0)
    assert (updates[0.2] - flat_params(plain)).abs().max() > 1e-5
    assert torch.isfinite(updates[0.2]).all()


def test_perturbed_term_is_what_changes_the_update() -> None:
    """pgd_at with weight 1 and with weight 0 start alike and end apart: the perturbed loss counts."""
    ends = []
    for w in (0.0, 1.0):
        at = AdversarialTraining(method="pgd_at", eps=0.2, steps=3, term=MixSettings(weight=w))
        model = robust("CartPole-v1", adversarial=at, seed=1)
        model.learn(64)
        ends.append(torch.cat([p.flatten() for p in actor_modules(model.policy).parameters()]))
    assert not torch.allclose(ends[0], ends[1])


def test_eps_warmup_ramps_linearly() -> None:
    at = AdversarialTraining(method="pgd_at", eps=0.1, eps_warmup=0.5)
    model = robust("CartPole-v1", adversarial=at)
    for remaining, expected in [(1.0, 0.0), (0.75, 0.05), (0.5, 0.1), (0.1, 0.1)]:
        model._current_progress_remaining = remaining
        assert model.current_eps() == pytest.approx(expected)


def test_fgsm_rs_step_lands_in_the_ball() -> None:
    model = robust("CartPole-v1")
    obs = torch.zeros(16, 4)
    adv = fgsm(model.policy, obs, 0.1, objective="kl", random_start=True, step=0.125)
    assert (adv.abs() <= 0.1 + 1e-7).all() and (adv != 0).any()


# ----------------------------------------------------------------------------------- AdvProp
def test_dual_bn_moves_only_the_side_in_use() -> None:
    bn = DualBatchNorm(3).train()
    main0, aux0 = bn.main.running_mean.clone(), bn.aux.running_mean.clone()
    bn(torch.randn(8, 3) + 5)
    assert not torch.equal(bn.main.running_mean, main0)
    assert torch.equal(bn.aux.running_mean, aux0)
    main1 = bn.main.running_mean.clone()
    with auxiliary_bn(bn):
        bn(torch.randn(8, 3) - 5)
    assert torch.equal(bn.main.running_mean, main1)
    assert not torch.equal(bn.aux.running_mean, aux0)
    assert not bn.use_aux


def _aux_means(model: RobustPPO) -> list[torch.Tensor]:
    return [n.aux.running_mean.clone() for n in dual_batch_norms(model.policy)]


def test_advprop_aux_statistics_move_only_on_adversarial_batches() -> None:
    plain = robust("CartPole-v1", "none", dual_bn=True)
    start = _aux_means(plain)
    plain.learn(64)  # clean rollouts and clean updates only
    assert all(torch.equal(a, b) for a, b in zip(start, _aux_means(plain), strict=True))

    adv = robust("CartPole-v1", "advprop", dual_bn=True)
    obs = torch.randn(32, 4) * 0.1
    start = _aux_means(adv)
    with auxiliary_bn(adv.policy):
        adv.attack(
            PolicyInput(adv.policy, obs), 0.05
        )  # crafting the attack (eval mode) moves nothing
    assert all(torch.equal(a, b) for a, b in zip(start, _aux_means(adv), strict=True))
    adv.learn(64)  # the adversarial term trains through the auxiliary side
    assert all(not torch.equal(a, b) for a, b in zip(start, _aux_means(adv), strict=True))
    assert not any(n.use_aux for n in dual_batch_norms(adv.policy))  # acting uses the main side


def test_advprop_needs_dual_bn() -> None:
    with pytest.raises(ValueError, match="dual_bn"):
        robust("CartPole-v1", "advprop")


# ------------------------------------------------------------------------------------ SimAug
def test_simaug_picks_the_maximum_loss_view() -> None:
    views = torch.arange(3 * 4 * 2, dtype=torch.float32).view(3, 4, 2)  # 3 views, 4 samples
    losses = torch.tensor([[0.1, 5.0, 0.3, 0.0], [0.2, 1.0, 0.9, -1.0], [0.05, 2.0, 0.1, -2.0]])
    picked = hardest_view(views, losses)
    expected = torch.stack([views[1, 0], views[0, 1], views[1, 2], views[0, 3]])
    torch.testing.assert_close(picked, expected)


def test_mixup_stays_between_its_endpoints() -> None:
    torch.manual_seed(0)
    a, b = torch.zeros(100, 3), torch.ones(100, 3)
    mixed = mixup(a, b, 0.4)
    assert ((mixed >= 0) & (mixed <= 1)).all()
    assert torch.allclose(mixed, mixed[:, :1].expand(-1, 3))  # one weight per sample
    assert mixed.std() > 0.1


def test_views_parse_and_reject_bad_specs() -> None:
    obs = torch.ones(5, 4)
    assert torch.equal(make_view("gaussian:0")(obs), obs)
    assert make_view("scale:0.5")(obs).shape == obs.shape
    for bad, match in [
        ("blur:1", "unknown view"),
        ("gaussian:x", "needs a number"),
        ("dropout:1.5", "probability"),
    ]:
        with pytest.raises(ValueError, match=match):
            make_view(bad)


# --------------------------------------------------------------------------------- SVC, errors
def test_singular_value_clipping_bounds_the_actor() -> None:
    at = AdversarialTraining(svc_bound=0.5, svc_every=1)
    model = robust("CartPole-v1", adversarial=at)
    model.learn(64)
    assert max_singular_value(actor_modules(model.policy)) <= 0.5 + 1e-5
    assert model.logger.name_to_value["robust/svc_max_singular_value"] > 0.5


def test_bad_settings_are_named() -> None:
    with pytest.raises(ValueError, match="method must be one of"):
        AdversarialTraining(method="trades")
    with pytest.raises(ValueError, match="weight must be in"):
        MixSettings(weight=2.0)
    with pytest.raises(ValueError, match="term must be MixSettings"):  # another method's settings
        AdversarialTraining(method="pgd_at", term=SASettings())
    with pytest.raises(ValueError, match="term must be TermSettings"):
        AdversarialTraining(term=FastBATSettings())
    with pytest.raises(ValueError, match="Box observations or the maze"):
        robust("FrozenLake-v1", "pgd_at")


def test_saved_robust_model_loads_as_ppo(tmp_path) -> None:
    model = robust("CartPole-v1", "pgd_at")
    model.save(tmp_path / "m.zip")
    loaded = PPO.load(tmp_path / "m.zip")
    obs = torch.zeros(1, 4)
    torch.testing.assert_close(
        loaded.policy.get_distribution(obs).distribution.logits,
        model.policy.get_distribution(obs).distribution.logits,
    )
    again = RobustPPO.load(tmp_path / "m.zip")
    assert again.adversarial.method == "pgd_at"


def test_every_method_has_its_terms() -> None:
    from advrl.agents.robust import RobustTerm

    assert IN_UPDATE == ["pgd_at", "fgsm_rs", "fast_bat", "sa", "advprop", "simaug", "rad"]
    assert [m for m in ROBUST_TERMS if m not in IN_UPDATE] == ["atla", "atla_sa"]
    for name, term in ROBUST_TERMS.items():  # each overrides the loss, named as its entry
        assert term.name == name and term.terms is not RobustTerm.terms


def test_fast_bat_from_the_random_start_trains() -> None:
    at = AdversarialTraining(method="fast_bat", eps=0.05, term=FastBATSettings(z="random"))
    model = robust("CartPole-v1", adversarial=at)
    model.learn(64)
    assert all(torch.isfinite(p).all() for p in model.policy.parameters())
    with pytest.raises(ValueError, match="z must be"):
        FastBATSettings(z="fgsm")  # type: ignore[arg-type]


def test_indexed_buffer_names_the_samples_it_hands_out() -> None:
    model = robust("CartPole-v1")
    model.learn(64)
    buffer = model.rollout_buffer
    assert isinstance(buffer, IndexedRolloutBuffer)
    for batch in buffer.get(16):
        assert buffer.last_indices is not None and len(buffer.last_indices) == 16
        flat = torch.as_tensor(buffer.observations[buffer.last_indices])
        torch.testing.assert_close(batch.observations, flat, rtol=0, atol=0)


def test_linearization_points_carry_what_was_put() -> None:
    points = LinearizationPoints.empty(4, torch.zeros(1, 2))
    calls = []

    def fresh() -> torch.Tensor:
        calls.append(1)
        return torch.full((2, 2), 7.0)

    rows = torch.tensor([1, 3])
    assert torch.equal(points.get(rows, fresh), torch.full((2, 2), 7.0))
    points.put(torch.tensor([3]), torch.tensor([[1.0, 2.0]]))
    mixed = points.get(rows, fresh)  # row 1 fresh, row 3 carried
    assert torch.equal(mixed, torch.tensor([[7.0, 7.0], [1.0, 2.0]]))
    assert len(calls) == 2
    assert torch.equal(points.get(torch.tensor([3]), fresh), torch.tensor([[1.0, 2.0]]))
    assert len(calls) == 2  # every row carried: no fresh points computed


def test_carried_fast_bat_steps_to_z_only_in_the_first_epoch(monkeypatch) -> None:
    from advrl.agents.robust import perturbed as module

    calls = []
    step = module.linearization_point

    def counted(*args, **kwargs):
        calls.append(1)
        return step(*args, **kwargs)

    monkeypatch.setattr(module, "linearization_point", counted)
    at = AdversarialTraining(method="fast_bat", eps=0.05, term=FastBATSettings(z="carry"))
    model = robust("CartPole-v1", adversarial=at, n_epochs=3)
    model.learn(64)  # one rollout of 64 samples: 2 minibatches per epoch, 3 epochs
    assert len(calls) == 2
    assert model.term.points is not None and bool(model.term.points.seen.all())
    calls.clear()
    at = AdversarialTraining(method="fast_bat", eps=0.05, term=FastBATSettings(z="step"))
    robust("CartPole-v1", adversarial=at, n_epochs=3).learn(64)
    assert len(calls) == 6


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_fast_bat_reusing_the_clean_forward_gives_the_same_update(env_id: str) -> None:
    """Fast-BAT takes the clean distribution from the training forward when train and eval mode
    agree; the update must equal the one that recomputes it."""
    ends = []
    for reuse in (True, False):
        at = AdversarialTraining(method="fast_bat", eps=0.05)
        model = robust(env_id, adversarial=at, seed=2)
        model._modes_agree = reuse
        model.learn(64)
        ends.append(torch.cat([p.detach().flatten() for p in model.policy.parameters()]))
    torch.testing.assert_close(ends[0], ends[1])


def test_categorical_kl_matches_torch() -> None:
    p = Categorical(logits=torch.randn(5, 3))
    q = Categorical(logits=torch.randn(5, 3))
    torch.testing.assert_close(distribution_kl(p, q), kl_divergence(p, q))


@pytest.mark.parametrize("method", ["pgd_at", "fast_bat", "sa"])
def test_adv_every_alternates_and_scales_the_adversarial_term(method: str) -> None:
    """adv_every=2: the adversarial term on every other minibatch, at twice its weight (so that
    two minibatches' expected loss is the method's); the others are plain PPO's."""
    seen = []

    class Spy(RobustPPO):
        def _policy_terms(self, b, clean_log_prob, clean_entropy):
            terms = super()._policy_terms(b, clean_log_prob, clean_entropy)
            clean = b.surrogate(clean_log_prob).mean()
            seen.append((b.scale, terms, clean, {k: v[-1] for k, v in b.stats.items()}))
            return terms

    w = 0.25
    at = with_term(method, {"weight": w}, eps=0.05, steps=3, adv_every=2)
    model = make_ppo(gym.make("CartPole-v1"), seed=0, algorithm=Spy, adversarial=at, **TINY)
    model.learn(64)  # 2 minibatches per epoch, 2 epochs
    assert [scale for scale, *_ in seen] == [2.0, 0.0, 2.0, 0.0]
    for scale, terms, clean, stats in seen:
        if scale == 0:
            torch.testing.assert_close(terms.policy_loss, clean)
            assert float(terms.extra.detach()) == 0.0
        elif method == "sa":
            torch.testing.assert_close(terms.policy_loss, clean)
            assert float(terms.extra.detach()) == pytest.approx(
                2 * at.term.coef * stats["robust/sa_kl"]  # type: ignore[attr-defined]
            )
        else:
            adv = stats["robust/adv_policy_loss"]
            expected = (1 - 2 * w) * clean.item() + 2 * w * adv
            assert terms.policy_loss.item() == pytest.approx(expected, rel=1e-5, abs=1e-7)


def test_adv_every_is_checked() -> None:
    with pytest.raises(ValueError, match="adv_every must be >= 1"):
        AdversarialTraining(method="pgd_at", adv_every=0)
    with pytest.raises(ValueError, match=r"adv_every \* term.weight must be <= 1"):
        AdversarialTraining(method="fast_bat", term=FastBATSettings(weight=0.5), adv_every=3)
    with pytest.raises(ValueError, match="simaug's loss has no clean part"):
        AdversarialTraining(method="simaug", adv_every=2)
    AdversarialTraining(method="sa", adv_every=4)  # kappa scales freely
