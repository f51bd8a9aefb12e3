"""SequenceRecurrentPPO: sb3-contrib's RecurrentPPO trained on whole env sequences.

Its LSTM over a sequence equals sb3-contrib's step-by-step one (outputs, states and gradients), its
minibatches are whole env sequences that partition the rollout, and with one minibatch per epoch its
update equals sb3-contrib's.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sb3_contrib import RecurrentPPO
from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy
from torch import nn

from advrl.agents import make_ppo
from advrl.agents.recurrent import LSTMRecurrence, SequenceRecurrentPPO, lstm_sequence
from advrl.envs.batched import BatchedMaze


def _sequences(
    starts: torch.Tensor, *, n_seq: int, steps: int, seed: int = 0
) -> tuple[nn.LSTM, torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    torch.manual_seed(seed)
    lstm = nn.LSTM(6, 5)
    features = torch.randn(n_seq * steps, 6, requires_grad=True)
    states = (torch.randn(1, n_seq, 5), torch.randn(1, n_seq, 5))
    return lstm, features, states


@pytest.mark.parametrize("reset_inside", [True, False])
def test_lstm_sequence_equals_sb3_contrib_step_by_step(reset_inside: bool) -> None:
    n_seq, steps = 3, 7
    starts = torch.zeros(n_seq, steps)
    starts[0, 0] = 1.0  # a reset before the first step
    if reset_inside:
        starts[1, 3] = starts[2, 1] = starts[2, 5] = 1.0
    starts = starts.flatten()
    results = []
    for fn in (RecurrentActorCriticPolicy._process_sequence, lstm_sequence):
        lstm, features, states = _sequences(starts, n_seq=n_seq, steps=steps)
        out, (h, c) = fn(features, states, starts, lstm)
        (out.square().sum() + h.sum() + 2 * c.sum()).backward()
        grads = [p.grad.clone() for p in lstm.parameters()]
        results.append((out.detach(), h.detach(), c.detach(), features.grad.clone(), grads))
    ref, new = results
    for a, b in zip(ref[:4], new[:4], strict=True):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)
    for a, b in zip(ref[4], new[4], strict=True):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)


def test_lstm_recurrence_backward_is_the_gradient() -> None:
    """The hand-written backward pass against finite differences (float64)."""
    torch.manual_seed(1)
    steps, n, hidden = 5, 3, 2
    gates_x = torch.randn(steps, n, 4 * hidden, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(n, hidden, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(n, hidden, dtype=torch.float64, requires_grad=True)
    w_hh = torch.randn(4 * hidden, hidden, dtype=torch.float64, requires_grad=True)
    keep = torch.ones(steps, n, 1, dtype=torch.float64)
    keep[0, 1] = keep[2, 0] = keep[3, 2] = 0.0
    assert torch.autograd.gradcheck(
        lambda *args: LSTMRecurrence.apply(*args, keep), (gates_x, h0, c0, w_hh)
    )


def test_lstm_sequence_resets_where_an_episode_starts() -> None:
    """A reset inside a sequence makes what follows independent of what came before."""
    n_seq, steps = 2, 6
    starts = torch.zeros(n_seq, steps)
    starts[:, 3] = 1.0
    lstm, features, states = _sequences(starts, n_seq=n_seq, steps=steps)
    out, _ = lstm_sequence(features, states, starts.flatten(), lstm)
    changed = features.detach().clone().view(n_seq, steps, -1)
    changed[:, :3] += 10.0
    other, _ = lstm_sequence(changed.view(n_seq * steps, -1), states, starts.flatten(), lstm)
    out, other = out.view(n_seq, steps, -1), other.view(n_seq, steps, -1)
    torch.testing.assert_close(other[:, 3:], out[:, 3:])
    assert not torch.allclose(other[:, :3], out[:, :3])


def _trained(cls: type[RecurrentPPO], batch_size: int, n_epochs: int = 1) -> RecurrentPPO:
    """One rollout of 4 mazes x 16 steps (episodes end inside it), one update."""
    env = BatchedMaze(4, size=7, max_steps=6, seed=5)
    model = cls(
        "MultiInputLstmPolicy",
        env,
        n_steps=16,
        batch_size=batch_size,
        n_epochs=n_epochs,
        learning_rate=1e-3,
        seed=3,  # seeds the global generators too: each model samples the same actions
        policy_kwargs={"lstm_hidden_size": 8, "net_arch": [8]},
    )
    initial = {k: v.clone() for k, v in model.policy.state_dict().items()}
    model.learn(16 * 4)
    model.initial_state = initial  # type: ignore[attr-defined]
    return model


@pytest.mark.parametrize("n_epochs", [1, 3])
def test_one_minibatch_update_equals_sb3_contrib(
    n_epochs: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One minibatch per epoch: the same samples, the same loss, the same steps.

    sb3-contrib rolls its rollout at a random index; the env sequence that the roll cuts starts
    from the LSTM state stored during the rollout, with no gradient into the steps before the cut.
    Whole env sequences have no cut (as in dcd). With the roll at 0 the two are the same update.
    """
    with monkeypatch.context() as patch:
        patch.setattr(np.random, "randint", lambda *args, **kwargs: 0)
        reference = _trained(RecurrentPPO, batch_size=64, n_epochs=n_epochs)
    model = _trained(SequenceRecurrentPPO, batch_size=64, n_epochs=n_epochs)
    torch.testing.assert_close(model.initial_state, reference.initial_state)
    assert model.rollout_buffer.episode_starts.reshape(4, 16)[:, 1:].any()
    changed = False
    for name, p in model.policy.state_dict().items():
        torch.testing.assert_close(p, reference.policy.state_dict()[name], rtol=1e-4, atol=1e-5)
        changed |= not torch.equal(p, model.initial_state[name])
    assert changed


def test_minibatches_are_whole_env_sequences_from_their_first_state() -> None:
    model = _trained(SequenceRecurrentPPO, batch_size=32)
    buffer = model.rollout_buffer
    seen = []
    for batch in buffer.get(32):
        assert batch.mask.shape == (32,) and bool(batch.mask.all())
        image = batch.observations["image"].reshape(2, 16, *buffer.obs_shape["image"])
        envs = []
        for seq in image:
            matches = [
                e
                for e in range(4)
                if torch.equal(
                    seq, torch.as_tensor(buffer.observations["image"][e * 16 : e * 16 + 16])
                )
            ]
            assert len(matches) >= 1
            envs.append(matches[0])
        stored = buffer.hidden_states_pi.reshape(4, 16, 1, 8)[envs, 0].swapaxes(0, 1)
        torch.testing.assert_close(batch.lstm_states.pi[0], torch.as_tensor(stored))
        seen += envs
    assert sorted(seen) == [0, 1, 2, 3]


def test_batch_size_must_hold_whole_sequences() -> None:
    env = BatchedMaze(4, size=7, seed=0)
    with pytest.raises(ValueError, match="multiple of n_steps"):
        make_ppo(env, lstm_hidden=8, n_steps=16, batch_size=24)
    assert np.isclose(make_ppo(env, lstm_hidden=8, n_steps=16, batch_size=48).batch_size, 48)


def test_a_shared_lstm_learns_from_the_value_loss_too() -> None:
    """dcd's agents: one LSTM, trained by both losses (sb3-contrib detaches the critic from it)."""
    grads = {}
    for cls in (RecurrentPPO, SequenceRecurrentPPO):
        env = BatchedMaze(2, size=7, max_steps=6, seed=5)
        model = cls(
            "MultiInputLstmPolicy",
            env,
            n_steps=8,
            batch_size=16,
            seed=0,
            policy_kwargs={"lstm_hidden_size": 8, "shared_lstm": True, "enable_critic_lstm": False},
        )
        model.learn(16)
        batch = next(model.rollout_buffer.get(16))
        model.policy.zero_grad(set_to_none=True)
        values, _, _ = model.policy.evaluate_actions(
            batch.observations, batch.actions, batch.lstm_states, batch.episode_starts
        )
        values.sum().backward()
        grads[cls] = model.policy.lstm_actor.weight_hh_l0.grad
    assert grads[RecurrentPPO] is None  # detached
    assert grads[SequenceRecurrentPPO] is not None and grads[SequenceRecurrentPPO].abs().sum() > 0


def test_recurrent_settings_are_checked_before_a_run(tmp_path) -> None:
    from advrl.agents.settings import PolicySettings
    from advrl.config import ConfigError, UEDRunConfig, load_config
    from advrl.runners.ued import build_runner

    with pytest.raises(ValueError, match="lstm_shared needs a recurrent policy"):
        PolicySettings(lstm_shared=True)
    with pytest.raises(ConfigError, match=r"protagonist\.policy\.lstm_shared needs a recurrent"):
        load_config(UEDRunConfig, "configs/dr-maze.yaml", ["protagonist.policy.lstm_hidden=null"])
    config = load_config(
        UEDRunConfig,
        "configs/dr-maze.yaml",
        ["protagonist.ppo.batch_size=1000", f"out_dir={tmp_path}"],
    )
    with pytest.raises(ConfigError, match=r"protagonist.ppo: .*multiple of n_steps \(256\)"):
        build_runner(config)
    assert not any(tmp_path.iterdir())
