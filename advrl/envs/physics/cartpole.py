"""CartPole with settable dynamics."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from gymnasium.envs.classic_control.cartpole import CartPoleEnv

from advrl.envs.physics.base import Parameter, PhysicsLevelMixin


class ParamCartPoleEnv(PhysicsLevelMixin, CartPoleEnv):
    """Gymnasium's CartPole whose gravity, masses, pole length and push force form the level.

    Observation, actions, reward and termination are CartPole-v1's. The level (``level_space``):

    ===========  =======  ==============  ==========================================
    name         default  range           meaning
    ===========  =======  ==============  ==========================================
    gravity      9.8      [0, 20]         gravitational acceleration (m/s^2)
    masscart     1.0      [0.1, 5]        cart mass (kg)
    masspole     0.1      [0.01, 1]       pole mass (kg)
    length       0.5      [0.05, 2]       half the pole's length (m)
    force_mag    10.0     [1, 30]         magnitude of the push (N)
    ===========  =======  ==============  ==========================================

    Registered ids: ``advrl/CartPole-v1`` (standard dynamics unless a level is given),
    ``advrl/CartPole-DR-v1`` (``randomize=True``).

    Args:
        randomize: draw a random level at each reset that gets none.
        render_mode: as CartPole's.
        sutton_barto_reward: as CartPole's.
    """

    PARAMETERS: ClassVar[dict[str, Parameter]] = {
        "gravity": Parameter("gravity", 9.8, 0.0, 20.0, "gravitational acceleration, m/s^2"),
        "masscart": Parameter("masscart", 1.0, 0.1, 5.0, "cart mass, kg"),
        "masspole": Parameter("masspole", 0.1, 0.01, 1.0, "pole mass, kg"),
        "length": Parameter("length", 0.5, 0.05, 2.0, "half the pole length, m"),
        "force_mag": Parameter("force_mag", 10.0, 1.0, 30.0, "push force, N"),
    }

    def __init__(
        self,
        *,
        randomize: bool = False,
        render_mode: str | None = None,
        sutton_barto_reward: bool = False,
    ) -> None:
        CartPoleEnv.__init__(self, sutton_barto_reward=sutton_barto_reward, render_mode=render_mode)
        self._init_level(randomize)

    def _apply_level(self, params: Mapping[str, float]) -> None:
        super()._apply_level(params)
        self.total_mass = self.masspole + self.masscart
        self.polemass_length = self.masspole * self.length
