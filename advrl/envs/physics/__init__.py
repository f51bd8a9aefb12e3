"""Classic-control envs whose dynamics are the level an antagonist sets."""

from advrl.envs.physics.acrobot import ParamAcrobotEnv
from advrl.envs.physics.base import Parameter, PhysicsLevelMixin
from advrl.envs.physics.cartpole import ParamCartPoleEnv
from advrl.envs.physics.designer import ParamDesignerEnv
from advrl.envs.physics.pendulum import ParamPendulumEnv

__all__ = [
    "ParamAcrobotEnv",
    "ParamCartPoleEnv",
    "ParamDesignerEnv",
    "ParamPendulumEnv",
    "Parameter",
    "PhysicsLevelMixin",
]
