"""Recurrent PPO that trains on whole env sequences: sb3-contrib's algorithm, without its slow paths.

sb3-contrib's ``RecurrentPPO`` cuts each minibatch into sequences at episode starts, pads them to
the longest, and runs its LSTM one time step at a time whenever a sequence holds an episode start
(in training that is nearly always). On mazes whose episodes end at scattered times, padding can
multiply the work several times over, and the per-step loop also repeats the LSTM's input
projection step by step instead of as one matrix product.

:class:`SequenceRecurrentPPO` keeps sb3-contrib's ``collect_rollouts`` and ``train`` and changes
two things under them, as the UED reference code (dcd) does:

- **Minibatches are whole env sequences** (:class:`EnvSequenceRolloutBuffer`): each holds every
  step of ``batch_size / n_steps`` envs, in time order, starting from the LSTM state stored at the
  rollout's first step; no padding. With one minibatch per epoch (the UED papers' setting) it is
  the same set of samples as sb3-contrib's, so the update is the same (a test holds the two equal).
- **The LSTM runs over a whole sequence at once** (:func:`lstm_sequence`): the input projection of
  every step is one matrix product; only the recurrence steps through time, resetting the state
  where an episode starts. (On the CPU this also avoids ``nn.LSTM``'s oneDNN path, which takes
  about 40 ms for one step of the adversary's LSTM, whose input has 21,632 features.)

The policies (:class:`SequenceLstmPolicy`, :class:`SequenceMultiInputLstmPolicy`) are
sb3-contrib's with :func:`lstm_sequence` in place of its ``_process_sequence``; their parameters
and the distributions they compute are the same. One difference, by choice: with ``shared_lstm``
(one LSTM for the actor and the critic) the value loss trains the LSTM too, as in dcd's agents;
sb3-contrib detaches the critic from the shared LSTM.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from sb3_contrib import RecurrentPPO
from sb3_contrib.common.recurrent.buffers import (
    RecurrentDictRolloutBuffer,
    RecurrentRolloutBuffer,
)
from sb3_contrib.common.recurrent.policies import (
    RecurrentActorCriticPolicy,
    RecurrentMultiInputActorCriticPolicy,
)
from sb3_contrib.common.recurrent.type_aliases import (
    RecurrentDictRolloutBufferSamples,
    RecurrentRolloutBufferSamples,
    RNNStates,
)
from torch import nn

from advrl.agents.grid_projection import (
    MIN_FEATURES,
    RowProjection,
    grid_inputs,
    parameters_key,
    project_grid,
)
from advrl.agents.networks import GridFeaturesExtractor

# ---------------------------------------------------------------------------- the LSTM
LSTMStates = tuple[torch.Tensor, torch.Tensor]
"""An LSTM's ``(h, c)``, each ``[layers, n_seq, hidden]``."""


def plain_lstm(lstm: nn.LSTM) -> bool:
    """Whether ``lstm`` is one unidirectional layer with biases and no projection: the LSTM that
    :func:`lstm_sequence` runs itself (any other is sb3-contrib's)."""
    return lstm.num_layers == 1 and not lstm.bidirectional and not lstm.proj_size and lstm.bias


def lstm_sequence(
    features: torch.Tensor,
    lstm_states: LSTMStates,
    episode_starts: torch.Tensor,
    lstm: nn.LSTM,
) -> tuple[torch.Tensor, LSTMStates]:
    """Run ``lstm`` over sequences whose state resets where an episode starts.

    The same function as sb3-contrib's ``RecurrentActorCriticPolicy._process_sequence``:
    ``features`` is ``[n_seq * T, input]`` (sequence-major), ``lstm_states`` are
    ``([layers, n_seq, hidden], [layers, n_seq, hidden])`` before the first step,
    ``episode_starts`` is ``[n_seq * T]`` (1 where the state is reset to 0 before that step).
    Returns the outputs ``[n_seq * T, hidden]`` and the states after the last step.
    """
    if not plain_lstm(lstm):
        out, states = RecurrentActorCriticPolicy._process_sequence(
            features, lstm_states, episode_starts, lstm
        )
        return out, cast(LSTMStates, states)
    # One matrix product for every step's input projection, on the features as they come
    # (sequence-major, contiguous); then the recurrence, step by step.
    w_ih, b_ih, b_hh = input_projection(lstm)
    return lstm_from_gates(F.linear(features, w_ih, b_ih + b_hh), lstm_states, episode_starts, lstm)


def input_projection(lstm: nn.LSTM) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A plain LSTM's input weight and its two biases (their sum is added to the projection)."""
    return (
        cast(torch.Tensor, lstm.weight_ih_l0),
        cast(torch.Tensor, lstm.bias_ih_l0),
        cast(torch.Tensor, lstm.bias_hh_l0),
    )


def lstm_from_gates(
    gates_x: torch.Tensor, lstm_states: LSTMStates, episode_starts: torch.Tensor, lstm: nn.LSTM
) -> tuple[torch.Tensor, LSTMStates]:
    """:func:`lstm_sequence` of a :func:`plain_lstm` from its input projection: ``gates_x`` is
    ``[n_seq * T, 4 * hidden]``, every step's ``features @ w_ih.T + b_ih + b_hh``."""
    n_seq = lstm_states[0].shape[1]
    starts = episode_starts.reshape(n_seq, -1).swapaxes(0, 1)  # [T, n_seq]
    w_hh = cast(torch.Tensor, lstm.weight_hh_l0)
    gates = gates_x.view(n_seq, -1, gates_x.shape[-1]).swapaxes(0, 1)  # [T, n_seq, 4H]
    keep = (1.0 - starts).unsqueeze(-1)  # [T, n_seq, 1]
    out, h, c = LSTMRecurrence.apply(gates, lstm_states[0][0], lstm_states[1][0], w_hh, keep)
    return out.transpose(0, 1).flatten(0, 1), (h.unsqueeze(0), c.unsqueeze(0))


class LSTMRecurrence(torch.autograd.Function):
    """The recurrence of a one-layer LSTM over ``T`` steps, with a hand-written backward pass.

    Inputs: ``gates_x`` ``[T, n, 4H]`` (each step's input projection plus both biases), the
    states before the first step ``h0, c0`` ``[n, H]``, ``w_hh`` ``[4H, H]``, and ``keep``
    ``[T, n, 1]`` (0 where an episode starts: the state is zeroed before that step). Per step, in
    ``nn.LSTM``'s gate order (i, f, g, o)::

        h', c' = keep_t * h, keep_t * c
        i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of (gates_x_t + h' @ w_hh.T)
        c = f * c' + i * g;  h = o * tanh(c)

    Returns every step's ``h`` ``[T, n, H]`` and the last ``h, c``. Autograd through these
    operations records about a dozen nodes per step and accumulates ``w_hh``'s gradient step by
    step; the backward pass here walks the steps once and computes ``w_hh``'s gradient as one
    matrix product over all of them. A test holds it equal to autograd's.
    """

    @staticmethod
    def forward(
        ctx: Any,
        gates_x: torch.Tensor,
        h0: torch.Tensor,
        c0: torch.Tensor,
        w_hh: torch.Tensor,
        keep: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        steps, n, four_h = gates_x.shape
        hidden = four_h // 4
        h_prev = gates_x.new_empty(steps, n, hidden)  # keep_t * h_{t-1}
        c_prev = gates_x.new_empty(steps, n, hidden)  # keep_t * c_{t-1}
        acts = gates_x.new_empty(steps, n, four_h)  # i, f, g, o after their nonlinearities
        cells = gates_x.new_empty(steps, n, hidden)
        out = gates_x.new_empty(steps, n, hidden)
        h, c = h0, c0
        w_t = w_hh.t()
        for t in range(steps):
            torch.mul(h, keep[t], out=h_prev[t])
            torch.mul(c, keep[t], out=c_prev[t])
            a = acts[t]
            torch.addmm(gates_x[t], h_prev[t], w_t, out=a)
            a[:, : 2 * hidden].sigmoid_()
            a[:, 2 * hidden : 3 * hidden].tanh_()
            a[:, 3 * hidden :].sigmoid_()
            i, f, g, o = a.chunk(4, dim=1)
            c = torch.addcmul(f * c_prev[t], i, g, out=cells[t])
            h = torch.mul(o, torch.tanh(c), out=out[t])
        ctx.save_for_backward(h_prev, c_prev, acts, cells, w_hh, keep)
        return out, out[-1].clone(), cells[-1].clone()

    @staticmethod
    def backward(
        ctx: Any, d_out: torch.Tensor, d_h_last: torch.Tensor, d_c_last: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, None]:
        h_prev, c_prev, acts, cells, w_hh, keep = ctx.saved_tensors
        steps, _, four_h = acts.shape
        hidden = four_h // 4
        d_gates = torch.empty_like(acts)
        d_h = d_h_last.clone()
        d_c = d_c_last.clone()
        for t in range(steps - 1, -1, -1):
            d_h += d_out[t]
            i, f, g, o = acts[t].chunk(4, dim=1)
            tanh_c = torch.tanh(cells[t])
            d_c = d_c + d_h * o * (1 - tanh_c * tanh_c)
            dg = d_gates[t]
            di, df, dgg, do = dg.chunk(4, dim=1)
            torch.mul(d_c * g, i * (1 - i), out=di)
            torch.mul(d_c * c_prev[t], f * (1 - f), out=df)
            torch.mul(d_c * i, 1 - g * g, out=dgg)
            torch.mul(d_h * tanh_c, o * (1 - o), out=do)
            d_h = (dg @ w_hh) * keep[t]
            d_c = d_c * f * keep[t]
        d_w_hh = d_gates.reshape(-1, four_h).t() @ h_prev.reshape(-1, hidden)
        return d_gates, d_h, d_c, d_w_hh, None


class _WholeSequences(RecurrentActorCriticPolicy):
    """:func:`lstm_sequence` in place of sb3-contrib's ``_process_sequence``; with ``shared_lstm``
    the value loss trains the shared LSTM too (dcd's agents: one recurrent core, both losses),
    where sb3-contrib detaches the critic from it."""

    _process_sequence = staticmethod(lstm_sequence)  # type: ignore[assignment]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._acting = RowProjection()

    def forward(  # type: ignore[override]
        self,
        obs: torch.Tensor,
        lstm_states: RNNStates,
        episode_starts: torch.Tensor,
        deterministic: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, RNNStates]:
        """Actions, values, log-probabilities and the next LSTM states, as sb3-contrib's. Acting
        (no gradients) on wide grid features with a shared LSTM, the input projection of each
        step comes from the previous step's (:class:`~advrl.agents.grid_projection.RowProjection`)."""
        extractor, lstm = self.features_extractor, self.lstm_actor
        if (
            torch.is_grad_enabled()
            or not (self.shared_lstm and self.lstm_critic is None)
            or not isinstance(extractor, GridFeaturesExtractor)
            or extractor.features_dim < MIN_FEATURES
            or not plain_lstm(lstm)
        ):
            return super().forward(obs, lstm_states, episode_starts, deterministic)
        w_ih, b_ih, b_hh = input_projection(lstm)
        key = parameters_key(*extractor.conv[0].parameters(), w_ih)  # the biases are added anew
        gates_x = self._acting(extractor, grid_inputs(self, obs), w_ih, b_ih + b_hh, key)
        states = cast(LSTMStates, lstm_states.pi)
        latent, next_states = lstm_from_gates(gates_x, states, episode_starts, lstm)
        values = self.value_net(self.mlp_extractor.forward_critic(latent))
        distribution = self._get_action_dist_from_latent(self.mlp_extractor.forward_actor(latent))
        actions = distribution.get_actions(deterministic=deterministic)
        log_prob = distribution.log_prob(actions)
        actions = actions.reshape((-1, *self.action_space.shape))  # type: ignore[misc]
        return actions, values, log_prob, RNNStates(next_states, next_states)

    def evaluate_actions(  # type: ignore[override]
        self,
        obs: torch.Tensor,
        actions: torch.Tensor,
        lstm_states: RNNStates,
        episode_starts: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Values, log-probabilities of ``actions`` and entropies, over whole sequences."""
        if not (self.shared_lstm and self.lstm_critic is None):
            return super().evaluate_actions(obs, actions, lstm_states, episode_starts)
        states = cast(LSTMStates, lstm_states.pi)
        extractor, lstm = self.features_extractor, self.lstm_actor
        if isinstance(extractor, GridFeaturesExtractor) and plain_lstm(lstm):
            # the input projection over wide grid features, computed where the grid changed
            w_ih, b_ih, b_hh = input_projection(lstm)
            steps = episode_starts.shape[0] // states[0].shape[1]  # a block per env sequence
            inputs = grid_inputs(self, obs)
            gates_x = project_grid(extractor, inputs, w_ih, b_ih + b_hh, block=steps)
            latent, _ = lstm_from_gates(gates_x, states, episode_starts, lstm)
        else:
            features = self.extract_features(obs)
            assert isinstance(features, torch.Tensor)  # a shared LSTM needs a shared extractor
            latent, _ = lstm_sequence(features, states, episode_starts, lstm)
        latent_pi = self.mlp_extractor.forward_actor(latent)
        latent_vf = self.mlp_extractor.forward_critic(latent)
        distribution = self._get_action_dist_from_latent(latent_pi)
        return self.value_net(latent_vf), distribution.log_prob(actions), distribution.entropy()


class SequenceLstmPolicy(_WholeSequences):
    """sb3-contrib's ``MlpLstmPolicy``, over whole sequences (see :class:`_WholeSequences`)."""


class SequenceMultiInputLstmPolicy(_WholeSequences, RecurrentMultiInputActorCriticPolicy):
    """sb3-contrib's ``MultiInputLstmPolicy``, over whole sequences."""


SEQUENCE_POLICIES: dict[str, type[RecurrentActorCriticPolicy]] = {
    "MlpLstmPolicy": SequenceLstmPolicy,
    "MultiInputLstmPolicy": SequenceMultiInputLstmPolicy,
}
"""sb3-contrib's recurrent policy names -> their whole-sequence versions."""


# ---------------------------------------------------------------------------- the buffer
def envs_per_minibatch(batch_size: int, n_steps: int) -> int:
    """How many whole env sequences make one minibatch (``batch_size`` must be a multiple of
    ``n_steps``)."""
    if batch_size < n_steps or batch_size % n_steps:
        raise ValueError(
            f"a recurrent policy trains on whole env sequences: batch_size ({batch_size}) must be a "
            f"multiple of n_steps ({n_steps})"
        )
    return batch_size // n_steps


def _prepare(buffer: Any) -> None:
    """Flatten a full rollout env-major, as sb3-contrib's ``get`` does (once per rollout)."""
    if buffer.generator_ready:
        return
    # (steps, layers, envs, hidden) -> (steps, envs, layers, hidden) -> (envs * steps, ...)
    for name in ("hidden_states_pi", "cell_states_pi", "hidden_states_vf", "cell_states_vf"):
        setattr(buffer, name, buffer.swap_and_flatten(getattr(buffer, name).swapaxes(1, 2)))
    if isinstance(buffer.observations, dict):
        for key, obs in buffer.observations.items():
            buffer.observations[key] = buffer.swap_and_flatten(obs)
    else:
        buffer.observations = buffer.swap_and_flatten(buffer.observations)
    for name in ("actions", "values", "log_probs", "advantages", "returns", "episode_starts"):
        setattr(buffer, name, buffer.swap_and_flatten(getattr(buffer, name)))
    buffer.generator_ready = True


def _first_states(buffer: Any, envs: np.ndarray) -> RNNStates:
    """The LSTM states stored at each env's first step: ``(layers, len(envs), hidden)``."""

    def first(states: np.ndarray) -> torch.Tensor:
        per_env = states.reshape(buffer.n_envs, buffer.buffer_size, *states.shape[1:])
        return buffer.to_torch(per_env[envs, 0].swapaxes(0, 1)).contiguous()

    return RNNStates(
        (first(buffer.hidden_states_pi), first(buffer.cell_states_pi)),
        (first(buffer.hidden_states_vf), first(buffer.cell_states_vf)),
    )


def _env_batches(
    buffer: Any, batch_size: int | None
) -> Generator[tuple[np.ndarray, np.ndarray], None, None]:
    """``(envs, rows)`` per minibatch: envs in random order, every step of each, in time order."""
    _prepare(buffer)
    steps = buffer.buffer_size
    per_batch = buffer.n_envs if batch_size is None else envs_per_minibatch(batch_size, steps)
    order = np.random.permutation(buffer.n_envs)
    for start in range(0, buffer.n_envs, per_batch):
        envs = order[start : start + per_batch]
        yield envs, (envs[:, None] * steps + np.arange(steps)[None, :]).reshape(-1)


class EnvSequenceRolloutBuffer(RecurrentRolloutBuffer):
    """sb3-contrib's recurrent rollout buffer, sampled as whole env sequences (no padding)."""

    def get(  # type: ignore[override]
        self, batch_size: int | None = None
    ) -> Generator[RecurrentRolloutBufferSamples, None, None]:
        """Minibatches of ``batch_size / n_steps`` whole env sequences, envs in random order."""
        for envs, rows in _env_batches(self, batch_size):
            yield RecurrentRolloutBufferSamples(
                observations=self.to_torch(self.observations[rows]),
                actions=self.to_torch(self.actions[rows]),
                old_values=self.to_torch(self.values[rows].flatten()),
                old_log_prob=self.to_torch(self.log_probs[rows].flatten()),
                advantages=self.to_torch(self.advantages[rows].flatten()),
                returns=self.to_torch(self.returns[rows].flatten()),
                lstm_states=_first_states(self, envs),
                episode_starts=self.to_torch(self.episode_starts[rows].flatten()),
                mask=torch.ones(len(rows), device=self.device),
            )


class EnvSequenceDictRolloutBuffer(RecurrentDictRolloutBuffer):
    """sb3-contrib's recurrent Dict rollout buffer, sampled as whole env sequences (no padding)."""

    def get(  # type: ignore[override]
        self, batch_size: int | None = None
    ) -> Generator[RecurrentDictRolloutBufferSamples, None, None]:
        """Minibatches of ``batch_size / n_steps`` whole env sequences, envs in random order."""
        for envs, rows in _env_batches(self, batch_size):
            yield RecurrentDictRolloutBufferSamples(
                observations={k: self.to_torch(v[rows]) for k, v in self.observations.items()},
                actions=self.to_torch(self.actions[rows]),
                old_values=self.to_torch(self.values[rows].flatten()),
                old_log_prob=self.to_torch(self.log_probs[rows].flatten()),
                advantages=self.to_torch(self.advantages[rows].flatten()),
                returns=self.to_torch(self.returns[rows].flatten()),
                lstm_states=_first_states(self, envs),
                episode_starts=self.to_torch(self.episode_starts[rows].flatten()),
                mask=torch.ones(len(rows), device=self.device),
            )


# ---------------------------------------------------------------------------- the algorithm
class SequenceRecurrentPPO(RecurrentPPO):
    """sb3-contrib's ``RecurrentPPO`` trained on whole env sequences (see the module docstring).

    Takes ``RecurrentPPO``'s arguments; the policy may be named as in sb3-contrib
    (``"MultiInputLstmPolicy"``), which selects its whole-sequence version. ``batch_size`` must be
    a multiple of ``n_steps``: a minibatch is ``batch_size / n_steps`` envs' whole rollouts.
    """

    def __init__(self, policy: str | type[RecurrentActorCriticPolicy], *args: Any, **kwargs: Any):
        if isinstance(policy, str):
            if policy not in SEQUENCE_POLICIES:
                raise ValueError(
                    f"unknown recurrent policy {policy!r}; known: {sorted(SEQUENCE_POLICIES)}"
                )
            policy = SEQUENCE_POLICIES[policy]
        super().__init__(policy, *args, **kwargs)

    def _setup_model(self) -> None:
        envs_per_minibatch(self.batch_size or self.n_steps * self.n_envs, self.n_steps)
        super()._setup_model()
        old = self.rollout_buffer
        assert isinstance(old, RecurrentRolloutBuffer | RecurrentDictRolloutBuffer)
        cls = (
            EnvSequenceDictRolloutBuffer
            if isinstance(old, RecurrentDictRolloutBuffer)
            else EnvSequenceRolloutBuffer
        )
        self.rollout_buffer = cls(
            self.n_steps,
            self.observation_space,
            self.action_space,
            old.hidden_state_shape,
            self.device,
            gamma=self.gamma,
            gae_lambda=self.gae_lambda,
            n_envs=self.n_envs,
        )
