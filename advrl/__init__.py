"""advrl: adversarial reinforcement learning.

Importing the package registers its Gymnasium environments under the ``advrl/`` namespace, so
``gymnasium.make("advrl:advrl/Maze-v0")`` works in a fresh interpreter.
"""

from advrl.envs.registration import register_envs

__version__ = "0.1.0"

register_envs()

__all__ = ["__version__", "register_envs"]
