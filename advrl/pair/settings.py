"""Settings of a UED run's roles: the students, the adversary, and each method's teacher.

Frozen dataclasses; every field's docstring is its ``--help`` line. The method table
(:mod:`advrl.pair.methods`) names each method's teacher settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from advrl.agents.settings import PolicySettings, PPOSettings
from advrl.checks import at_most, non_negative, positive, unit_interval
from advrl.pair.scores import RegretMode


@dataclass(frozen=True)
class StudentSettings:
    """One student (protagonist or antagonist): its PPO settings and network."""

    ppo: PPOSettings = field(
        default_factory=lambda: PPOSettings(
            learning_rate=1e-4, n_steps=256, batch_size=2048, n_epochs=5, ent_coef=0.0
        )
    )
    """The student's PPO hyperparameters."""
    policy: PolicySettings = field(default_factory=PolicySettings)
    """The student's network."""


@dataclass(frozen=True)
class AdversarySettings:
    """PAIRED's and minimax's adversary. ``ppo.n_steps`` is set to the designer's episode length."""

    ppo: PPOSettings = field(
        default_factory=lambda: PPOSettings(
            learning_rate=1e-4, n_steps=52, batch_size=1664, n_epochs=5, ent_coef=0.0
        )
    )
    """The adversary's PPO hyperparameters."""
    policy: PolicySettings = field(default_factory=lambda: PolicySettings(conv_filters=128))
    """The adversary's network."""
    wall_budget: int = 50
    """Wall placements of the maze designer."""
    noise_dim: int = 50
    """Length of the designer's random input."""

    def __post_init__(self) -> None:
        positive(self, "wall_budget")
        non_negative(self, "noise_dim")


@dataclass(frozen=True)
class PAIREDSettings:
    """PAIRED: the adversary designs levels to maximize the antagonist's lead (the regret)."""

    regret: RegretMode = "clipped"
    """``clipped`` at 0 (PAIRED), ``unclipped``, ``flexible`` (the better student is antagonist),
    ``mean`` (difference of the students' mean returns: unbiased for equal students), or
    ``flexible-mean`` (its absolute value: the student with the higher mean is antagonist), or
    ``mna`` (not a regret: the protagonist's maximised negative advantage on levels it solved,
    Mead et al. 2025)."""
    cloning: Literal["none", "bibc", "unibc"] = "none"
    """Behavioural cloning between the students (Mediratta et al. 2023): ``bibc`` adds
    ``cloning_coef * KL(pi_other || pi_self)`` to each student's PPO loss on its own rollout (the
    other student frozen), ``unibc`` to the protagonist's only (it imitates the antagonist)."""
    cloning_coef: float = 0.1
    """Weight of the cloning KL (their maze runs: 0.1 with 25 walls, 0.01 with 0-60)."""
    cloning_every: int = 25
    """The cloning term is on in every this-many-th iteration (their maze runs: 25, 5)."""

    def __post_init__(self) -> None:
        positive(self, "cloning_coef", "cloning_every")


@dataclass(frozen=True)
class NoSettings:
    """This method has no settings of its own (domain randomization samples the env's levels;
    minimax's adversary is set in ``adversary``)."""


@dataclass(frozen=True)
class BufferSettings:
    """The scored level buffer of PLR⊥, ACCEL and REPAIRED, and how often it is replayed."""

    buffer_size: int = 4000
    """Levels the replay buffer holds."""
    replay_prob: float = 0.5
    """Probability that a batch replays buffer levels."""
    score: Literal["pvl", "maxmc", "mna"] = "pvl"
    """Regret estimate: positive value loss, MaxMC, or the maximised negative advantage (MNA, Mead
    et al. 2025: the student's shortfall against its own value, on levels it has solved)."""
    temperature: float = 0.3
    """Of the rank prioritization."""
    staleness_coef: float = 0.3
    """Weight of staleness (steps since a level was last played) in the replay distribution."""

    def __post_init__(self) -> None:
        positive(self, "buffer_size", "temperature")
        unit_interval(self, "replay_prob", "staleness_coef")


@dataclass(frozen=True)
class ReplaySettings(BufferSettings):
    """The level buffer and replay of PLR⊥ and ACCEL, and where their new levels come from."""

    new_levels: Literal["random", "blank"] = "random"
    """New levels: domain-randomized, or the simplest level (an empty room)."""


@dataclass(frozen=True)
class PLRSettings(ReplaySettings):
    """Robust prioritized level replay (PLR⊥): replay the levels of highest estimated regret."""

    robust: bool = True
    """No gradient updates on new levels (PLR⊥); false: the original PLR."""


@dataclass(frozen=True)
class ACCELSettings(ReplaySettings):
    """ACCEL: PLR⊥ whose replayed levels are edited into new children, from empty rooms."""

    replay_prob: float = 0.8
    """Probability that a batch replays buffer levels (when no children are waiting)."""
    new_levels: Literal["random", "blank"] = "blank"
    """New levels: the simplest level (ACCEL's empty rooms), or domain-randomized."""
    num_edits: int = 5
    """Random edits per child level (a maze edit flips one cell between wall and floor)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        positive(self, "num_edits")


@dataclass(frozen=True)
class REPAIREDSettings(PAIREDSettings, BufferSettings):
    """REPAIRED: PLR⊥ whose new levels PAIRED's adversary designs, rewarded with their regret."""

    robust: bool = True
    """No gradient updates on the designed levels (PLR⊥'s rule); false: the students learn on
    them too."""

    def __post_init__(self) -> None:
        PAIREDSettings.__post_init__(self)
        BufferSettings.__post_init__(self)


@dataclass(frozen=True)
class SFLSettings:
    """Sampling For Learnability (SFL): batches of the most learnable of many sampled levels."""

    num_samples: int = 5000
    """Random levels the protagonist plays at each refresh (the paper: 25,000)."""
    episodes: int = 5
    """Episodes per sampled level, for its success rate p."""
    buffer_size: int = 200
    """Levels of highest learnability p(1 - p) kept (the paper: 1,000 of 25,000)."""
    refresh_every: int = 100
    """Iterations between refreshes of the buffer (the paper: 100)."""
    buffer_share: float = 0.5
    """Share of each batch drawn from the buffer; the rest are new random levels."""

    def __post_init__(self) -> None:
        positive(self, "num_samples", "episodes", "buffer_size", "refresh_every")
        unit_interval(self, "buffer_share")
        if self.buffer_size > self.num_samples:
            raise ValueError(
                f"buffer_size ({self.buffer_size}) must be at most num_samples ({self.num_samples})"
            )
        if self.num_samples * self.episodes > 10_000_000:
            raise ValueError(
                "num_samples x episodes must be at most 10,000,000 episodes per refresh, got "
                f"{self.num_samples * self.episodes:,}"
            )


@dataclass(frozen=True)
class DEGenSettings:
    """DEGen: a generator that builds each level as the student first sees it, paid per step."""

    hidden: int = 128
    """Width of the generator's two hidden layers."""
    learning_rate: float = 1e-3
    """The generator's Adam step size (the paper's)."""
    n_epochs: int = 4
    """PPO passes over a rollout's decisions."""
    minibatches: int = 4
    """Minibatches per pass."""
    gamma: float = 0.99
    """The generator's discount (the paper's)."""
    gae_lambda: float = 0.95
    """Its GAE lambda."""
    clip_range: float = 0.2
    """PPO's clipping."""
    ent_coef: float = 0.05
    """Weight of its entropy term, H(cell) - KL(pi_kind || floor .495, wall .495, goal .01)."""
    vf_coef: float = 0.5
    """Weight of its value loss."""
    max_grad_norm: float = 0.5
    """Gradient norm clipping."""

    def __post_init__(self) -> None:
        positive(self, "hidden", "learning_rate", "n_epochs", "minibatches", "clip_range")
        positive(self, "max_grad_norm")
        non_negative(self, "ent_coef", "vf_coef")
        unit_interval(self, "gamma", "gae_lambda")
        at_most(self, 65_536, "hidden")
