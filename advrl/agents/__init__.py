"""Agents: SB3 PPO construction and policy networks."""

from advrl.agents.networks import GridFeaturesExtractor
from advrl.agents.ppo import is_grid_space, make_ppo, policy_for

__all__ = ["GridFeaturesExtractor", "is_grid_space", "make_ppo", "policy_for"]
