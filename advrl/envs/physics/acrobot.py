"""Acrobot with settable dynamics."""

from __future__ import annotations

from typing import ClassVar

from gymnasium.envs.classic_control.acrobot import AcrobotEnv

from advrl.envs.physics.base import Parameter, PhysicsLevelMixin


class ParamAcrobotEnv(PhysicsLevelMixin, AcrobotEnv):
    """Gymnasium's Acrobot whose link lengths, masses, centres of mass and inertia form the level.

    Observation, actions, reward and termination are Acrobot-v1's. The level:

    ===============  =======  ============  ====================================
    name             default  range         meaning
    ===============  =======  ============  ====================================
    link_length_1    1.0      [0.25, 2]     first link's length (m)
    link_length_2    1.0      [0.25, 2]     second link's length (m), drawing only
    link_mass_1      1.0      [0.25, 3]     first link's mass (kg)
    link_mass_2      1.0      [0.25, 3]     second link's mass (kg)
    link_com_pos_1   0.5      [0.05, 1]     first link's centre of mass (m)
    link_com_pos_2   0.5      [0.05, 1]     second link's centre of mass (m)
    link_moi         1.0      [0.25, 3]     both links' moment of inertia
    ===============  =======  ============  ====================================

    Registered ids: ``advrl/Acrobot-v1``, ``advrl/Acrobot-DR-v1`` (``randomize=True``).

    Args:
        randomize: draw a random level at each reset that gets none.
        render_mode: as Acrobot's.
    """

    PARAMETERS: ClassVar[dict[str, Parameter]] = {
        "link_length_1": Parameter("LINK_LENGTH_1", 1.0, 0.25, 2.0, "link 1 length, m"),
        "link_length_2": Parameter("LINK_LENGTH_2", 1.0, 0.25, 2.0, "link 2 length, m"),
        "link_mass_1": Parameter("LINK_MASS_1", 1.0, 0.25, 3.0, "link 1 mass, kg"),
        "link_mass_2": Parameter("LINK_MASS_2", 1.0, 0.25, 3.0, "link 2 mass, kg"),
        "link_com_pos_1": Parameter("LINK_COM_POS_1", 0.5, 0.05, 1.0, "link 1 centre of mass, m"),
        "link_com_pos_2": Parameter("LINK_COM_POS_2", 0.5, 0.05, 1.0, "link 2 centre of mass, m"),
        "link_moi": Parameter("LINK_MOI", 1.0, 0.25, 3.0, "links' moment of inertia"),
    }

    def __init__(self, *, randomize: bool = False, render_mode: str | None = None) -> None:
        AcrobotEnv.__init__(self, render_mode=render_mode)
        self._init_level(randomize)
