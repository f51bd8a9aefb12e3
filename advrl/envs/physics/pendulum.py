"""Pendulum with settable dynamics."""

from __future__ import annotations

from typing import ClassVar

from gymnasium.envs.classic_control.pendulum import PendulumEnv

from advrl.envs.physics.base import Parameter, PhysicsLevelMixin


class ParamPendulumEnv(PhysicsLevelMixin, PendulumEnv):
    """Gymnasium's Pendulum whose gravity, mass, length and torque limit form the level.

    Observation, actions (torque in [-2, 2]), reward are Pendulum-v1's. The level:

    ===========  =======  ==============  ==========================================
    name         default  range           meaning
    ===========  =======  ==============  ==========================================
    g            10.0     [0, 20]         gravitational acceleration (m/s^2)
    m            1.0      [0.1, 5]        mass (kg)
    l            1.0      [0.1, 3]        length (m)
    max_torque   2.0      [0, 2]          torque limit (N m): a weaker motor clips harder
    ===========  =======  ==============  ==========================================

    The action space stays ``[-2, 2]`` whatever the level (a space must not change between episodes);
    the applied torque is clipped to ``max_torque``.

    Registered ids: ``advrl/Pendulum-v1``, ``advrl/Pendulum-DR-v1`` (``randomize=True``).

    Args:
        randomize: draw a random level at each reset that gets none.
        render_mode: as Pendulum's.
    """

    PARAMETERS: ClassVar[dict[str, Parameter]] = {
        "g": Parameter("g", 10.0, 0.0, 20.0, "gravitational acceleration, m/s^2"),
        "m": Parameter("m", 1.0, 0.1, 5.0, "mass, kg"),
        "l": Parameter("l", 1.0, 0.1, 3.0, "length, m"),
        "max_torque": Parameter("max_torque", 2.0, 0.0, 2.0, "torque limit, N m"),
    }

    def __init__(self, *, randomize: bool = False, render_mode: str | None = None) -> None:
        PendulumEnv.__init__(self, render_mode=render_mode)
        self._init_level(randomize)
