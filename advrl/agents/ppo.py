"""Building SB3 PPO agents for advrl's envs with the right policy network.

Feed-forward policies are SB3's ``PPO``. With ``lstm_hidden`` the agent is sb3-contrib's
``RecurrentPPO`` (an LSTM after the same features extractor, one for the actor and one for the
critic): PAIRED's and the UED papers' students are recurrent, because a 5x5 view of a maze leaves
the agent to remember where it has been.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.preprocessing import is_image_space
from stable_baselines3.common.vec_env import VecEnv
from torch import nn

from advrl.agents.advprop import DualBNMlpExtractor
from advrl.agents.grid_projection import EnvMajorDictRolloutBuffer, GridActorCriticPolicy
from advrl.agents.heads import fuse_first_layers
from advrl.agents.networks import GridFeaturesExtractor
from advrl.agents.recurrent import SequenceRecurrentPPO
from advrl.checks import check_device_available

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh}


def is_grid_space(space: gym.Space) -> bool:
    """Whether observations are a ``Dict`` with a MiniGrid-encoded ``image`` (maze, designer)."""
    if not isinstance(space, spaces.Dict) or "image" not in space.spaces:
        return False
    shape = space["image"].shape
    return shape is not None and len(shape) == 3 and shape[-1] == 3


def is_pixel_space(space: gym.Space) -> bool:
    """Pixel images: a ``uint8`` Box of three dimensions in [0, 255] (channels first or last)."""
    return isinstance(space, spaces.Box) and is_image_space(space, check_channels=False)


def policy_for(
    space: gym.Space,
    *,
    net_arch: list[int] | None = None,
    activation: str = "relu",
    conv_filters: int = 16,
    scalar_embed: int = 5,
    dual_bn: bool = False,
    lstm_hidden: int | None = None,
    lstm_shared: bool = False,
) -> tuple[str, dict[str, Any]]:
    """SB3 policy name and ``policy_kwargs`` for an observation space.

    Grid observations get :class:`GridFeaturesExtractor` with separate policy and value heads of
    ``net_arch`` (PAIRED's student: one hidden layer of 32); pixel images (a ``uint8`` Box of
    ``H x W x C``, e.g. the pixel envs) get SB3's ``CnnPolicy`` (NatureCNN, heads of ``net_arch``,
    default none); vector observations get an MLP (``net_arch`` default ``[64, 64]``).

    ``dual_bn`` (AdvProp) adds a main and an auxiliary batch norm: after the grid convolution, or
    in every hidden layer of a shared vector trunk (:class:`DualBNMlpExtractor`, empty heads).

    ``lstm_hidden``: sb3-contrib's recurrent policy of the same name (``MlpLstmPolicy``,
    ``MultiInputLstmPolicy``) with LSTMs of this size between the features and the heads: one for
    the actor and one for the critic, or with ``lstm_shared`` one for both (trained by both losses,
    as dcd's agents).
    """
    name, kwargs = _feed_forward_policy(
        space,
        net_arch=net_arch,
        activation=activation,
        conv_filters=conv_filters,
        scalar_embed=scalar_embed,
        dual_bn=dual_bn,
    )
    if lstm_hidden is None:
        if lstm_shared:
            raise ValueError("lstm_shared needs a recurrent policy: set lstm_hidden")
        return name, kwargs
    if lstm_hidden < 1:
        raise ValueError(f"lstm_hidden must be >= 1 (or None), got {lstm_hidden}")
    if dual_bn:
        raise ValueError("dual_bn (AdvProp) is for feed-forward policies; drop lstm_hidden")
    kwargs["lstm_hidden_size"] = lstm_hidden
    if lstm_shared:
        kwargs.update(shared_lstm=True, enable_critic_lstm=False)
    return name.replace("Policy", "LstmPolicy"), kwargs


def _feed_forward_policy(
    space: gym.Space,
    *,
    net_arch: list[int] | None,
    activation: str,
    conv_filters: int,
    scalar_embed: int,
    dual_bn: bool,
) -> tuple[str, dict[str, Any]]:
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    kwargs: dict[str, Any] = {"activation_fn": ACTIVATIONS[activation]}
    if is_grid_space(space):
        arch = [32] if net_arch is None else list(net_arch)
        kwargs.update(
            features_extractor_class=GridFeaturesExtractor,
            features_extractor_kwargs={
                "conv_filters": conv_filters,
                "scalar_embed": scalar_embed,
                "dual_bn": dual_bn,
            },
            net_arch={"pi": arch, "vf": arch},
        )
        return "MultiInputPolicy", kwargs
    if is_pixel_space(space):
        if dual_bn:
            raise ValueError("dual_bn (AdvProp) needs vector or maze grid observations, not pixels")
        arch = [] if net_arch is None else list(net_arch)
        kwargs["net_arch"] = {"pi": arch, "vf": arch}
        return "CnnPolicy", kwargs
    arch = [64, 64] if net_arch is None else list(net_arch)
    if dual_bn:
        if not isinstance(space, spaces.Box):
            raise ValueError(f"dual_bn needs Box or maze grid observations, got {space}")
        kwargs.update(
            features_extractor_class=DualBNMlpExtractor,
            features_extractor_kwargs={"hidden": arch, "activation": ACTIVATIONS[activation]},
            net_arch={"pi": [], "vf": []},
        )
        return "MlpPolicy", kwargs
    kwargs["net_arch"] = {"pi": arch, "vf": arch}
    name = "MultiInputPolicy" if isinstance(space, spaces.Dict) else "MlpPolicy"
    return name, kwargs


MAX_FIRST_LAYER_WEIGHTS = 200_000_000
"""The most weights of the layers that read the features (the heads' first layers, or the LSTM's
input and recurrent weights): 16 bytes each with Adam's state."""


def features_width(space: gym.Space, policy_kwargs: dict[str, Any]) -> int:
    """The width of the features a policy's heads (or LSTM) read, without building the policy."""
    extractor = policy_kwargs.get("features_extractor_class")
    if extractor is None:
        if is_pixel_space(space):
            return 512  # SB3's NatureCNN
        return int(spaces.flatdim(space))
    return int(extractor(space, **policy_kwargs.get("features_extractor_kwargs", {})).features_dim)


def check_first_layers(
    space: gym.Space, policy_kwargs: dict[str, Any], lstm_hidden: int | None
) -> None:
    """Raise before anything large is allocated if the layers reading the features would hold
    more than :data:`MAX_FIRST_LAYER_WEIGHTS` weights (a wide grid convolution times a wide
    first layer, or a large LSTM)."""
    width = features_width(space, policy_kwargs)
    arch = policy_kwargs.get("net_arch")
    heads = [arch] if isinstance(arch, list) else list((arch or {}).values())
    weights = 0
    reads = width
    if lstm_hidden is not None:
        weights += 2 * 4 * lstm_hidden * (width + lstm_hidden)  # actor's and critic's LSTMs
        reads = lstm_hidden
    weights += sum(reads * head[0] for head in heads if head)
    if weights > MAX_FIRST_LAYER_WEIGHTS:
        raise ValueError(
            f"the layers reading the policy's {width:,} features would hold {weights:,} weights; "
            f"at most {MAX_FIRST_LAYER_WEIGHTS:,}: use fewer conv_filters, a narrower first "
            "layer or a smaller lstm_hidden"
        )


def make_ppo(
    env: VecEnv | gym.Env,
    *,
    net_arch: list[int] | None = None,
    activation: str = "relu",
    conv_filters: int = 16,
    dual_bn: bool = False,
    lstm_hidden: int | None = None,
    lstm_shared: bool = False,
    seed: int | None = None,
    tensorboard_log: str | None = None,
    algorithm: type[PPO] = PPO,
    **ppo_kwargs: Any,
) -> OnPolicyAlgorithm:
    """An SB3 PPO agent whose policy fits ``env``'s observations (see :func:`policy_for`).

    Args:
        env: the training env (a VecEnv or a Gymnasium env).
        net_arch: hidden layers of the policy and value heads.
        activation: ``"relu"`` or ``"tanh"``.
        conv_filters: filters of the grid convolution (grid observations only).
        dual_bn: AdvProp's main and auxiliary batch norms in the trunk (see :func:`policy_for`).
        lstm_hidden: a recurrent policy with LSTMs of this size: sb3-contrib's ``RecurrentPPO``
            trained on whole env sequences (:class:`~advrl.agents.recurrent.SequenceRecurrentPPO`;
            ``batch_size`` a multiple of ``n_steps``).
        lstm_shared: one LSTM for the actor and the critic (see :func:`policy_for`).
        seed: seed of PPO (network init, sampling).
        tensorboard_log: folder for SB3's TensorBoard output (None: off).
        algorithm: ``PPO`` or a subclass (e.g. :class:`~advrl.agents.RobustPPO`).
        ppo_kwargs: further ``PPO`` arguments (``learning_rate``, ``n_steps``, ...).
    """
    policy, policy_kwargs = policy_for(
        env.observation_space,
        net_arch=net_arch,
        activation=activation,
        conv_filters=conv_filters,
        dual_bn=dual_bn,
        lstm_hidden=lstm_hidden,
        lstm_shared=lstm_shared,
    )
    check_first_layers(env.observation_space, policy_kwargs, lstm_hidden)
    check_device_available(str(ppo_kwargs.get("device", "auto")), instead="cpu or auto")
    n_envs = env.num_envs if isinstance(env, VecEnv) else 1
    if int(ppo_kwargs.get("n_steps", 2048)) * n_envs < 2:  # SB3 asserts it
        raise ValueError(
            "n_steps x the number of envs must be at least 2 (PPO normalizes advantages over "
            "the rollout)"
        )
    agent: type[OnPolicyAlgorithm] = algorithm
    grid_feed_forward = (
        lstm_hidden is None
        and policy_kwargs.get("features_extractor_class") is GridFeaturesExtractor
    )
    policy_arg: str | type[GridActorCriticPolicy] = policy
    if grid_feed_forward:
        # SB3's MultiInputPolicy, its update over wide grid features computed where they change;
        # plain PPO also lists a whole-rollout minibatch env by env (the same samples, in order)
        policy_arg = GridActorCriticPolicy
        if algorithm is PPO:
            ppo_kwargs.setdefault("rollout_buffer_class", EnvMajorDictRolloutBuffer)
    if lstm_hidden is not None:
        if algorithm is not PPO:
            raise ValueError(
                f"{algorithm.__name__} trains feed-forward policies; a recurrent policy "
                "(lstm_hidden) trains with RecurrentPPO only"
            )
        agent = SequenceRecurrentPPO
    model = agent(
        policy_arg,
        env,
        policy_kwargs=policy_kwargs,
        seed=seed,
        tensorboard_log=tensorboard_log,
        **ppo_kwargs,
    )
    if grid_feed_forward:
        fuse_first_layers(model.policy)  # wide grid features: one product for both heads
        if isinstance(model.policy, GridActorCriticPolicy) and isinstance(model, PPO):
            model.policy.rows_per_block = model.n_steps
    return model
