"""The settings of every run kind: one frozen dataclass per kind (PPO, UED, imitation), grouping
the library's own settings by role (env, each agent's PPO and policy, the UED teacher, imitation,
adversarial training, the train loop). Method-specific sections are tagged unions: a UED run's
``teacher:`` section is the settings of the method its ``method:`` names
(:data:`advrl.pair.methods.TEACHERS`); an imitation run's own section is its method's
(:data:`advrl.gail.methods.IMITATION`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar

import tyro

from advrl.agents.robust import AdversarialTraining
from advrl.agents.robust.settings import TermT
from advrl.agents.settings import PolicySettings, PPOSettings
from advrl.checks import ConfigError, non_negative, positive
from advrl.envs import all_heldout_names
from advrl.envs.vector import EnvSettings, UEDEnvSettings
from advrl.gail.methods import IMITATION
from advrl.gail.settings import ASAFSettings, DiscriminatorSettings
from advrl.pair.methods import TEACHERS
from advrl.pair.settings import AdversarySettings, PAIREDSettings, StudentSettings

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
class PPORunConfig(Generic[TermT]):
    """``advrl train ppo``: SB3 PPO on one env (robust PPO with an ``adversarial`` method)."""

    env: EnvSettings = field(default_factory=EnvSettings)
    """The training env."""
    ppo: PPOSettings = field(default_factory=PPOSettings)
    """PPO's hyperparameters."""
    policy: PolicySettings = field(default_factory=PolicySettings)
    """The policy network."""
    adversarial: AdversarialTraining[TermT] = field(default_factory=AdversarialTraining)
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

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.discriminator.absorbing and not self.ppo.gamma < 1:
            raise ConfigError(
                "discriminator.absorbing values staying in the absorbing state as "
                f"r / (1 - gamma): it needs ppo.gamma below 1, got {self.ppo.gamma}"
            )


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
