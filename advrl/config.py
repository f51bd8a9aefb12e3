"""Run settings: one frozen dataclass per run kind, built from the library's own settings.

A run's settings group the library's dataclasses by role (env, each agent's PPO and policy, the UED
teacher, imitation, adversarial training, the train loop). A YAML file is their serialized form;
the CLI's flags and ``--help`` are generated from the same classes (every field's docstring is its
help). Unknown keys and bad values stop with one :class:`ConfigError` that names the key.
Method-specific sections are tagged unions: a UED run's ``teacher:`` section is the settings of the
method its ``method:`` names (:data:`advrl.pair.methods.TEACHERS`); an imitation run's settings are
its method's class (``discriminator:`` for GAIL, ``asaf:`` for ASAF).

Only the CLI reads files; library classes take these settings or keyword arguments.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar

import tyro
import yaml

from advrl.agents.robust import AdversarialTraining
from advrl.agents.settings import PolicySettings, PPOSettings
from advrl.checks import ConfigError, non_negative, positive
from advrl.envs import all_heldout_names
from advrl.envs.vector import EnvSettings, UEDEnvSettings
from advrl.files import atomic_write_bytes
from advrl.gail.methods import IMITATION
from advrl.gail.settings import ASAFSettings, DiscriminatorSettings
from advrl.pair.methods import TEACHERS
from advrl.pair.settings import AdversarySettings, PAIREDSettings, StudentSettings
from advrl.yamlio import load_yaml

MAX_SEED = 2**32 - 1 - 1_000_000
"""The largest run seed (numpy's seeds are 32-bit; a run derives a few more from its seed)."""


# ---------------------------------------------------------------------------------------- train loop
@dataclass(frozen=True)
class TrainSettings:
    """Budget, seed, and the intervals of evaluation and checkpoints (in env steps)."""

    total_timesteps: int = 200_000
    """Env steps to train for (UED: protagonist steps)."""
    seed: int = 0
    """Seed of envs, networks and sampling: the same seed repeats a run on the same machine."""
    eval_every: int = 25_000
    """Evaluate every this many env steps (0: only at the end)."""
    eval_episodes: int = 100
    """Episodes per evaluation (UED: per held-out maze), and for the final summary."""
    checkpoint_every: int = 50_000
    """Write a checkpoint every this many env steps (0: only at the end)."""
    keep_checkpoints: int = 3
    """Checkpoints kept in the run folder, the newest (0: every one)."""
    video_every: int = 0
    """Record a clip of one greedy episode to TensorBoard (``video/episode``) every this many env
    steps (0: never)."""
    progress_bar: bool = True
    """Show the run's progress (steps, steps/s, ETA, evaluations, key metrics) while it trains;
    the command line's --quiet turns it off too."""

    def __post_init__(self) -> None:
        positive(self, "total_timesteps", "eval_episodes")
        non_negative(self, "keep_checkpoints")
        if not 0 <= self.seed <= MAX_SEED:  # numpy's seeds are 32-bit
            raise ValueError(f"seed must be between 0 and {MAX_SEED:,}, got {self.seed}")
        non_negative(self, *(f.name for f in dataclasses.fields(self) if f.name.endswith("every")))


@dataclass(frozen=True)
class PPOTrainSettings(TrainSettings):
    """Budget, seed, and the intervals of evaluation, images and checkpoints (in env steps)."""

    image_every: int = 25_000
    """Log images of the levels being played every this many env steps (0: never)."""


DEFAULT_EVAL_LEVELS = (
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
)
"""The held-out mazes evaluated during UED training (those the UED papers report)."""


MAX_SAMPLED_EPISODES = 10_000_000
"""The most episodes one sampled-level evaluation may play (hours on a CPU)."""


@dataclass(frozen=True)
class UEDTrainSettings(TrainSettings):
    """Budget (protagonist env steps), seed, and the intervals of held-out evaluation, images and
    checkpoints."""

    eval_levels: tuple[str, ...] = DEFAULT_EVAL_LEVELS
    """Held-out mazes to evaluate on (maze envs; physics envs play their standard level)."""
    eval_sampled_levels: int = 0
    """Also evaluate (periodically and at the end) on this many solvable levels sampled from the
    training maze, the same set for every run: the solve rate on the worst 1% and 10% of them
    (SFL's metric; 10,000 in the paper). 0: off."""
    eval_sampled_episodes: int = 10
    """Episodes per sampled level, in each of the two passes (choosing the worst levels, then
    scoring them on independent episodes)."""
    image_every: int = 50_000
    """Log images of the levels being played every this many protagonist env steps (0: never)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        non_negative(self, "eval_sampled_levels")
        positive(self, "eval_sampled_episodes")
        unknown = [name for name in self.eval_levels if name not in all_heldout_names()]
        if unknown:
            raise ValueError(
                f"eval_levels names unknown held-out mazes {unknown}; known: "
                f"{', '.join(all_heldout_names())}"
            )
        if self.eval_sampled_levels * self.eval_sampled_episodes > MAX_SAMPLED_EPISODES:
            raise ValueError(
                f"eval_sampled_levels x eval_sampled_episodes must be at most "
                f"{MAX_SAMPLED_EPISODES:,} episodes per evaluation, got "
                f"{self.eval_sampled_levels * self.eval_sampled_episodes:,}"
            )


@dataclass(frozen=True)
class ImitationTrainSettings(TrainSettings):
    """Budget (env steps), seed, and the intervals of evaluation on the true reward and
    checkpoints."""


# ---------------------------------------------------------------------------------------- runs
@dataclass(frozen=True)
class PPORunConfig:
    """``advrl train ppo``: SB3 PPO on one env (robust PPO with an ``adversarial`` method)."""

    env: EnvSettings = field(default_factory=EnvSettings)
    """The training env."""
    ppo: PPOSettings = field(default_factory=PPOSettings)
    """PPO's hyperparameters."""
    policy: PolicySettings = field(default_factory=PolicySettings)
    """The policy network."""
    adversarial: AdversarialTraining = field(default_factory=AdversarialTraining)
    """Adversarial training inside PPO's update (``none``: plain PPO)."""
    train: PPOTrainSettings = field(default_factory=PPOTrainSettings)
    """Budget, seed, intervals."""
    out_dir: str = "runs"
    """Parent folder of run folders."""
    name: str | None = None
    """Run folder name; null: ``<env>-ppo-seed<seed>-<time>``."""

    def __post_init__(self) -> None:
        check_rollout_size(self.ppo, self.env.n_envs, "ppo.n_steps x env.n_envs")


MAX_ROLLOUT = 2**26
"""The most steps one rollout may hold (its buffer is allocated up front)."""


def check_rollout_size(ppo: PPOSettings, n_envs: int, what: str) -> None:
    """A rollout of ``ppo.n_steps`` steps of ``n_envs`` envs fits :data:`MAX_ROLLOUT`.

    Raises:
        ValueError: it does not.
    """
    if ppo.n_steps * n_envs > MAX_ROLLOUT:
        raise ValueError(
            f"{what} = {ppo.n_steps * n_envs:,} steps per rollout; at most {MAX_ROLLOUT:,}"
        )


def teacher_settings(method: str) -> type:
    """The settings class of UED method ``method``'s ``teacher:`` section."""
    if method not in TEACHERS:
        raise ConfigError(f"method must be one of {', '.join(TEACHERS)}, got {method!r}")
    return TEACHERS[method].settings


T = TypeVar("T")


@dataclass(frozen=True)
class UEDRunConfig(Generic[T]):
    """``advrl train <UED method>``: unsupervised environment design."""

    method: Annotated[str, tyro.conf.Suppress] = "paired"
    """Which UED method (the command's name; a config names the one it was written for)."""
    env: UEDEnvSettings = field(default_factory=UEDEnvSettings)
    """The students' env."""
    protagonist: StudentSettings = field(default_factory=StudentSettings)
    """The student evaluated on held-out levels."""
    antagonist: StudentSettings = field(default_factory=StudentSettings)
    """PAIRED's second student."""
    adversary: AdversarySettings = field(default_factory=AdversarySettings)
    """The level designer of PAIRED and minimax."""
    teacher: T = field(
        default_factory=PAIREDSettings,  # type: ignore[assignment]
        metadata={"tagged_by": ("method", teacher_settings)},
    )
    """The settings of the method's teacher (one kind per method)."""
    train: UEDTrainSettings = field(
        default_factory=lambda: UEDTrainSettings(
            total_timesteps=1_000_000,
            eval_every=100_000,
            eval_episodes=10,
            checkpoint_every=100_000,
        )
    )
    """Budget, seed, held-out levels, intervals."""
    out_dir: str = "runs"
    """Parent folder of run folders."""
    name: str | None = None
    """Run folder name; null: ``<env>-<method>-seed<seed>-<time>``."""

    renamed_keys: ClassVar[dict[str, str]] = {
        "paired": "teacher",
        "plr": "teacher",
        "accel": "teacher",
    }

    def __post_init__(self) -> None:
        for role in ("protagonist", "antagonist"):
            student: StudentSettings = getattr(self, role)
            where = f"{role}.ppo.n_steps x env.num_levels"
            check_rollout_size(student.ppo, self.env.num_levels, where)
        cls = teacher_settings(self.method)
        if not isinstance(self.teacher, cls):
            raise ConfigError(
                f"teacher must be {cls.__name__} for method {self.method!r}, "
                f"got {type(self.teacher).__name__}"
            )


@dataclass(frozen=True)
class DemosSettings:
    """The expert's demonstrations."""

    path: str = "demos/cartpole.npz"
    """An advrl or imitation ``.npz`` file, or a Minari dataset folder."""
    format: Literal["auto", "advrl", "imitation", "minari"] = "auto"
    """The file's format (``auto``: from its contents)."""
    episodes: int | None = None
    """Use only the first this many episodes (null: all)."""
    heldout_episodes: int = 0
    """GAIL: the next this many episodes are kept out of training and show how well D tells
    unseen expert steps (``disc/expert_acc_unseen`` beside ``disc/expert_acc_seen``; 0: off)."""

    def __post_init__(self) -> None:
        positive(self, "episodes")
        non_negative(self, "heldout_episodes")
        if self.heldout_episodes and self.episodes is None:
            raise ValueError("heldout_episodes needs episodes: the ones kept out follow them")


@dataclass(frozen=True)
class InitSettings:
    """Where the policy starts: fresh, from another run (fine-tuning), or behaviour-cloned."""

    from_run: str | None = None
    """A PPO, GAIL or ASAF run folder whose latest policy to start from (same policy settings)."""
    bc_epochs: int = 0
    """Behaviour-clone the policy on the demonstrations for this many epochs first (0: off)."""
    bc_batch_size: int = 256
    """Behaviour cloning's minibatch size."""
    bc_learning_rate: float = 1e-3
    """Behaviour cloning's Adam step size."""

    def __post_init__(self) -> None:
        positive(self, "bc_batch_size", "bc_learning_rate")
        non_negative(self, "bc_epochs")


@dataclass(frozen=True)
class ImitationRunConfig:
    """The settings every imitation method shares; each method's own section is in its subclass
    (:class:`GAILRunConfig`, :class:`ASAFRunConfig`), chosen by ``method:``."""

    method: Annotated[str, tyro.conf.Suppress] = "gail"
    """Which method (the command's name; a config names the one it was written for)."""
    env: EnvSettings = field(default_factory=lambda: EnvSettings(id="CartPole-v1", n_envs=8))
    """The env imitated on."""
    demos: DemosSettings = field(default_factory=DemosSettings)
    """The expert's demonstrations."""
    ppo: PPOSettings = field(default_factory=PPOSettings)
    """GAIL's generator (ASAF uses only ``ppo.device``)."""
    policy: PolicySettings = field(default_factory=PolicySettings)
    """The policy network."""
    init: InitSettings = field(default_factory=InitSettings)
    """Where the policy starts."""
    train: ImitationTrainSettings = field(
        default_factory=lambda: ImitationTrainSettings(
            eval_every=20_000, eval_episodes=20, checkpoint_every=50_000
        )
    )
    """Budget, seed, intervals."""
    out_dir: str = "runs"
    """Parent folder of run folders."""
    name: str | None = None
    """Run folder name; null: ``<env>-<method>-seed<seed>-<time>``."""

    @staticmethod
    def method_sections() -> dict[str, str]:
        """Each method's own section -> the method (a config of another method has no such key)."""
        return {m.section: m.name for m in IMITATION.values()}

    def __post_init__(self) -> None:
        check_rollout_size(self.ppo, self.env.n_envs, "ppo.n_steps x env.n_envs")


@dataclass(frozen=True)
class GAILRunConfig(ImitationRunConfig):
    """``advrl train gail``: GAIL, a discriminator's reward for an SB3 PPO generator."""

    method: Annotated[Literal["gail"], tyro.conf.Suppress] = "gail"
    """Which method (the command's name; a config names the one it was written for)."""
    discriminator: DiscriminatorSettings = field(default_factory=DiscriminatorSettings)
    """GAIL's discriminator."""


@dataclass(frozen=True)
class ASAFRunConfig(ImitationRunConfig):
    """``advrl train asaf``: ASAF, whose policy is its own discriminator."""

    method: Annotated[Literal["asaf"], tyro.conf.Suppress] = "asaf"
    """Which method (the command's name; a config names the one it was written for)."""
    asaf: ASAFSettings = field(default_factory=ASAFSettings)
    """ASAF's settings."""


RunConfig = PPORunConfig | UEDRunConfig[Any] | ImitationRunConfig
"""The settings of any run."""

_IMITATION_RUN_CONFIGS: dict[str, type[ImitationRunConfig]] = {
    "gail": GAILRunConfig,
    "asaf": ASAFRunConfig,
}


def imitation_run_config(method: str) -> type[ImitationRunConfig]:
    """The run settings class of an imitation method: :class:`ImitationRunConfig` and the
    method's own section (:data:`~advrl.gail.methods.IMITATION`). A method registered by a user
    gets one made from its entry, as GAIL's and ASAF's are written out above."""
    if method not in _IMITATION_RUN_CONFIGS:
        entry = IMITATION[method]
        tag = Annotated[Literal[method], tyro.conf.Suppress]  # type: ignore[valid-type]
        made = dataclasses.make_dataclass(
            f"{method.title()}RunConfig",
            [
                ("method", tag, field(default=method)),
                (entry.section, entry.settings, field(default_factory=entry.settings)),
            ],
            bases=(ImitationRunConfig,),
            frozen=True,
        )
        made.__module__ = __name__
        _IMITATION_RUN_CONFIGS[method] = made
    return _IMITATION_RUN_CONFIGS[method]


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


def _convert(value: Any, tp: Any, where: str, base: Any = None) -> Any:
    """Check ``value`` against the annotation ``tp``; return it converted (numbers, lists,
    dataclasses: a mapping updates ``base``, the section's default)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a mapping of {tp.__name__} keys, got {value!r}")
        return from_dict(tp, value, where, base=base if isinstance(base, tp) else None)
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
        items = [_convert(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
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
                value = float(value)
            except ValueError:
                raise ConfigError(f"{where} must be a number, got {value!r}") from None
        if not isinstance(value, (int, float)):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{where} must be a finite number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string, got {value!r}")
        return value
    raise TypeError(f"config field type {tp!r} is not supported")  # an internal schema bug


def _construct(cls: type[C], base: C | None, kwargs: dict[str, Any], where: str) -> C:
    """``cls(**kwargs)`` (or ``base`` updated), its ValueError named by section."""
    try:
        return dataclasses.replace(base, **kwargs) if base is not None else cls(**kwargs)  # type: ignore[type-var]
    except ConfigError:
        raise
    except ValueError as err:
        message = str(err)
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        first = re.match(r"\w+", message)
        if where and first and first.group(0) in names:
            raise ConfigError(f"{where}.{message}") from None
        raise ConfigError(f"{where}: {message}" if where else message) from None


def _field_default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def from_dict(cls: type[C], data: dict[str, Any], where: str = "", base: C | None = None) -> C:
    """Build the dataclass ``cls`` from ``data``; missing keys keep ``base``'s values (default:
    ``cls``'s defaults), unknown keys fail, and a tagged section takes the class its tag names."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = [k for k in data if k not in fields]
    prefix = f" in {where}" if where else ""
    if unknown:
        renamed = getattr(cls, "renamed_keys", {})
        if unknown[0] in renamed:
            raise ConfigError(
                f"key {unknown[0]!r}{prefix} is now {renamed[unknown[0]]!r}: move its settings "
                f"there (the settings of the method named by `method:`)"
            )
        sections = getattr(cls, "method_sections", None)
        owner = sections().get(unknown[0]) if sections is not None else None
        if owner is not None:
            raise ConfigError(
                f"key {unknown[0]!r} holds the settings of `advrl train {owner}`; a "
                f"{data.get('method', fields['method'].default)} config has none: remove it"
            )
        raise ConfigError(f"unknown key {unknown[0]!r}{prefix}; valid keys: {', '.join(fields)}")
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        key = f"{where}.{name}" if where else name
        default = getattr(base, name) if base is not None else _field_default(f)
        if "tagged_by" in f.metadata:
            tag, variants = f.metadata["tagged_by"]
            tag_value = kwargs.get(tag, getattr(base, tag) if base is not None else None)
            if tag_value is None:
                tag_value = fields[tag].default
            variant = variants(tag_value)
            if not isinstance(default, variant):
                default = variant()
                kwargs[name] = default
            if name in data:
                kwargs[name] = _convert(data[name] or {}, variant, key, default)
        elif name in data:
            kwargs[name] = _convert(data[name], hints[name], key, default)
    return _construct(cls, base, kwargs, where)


def to_dict(config: Any) -> dict[str, Any]:
    """A plain dict (YAML-safe: tuples become lists) of a config dataclass."""

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value

    return plain(dataclasses.asdict(config))


def flat_dict(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested settings (:func:`to_dict`, a ``config.yaml``) as ``section.key`` -> value."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(flat_dict(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML file holding a mapping.

    Raises:
        ConfigError: the file is missing, not YAML or not a mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text; save it as UTF-8") from None
    data = load_yaml(text, str(path)) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of settings, got {type(data).__name__}")
    _check_size(data, str(path))
    return data


MAX_CONFIG_VALUES = 100_000
"""The most values a config may hold, counted with YAML aliases expanded (an alias "bomb" of a
few lines expands to billions)."""


def _check_size(data: Any, where: str) -> None:
    """Raise if ``data`` holds more than :data:`MAX_CONFIG_VALUES` values, counting shared
    (aliased) parts each time they appear, and stop counting as soon as it does."""
    count, stack = 0, [data]
    while stack:
        node = stack.pop()
        count += 1
        if count > MAX_CONFIG_VALUES:
            raise ConfigError(
                f"{where} holds more than {MAX_CONFIG_VALUES:,} values once its YAML aliases are "
                "expanded; write the settings out"
            )
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def load_config(cls: type[C], path: str | Path | None, overrides: list[str] | None = None) -> C:
    """Read a YAML config file into ``cls``, applying ``key.sub=value`` overrides (values in YAML).

    ``path`` None starts from ``cls``'s defaults (the overrides still apply).

    Raises:
        ConfigError: the file is missing, not YAML, not a mapping, or has a bad key or value.
    """
    return config_from(cls, read_yaml(path) if path is not None else {}, overrides, source=path)


def config_from(
    cls: type[C],
    data: dict[str, Any],
    overrides: Sequence[str] | None = None,
    *,
    flags: Sequence[str] = (),
    source: str | Path | None = None,
) -> C:
    """``cls`` from a config's mapping (as :func:`read_yaml` gives it), ``key.sub=value``
    overrides (``--set``), then the typed flags' values in the same form: one merge, one pass
    through the loader. An error names where it is: the flags or ``--set`` when what comes
    before them builds, else ``source`` (the file) when given."""
    merged = copy.deepcopy(data)
    for item in [*(overrides or []), *flags]:
        apply_override(merged, item)
    _check_size(merged, "the overrides")
    try:
        return from_dict(cls, merged)
    except ConfigError as err:
        raise ConfigError(_blame(cls, data, overrides or [], flags, source, err)) from None


def _blame(
    cls: type,
    data: dict[str, Any],
    overrides: Sequence[str],
    flags: Sequence[str],
    source: str | Path | None,
    err: ConfigError,
) -> str:
    """``err`` placed in the first layer (file, ``--set``, flags) whose addition breaks the
    settings (only an error's message pays for these extra loads)."""
    where = str(source) if source is not None else None
    layers = [(list(overrides), "--set"), (list(flags), "the flags")]
    merged = copy.deepcopy(data)
    try:
        from_dict(cls, merged)
    except ConfigError:
        return f"{where}: {err}" if where is not None else str(err)
    for items, name in layers:
        if not items:
            continue
        for item in items:
            apply_override(merged, item)
        try:
            from_dict(cls, merged)
        except ConfigError:
            return f"{name}: {err}"
    return f"{where}: {err}" if where is not None else str(err)


def upgrade_run_config(data: dict[str, Any]) -> dict[str, Any]:
    """A run folder's config as written by an earlier advrl, in today's layout.

    UED runs kept each method's settings in its own section (``paired``, ``plr`` and ``accel``,
    all written, fully resolved, for every method); today a run has one ``teacher:`` section for
    its method. Imitation runs wrote both ``discriminator:`` and ``asaf:``; today a run has its own
    method's. A config file a user writes gets the one-line error instead (see ``renamed_keys``
    and ``method_sections``).
    """
    if "discriminator" in data and "asaf" in data:
        other = "asaf" if data.get("method", "gail") == "gail" else "discriminator"
        return {k: v for k, v in data.items() if k != other}
    legacy = [k for k in ("paired", "plr", "accel") if k in data]
    if not legacy or "teacher" in data:
        return data
    old = {k: data[k] if isinstance(data[k], dict) else {} for k in legacy}
    data = {k: v for k, v in data.items() if k not in legacy}
    method = data.get("method", "paired")
    if method == "accel":  # ACCEL read PLR's section (but not `robust`) and its own
        plr = {k: v for k, v in old.get("plr", {}).items() if k != "robust"}
        data["teacher"] = {**plr, **old.get("accel", {})}
    else:
        data["teacher"] = old.get(method, {})
    return data


RUN_PLACE = ("name", "out_dir")
"""The settings that say where a run folder is (fixed once it exists)."""


def _moves(raw: dict[str, Any], item: str) -> bool:
    """Whether ``key=value`` changes where a run is (its ``name`` or ``out_dir`` to another)."""
    key, _, value = item.partition("=")
    key = key.strip()
    if key not in RUN_PLACE:
        return False
    new, old = load_yaml(value, f"override {item!r}"), raw.get(key)
    if key == "out_dir" and new is not None and old is not None:
        return Path(str(new)).resolve() != Path(str(old)).resolve()
    return new != old


def load_run_config(
    cls: type[C],
    path: str | Path,
    overrides: Sequence[str] | None = None,
    allow_import: Sequence[str] = (),
    flags: Sequence[str] = (),
) -> C:
    """A run folder's ``config.yaml`` (any advrl version's layout) into ``cls``, with overrides
    (``--set``) and the typed flags' values (``key=value`` as well), in one pass of the loader.

    A run folder may come from anyone: an env id of the form ``module:Env`` (which makes
    Gymnasium import ``module``) is refused unless the user names that module in
    ``allow_import`` (:func:`check_env_import`, whatever set the id).

    Raises:
        ConfigError: a bad file or value, or an env id that would import a module not named.
    """
    raw = read_yaml(path)
    if not raw:
        raise ConfigError(
            f"{path} is empty: a run folder's config.yaml holds the settings it ran with (restore "
            "it, or start a new run)"
        )
    for items, name in ((overrides or [], "--set "), (flags, "the flag ")):
        moved = [item for item in items if _moves(raw, item)]
        if moved:
            raise ConfigError(
                f"{name}{moved[0]}: a resumed run stays in its folder, so its name and out_dir "
                "cannot change (copy the folder to continue it elsewhere)"
            )
    data = upgrade_run_config(raw)
    for item in [*(overrides or []), *flags]:
        apply_override(data, item)
    try:
        config = from_dict(cls, data)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
    check_env_import(getattr(getattr(config, "env", None), "id", ""), allow_import, path, "run")
    return config


def check_env_import(
    env_id: str, allow_import: Sequence[str], source: str | Path, what: str = "file"
) -> None:
    """Refuse an env id of the form ``module:Env`` (Gymnasium would import ``module``), wherever
    it came from (a config file, a run folder, ``--set``, a flag, a sweep, a demos file), unless
    the user named that module with ``--allow-import``: the one import policy of advrl.

    Raises:
        ConfigError: naming the module and the ``--allow-import`` that accepts it.
    """
    module = env_id.split(":")[0] if ":" in env_id else None
    if module is not None and module not in allow_import:
        raise ConfigError(
            f"{source} names env {env_id!r}, which imports the Python module {module!r}; advrl "
            f"imports code only when you name it: if you trust this {what}, pass --allow-import "
            f"{module}"
        )


def apply_override(data: dict[str, Any], item: str) -> None:
    """Set ``a.b.c=value`` in a nested dict (the value parsed as YAML)."""
    key, sep, raw = item.partition("=")
    if not sep or not key:
        raise ConfigError(f"override {item!r} must look like key.subkey=value")
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"override {item!r}: {part!r} is not a section")
        node = child
    node[parts[-1]] = load_yaml(raw, f"override {item!r}")


def save_config(config: Any, path: str | Path) -> None:
    """Write the resolved config as YAML (atomically, UTF-8)."""
    text = yaml.safe_dump(to_dict(config), sort_keys=False, allow_unicode=True)
    atomic_write_bytes(Path(path), text.encode("utf-8"))
