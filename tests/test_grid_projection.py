"""project_grid: a linear layer over wide grid features, computed where the grid changed, equals the
dense product (values and gradients), and PPO's update through it equals SB3's."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from stable_baselines3 import PPO
from stable_baselines3.common.buffers import DictRolloutBuffer
from stable_baselines3.common.policies import MultiInputActorCriticPolicy
from stable_baselines3.common.preprocessing import preprocess_obs

from advrl.agents import grid_projection, make_ppo
from advrl.agents.grid_projection import (
    EnvMajorDictRolloutBuffer,
    GridActorCriticPolicy,
    changed_positions,
    conv_projection,
    project_grid,
)
from advrl.agents.recurrent import lstm_sequence
from advrl.envs.batched_designer import BatchedMazeDesigner

ENVS, STEPS = 4, 8  # a designer of a 9x9 maze: goal, start, 6 walls


def _designer() -> BatchedMazeDesigner:
    return BatchedMazeDesigner(ENVS, size=9, wall_budget=6, noise_dim=5, seed=0)


def _rows(model: PPO) -> dict[str, torch.Tensor]:
    """One full design per env, env-major (each env's steps in time order), preprocessed."""
    env = model.get_env()
    assert env is not None
    obs, steps = env.reset(), []
    rng = np.random.default_rng(0)
    for _ in range(STEPS):
        steps.append(obs)
        obs, *_ = env.step(rng.integers(0, 49, ENVS))
    stacked = {
        k: np.stack([s[k] for s in steps], 1).reshape(ENVS * STEPS, *steps[0][k].shape[1:])
        for k in steps[0]
    }
    raw, _ = model.policy.obs_to_tensor(stacked)
    inputs = preprocess_obs(raw, model.policy.observation_space)
    assert isinstance(inputs, dict)
    return inputs


def _model(**kwargs: object) -> PPO:
    # 64 filters on the 7x7 inside: 3,136 features, wide enough for the incremental product
    return make_ppo(  # type: ignore[return-value]
        _designer(), n_steps=STEPS, batch_size=ENVS * STEPS, seed=0, conv_filters=64, **kwargs
    )


def _close(actual: torch.Tensor, expected: torch.Tensor) -> None:
    """Equal up to float32 rounding of sums with cancellation: within 1e-5 of the largest entry."""
    scale = float(expected.detach().abs().max())
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-5 * scale + 1e-6)


def _values_and_grads(fn: object, params: list[torch.Tensor]) -> list[torch.Tensor]:
    out = fn()  # type: ignore[operator]
    grads = torch.autograd.grad((out.square().sum() + out.sum()), params)
    return [out.detach(), *grads]


def test_changed_positions_are_the_patches_around_a_changed_cell() -> None:
    codes = torch.ones(3, 5, 5, dtype=torch.long)
    codes[1:, 2, 2] = 2  # row 1 changes the centre cell; row 2 nothing
    changed = changed_positions(codes, (3, 3), block=64)
    assert changed[0].all()  # a block's first row: every position
    assert changed[1].all()  # all nine 3x3 patches of a 5x5 grid hold the centre
    assert not changed[2].any()
    codes[2, 0, 0] = 2  # the corner is in one patch only
    changed = changed_positions(codes, (3, 3), block=64)
    assert changed[2].sum() == 1 and changed[2, 0, 0]
    assert changed_positions(codes, (3, 3), block=2)[2].all()  # row 2 starts a block


@pytest.mark.parametrize("block", [64, 3])
@pytest.mark.parametrize("order", ["env-major", "shuffled"])
def test_conv_projection_equals_the_dense_product(
    block: int, order: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Values and gradients (conv weight and bias, the layer's weight) of the dense
    ``linear(relu(conv(one_hot)).flatten())``; in any row order (only the saving depends on it),
    across block boundaries (3 does not divide the 32 rows)."""
    monkeypatch.setattr(grid_projection, "MAX_EVENT_SHARE", 1.0)
    model = _model()
    extractor = model.policy.features_extractor
    conv = extractor.conv[0]
    rows = _rows(model)
    if order == "shuffled":
        perm = torch.randperm(ENVS * STEPS, generator=torch.Generator().manual_seed(0))
        rows = {k: v[perm] for k, v in rows.items()}
    codes = rows["image"][..., 0].long()
    weight = torch.randn(6, 64 * 7 * 7, generator=torch.Generator().manual_seed(1))
    weight.requires_grad_(True)
    params = [weight, conv.weight, conv.bias]

    def dense() -> torch.Tensor:
        return F.linear(extractor.conv(extractor.one_hot_image(rows["image"])), weight)

    def incremental() -> torch.Tensor:
        out = conv_projection(codes, conv, weight, block=block)
        assert out is not None
        return out

    expected = _values_and_grads(dense, params)
    for a, b in zip(expected, _values_and_grads(incremental, params), strict=True):
        _close(b, a)


def test_project_grid_saves_on_consecutive_steps_and_not_on_shuffled_ones() -> None:
    model = _model()
    extractor = model.policy.features_extractor
    rows = _rows(model)
    codes = rows["image"][..., 0].long()
    weight = torch.randn(6, extractor.features_dim)  # the grid's 3,136 and the scalars' 10
    changed = changed_positions(codes, (3, 3), grid_projection.BLOCK)
    assert float(changed.float().mean()) < 0.5  # a step changes one cell: few patches
    grid = weight[:, : 64 * 7 * 7]
    assert conv_projection(codes, extractor.conv[0], grid) is not None
    perm = torch.randperm(ENVS * STEPS, generator=torch.Generator().manual_seed(0))
    assert conv_projection(codes[perm], extractor.conv[0], grid) is None  # dense is cheaper
    # and project_grid gives the dense product either way (with the scalar inputs and the bias)
    bias = torch.randn(6)
    for batch in (rows, {k: v[perm] for k, v in rows.items()}):
        _close(
            project_grid(extractor, batch, weight, bias), F.linear(extractor(batch), weight, bias)
        )


def test_the_policy_evaluates_actions_as_sb3s() -> None:
    model = _model()
    policy = model.policy
    assert type(policy) is GridActorCriticPolicy
    rows = _rows(model)
    raw = {k: v for k, v in rows.items()}
    raw["time_step"] = rows["time_step"].argmax(1)  # the Discrete before SB3's one-hot
    actions = torch.randint(0, 49, (ENVS * STEPS,), generator=torch.Generator().manual_seed(2))
    params = list(policy.parameters())

    def ours() -> torch.Tensor:
        return torch.cat([t.flatten() for t in policy.evaluate_actions(raw, actions)])

    def sb3s() -> torch.Tensor:
        return torch.cat(
            [
                t.flatten()
                for t in MultiInputActorCriticPolicy.evaluate_actions(policy, raw, actions)
            ]
        )

    a = _values_and_grads(sb3s, params)
    b = _values_and_grads(ours, params)
    assert all(float(g.abs().sum()) > 0 for g in a[1:])
    for x, y in zip(a, b, strict=True):
        _close(y, x)


def test_a_whole_rollout_minibatch_is_env_major_with_sb3s_random_stream() -> None:
    model = _model()
    assert isinstance(model.rollout_buffer, EnvMajorDictRolloutBuffer)
    assert model.policy.rows_per_block == STEPS  # a block per env's rollout
    model.learn(ENVS * STEPS)  # one rollout, one update
    buffer = model.rollout_buffer
    np.random.seed(3)
    (batch,) = list(buffer.get(None))
    after = np.random.rand()
    np.random.seed(3)
    list(DictRolloutBuffer.get(buffer, ENVS * STEPS // 2))
    assert np.random.rand() == after  # one permutation drawn either way
    # row e * STEPS + t is env e's step t (the buffer's own flattened order)
    steps = batch.observations["time_step"].flatten()
    assert steps.tolist() == list(range(STEPS)) * ENVS
    flat = torch.as_tensor(buffer.observations["image"])
    assert torch.equal(batch.observations["image"], flat)
    # smaller minibatches are SB3's: shuffled
    halves = list(buffer.get(ENVS * STEPS // 2))
    assert not torch.equal(halves[0].observations["image"], flat[: ENVS * STEPS // 2])


def test_a_ppo_update_equals_sb3s() -> None:
    """The same rollout, the same initial networks and seeds: SB3's PPO (shuffled minibatch, dense
    features) and advrl's (env-major rows, projection where the grid changed) end equal."""
    ours = _model(n_epochs=3, ent_coef=0.01)
    initial = {k: v.clone() for k, v in ours.policy.state_dict().items()}
    ours.learn(ENVS * STEPS)
    reference = _model(n_epochs=3, ent_coef=0.01, rollout_buffer_class=DictRolloutBuffer)
    reference.policy.__class__ = MultiInputActorCriticPolicy
    reference.learn(ENVS * STEPS)
    torch.testing.assert_close(
        torch.as_tensor(ours.rollout_buffer.actions),
        torch.as_tensor(reference.rollout_buffer.actions),
    )
    changed = False
    for name, p in ours.policy.state_dict().items():
        torch.testing.assert_close(p, reference.policy.state_dict()[name], rtol=1e-4, atol=1e-5)
        changed |= not torch.equal(p, initial[name])
    assert changed


def test_the_lstm_input_projection_equals_the_dense_one() -> None:
    """The whole-sequence LSTM policy: its update's input projection through project_grid gives
    the dense route's values, log-probabilities, entropies and gradients."""
    model = _model(lstm_hidden=16, lstm_shared=True)
    model.learn(ENVS * STEPS)
    policy, buffer = model.policy, model.rollout_buffer
    (batch,) = list(buffer.get(ENVS * STEPS))
    params = list(policy.parameters())

    def ours() -> torch.Tensor:
        out = policy.evaluate_actions(
            batch.observations, batch.actions.flatten(), batch.lstm_states, batch.episode_starts
        )
        return torch.cat([t.flatten() for t in out])

    def dense() -> torch.Tensor:
        features = policy.extract_features(batch.observations)
        latent, _ = lstm_sequence(
            features, batch.lstm_states.pi, batch.episode_starts, policy.lstm_actor
        )
        dist = policy._get_action_dist_from_latent(policy.mlp_extractor.forward_actor(latent))
        values = policy.value_net(policy.mlp_extractor.forward_critic(latent))
        log_prob = dist.log_prob(batch.actions.flatten())
        return torch.cat([values.flatten(), log_prob, dist.entropy()])

    a = _values_and_grads(dense, params)
    b = _values_and_grads(ours, params)
    for x, y in zip(a, b, strict=True):
        _close(y, x)


def _count_incremental_steps(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the acting steps computed from the previous step's (not densely)."""
    calls: list[int] = []
    original = grid_projection.conv_projection_from

    def counted(*args: object) -> torch.Tensor | None:
        out = original(*args)  # type: ignore[arg-type]
        calls.extend([1] if out is not None else [])
        return out

    monkeypatch.setattr(grid_projection, "conv_projection_from", counted)
    return calls


def test_acting_from_the_previous_step_equals_sb3s(monkeypatch: pytest.MonkeyPatch) -> None:
    """The policy's forward without gradients (acting) computes each step's first layers from the
    previous step's: the same actions, values and log-probabilities as SB3's dense forward, step
    after step, after a parameter update, and for another batch size."""
    incremental = _count_incremental_steps(monkeypatch)
    model = _model()
    policy = model.policy
    env = model.get_env()
    assert env is not None
    rng = np.random.default_rng(1)
    obs = env.reset()
    calls = 0

    def compare(observation: dict[str, np.ndarray]) -> None:
        tensors, _ = policy.obs_to_tensor(observation)
        with torch.no_grad():
            ours = policy(tensors, deterministic=True)
            sb3s = MultiInputActorCriticPolicy.forward(policy, tensors, deterministic=True)
        for a, b in zip(ours, sb3s, strict=True):
            _close(a.float(), b.float())

    for step in range(3 * STEPS):  # three designs, through resets
        compare(obs)
        calls += 1
        if step == STEPS + 2:  # an update changes the parameters in place
            with torch.no_grad():
                policy.mlp_extractor.policy_net[0].weight.mul_(1.5)
                policy.features_extractor.conv[0].bias.add_(0.1)
        obs, *_ = env.step(rng.integers(0, 49, ENVS))
    compare({k: v[:2] for k, v in obs.items()})  # fewer rows
    assert len(incremental) >= STEPS  # most steps came from the previous one


def test_conv_projection_from_a_reference_equals_the_dense_product() -> None:
    model = _model()
    extractor = model.policy.features_extractor
    conv = extractor.conv[0]
    rows = _rows(model)
    codes = rows["image"][..., 0].long()
    weight = torch.randn(6, 64 * 7 * 7, generator=torch.Generator().manual_seed(1))
    per_position = grid_projection.position_weights(weight, 64)

    def dense(c: torch.Tensor) -> torch.Tensor:
        return F.linear(
            extractor.conv(extractor.one_hot_image(c[..., None].expand(-1, -1, -1, 3))), weight
        )

    with torch.no_grad():
        reference = dense(codes[:-1])
        out = grid_projection.conv_projection_from(
            codes[1:], codes[:-1], reference, conv, per_position
        )
        assert out is not None
        _close(out, dense(codes[1:]))
        # nothing changed: the reference itself; everything changed: None (dense is cheaper)
        same = grid_projection.conv_projection_from(codes, codes, dense(codes), conv, per_position)
        assert same is not None
        _close(same, dense(codes))
        other = torch.flip(codes, dims=[1])
        assert (
            grid_projection.conv_projection_from(other, codes, dense(codes), conv, per_position)
            is None
        )


def test_recurrent_acting_from_the_previous_step_equals_sb3_contribs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The whole-sequence LSTM policy acting on the designer: each step's input projection from the
    previous step's; the same actions, values, log-probabilities and LSTM states as sb3-contrib's
    forward, step after step, through resets and a parameter change."""
    from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy
    from sb3_contrib.common.recurrent.type_aliases import RNNStates

    incremental = _count_incremental_steps(monkeypatch)
    model = _model(lstm_hidden=16, lstm_shared=True)
    policy = model.policy
    env = model.get_env()
    assert env is not None
    rng = np.random.default_rng(2)
    obs = env.reset()
    zeros = torch.zeros(1, ENVS, 16)
    ours_states = sb3_states = RNNStates((zeros, zeros), (zeros, zeros))
    starts = torch.ones(ENVS)
    for step in range(2 * STEPS + 3):
        tensors, _ = policy.obs_to_tensor(obs)
        with torch.no_grad():
            *ours, ours_states = policy(tensors, ours_states, starts, deterministic=True)
            *sb3s, sb3_states = RecurrentActorCriticPolicy.forward(
                policy, tensors, sb3_states, starts, deterministic=True
            )
        for a, b in zip([*ours, *ours_states.pi], [*sb3s, *sb3_states.pi], strict=True):
            _close(a.float(), b.float())
        if step == STEPS:
            with torch.no_grad():
                policy.lstm_actor.weight_ih_l0.mul_(1.5)
        obs, _, dones, _ = env.step(rng.integers(0, 49, ENVS))
        starts = torch.as_tensor(dones, dtype=torch.float32)
    assert len(incremental) >= STEPS  # most steps came from the previous one
