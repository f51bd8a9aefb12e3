"""The imitation methods: one table from a method's name to its settings section and its learner.

``advrl train <name>`` exists for every entry of :data:`IMITATION`; the entry's settings are the
run config's section named by ``section`` (GAIL's ``discriminator:``, ASAF's ``asaf:``). A
learner gets its own section and an :class:`ImitationContext`, never the whole run config. Adding
a method is one module with the learner and its settings, one :func:`register_imitation` call
and one test. Its learner either rides the policy's PPO updates (``own_loop=False``: an object
with GAIL's ``learn``, ``state_dict`` and ``load_state_dict``) or runs rounds of its own
(``own_loop=True``: ASAF's ``learn(total_timesteps, callback)`` and ``rounds``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import VecTransposeImage

from advrl.checks import ConfigError
from advrl.gail.asaf import ASAF
from advrl.gail.demos import Demonstrations
from advrl.gail.discriminator import Discriminator
from advrl.gail.gail import GAIL
from advrl.gail.settings import ASAFSettings, DiscriminatorSettings


@dataclass(frozen=True)
class ImitationContext:
    """What a learner's builder is handed besides its settings.

    Attributes:
        demos: the expert's demonstrations (the episodes trained on).
        model: the SB3 PPO model that holds the policy (GAIL's generator).
        unseen: expert episodes kept out of training (None: none); GAIL measures its
            discriminator on them.
        seed: the run's seed.
        on_step: called on every env step a learner with its own loop plays (the runner's
            progress display).
    """

    demos: Demonstrations
    model: BaseAlgorithm
    unseen: Demonstrations | None
    seed: int
    on_step: Callable[[], None] | None = None


@dataclass(frozen=True)
class ImitationMethod:
    """One imitation method.

    Attributes:
        name: the command (``advrl train <name>``) and the config's ``method:``.
        help: one line for ``advrl train --help``.
        section: the run config's key of its settings.
        settings: the frozen dataclass of that section (every field with a docstring).
        build: the learner, from its settings and the run's context.
        variant: the name of the variant its settings describe (``ASAF-1``).
        own_loop: the learner runs rounds of its own instead of riding PPO's updates.
        metrics: its key metrics for the progress display's line, ``(key, short name)``.
    """

    name: str
    help: str
    section: str
    settings: type
    build: Callable[[Any, ImitationContext], Any]
    variant: Callable[[Any], str]
    own_loop: bool = False
    metrics: tuple[tuple[str, str], ...] = ()


def _gail(settings: DiscriminatorSettings, ctx: ImitationContext) -> GAIL:
    venv = ctx.model.get_env()
    assert venv is not None
    if isinstance(venv, VecTransposeImage):  # GAIL rewards what the demos hold: untransposed
        venv = venv.venv
    try:
        disc = Discriminator(
            venv.observation_space, venv.action_space, **settings.network(), device=ctx.model.device
        )
    except ValueError as err:
        raise ConfigError(f"discriminator: {err}") from None
    return GAIL(
        venv=venv,
        model=ctx.model,
        discriminator=disc,
        demos=ctx.demos,
        unseen_demos=ctx.unseen,
        **settings.training(),
        seed=ctx.seed,
    )


def _asaf(settings: ASAFSettings, ctx: ImitationContext) -> ASAF:
    return ASAF(
        model=ctx.model,
        demos=ctx.demos,
        **dataclasses.asdict(settings),
        seed=ctx.seed,
        on_step=ctx.on_step,
    )


IMITATION: dict[str, ImitationMethod] = {}
"""Every imitation method by name, in the order ``advrl train --help`` lists them."""


def register_imitation(method: ImitationMethod) -> ImitationMethod:
    """Add a method to :data:`IMITATION`; returns it.

    Raises:
        ValueError: the name or its section is taken.
    """
    if method.name in IMITATION:
        raise ValueError(f"imitation method {method.name!r} is already registered")
    if any(m.section == method.section for m in IMITATION.values()):
        raise ValueError(f"the section {method.section!r} belongs to another method")
    IMITATION[method.name] = method
    return method


register_imitation(
    ImitationMethod(
        "gail",
        "GAIL (discriminator reward, SB3 PPO generator)",
        "discriminator",
        DiscriminatorSettings,
        _gail,
        lambda s: "GAIL +DiffAugment" if s.augment else "GAIL",
        metrics=(("disc/expert_acc", "D acc expert"), ("disc/generator_acc", "D acc policy")),
    )
)
register_imitation(
    ImitationMethod(
        "asaf",
        "ASAF / ASAF-w / ASAF-1 (the policy is the discriminator)",
        "asaf",
        ASAFSettings,
        _asaf,
        lambda s: "ASAF" if s.window is None else f"ASAF-{s.window}",
        own_loop=True,
        metrics=(("asaf/expert_acc", "D acc expert"),),
    )
)
