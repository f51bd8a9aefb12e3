"""The UED methods: one table from a method's name to its settings and its teacher.

``advrl train <name>`` exists for every entry of :data:`TEACHERS`; its ``teacher:`` config section
is the entry's settings dataclass. Adding a method is one module with a :class:`Teacher` subclass
and its settings, one :func:`register_teacher` call, and one test::

    @dataclass(frozen=True)
    class MySettings:
        temperature: float = 1.0
        \"\"\"What it does.\"\"\"

    register_teacher(TeacherMethod(
        name="mine", help="my teacher", settings=MySettings,
        build=lambda s, ctx: MyTeacher(ctx.family, temperature=s.temperature, seed=ctx.seed),
    ))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from advrl.checks import positive, unit_interval
from advrl.pair.adversary import Adversary
from advrl.pair.buffer import LevelBuffer
from advrl.pair.levels import LevelFamily
from advrl.pair.teachers import ACCEL, PAIRED, PLR, DomainRandomization, Minimax, Teacher


# ---------------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class PAIREDSettings:
    """PAIRED: the adversary designs levels to maximize the antagonist's lead (the regret)."""

    regret: Literal["clipped", "unclipped", "flexible"] = "clipped"
    """``clipped`` at 0 (PAIRED), ``unclipped``, or ``flexible`` (the better student is antagonist)."""


@dataclass(frozen=True)
class NoSettings:
    """This method has no settings of its own (domain randomization samples the env's levels;
    minimax's adversary is set in ``adversary``)."""


@dataclass(frozen=True)
class ReplaySettings:
    """The level buffer and replay of PLR⊥ and ACCEL."""

    buffer_size: int = 4000
    """Levels the replay buffer holds."""
    replay_prob: float = 0.5
    """Probability that a batch replays buffer levels."""
    score: Literal["pvl", "maxmc"] = "pvl"
    """Regret estimate: positive value loss or MaxMC."""
    temperature: float = 0.3
    """Of the rank prioritization."""
    staleness_coef: float = 0.3
    """Weight of staleness (steps since a level was last played) in the replay distribution."""
    new_levels: Literal["random", "blank"] = "random"
    """New levels: domain-randomized, or the simplest level (an empty room)."""

    def __post_init__(self) -> None:
        positive(self, "buffer_size", "temperature")
        unit_interval(self, "replay_prob", "staleness_coef")


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


# ---------------------------------------------------------------------------------- the table
@dataclass(frozen=True)
class TeacherContext:
    """What a teacher's builder is handed besides its settings.

    Attributes:
        family: the students' level family.
        seed: the teacher's seed.
        adversary: builds the designer agent from the run's ``adversary`` settings (PAIRED,
            minimax); call it only if the teacher needs one.
    """

    family: LevelFamily
    seed: int
    adversary: Callable[[], Adversary]


@dataclass(frozen=True)
class TeacherMethod:
    """One UED method.

    Attributes:
        name: the command (``advrl train <name>``) and the config's ``method:``.
        help: one line for ``advrl train --help``.
        settings: the frozen dataclass of its ``teacher:`` section (every field with a docstring).
        build: the teacher, from its settings and the run's context.
        needs_adversary: whether the run builds the designer agent (its ``adversary`` section).
    """

    name: str
    help: str
    settings: type
    build: Callable[[Any, TeacherContext], Teacher]
    needs_adversary: bool = False


TEACHERS: dict[str, TeacherMethod] = {}
"""Method name -> :class:`TeacherMethod`, in the order ``advrl train --help`` lists them."""


def register_teacher(method: TeacherMethod) -> TeacherMethod:
    """Add a UED method to :data:`TEACHERS` (and so to ``advrl train``).

    Raises:
        ValueError: the name is taken or is not a plain lowercase word.
    """
    if method.name in TEACHERS:
        raise ValueError(f"a UED method named {method.name!r} is already registered")
    if not method.name.replace("_", "").isalnum() or not method.name.islower():
        raise ValueError(f"a method name is a lowercase word, got {method.name!r}")
    TEACHERS[method.name] = method
    return method


def _replay(s: ReplaySettings, ctx: TeacherContext) -> dict[str, Any]:
    """PLR's and ACCEL's shared arguments: the family, the buffer and how to replay it."""
    buffer = LevelBuffer(
        s.buffer_size,
        temperature=s.temperature,
        staleness_coef=s.staleness_coef,
        key=ctx.family.key,
    )
    return {
        "family": ctx.family,
        "buffer": buffer,
        "replay_prob": s.replay_prob,
        "score": s.score,
        "new_levels": s.new_levels,
        "seed": ctx.seed,
    }


def _plr(s: PLRSettings, ctx: TeacherContext) -> Teacher:
    return PLR(**_replay(s, ctx), robust=s.robust)


def _accel(s: ACCELSettings, ctx: TeacherContext) -> Teacher:
    return ACCEL(**_replay(s, ctx), num_edits=s.num_edits)


for _method in (
    TeacherMethod(
        name="paired",
        help="PAIRED (adversary, protagonist, antagonist; regret)",
        settings=PAIREDSettings,
        build=lambda s, ctx: PAIRED(ctx.adversary(), regret=s.regret),
        needs_adversary=True,
    ),
    TeacherMethod(
        name="dr",
        help="domain randomization",
        settings=NoSettings,
        build=lambda s, ctx: DomainRandomization(ctx.family, seed=ctx.seed),
    ),
    TeacherMethod(
        name="minimax",
        help="minimax adversary",
        settings=NoSettings,
        build=lambda s, ctx: Minimax(ctx.adversary()),
        needs_adversary=True,
    ),
    TeacherMethod(
        name="plr", help="robust prioritized level replay (PLR⊥)", settings=PLRSettings, build=_plr
    ),
    TeacherMethod(
        name="accel", help="ACCEL (PLR⊥ with level edits)", settings=ACCELSettings, build=_accel
    ),
):
    register_teacher(_method)
