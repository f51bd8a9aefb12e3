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

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from advrl.pair.adversary import Adversary
from advrl.pair.buffer import LevelBuffer
from advrl.pair.degen import DEGen
from advrl.pair.levels import LevelFamily
from advrl.pair.settings import (
    ACCELSettings,
    BufferSettings,
    DEGenSettings,
    NoSettings,
    PAIREDSettings,
    PLRSettings,
    REPAIREDSettings,
    ReplaySettings,
    SFLSettings,
)
from advrl.pair.sfl import SFL, SuccessRates
from advrl.pair.teachers import (
    ACCEL,
    PAIRED,
    PLR,
    REPAIRED,
    DomainRandomization,
    Minimax,
    Teacher,
)


# ---------------------------------------------------------------------------------- the table
@dataclass(frozen=True)
class TeacherContext:
    """What a teacher's builder is handed besides its settings.

    Attributes:
        family: the students' level family.
        seed: the teacher's seed.
        adversary: builds the designer agent from the run's ``adversary`` settings (PAIRED,
            minimax); call it only if the teacher needs one.
        success_rates: a policy's success rate on given levels, played on the batched maze
            (SFL's sweep of its protagonist); None where the env has no batched twin.
    """

    family: LevelFamily
    seed: int
    adversary: Callable[[], Adversary]
    success_rates: SuccessRates | None = None


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


def _buffer(s: BufferSettings, ctx: TeacherContext) -> dict[str, Any]:
    """The replaying teachers' shared arguments: the family, the buffer and how to replay it."""
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
        "seed": ctx.seed,
    }


def _replay(s: ReplaySettings, ctx: TeacherContext) -> dict[str, Any]:
    """PLR's and ACCEL's shared arguments: :func:`_buffer`'s and where new levels come from."""
    return {**_buffer(s, ctx), "new_levels": s.new_levels}


def _paired(s: PAIREDSettings, ctx: TeacherContext) -> PAIRED:
    return PAIRED(
        ctx.adversary(),
        regret=s.regret,
        cloning=s.cloning,
        cloning_coef=s.cloning_coef,
        cloning_every=s.cloning_every,
    )


def _repaired(s: REPAIREDSettings, ctx: TeacherContext) -> Teacher:
    return REPAIRED(_paired(s, ctx), **_buffer(s, ctx), robust=s.robust)


def _plr(s: PLRSettings, ctx: TeacherContext) -> Teacher:
    return PLR(**_replay(s, ctx), robust=s.robust)


def _accel(s: ACCELSettings, ctx: TeacherContext) -> Teacher:
    return ACCEL(**_replay(s, ctx), num_edits=s.num_edits)


def _degen(s: DEGenSettings, ctx: TeacherContext) -> Teacher:
    return DEGen(ctx.family, seed=ctx.seed, **dataclasses.asdict(s))


def _sfl(s: SFLSettings, ctx: TeacherContext) -> Teacher:
    if ctx.success_rates is None:
        raise ValueError(
            "sfl plays thousands of levels at once: it needs a maze env (advrl/Maze-*)"
        )
    return SFL(
        ctx.family,
        ctx.success_rates,
        num_samples=s.num_samples,
        episodes=s.episodes,
        buffer_size=s.buffer_size,
        refresh_every=s.refresh_every,
        buffer_share=s.buffer_share,
        seed=ctx.seed,
    )


for _method in (
    TeacherMethod(
        name="paired",
        help="PAIRED (adversary, protagonist, antagonist; regret)",
        settings=PAIREDSettings,
        build=_paired,
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
    TeacherMethod(
        name="repaired",
        help="REPAIRED (PLR⊥ over the levels PAIRED's adversary designs)",
        settings=REPAIREDSettings,
        build=_repaired,
        needs_adversary=True,
    ),
    TeacherMethod(
        name="degen",
        help="DEGen (a generator builds each level as the student sees it, paid per step)",
        settings=DEGenSettings,
        build=_degen,
    ),
    TeacherMethod(
        name="sfl",
        help="sampling for learnability (the most learnable of many sampled levels)",
        settings=SFLSettings,
        build=_sfl,
    ),
):
    register_teacher(_method)
