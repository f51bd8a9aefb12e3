"""Typed run configs: dataclasses loaded from YAML, with unknown keys and bad values rejected.

Only the CLI reads files; library classes take keyword arguments. Each field's comment is its help.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml


class ConfigError(ValueError):
    """A config file or value is wrong; the message names the key and what is expected."""


def _check_positive(config: Any, *names: str, section: str | None = None) -> None:
    section = section or type(config).__name__.removesuffix("Config").lower()
    for name in names:
        value = getattr(config, name)
        if isinstance(value, (int, float)) and value <= 0:
            raise ConfigError(f"{section}.{name} must be positive, got {value}")


# ---------------------------------------------------------------------------------------- schema
@dataclass
class EnvConfig:
    """Which env the agent trains on."""

    id: str = "advrl/Maze-Small-v0"
    """Gymnasium id (``advrl envs`` lists advrl's)."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments for ``gymnasium.make``."""
    n_envs: int = 16
    """Parallel envs."""
    backend: Literal["auto", "batched", "gymnasium"] = "auto"
    """``batched``: the torch BatchedMaze (domain-randomized advrl mazes only); ``gymnasium``:
    ``gymnasium.make`` under ``vec_env``; ``auto``: batched where it applies."""
    vec_env: Literal["dummy", "subproc"] = "dummy"
    """SB3 VecEnv of the gymnasium backend: ``dummy`` (one process) or ``subproc`` (one per env)."""
    device: str = "cpu"
    """Torch device of the batched backend (``cpu``, ``cuda``)."""

    def __post_init__(self) -> None:
        _check_positive(self, "n_envs")


@dataclass(frozen=True)
class LinearDecay:
    """A schedule for SB3: ``start`` at the beginning of training, falling linearly to 0."""

    start: float

    def __call__(self, progress_remaining: float) -> float:
        """The value when ``progress_remaining`` (1 to 0) of training is left."""
        return self.start * progress_remaining


@dataclass
class PPOConfig:
    """SB3 PPO hyperparameters (see ``stable_baselines3.PPO``)."""

    learning_rate: float = 3e-4
    lr_schedule: Literal["constant", "linear"] = "constant"
    """``linear``: the learning rate falls linearly from ``learning_rate`` to 0 over training (as
    the RL Zoo's ``lin_`` schedules)."""
    n_steps: int = 128
    """Steps per env per rollout."""
    batch_size: int = 512
    n_epochs: int = 4
    gamma: float = 0.995
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    use_sde: bool = False
    """Generalized state-dependent exploration (continuous actions)."""
    sde_sample_freq: int = -1
    """Steps between gSDE noise draws (-1: once per rollout)."""
    device: str = "cpu"
    """Torch device for the networks (``cpu``, ``cuda``, ``auto``)."""

    def sb3_kwargs(self) -> dict[str, Any]:
        """SB3 ``PPO``'s arguments: these settings, the learning rate as a schedule if asked."""
        kwargs = vars(self).copy()
        if kwargs.pop("lr_schedule") == "linear":
            kwargs["learning_rate"] = LinearDecay(self.learning_rate)
        return kwargs

    def __post_init__(self) -> None:
        _check_positive(self, "learning_rate", "n_steps", "batch_size", "n_epochs", "clip_range")
        for name in ("gamma", "gae_lambda"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"ppo.{name} must be in [0, 1], got {getattr(self, name)}")


@dataclass
class PolicyConfig:
    """Policy network."""

    net_arch: list[int] | None = None
    """Hidden layers of each head; None: [32] for grid observations, [64, 64] for vectors."""
    activation: Literal["relu", "tanh"] = "relu"
    conv_filters: int = 16
    """Filters of the 3x3 convolution on grid observations."""
    dual_bn: bool = False
    """AdvProp's main and auxiliary batch norms in the trunk (needed by ``adversarial.method:
    advprop``)."""
    lstm_hidden: int | None = None
    """A recurrent policy: LSTMs of this size after the features, trained by sb3-contrib's
    RecurrentPPO on whole env sequences (``ppo.batch_size`` a multiple of ``ppo.n_steps``;
    null: feed-forward)."""
    lstm_shared: bool = False
    """One LSTM for the actor and the critic, trained by both losses (dcd's agents); false: one
    LSTM each."""

    def __post_init__(self) -> None:
        _check_positive(self, "conv_filters", "lstm_hidden")
        if self.lstm_shared and self.lstm_hidden is None:
            raise ConfigError("policy.lstm_shared needs a recurrent policy: set policy.lstm_hidden")
        if self.dual_bn and self.lstm_hidden is not None:
            raise ConfigError(
                "policy.dual_bn (AdvProp) is for feed-forward policies; drop policy.lstm_hidden"
            )


@dataclass
class TrainConfig:
    """Budget, seed and the intervals of evaluation, images and checkpoints (in env steps)."""

    total_timesteps: int = 200_000
    seed: int = 0
    eval_every: int = 25_000
    """Evaluate every this many env steps (0: never during training)."""
    eval_episodes: int = 100
    """Episodes per evaluation, and for the final summary."""
    image_every: int = 25_000
    """Log images of the levels being played every this many env steps (0: never)."""
    checkpoint_every: int = 50_000
    """Write a checkpoint every this many env steps (0: only at the end)."""
    progress_bar: bool = True

    def __post_init__(self) -> None:
        _check_positive(self, "total_timesteps", "eval_episodes")
        for name in ("eval_every", "image_every", "checkpoint_every"):
            if getattr(self, name) < 0:
                raise ConfigError(f"train.{name} must be >= 0, got {getattr(self, name)}")


@dataclass
class AdversarialConfig:
    """Adversarial training inside PPO's update (see ``advrl.agents.adversarial_training``)."""

    method: Literal["none", "pgd_at", "fgsm_rs", "fast_bat", "sa", "advprop", "simaug"] = "none"
    """``none`` (plain PPO), ``pgd_at``, ``fgsm_rs`` (fast AT), ``fast_bat``, ``sa`` (SA-PPO's
    regularizer), ``advprop`` (needs ``policy.dual_bn``), ``simaug``."""
    eps: float = 0.05
    """Radius of the perturbation ball, in the policy's observation units."""
    norm: Literal["linf", "l2"] = "linf"
    objective: Literal["kl", "ce", "value"] = "kl"
    """What the attacker maximizes: KL from the clean action distribution, the clean action's
    negative log-probability, or the negative value."""
    attack: Literal["pgd", "flip"] = "pgd"
    """How pgd_at, sa, advprop and simaug perturb: PGD in the eps ball, or (maze) flips of up to
    round(eps) whole cells of the view."""
    steps: int = 10
    """PGD steps (pgd_at, sa, advprop, simaug)."""
    step_size: float | None = None
    """PGD step size (null: 2.5 * eps / steps)."""
    eps_warmup: float = 0.0
    """Fraction of training over which eps grows linearly from 0."""
    adv_weight: float = 1.0
    """Weight of the perturbed loss in pgd_at, fgsm_rs, fast_bat (the rest: clean loss)."""
    adv_every: int = 1
    """The adversarial term on every k-th minibatch only, scaled by k (expected loss unchanged,
    adversarial cost / k); adv_every * adv_weight <= 1; not for simaug."""
    fgsm_step: float = 1.25
    """FGSM-RS's step, in units of eps."""
    lmbda: float | None = None
    """Fast-BAT's proximal weight (null: per sample, the input gradient's norm over eps)."""
    fast_bat_z: Literal["step", "carry", "random"] = "step"
    """Fast-BAT's linearization point: ``step``, one gradient step from a random start; ``carry``,
    that step in a rollout's first epoch, then each sample's previous perturbation (cheaper);
    ``random``, the random start (cheapest, weaker)."""
    sa_coef: float = 0.1
    """Weight of SA-PPO's KL regularizer."""
    views: list[str] = field(default_factory=lambda: ["gaussian:0.05", "scale:0.1", "dropout:0.1"])
    """SimAug's views, ``kind:size`` with kind gaussian, scale, dropout or (maze) walls."""
    mixup_alpha: float = 1.0
    """SimAug's Beta(alpha, alpha) mixing weight."""
    svc_bound: float | None = None
    """Singular value clipping of the actor's weight matrices (null: off)."""
    svc_every: int = 1
    """Gradient steps between clippings."""

    @property
    def enabled(self) -> bool:
        """Whether the update differs from plain PPO's."""
        return self.method != "none" or self.svc_bound is not None


@dataclass
class PPORunConfig:
    """``advrl train ppo``: SB3 PPO on one env."""

    env: EnvConfig = field(default_factory=EnvConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    adversarial: AdversarialConfig = field(default_factory=AdversarialConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    out_dir: str = "runs"
    """Parent folder of run folders."""
    name: str | None = None
    """Run folder name; None: ``<env>-ppo-seed<seed>-<time>``."""


UED_METHODS = ("paired", "dr", "minimax", "plr", "accel")
"""``advrl train <method>`` for the UED methods."""

DEFAULT_EVAL_LEVELS = [
    "SixteenRooms",
    "SixteenRoomsFewerDoors",
    "Labyrinth",
    "Labyrinth2",
    "StandardMaze",
    "Maze2",
    "Maze3",
    "SmallCorridor",
    "LargeCorridor",
    "SimpleCrossing",
    "FourRooms",
    "PerfectMazeMedium",
]
"""The held-out mazes evaluated during UED training (those the UED papers report)."""


@dataclass
class UEDEnvConfig:
    """The students' env: any env that takes levels (a maze, a physics env)."""

    id: str = "advrl/Maze-v0"
    """Gymnasium id of the students' env."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments for ``gymnasium.make``."""
    num_levels: int = 32
    """Levels per iteration: the students' parallel envs and the adversary's parallel designs."""
    backend: Literal["auto", "batched", "gymnasium"] = "auto"
    """``batched``: the torch BatchedMaze (mazes); ``gymnasium``: the env under SB3's
    DummyVecEnv; ``auto``: batched for mazes."""
    device: str = "cpu"
    """Torch device of the batched envs (``cpu``, ``cuda``)."""

    def __post_init__(self) -> None:
        _check_positive(self, "num_levels", section="env")


@dataclass
class StudentConfig:
    """One student (protagonist or antagonist): its PPO settings and network."""

    ppo: PPOConfig = field(
        default_factory=lambda: PPOConfig(
            learning_rate=1e-4, n_steps=256, batch_size=2048, n_epochs=5, ent_coef=0.0
        )
    )
    policy: PolicyConfig = field(default_factory=PolicyConfig)


@dataclass
class AdversaryConfig:
    """PAIRED's and minimax's adversary. ``ppo.n_steps`` is set to the designer's episode length."""

    ppo: PPOConfig = field(
        default_factory=lambda: PPOConfig(
            learning_rate=1e-4, n_steps=52, batch_size=1664, n_epochs=5, ent_coef=0.0
        )
    )
    policy: PolicyConfig = field(default_factory=lambda: PolicyConfig(conv_filters=128))
    wall_budget: int = 50
    """Wall placements of the maze designer."""
    noise_dim: int = 50
    """Length of the designer's random input."""


@dataclass
class PAIREDConfig:
    """PAIRED's regret."""

    regret: Literal["clipped", "unclipped", "flexible"] = "clipped"
    """``clipped`` at 0 (PAIRED), ``unclipped``, or ``flexible`` (the better student is antagonist)."""


@dataclass
class PLRConfig:
    """Robust prioritized level replay (PLR⊥), also used by ACCEL."""

    buffer_size: int = 4000
    replay_prob: float = 0.5
    """Probability that a batch replays buffer levels."""
    score: Literal["pvl", "maxmc"] = "pvl"
    """Regret estimate: positive value loss or MaxMC."""
    temperature: float = 0.3
    """Of the rank prioritization."""
    staleness_coef: float = 0.3
    robust: bool = True
    """No gradient updates on new levels (PLR⊥)."""
    new_levels: Literal["random", "blank"] = "random"
    """New levels: domain-randomized, or the simplest level (ACCEL's empty rooms)."""

    def __post_init__(self) -> None:
        _check_positive(self, "buffer_size", "temperature")
        for name in ("replay_prob", "staleness_coef"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"plr.{name} must be in [0, 1], got {getattr(self, name)}")


@dataclass
class ACCELConfig:
    """ACCEL's edits of replayed levels."""

    num_edits: int = 5
    """Random edits per child level (a maze edit flips one cell between wall and floor)."""

    def __post_init__(self) -> None:
        _check_positive(self, "num_edits")


@dataclass
class UEDTrainConfig:
    """Budget (protagonist env steps), seed, and the intervals of evaluation, images, checkpoints."""

    total_timesteps: int = 1_000_000
    seed: int = 0
    eval_every: int = 100_000
    """Evaluate on held-out levels every this many protagonist env steps (0: only at the end)."""
    eval_episodes: int = 10
    """Episodes per held-out maze."""
    eval_levels: list[str] = field(default_factory=lambda: list(DEFAULT_EVAL_LEVELS))
    """Held-out mazes to evaluate on (maze envs; physics envs play their standard level)."""
    image_every: int = 50_000
    """Log images of the levels being played every this many protagonist env steps (0: never)."""
    checkpoint_every: int = 100_000
    """Write a checkpoint every this many protagonist env steps (0: only at the end)."""

    def __post_init__(self) -> None:
        _check_positive(self, "total_timesteps", "eval_episodes", section="train")
        for name in ("eval_every", "image_every", "checkpoint_every"):
            if getattr(self, name) < 0:
                raise ConfigError(f"train.{name} must be >= 0, got {getattr(self, name)}")


@dataclass
class UEDRunConfig:
    """``advrl train paired|dr|minimax|plr|accel``: unsupervised environment design."""

    method: Literal["paired", "dr", "minimax", "plr", "accel"] = "paired"
    """Which UED method (the command's name; a config names the one it was written for)."""
    env: UEDEnvConfig = field(default_factory=UEDEnvConfig)
    protagonist: StudentConfig = field(default_factory=StudentConfig)
    antagonist: StudentConfig = field(default_factory=StudentConfig)
    """PAIRED's second student."""
    adversary: AdversaryConfig = field(default_factory=AdversaryConfig)
    paired: PAIREDConfig = field(default_factory=PAIREDConfig)
    plr: PLRConfig = field(default_factory=PLRConfig)
    accel: ACCELConfig = field(default_factory=ACCELConfig)
    train: UEDTrainConfig = field(default_factory=UEDTrainConfig)
    out_dir: str = "runs"
    """Parent folder of run folders."""
    name: str | None = None
    """Run folder name; None: ``<env>-<method>-seed<seed>-<time>``."""


IMITATION_METHODS = ("gail", "asaf")
"""``advrl train <method>`` for the imitation methods."""


@dataclass
class DemosConfig:
    """The expert's demonstrations."""

    path: str = "demos/cartpole.npz"
    """An advrl or imitation ``.npz`` file, or a Minari dataset folder."""
    format: Literal["auto", "advrl", "imitation", "minari"] = "auto"
    episodes: int | None = None
    """Use only the first this many episodes (None: all)."""

    def __post_init__(self) -> None:
        _check_positive(self, "episodes", section="demos")


@dataclass
class DiscriminatorConfig:
    """GAIL's discriminator D(s, a) and the reward made from it."""

    net_arch: list[int] = field(default_factory=lambda: [64, 64])
    conv_filters: int = 16
    """Filters of the maze view's convolution."""
    learning_rate: float = 3e-4
    batch_size: int = 256
    """Generator (and expert) steps per D update."""
    epochs: int = 1
    """Passes over each PPO rollout's steps per round."""
    reward: Literal["gail", "logd", "logit"] = "gail"
    """``gail``: -log(1 - D); ``logd``: log D; ``logit``: log D - log(1 - D)."""
    normalize_reward: bool = True
    """Divide rewards by the running std of the discounted return."""
    grad_penalty: float = 0.0
    """Weight of the gradient penalty (0: off)."""
    spectral_norm: bool = False
    svc_bound: float | None = None
    """Singular value clipping bound of D's weight matrices (None: off)."""
    svc_every: int = 1
    """D updates between clippings."""
    augment: str | None = None
    """DiffAugment policy for image observations, e.g. ``color,translation,cutout`` (None: off)."""

    def __post_init__(self) -> None:
        _check_positive(
            self, "learning_rate", "batch_size", "epochs", "svc_bound", "svc_every", "conv_filters"
        )
        if self.grad_penalty < 0:
            raise ConfigError(f"discriminator.grad_penalty must be >= 0, got {self.grad_penalty}")
        if self.svc_bound is not None and self.spectral_norm:
            raise ConfigError(
                "discriminator.svc_bound and discriminator.spectral_norm do not combine; set one"
            )


@dataclass
class ASAFConfig:
    """ASAF: the policy is the discriminator."""

    window: int | None = None
    """Steps per piece: null for whole episodes (ASAF), w for ASAF-w, 1 for ASAF-1."""
    rollout_episodes: int = 10
    """Episodes generated per round (whole-episode ASAF)."""
    rollout_steps: int = 2000
    """Steps generated per round (ASAF-w, ASAF-1)."""
    n_epochs: int = 10
    batch_size: int = 10
    """Generated (and expert) pieces per gradient step."""
    learning_rate: float = 1e-3
    max_grad_norm: float = 1.0

    def __post_init__(self) -> None:
        _check_positive(
            self,
            "window",
            "rollout_episodes",
            "rollout_steps",
            "n_epochs",
            "batch_size",
            "learning_rate",
            "max_grad_norm",
        )


@dataclass
class InitConfig:
    """Where the policy starts: fresh, from another run (fine-tuning), or behaviour-cloned."""

    from_run: str | None = None
    """A PPO, GAIL or ASAF run folder whose latest policy to start from (same policy settings)."""
    bc_epochs: int = 0
    """Behaviour-clone the policy on the demonstrations for this many epochs first (0: off)."""
    bc_batch_size: int = 256
    bc_learning_rate: float = 1e-3

    def __post_init__(self) -> None:
        _check_positive(self, "bc_batch_size", "bc_learning_rate")
        if self.bc_epochs < 0:
            raise ConfigError(f"init.bc_epochs must be >= 0, got {self.bc_epochs}")


@dataclass
class ImitationTrainConfig:
    """Budget (env steps), seed, and the intervals of evaluation and checkpoints."""

    total_timesteps: int = 200_000
    seed: int = 0
    eval_every: int = 20_000
    """Evaluate on the true reward every this many env steps (0: only at the end)."""
    eval_episodes: int = 20
    checkpoint_every: int = 50_000
    """Write a checkpoint every this many env steps (0: only at the end)."""
    progress_bar: bool = False

    def __post_init__(self) -> None:
        _check_positive(self, "total_timesteps", "eval_episodes", section="train")
        for name in ("eval_every", "checkpoint_every"):
            if getattr(self, name) < 0:
                raise ConfigError(f"train.{name} must be >= 0, got {getattr(self, name)}")


@dataclass
class ImitationRunConfig:
    """``advrl train gail|asaf``: adversarial imitation from demonstrations."""

    method: Literal["gail", "asaf"] = "gail"
    """Which method (the command's name; a config names the one it was written for)."""
    env: EnvConfig = field(default_factory=lambda: EnvConfig(id="CartPole-v1", n_envs=8))
    demos: DemosConfig = field(default_factory=DemosConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    """GAIL's generator (ASAF uses only ``ppo.device``)."""
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    asaf: ASAFConfig = field(default_factory=ASAFConfig)
    init: InitConfig = field(default_factory=InitConfig)
    train: ImitationTrainConfig = field(default_factory=ImitationTrainConfig)
    out_dir: str = "runs"
    """Parent folder of run folders."""
    name: str | None = None
    """Run folder name; None: ``<env>-<method>-seed<seed>-<time>``."""


# ---------------------------------------------------------------------------------------- loading
C = TypeVar("C")


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " or ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", str(tp)).replace("NoneType", "null")


def _convert(value: Any, tp: Any, where: str) -> Any:
    """Check ``value`` against the annotation ``tp``; return it converted (numbers, lists, dataclasses)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a mapping of {tp.__name__} keys, got {value!r}")
        return from_dict(tp, value, where)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where} must be {_type_name(tp)}, got {value!r}")
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{where} must be {_type_name(tp)}, got {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        item = args[0] if args else Any
        return [_convert(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a mapping, got {value!r}")
        return dict(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        if isinstance(value, str):  # YAML 1.1 reads 3e-4 as a string
            try:
                return float(value)
            except ValueError:
                raise ConfigError(f"{where} must be a number, got {value!r}") from None
        if not isinstance(value, (int, float)):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string, got {value!r}")
        return value
    raise TypeError(f"config field type {tp!r} is not supported")  # an internal schema bug


def from_dict(cls: type[C], data: dict[str, Any], where: str = "") -> C:
    """Build the dataclass ``cls`` from ``data``; missing keys take defaults, unknown keys fail."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    unknown = [k for k in data if k not in names]
    if unknown:
        prefix = f" in {where}" if where else ""
        raise ConfigError(f"unknown key {unknown[0]!r}{prefix}; valid keys: {', '.join(names)}")
    kwargs = {k: _convert(v, hints[k], f"{where}.{k}" if where else k) for k, v in data.items()}
    return cls(**kwargs)


def to_dict(config: Any) -> dict[str, Any]:
    """A plain dict (YAML-safe) of a config dataclass."""
    return dataclasses.asdict(config)


def load_config(cls: type[C], path: str | Path | None, overrides: list[str] | None = None) -> C:
    """Read a YAML config file into ``cls``, applying ``key.sub=value`` overrides (values in YAML).

    ``path`` None starts from ``cls``'s defaults (the overrides still apply).

    Raises:
        ConfigError: the file is missing, not YAML, not a mapping, or has a bad key or value.
    """
    data: Any = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {str(path)!r} not found")
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as err:
            raise ConfigError(f"{path} is not valid YAML: {err}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path} must hold a mapping of settings, got {type(data).__name__}")
    for item in overrides or []:
        apply_override(data, item)
    try:
        return from_dict(cls, data)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}" if path is not None else str(err)) from None


def apply_override(data: dict[str, Any], item: str) -> None:
    """Set ``a.b.c=value`` in a nested dict (the value parsed as YAML)."""
    key, sep, raw = item.partition("=")
    if not sep or not key:
        raise ConfigError(f"override {item!r} must look like key.subkey=value")
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override {item!r}: {part!r} is not a section")
        node = child
    try:
        node[parts[-1]] = yaml.safe_load(raw)
    except yaml.YAMLError:
        raise ConfigError(f"override {item!r}: the value is not valid YAML") from None


def save_config(config: Any, path: str | Path) -> None:
    """Write the resolved config as YAML."""
    Path(path).write_text(yaml.safe_dump(to_dict(config), sort_keys=False))
