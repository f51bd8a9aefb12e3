"""A linear layer over wide grid features, computed only where the grid changed.

The maze designer's policy reads its whole 15x15 grid through a 128-filter 3x3 convolution: 21,632
features per observation, which its first layer (the fused actor and critic layers, or the LSTM's
input projection) multiplies by a ``[out, 21632]`` weight. In PPO's update these products over a
rollout are nearly all of the adversary's work. Yet consecutive observations of a design differ in
one cell: the convolution's output differs in at most 9 of its 169 positions, and so does the
layer's input.

:func:`project_grid` computes ``F.linear(extractor(obs), weight, bias)`` for a batch of rows
without the wide features. Row ``r``'s product is row ``r - 1``'s plus the change at the positions
whose 3x3 patch changed::

    y_r = y_{r-1} + sum over changed positions p of  W_p (h_r[p] - h_{r-1}[p])

where ``h_r[p] = relu(conv(patch_r[p]))`` holds the filters at position ``p`` and ``W_p`` the
weight's columns that read them. Every patch is computed where it first appears in a block and where
it changes (an "event"); the products ``W_p dh`` of all events at one position are one batched
matrix product; a cumulative sum over each block of rows gives every row's output. Blocks are
``BLOCK`` rows long and start from a full computation, so sums run over few terms.

It is the same function in another order of summation: nothing depends on the rows being
consecutive steps. Rows in any order give the same result (to float rounding); they only change
more cells, and when too many positions change for this to pay, the dense product runs instead.
Autograd differentiates it as it stands (a test holds its values and gradients to the dense ones').

PPO's update uses it through :class:`GridActorCriticPolicy` (feed-forward: the fused first layers of
the actor and the critic) and the whole-sequence LSTM policies (the LSTM's input projection). The
feed-forward rows reach it as consecutive steps through :class:`EnvMajorDictRolloutBuffer`. Acting,
the feed-forward policy computes each step's layer from the previous step's (:class:`RowProjection`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from stable_baselines3.common.buffers import DictRolloutBuffer
from stable_baselines3.common.policies import BasePolicy, MultiInputActorCriticPolicy
from stable_baselines3.common.preprocessing import preprocess_obs
from torch import nn

from advrl.agents.heads import FusedMlpExtractor
from advrl.agents.networks import GridFeaturesExtractor, patch_cells, weight_table

BLOCK = 64
"""Rows per block: each block starts from a full computation of its first row."""

MIN_FEATURES = 2048
"""Narrower convolution outputs (a student's 5x5 view) take the dense product: too little to save."""

MAX_EVENT_SHARE = 0.25
"""The dense product runs when more than this share of (row, position) pairs changed."""


def project_grid(
    extractor: GridFeaturesExtractor,
    observations: dict[str, torch.Tensor],
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    block: int = BLOCK,
) -> torch.Tensor:
    """``F.linear(extractor(observations), weight, bias)``, computed per changed patch where that
    pays (see the module docstring), densely otherwise.

    Args:
        extractor: a :class:`~advrl.agents.GridFeaturesExtractor`.
        observations: a batch of ``N`` Dict observations, preprocessed as the extractor takes them.
        weight: ``[out, extractor.features_dim]``.
        bias: ``[out]`` or None.
        block: rows per block. Rows that hold sequences of ``T`` steps save most with ``T``: a new
            sequence's first row changes most of the grid anyway.

    Returns:
        ``[N, out]``.
    """
    grid = _grid(extractor, observations, weight)
    if grid is None:
        return F.linear(extractor(observations), weight, bias)
    conv, codes, conv_out = grid
    projected = conv_projection(codes, conv, weight[:, :conv_out], block)
    if projected is None:
        return F.linear(extractor(observations), weight, bias)
    return projected + _scalar_part(extractor, observations, weight[:, conv_out:], bias)


class RowProjection:
    """:func:`project_grid` for acting: each call's rows are the same envs' next observations.

    The designer acts on all its designs at once, one cell per step; row ``i`` of a call is row
    ``i`` of the previous call with a cell changed. This keeps the previous call's cell codes and
    products and computes the next from them (:func:`conv_projection_from`): the same values, in
    another order of summation. It starts again from a dense product when the batch size or the
    networks' parameters changed (``key``), when too much of the grid changed, and every
    :data:`BLOCK` calls (so sums stay short).
    """

    def __init__(self) -> None:
        self._codes: torch.Tensor | None = None
        self._out: torch.Tensor | None = None
        self._key: tuple[int, ...] = ()
        self._per_position: torch.Tensor | None = None
        self._calls = 0

    @torch.no_grad()
    def __call__(
        self,
        extractor: GridFeaturesExtractor,
        observations: dict[str, torch.Tensor],
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        key: tuple[int, ...],
    ) -> torch.Tensor:
        """``F.linear(extractor(observations), weight, bias)``; ``key`` changes whenever the
        parameters behind ``weight`` or the extractor do (e.g. their ``_version`` counters)."""
        grid = _grid(extractor, observations, weight)
        if grid is None:
            self._codes = None
            return F.linear(extractor(observations), weight, bias)
        conv, codes, conv_out = grid
        if key != self._key or self._per_position is None:
            self._per_position = position_weights(weight[:, :conv_out], conv.out_channels)
            self._codes = None
        out = None
        if (
            self._codes is not None
            and self._out is not None
            and self._codes.shape == codes.shape
            and self._calls < BLOCK
        ):
            out = conv_projection_from(codes, self._codes, self._out, conv, self._per_position)
        if out is None:
            out = F.linear(
                extractor.conv(extractor.one_hot_image(observations["image"])), weight[:, :conv_out]
            )
            self._calls = 0
        self._codes, self._out, self._key = codes, out, key
        self._calls += 1
        return out + _scalar_part(extractor, observations, weight[:, conv_out:], bias)


def parameters_key(*parameters: torch.Tensor) -> tuple[int, ...]:
    """A key that changes whenever any of ``parameters`` is updated in place (its ``_version``)
    or replaced (its storage): a :class:`RowProjection` computed from them starts again."""
    return tuple(n for p in parameters for n in (int(p._version), p.data_ptr()))


def grid_inputs(policy: BasePolicy, obs: Any) -> dict[str, torch.Tensor]:
    """An SB3 policy's Dict observation, preprocessed as its features extractor takes it (what
    :func:`project_grid` and :class:`RowProjection` read)."""
    inputs = preprocess_obs(obs, policy.observation_space, normalize_images=policy.normalize_images)
    assert isinstance(inputs, dict)
    return inputs


def _grid(
    extractor: GridFeaturesExtractor, observations: dict[str, torch.Tensor], weight: torch.Tensor
) -> tuple[nn.Conv2d, torch.Tensor, int] | None:
    """The convolution, the cell codes and the number of convolution features, when the
    per-patch product applies to this extractor and is wide enough to pay; else None."""
    if weight.shape[-1] != extractor.features_dim:
        raise ValueError(
            f"the weight reads {weight.shape[-1]} features; the extractor gives "
            f"{extractor.features_dim}"
        )
    conv = extractor.conv[0]
    if not (
        isinstance(conv, nn.Conv2d)
        and len(extractor.conv) == 3  # no batch norm in between
        and extractor._relaxed is None
        and conv.stride == (1, 1)
        and conv.padding == (0, 0)
        and conv.dilation == (1, 1)
        and conv.groups == 1
        and conv.bias is not None
    ):
        return None
    image = observations["image"]
    kw, kh = conv.kernel_size
    conv_out = conv.out_channels * (image.shape[1] - kw + 1) * (image.shape[2] - kh + 1)
    if conv_out < MIN_FEATURES:
        return None
    codes = image[..., 0].round().long().clamp(0, extractor.num_types - 1)
    return conv, codes, conv_out


def _scalar_part(
    extractor: GridFeaturesExtractor,
    observations: dict[str, torch.Tensor],
    weight: torch.Tensor,
    bias: torch.Tensor | None,
) -> torch.Tensor | float:
    """The layer's product with the extractor's scalar embeddings, plus the bias."""
    parts = [
        layer(observations[key].float().flatten(1)) for key, layer in extractor.scalars.items()
    ]
    if parts:
        return F.linear(torch.cat(parts, dim=1), weight, bias)
    return 0.0 if bias is None else bias


def changed_positions(codes: torch.Tensor, kernel: tuple[int, int], block: int) -> torch.Tensor:
    """``[N, W', H']`` bool: where row ``r``'s ``kernel`` patch of ``codes`` (``[N, W, H]`` cell
    codes) differs from row ``r - 1``'s, and every position of each block's first row."""
    changed = torch.ones(codes.shape, dtype=torch.bool, device=codes.device)
    changed[1:] = codes[1:] != codes[:-1]
    changed[::block] = True
    return _patches_holding(changed, kernel)


def _patches_holding(cells: torch.Tensor, kernel: tuple[int, int]) -> torch.Tensor:
    """``[N, W', H']`` bool: the patches that hold a true cell of ``cells`` (``[N, W, H]``)."""
    return F.max_pool2d(cells.unsqueeze(1).float(), kernel, stride=1).squeeze(1) > 0


def _events(changed: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The (position, row) of each true entry of ``changed`` (``[N, W', H']``), ordered by
    position, then row (the products of one position are one batch); None when more than
    :data:`MAX_EVENT_SHARE` of them are true (the dense product is then the faster one)."""
    position, row = changed.flatten(1).t().nonzero().unbind(1)
    if position.numel() > MAX_EVENT_SHARE * changed.numel():
        return None
    return position, row


def conv_projection(
    codes: torch.Tensor, conv: nn.Conv2d, weight: torch.Tensor, block: int = BLOCK
) -> torch.Tensor | None:
    """``F.linear(relu(conv(one_hot(codes))).flatten(1), weight)`` per changed patch.

    Args:
        codes: ``[N, W, H]`` object codes, each below ``conv.in_channels`` (the one-hot classes).
        conv: the convolution (stride 1, no padding, with a bias).
        weight: ``[out, filters * W' * H']``, in the order of the flattened ``[filters, W', H']``
            convolution output.
        block: rows per block (see :data:`BLOCK`).

    Returns:
        ``[N, out]``, or None when more than :data:`MAX_EVENT_SHARE` of the positions changed
        (the caller's dense product is then the faster one).
    """
    n = codes.shape[0]
    events = _events(changed_positions(codes, conv.kernel_size, block))  # type: ignore[arg-type]
    if events is None:
        return None
    position, row = events
    patch = _patch_features(codes, row, position, conv)
    # The change at each event since the previous event at the same position (none before a
    # block's first row, where every position is an event).
    follows = torch.zeros_like(position, dtype=torch.bool)
    follows[1:] = (position[1:] == position[:-1]) & (row[1:] // block == row[:-1] // block)
    delta = torch.cat([patch[:1], patch[1:] - patch[:-1] * follows[1:, None]])
    blocks = -(-n // block)
    per_position = position_weights(weight, conv.out_channels)
    summed = _products_by_position(position, row, delta, per_position, blocks * block)
    return summed.view(blocks, block, -1).cumsum(1).view(blocks * block, -1)[:n]


@torch.no_grad()
def conv_projection_from(
    codes: torch.Tensor,
    reference_codes: torch.Tensor,
    reference_out: torch.Tensor,
    conv: nn.Conv2d,
    per_position: torch.Tensor,
) -> torch.Tensor | None:
    """:func:`conv_projection` of each row of ``codes`` from the same row of ``reference_codes``,
    whose product ``reference_out`` (``[N, out]``) is known: ``reference_out`` plus the change at
    the patches that differ. The weight comes as :func:`position_weights`. None when more than
    :data:`MAX_EVENT_SHARE` of the patches differ."""
    changed = _patches_holding(codes != reference_codes, conv.kernel_size)  # type: ignore[arg-type]
    events = _events(changed)
    if events is None:
        return None
    position, row = events
    if position.numel() == 0:
        return reference_out.clone()
    delta = _patch_features(codes, row, position, conv) - _patch_features(
        reference_codes, row, position, conv
    )
    rows = codes.shape[0]
    return reference_out + _products_by_position(position, row, delta, per_position, rows)


def _patch_features(
    codes: torch.Tensor, row: torch.Tensor, position: torch.Tensor, conv: nn.Conv2d
) -> torch.Tensor:
    """``relu(conv(one_hot(codes)))`` at each (row, position): ``[E, filters]``.

    The convolution of a one-hot input at one patch is the bias plus, for each of the patch's
    cells, the weights of that cell's class (see :func:`~advrl.agents.networks.one_hot_conv`).
    Here each patch is a 0/1 row over the weight table (its cells hit distinct rows), so the
    convolution is one matrix product forward and backward; an embedding bag's backward pass
    over this many bags is slower."""
    kw, kh = conv.kernel_size
    cells, offsets = patch_cells(*codes.shape[1:], kw, kh, conv.in_channels, codes.device)
    index = codes.flatten(1)[row[:, None], cells[position]] + offsets  # [E, k*k]
    table = weight_table(conv)
    hits = table.new_zeros(index.shape[0], table.shape[0]).scatter_(1, index, 1.0)
    assert conv.bias is not None
    return F.relu(torch.addmm(conv.bias, hits, table))


def position_weights(weight: torch.Tensor, filters: int) -> torch.Tensor:
    """``weight`` (``[out, filters * P]``, reading the flattened ``[filters, W', H']`` convolution
    output) as ``[P, filters, out]``: each position's columns, transposed (contiguous)."""
    out, width = weight.shape
    # through [F * P, out]: two copies that each read or write whole rows
    per_row = weight.t().contiguous().view(filters, width // filters, out)
    return per_row.transpose(0, 1).contiguous()


def _products_by_position(
    position: torch.Tensor,
    row: torch.Tensor,
    delta: torch.Tensor,
    per_position: torch.Tensor,
    rows: int,
) -> torch.Tensor:
    """``[rows, out]``: for each row, the sum over its events of ``W_p.T @ delta`` (``W_p``:
    ``per_position[p]``, see :func:`position_weights`). Events must be ordered by position.
    One batched product over positions, each position's events padded to the busiest one's count."""
    positions, filters, out = per_position.shape
    events = delta.shape[0]
    counts = torch.bincount(position, minlength=positions)
    rank = torch.arange(events, device=delta.device) - (torch.cumsum(counts, 0) - counts)[position]
    width = int(counts.max())
    padded = delta.new_zeros(positions, width, filters).index_put((position, rank), delta)
    products = torch.bmm(padded, per_position)  # [P, K, out]
    # each event's row; the padding goes to one more row, dropped after the sum
    target = torch.full((positions, width), rows, dtype=torch.long, device=delta.device)
    target[position, rank] = row
    summed = products.new_zeros(rows + 1, out).index_add(0, target.view(-1), products.view(-1, out))
    return summed[:-1]


class EnvMajorDictRolloutBuffer(DictRolloutBuffer):
    """SB3's ``DictRolloutBuffer`` whose minibatch of the whole rollout lists its samples env by
    env, each env's steps in time order, instead of shuffled.

    It is the same set of samples, so PPO's loss (a mean over them, with the advantages normalized
    over them) is the same; SB3's random permutation is still drawn, so the random stream is too.
    Smaller minibatches are SB3's, shuffled. In env-major order consecutive rows are consecutive
    steps, whose grids differ in a cell or two: what :func:`project_grid` saves on.
    """

    def _get_samples(self, batch_inds: np.ndarray, env: Any = None) -> Any:
        if len(batch_inds) == self.buffer_size * self.n_envs:
            batch_inds = np.sort(batch_inds)
        return super()._get_samples(batch_inds, env)


class GridActorCriticPolicy(MultiInputActorCriticPolicy):
    """SB3's ``MultiInputPolicy`` whose fused first layers of the actor and the critic skip the
    wide grid features: in the update through :func:`project_grid`, when acting (without
    gradients) through a :class:`RowProjection` of the previous step. The same actions, values,
    log-probabilities and entropies (and gradients) as SB3's. Any other extractor or head, and
    everything else (``predict``, ``predict_values``), takes SB3's path."""

    rows_per_block = BLOCK
    """Rows per block of :func:`project_grid` in the update: ``make_ppo`` sets it to ``n_steps``,
    whose env-major minibatch then starts a block with each env's rollout."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._acting = RowProjection()
        self._acting_key: tuple[int, ...] = ()
        self._acting_layer: (
            tuple[GridFeaturesExtractor, FusedMlpExtractor, torch.Tensor, torch.Tensor | None]
            | None
        ) = None

    def _first_layer(
        self,
    ) -> tuple[GridFeaturesExtractor, FusedMlpExtractor, torch.Tensor, torch.Tensor | None] | None:
        extractor, heads = self.features_extractor, self.mlp_extractor
        if not (
            isinstance(heads, FusedMlpExtractor)
            and isinstance(extractor, GridFeaturesExtractor)
            and self.share_features_extractor
            and extractor.features_dim >= MIN_FEATURES  # a student's narrow view: SB3's path
        ):
            return None
        first = heads.first_layer()
        return None if first is None else (extractor, heads, *first)

    def forward(  # type: ignore[override]
        self, obs: dict[str, torch.Tensor], deterministic: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Actions, values and log-probabilities, as SB3's."""
        extractor, heads = self.features_extractor, self.mlp_extractor
        if (
            torch.is_grad_enabled()
            or not isinstance(heads, FusedMlpExtractor)
            or not isinstance(extractor, GridFeaturesExtractor)
            or extractor.features_dim < MIN_FEATURES
        ):
            return super().forward(obs, deterministic)  # type: ignore[arg-type]
        # the parameters behind the products and the cached stacked layer
        firsts = (heads.policy_net[0], heads.value_net[0])
        key = parameters_key(
            *extractor.conv[0].parameters(), *(p for f in firsts for p in f.parameters())
        )
        if key != self._acting_key:
            self._acting_key, self._acting_layer = key, self._first_layer()
        if self._acting_layer is None:
            return super().forward(obs, deterministic)  # type: ignore[arg-type]
        _, _, weight, bias = self._acting_layer
        both = self._acting(extractor, grid_inputs(self, obs), weight, bias, key)
        latent_pi, latent_vf = heads.after_first_layer(both)
        values = self.value_net(latent_vf)
        distribution = self._get_action_dist_from_latent(latent_pi)
        actions = distribution.get_actions(deterministic=deterministic)
        log_prob = distribution.log_prob(actions)
        return actions.reshape((-1, *self.action_space.shape)), values, log_prob  # type: ignore[misc]

    def evaluate_actions(  # type: ignore[override]
        self, obs: dict[str, torch.Tensor], actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Values, log-probabilities of ``actions`` and entropies, as SB3's."""
        layer = self._first_layer()
        if layer is None:
            return super().evaluate_actions(obs, actions)
        extractor, heads, weight, bias = layer
        both = project_grid(extractor, grid_inputs(self, obs), weight, bias, self.rows_per_block)
        latent_pi, latent_vf = heads.after_first_layer(both)
        distribution = self._get_action_dist_from_latent(latent_pi)
        return self.value_net(latent_vf), distribution.log_prob(actions), distribution.entropy()
